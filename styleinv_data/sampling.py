"""Infinite, seeded, DDP-aware samplers over videos (REFERENCE.md sections 1 and 2).

Both samplers yield ``(video_index, frame_indices)``: ``video_index`` indexes the list of frame
counts they were built from (a manifest's records), ``frame_indices`` is a tuple of frame
numbers inside that video. The datasets in :mod:`styleinv_data.datasets` turn them into tensors.

Class-aware order: every epoch is a seeded permutation of the eligible videos, so each video is
drawn exactly once per epoch (a video uniformly, marginally) and long videos do not dominate;
inside the video the frame (or clip start) is uniform. The global stream is the concatenation of
the epochs; DDP rank ``r`` of ``W`` takes positions ``r, r + W, r + 2W, ...`` of it, so the ranks'
shares are disjoint and together they are the whole stream. Randomness depends only on
``(seed, epoch)`` (epochs are drawn in blocks from one generator per block): identical on every
rank and in every DataLoader worker layout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

SampleKey = tuple[int, tuple]


def _default_rank_world(rank: int | None, world_size: int | None) -> tuple[int, int]:
    if rank is None or world_size is None:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            rank = torch.distributed.get_rank() if rank is None else rank
            world_size = torch.distributed.get_world_size() if world_size is None else world_size
        rank = 0 if rank is None else rank
        world_size = 1 if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    return rank, world_size


def epoch_rng(seed: int, block: int, stream: int = 0) -> np.random.Generator:
    """The random generator of one block of epochs (same on every rank)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, block, stream])))


class _EpochStreamSampler(Sampler):
    """Shared machinery: per-epoch permutation of eligible videos, sharded by stream position."""

    def __init__(self, eligible: list[int], seed: int, rank: int | None, world_size: int | None,
                 start_epoch: int, what: str) -> None:
        if not eligible:
            raise ValueError(f"no video is long enough for the {what}; {self.__class__.__name__} has nothing to sample")
        self.eligible = np.asarray(eligible, dtype=np.int64)
        self.seed = int(seed)
        self.rank, self.world_size = _default_rank_world(rank, world_size)
        self.start_epoch = int(start_epoch)

    def set_epoch(self, epoch: int) -> None:
        """Start the next iteration at ``epoch`` (for resuming)."""
        self.start_epoch = int(epoch)

    @property
    def videos_per_epoch(self) -> int:
        return len(self.eligible)

    @property
    def epochs_per_block(self) -> int:
        """Epochs drawn from one generator: tiny epochs (few videos) share one, so seeding costs
        nothing per sample; a block always starts at a multiple of this, whatever the rank."""
        return max(1, -(-4096 // len(self.eligible)))

    def _draw_block(self, rng: np.random.Generator, epochs: int) -> list[list[SampleKey]]:
        """The sample lists of ``epochs`` consecutive epochs (vectorised over the whole block)."""
        raise NotImplementedError

    def _block_orders(self, rng: np.random.Generator, epochs: int) -> np.ndarray:
        """``[epochs, n]`` video indices: an independent permutation of the usable videos per epoch."""
        n = len(self.eligible)
        positions = np.broadcast_to(np.arange(n), (epochs, n)).copy()
        return self.eligible[rng.permuted(positions, axis=1)]

    def epoch_samples(self, epoch: int) -> list[SampleKey]:
        """The whole (all-rank) sample list of one epoch."""
        per_block = self.epochs_per_block
        block = epoch // per_block
        return self._draw_block(epoch_rng(self.seed, block), per_block)[epoch - block * per_block]

    def __iter__(self) -> Iterator[SampleKey]:
        n = len(self.eligible)
        per_block = self.epochs_per_block
        epoch = self.start_epoch
        while True:
            block = epoch // per_block
            epochs = self._draw_block(epoch_rng(self.seed, block), per_block)
            for k in range(epoch - block * per_block, per_block):
                e = block * per_block + k
                first = (self.rank - e * n) % self.world_size  # this rank's first position in the epoch
                yield from epochs[k][first::self.world_size]
            epoch = (block + 1) * per_block


class ClassAwareFrameSampler(_EpochStreamSampler):
    """A video uniformly, then a frame uniformly inside it (image generator, encoder, FID).

    With ``clip_length > 1`` it yields ``clip_length`` consecutive frames (``frame_stride`` apart)
    at a uniform start instead (FVD clips); videos shorter than that are skipped and counted in
    :attr:`num_skipped`, never a crash.
    """

    def __init__(self, frame_counts: Sequence[int], seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, clip_length: int = 1, frame_stride: int = 1,
                 start_epoch: int = 0) -> None:
        if clip_length < 1 or frame_stride < 1:
            raise ValueError(f"clip_length ({clip_length}) and frame_stride ({frame_stride}) must be >= 1")
        self.frame_counts = np.asarray(list(frame_counts), dtype=np.int64)
        self.clip_length, self.frame_stride = int(clip_length), int(frame_stride)
        span = (self.clip_length - 1) * self.frame_stride + 1
        self._span = span
        eligible = [i for i, c in enumerate(self.frame_counts) if c >= span]
        self.skipped_indices = [i for i, c in enumerate(self.frame_counts) if c < span]
        super().__init__(eligible, seed, rank, world_size, start_epoch, f"{span}-frame span")

    @property
    def num_skipped(self) -> int:
        return len(self.skipped_indices)

    def _draw_block(self, rng: np.random.Generator, epochs: int) -> list[list[SampleKey]]:
        orders = self._block_orders(rng, epochs)
        starts = rng.integers(0, self.frame_counts[orders] - self._span + 1)  # uniform start per draw
        frames = starts[..., None] + np.arange(self.clip_length, dtype=np.int64) * self.frame_stride
        videos, frames = orders.tolist(), frames.tolist()
        return [[(v, tuple(f)) for v, f in zip(videos[k], frames[k])] for k in range(epochs)]


@dataclass(frozen=True)
class SparseClipConfig:
    """The authors' sparse-training sampler (REFERENCE.md section 1, "Sparse training")."""

    nframes: int = 128  # clip length (timestamps are divided by nframes - 1)
    max_dist: int = 32  # largest span: 32 for faces, 128 for SkyTimelapse / TaiChi
    fractional: bool = False  # real-valued offsets (generated timestamps); real frames need False


def allowed_spans(clip_length: int, max_dist: int) -> list[int]:
    """Powers of two in ``[2, min(clip_length - 1, max_dist)]`` (empty when the clip has < 3 frames)."""
    top = min(clip_length - 1, max_dist)
    return [1 << k for k in range(1, int(math.log2(top)) + 1)] if top >= 2 else []


def draw_sparse_rows(rng: np.random.Generator, clip_lengths: np.ndarray, max_dist: int,
                     fractional: bool = False) -> np.ndarray:
    """Vectorised sparse draws: one row ``(0, offset, middle, offset + span)`` per clip length.

    span: a power of two uniform in :func:`allowed_spans`; offset: uniform in
    ``[0, clip_length - span - 1]`` (an integer, or a real number when ``fractional``);
    middle: ``offset + k`` with ``k`` an integer uniform in ``[1, span - 1]`` (strictly between).
    Every clip length must be >= 3.
    """
    clip = np.asarray(clip_lengths, dtype=np.int64)
    if clip.size and clip.min() < 3:
        raise ValueError(f"a clip of {int(clip.min())} frames is too short for any span (needs >= 3 frames)")
    top = np.minimum(clip - 1, max_dist)
    num_spans = np.floor(np.log2(top)).astype(np.int64)  # spans 2^1 .. 2^num_spans
    span = np.left_shift(1, 1 + rng.integers(0, num_spans))
    if fractional:
        offset = rng.uniform(0.0, 1.0, size=span.shape) * (clip - span - 1)
    else:
        offset = rng.integers(0, clip - span)  # [0, clip - span - 1]
    middle = offset + rng.integers(1, span)
    return np.stack([np.zeros_like(offset), offset, middle, offset + span], axis=-1)


def draw_sparse_positions(rng: np.random.Generator, clip_length: int, max_dist: int,
                          fractional: bool = False) -> tuple:
    """One draw of ``(0, offset, middle, offset + span)`` inside a clip (see :func:`draw_sparse_rows`)."""
    return tuple(draw_sparse_rows(rng, np.asarray([clip_length]), max_dist, fractional)[0].tolist())


def normalised_timestamps(frame_indices: Sequence[float] | torch.Tensor, nframes: int) -> torch.Tensor:
    """Timestamps in clip units, as StyleInV consumes them: ``(index - index[0]) / (nframes - 1)``.

    The first index is frame 0 of the clip (the sparse sampler puts it first). Like the authors'
    code, the divisor is the configured clip length even for videos shorter than it, so a given
    frame gap means the same time in every video.
    """
    idx = torch.as_tensor(frame_indices, dtype=torch.float64)
    return ((idx - idx[..., :1]) / float(nframes - 1)).to(torch.float32)


def sample_sparse_timestamps(batch_size: int, config: SparseClipConfig, generator: np.random.Generator) -> torch.Tensor:
    """Timestamps ``[batch_size, 4]`` for generated videos (normalised by ``nframes - 1``)."""
    rows = draw_sparse_rows(generator, np.full(batch_size, config.nframes), config.max_dist, config.fractional)
    return normalised_timestamps(rows, config.nframes)


class SparseClipSampler(_EpochStreamSampler):
    """Stage-3 sparse clips: a video uniformly, a clip of ``nframes`` at a uniform start (the whole
    video when shorter), then :func:`draw_sparse_positions` inside it. Yields absolute frame
    indices ``(clip_start, clip_start + offset, clip_start + middle, clip_start + offset + span)``.

    Videos with fewer than 3 frames fit no span: they are skipped and counted
    (:attr:`num_skipped`), never a crash.
    """

    def __init__(self, frame_counts: Sequence[int], config: SparseClipConfig = SparseClipConfig(), seed: int = 0,
                 rank: int | None = None, world_size: int | None = None, start_epoch: int = 0) -> None:
        if config.nframes < 3 or config.max_dist < 2:
            raise ValueError(f"nframes ({config.nframes}) must be >= 3 and max_dist ({config.max_dist}) >= 2")
        self.config = config
        self.frame_counts = np.asarray(list(frame_counts), dtype=np.int64)
        eligible = [i for i, c in enumerate(self.frame_counts) if allowed_spans(min(c, config.nframes), config.max_dist)]
        usable = set(eligible)
        self.skipped_indices = [i for i in range(len(self.frame_counts)) if i not in usable]
        super().__init__(eligible, seed, rank, world_size, start_epoch, "sparse sampler (>= 3 frames)")

    @property
    def num_skipped(self) -> int:
        return len(self.skipped_indices)

    def clip_length(self, video_index: int) -> int:
        return int(min(self.frame_counts[video_index], self.config.nframes))

    def _draw_block(self, rng: np.random.Generator, epochs: int) -> list[list[SampleKey]]:
        orders = self._block_orders(rng, epochs)
        counts = self.frame_counts[orders]
        clip = np.minimum(counts, self.config.nframes)
        start = rng.integers(0, counts - clip + 1)  # the clip's start in the video, uniform
        rows = draw_sparse_rows(rng, clip, self.config.max_dist, self.config.fractional) + start[..., None]
        videos, rows = orders.tolist(), rows.tolist()
        return [[(v, tuple(r)) for v, r in zip(videos[k], rows[k])] for k in range(epochs)]
