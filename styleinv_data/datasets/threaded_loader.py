"""A batch loader that decodes with a pool of threads in the calling process.

libjpeg-turbo (simplejpeg, torchvision) releases the GIL while decoding, so threads decode in
parallel. Unlike DataLoader worker *processes*, the batches need no shared-memory transfer: on
VMs where touching fresh memory is expensive (each new shared-memory batch page faults), this
keeps the loader close to the speed of decoding alone (see docs/bench_loader.md).
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Iterator

from torch.utils.data import BatchSampler, Dataset, Sampler


class ThreadedLoader:
    """Iterate batches ``dataset[[key, ...]]`` decoded by ``num_threads`` threads, in sampler order.

    ``dataset`` is a :class:`~styleinv_data.datasets.FrameDataset` or
    :class:`~styleinv_data.datasets.ClipDataset` (anything whose ``__getitem__`` takes a list of
    keys and returns a batch). Same batches, same order as :func:`make_loader`.
    """

    def __init__(self, dataset: Dataset, sampler: Sampler | Iterable, batch_size: int, num_threads: int = 2,
                 prefetch_batches: int = 4, drop_last: bool = True, pin_memory: bool = False) -> None:
        if num_threads < 1 or prefetch_batches < 1:
            raise ValueError(f"num_threads ({num_threads}) and prefetch_batches ({prefetch_batches}) must be >= 1")
        self.dataset = dataset
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.num_threads = num_threads
        self.prefetch = max(prefetch_batches, num_threads)
        self.pin_memory = pin_memory

    def _load(self, keys: list) -> Any:
        batch = self.dataset[keys]
        if self.pin_memory:
            if isinstance(batch, dict):
                return {k: v.pin_memory() for k, v in batch.items()}
            return batch.pin_memory()
        return batch

    def __iter__(self) -> Iterator[Any]:
        batches = iter(self.batch_sampler)
        with ThreadPoolExecutor(self.num_threads, thread_name_prefix="styleinv-loader") as pool:
            pending = deque(pool.submit(self._load, keys) for keys in itertools.islice(batches, self.prefetch))
            try:
                while pending:
                    future = pending.popleft()
                    keys = next(batches, None)
                    if keys is not None:
                        pending.append(pool.submit(self._load, keys))
                    yield future.result()
            finally:
                for future in pending:
                    future.cancel()
