"""Map-style torch datasets over a manifest, keyed by the samplers' ``(video_index, frame_indices)``.

* :class:`FrameDataset`: one image ``uint8 [3, H, W]``. Keys: ``(video_index, (frame,))`` from
  :class:`~styleinv_data.sampling.ClassAwareFrameSampler`, or a flat int over every frame of every
  video (``len(dataset)`` frames; for sequential passes such as FID over all frames).
* :class:`ClipDataset`: the frames at given indices of one video, ``uint8 [T, 3, H, W]``. Keys:
  ``(video_index, frame_indices)`` from :class:`~styleinv_data.sampling.SparseClipSampler`, or an
  int video index (its first ``clip_length`` frames, or all of them).

A *list* of keys (what ``BatchSampler`` yields) returns a whole batch, ``[B, 3, H, W]`` /
``[B, T, 3, H, W]``, decoded straight into one buffer (shared memory inside a DataLoader worker),
so no collate copy is made: :func:`make_loader` wires this up. Tensors are channels-last views.

Mirroring (``mirror=True``) flips horizontally with probability 1/2, decided by a hash of
``(seed, key)``: deterministic, independent of worker layout, and the same for every frame of a
clip. With ``return_meta=True`` an item is a dict ``{"image"|"frames", "video_index",
"frame_indices", "label", "mirrored"}`` (label -1 when the video has none).
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Any, Callable, Iterable, Sequence

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, Sampler, get_worker_info

from styleinv_data.datasets.video_reader import VideoFrameReader, new_hwc_batch
from styleinv_data.manifest.records import Manifest
from styleinv_data.manifest.schema import ManifestError
from styleinv_data.manifest.verify import verify_manifest


def mirror_decision(seed: int, video_index: int, frame_indices: Sequence) -> bool:
    key = f"{seed}:{video_index}:{','.join(str(int(i)) for i in frame_indices)}".encode()
    return bool(hashlib.blake2b(key, digest_size=1).digest()[0] & 1)


class _ManifestDataset(Dataset):
    _image_key = "frames"

    def __init__(self, manifest: Manifest, split: str | None, mirror: bool, seed: int, return_meta: bool,
                 verify: bool) -> None:
        self.manifest = manifest.subset(split) if split is not None else manifest
        if verify:
            verify_manifest(self.manifest)
        self.records = self.manifest.records
        self.reader = VideoFrameReader(self.manifest)
        self.mirror, self.seed, self.return_meta = mirror, int(seed), return_meta

    @property
    def frame_counts(self) -> list[int]:
        """Per-video frame counts, in record order: build the samplers from this."""
        return [r.frame_count for r in self.records]

    def _resolve(self, key: Any) -> tuple[int, list[int]]:
        raise NotImplementedError

    def _read(self, keys: list[tuple[int, list[int]]], batched: bool,
              alloc: Callable[[tuple[int, ...]], torch.Tensor] | None = None) -> tuple[torch.Tensor, list[bool]]:
        """Decode ``keys`` into one ``[B, T, H, W, 3]`` buffer; returns it and the mirror flags.

        A batch read inside a DataLoader worker goes straight to shared memory (it is sent to the
        main process as is); single items stay in private memory (the collate copies them).
        ``alloc(shape)``, when given, supplies the buffer (e.g. a reused one from a pool)."""
        first = self.records[keys[0][0]]
        size = (first.height, first.width)
        for v, _ in keys:
            r = self.records[v]
            if (r.height, r.width) != size:
                raise ManifestError(
                    f"record {r.id!r} is {r.width}x{r.height} but record {first.id!r} in the same batch is "
                    f"{size[1]}x{size[0]}; batch videos of one resolution (filter the manifest)"
                )
        t = len(keys[0][1])
        if any(len(idx) != t for _, idx in keys):
            raise ValueError("every item of a batch must have the same number of frames")
        shape = (len(keys), t, size[0], size[1], 3)
        if alloc is not None:
            out = alloc(shape)
            if out.shape != shape or out.dtype != torch.uint8 or not out.is_contiguous():
                raise ValueError(f"alloc{shape} returned a {out.dtype} tensor of shape {tuple(out.shape)}; "
                                 f"it must return a contiguous uint8 tensor of the asked shape")
        else:
            out = new_hwc_batch(shape, shared=batched and get_worker_info() is not None)
        out_np = out.numpy()
        flags = []
        for j, (v, idx) in enumerate(keys):
            flip = self.mirror and mirror_decision(self.seed, v, idx)
            self.reader.read_into(self.records[v], idx, out_np[j], mirror=flip)
            flags.append(flip)
        del out_np
        return out, flags

    def load_batch(self, keys: list, alloc: Callable[[tuple[int, ...]], torch.Tensor] | None = None) -> Any:
        """``dataset[keys]`` for a list of keys, decoded into the buffer ``alloc(shape)`` returns
        (a contiguous uint8 ``[B, T, H, W, 3]`` tensor; a fresh one when ``alloc`` is None)."""
        resolved = [self._resolve(k) for k in keys]
        frames, flags = self._read(resolved, True, alloc)
        return self._package(self._layout(frames), resolved, flags)

    def _layout(self, frames_bthwc: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _package(self, frames: torch.Tensor, keys: list[tuple[int, list[int]]], flags: list[bool]) -> Any:
        if not self.return_meta:
            return frames
        return {
            self._image_key: frames,
            "video_index": torch.tensor([v for v, _ in keys], dtype=torch.int64),
            "frame_indices": torch.tensor([idx for _, idx in keys], dtype=torch.int64),
            "label": torch.tensor([-1 if self.records[v].label is None else self.records[v].label for v, _ in keys],
                                  dtype=torch.int64),
            "mirrored": torch.tensor(flags, dtype=torch.bool),
        }

    def _unbatch(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {k: (v[0].item() if k in ("video_index", "label", "mirrored") else v[0]) for k, v in item.items()}
        return item[0]

    def __getitem__(self, key: Any) -> Any:
        batched = isinstance(key, list)
        keys = [self._resolve(k) for k in (key if batched else [key])]
        frames, flags = self._read(keys, batched)
        item = self._package(self._layout(frames), keys, flags)
        return item if batched else self._unbatch(item)


class FrameDataset(_ManifestDataset):
    """Single frames (``uint8 [3, H, W]``) of the videos of a manifest (optionally one split)."""

    _image_key = "image"

    def __init__(self, manifest: Manifest, split: str | None = None, mirror: bool = False, seed: int = 0,
                 return_meta: bool = False, verify: bool = True) -> None:
        super().__init__(manifest, split, mirror, seed, return_meta, verify)
        self._starts = [0]
        for r in self.records:
            self._starts.append(self._starts[-1] + r.frame_count)

    def __len__(self) -> int:
        return self._starts[-1]

    def locate(self, flat_index: int) -> tuple[int, int]:
        """Flat frame index -> (video_index, frame_index)."""
        if not 0 <= flat_index < len(self):
            raise IndexError(f"frame {flat_index} is outside [0, {len(self)})")
        v = bisect.bisect_right(self._starts, flat_index) - 1
        return v, flat_index - self._starts[v]

    def _resolve(self, key: Any) -> tuple[int, list[int]]:
        if isinstance(key, tuple):
            video_index, frames = key
            if len(frames) != 1:
                raise ValueError(f"FrameDataset takes one frame per key, got {len(frames)}; use ClipDataset")
            return int(video_index), [frames[0]]
        v, f = self.locate(int(key))
        return v, [f]

    def _layout(self, frames_bthwc: torch.Tensor) -> torch.Tensor:
        return frames_bthwc[:, 0].permute(0, 3, 1, 2)


class ClipDataset(_ManifestDataset):
    """Frames at given indices of one video (``uint8 [T, 3, H, W]``), one mirror flag per clip."""

    def __init__(self, manifest: Manifest, split: str | None = None, mirror: bool = False, seed: int = 0,
                 return_meta: bool = False, verify: bool = True, clip_length: int | None = None) -> None:
        super().__init__(manifest, split, mirror, seed, return_meta, verify)
        self.clip_length = clip_length

    def __len__(self) -> int:
        return len(self.records)

    def _resolve(self, key: Any) -> tuple[int, list[int]]:
        if isinstance(key, tuple):
            return int(key[0]), list(key[1])
        video_index = int(key)
        count = self.records[video_index].frame_count
        n = count if self.clip_length is None else self.clip_length
        if n > count:
            raise IndexError(f"record {self.records[video_index].id!r} has {count} frames, fewer than clip_length {n}")
        return video_index, list(range(n))

    def _layout(self, frames_bthwc: torch.Tensor) -> torch.Tensor:
        return frames_bthwc.permute(0, 1, 4, 2, 3)


def make_loader(dataset: Dataset, sampler: Sampler | Iterable, batch_size: int, num_workers: int = 2,
                drop_last: bool = True, **loader_kwargs: Any) -> DataLoader:
    """A DataLoader whose workers decode whole batches in place (no collate copy).

    Equivalent to ``DataLoader(dataset, batch_size=..., sampler=sampler)`` in content; batches are
    ``[B, 3, H, W]`` (frames) or ``[B, T, 3, H, W]`` (clips), or dicts of batched tensors."""
    return DataLoader(dataset, sampler=BatchSampler(sampler, batch_size, drop_last), batch_size=None,
                      num_workers=num_workers, **loader_kwargs)
