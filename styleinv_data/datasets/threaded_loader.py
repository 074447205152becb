"""A batch loader that decodes with a pool of threads in the calling process.

libjpeg-turbo (simplejpeg, torchvision) releases the GIL while decoding, so threads decode in
parallel. Unlike DataLoader worker *processes*, the batches need no shared-memory transfer: on
VMs where touching fresh memory is expensive (each new shared-memory batch page faults), this
keeps the loader close to the speed of decoding alone (see docs/bench_loader.md). Batch buffers
are reused once the consumer has dropped every tensor of a batch (:class:`BatchBufferPool`), so
steady-state decoding writes into memory that is already mapped.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Iterator

from torch.utils.data import BatchSampler, Dataset, Sampler

from styleinv_data.datasets.buffer_pool import BatchBufferPool


class ThreadedLoader:
    """Iterate batches ``dataset[[key, ...]]`` decoded by ``num_threads`` threads, in sampler order.

    ``dataset`` is a :class:`~styleinv_data.datasets.FrameDataset` or
    :class:`~styleinv_data.datasets.ClipDataset` (anything whose ``__getitem__`` takes a list of
    keys and returns a batch). Same batches, same order as :func:`make_loader`.

    With ``reuse_buffers`` (default) and a dataset with ``load_batch(keys, alloc)`` (both readers
    here), batches are decoded into pooled buffers; a buffer is reused only after every tensor of
    its batch has been dropped, so keeping a batch (or a view of it) is always safe.
    """

    def __init__(self, dataset: Dataset, sampler: Sampler | Iterable, batch_size: int, num_threads: int = 2,
                 prefetch_batches: int = 4, drop_last: bool = True, pin_memory: bool = False,
                 reuse_buffers: bool = True) -> None:
        if num_threads < 1 or prefetch_batches < 1:
            raise ValueError(f"num_threads ({num_threads}) and prefetch_batches ({prefetch_batches}) must be >= 1")
        self.dataset = dataset
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.num_threads = num_threads
        self.prefetch = max(prefetch_batches, num_threads)
        self.pin_memory = pin_memory
        self.reuse_buffers = reuse_buffers and callable(getattr(dataset, "load_batch", None))
        # in flight: prefetch + threads; held by the consumer: the current batch and the previous one
        self.buffer_pool = BatchBufferPool(self.prefetch + num_threads + 2) if self.reuse_buffers else None

    def _load(self, keys: list) -> Any:
        if self.buffer_pool is not None:
            batch = self.dataset.load_batch(keys, alloc=self.buffer_pool.take)  # type: ignore[attr-defined]
        else:
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
