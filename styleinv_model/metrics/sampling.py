"""Which clips / frames a metric reads from a source (deterministic under a seed).

* ``class_aware`` (real data): ``styleinv_data.sampling.ClassAwareFrameSampler`` (the same sampler
  training uses): every epoch visits each usable video once in a seeded order, and each visit takes
  a start uniformly among the positions where the whole clip fits, so long videos do not dominate.
  Videos shorter than the clip span are skipped and counted, never crash the sampler.
* ``first`` (generated data): the first ``N`` videos long enough, each from frame 0;
  ``first_available``: the same, fewer when fewer are long enough (StyleGAN-V's generated side).
* ``dataset_order`` (StyleGAN-V's real side for FVD): the first ``min(#videos, N)`` videos long
  enough, in dataset order, one clip each from a seeded uniform start (StyleGAN-V draws it with
  Python's unseeded ``random``); never more clips than videos.
* frames only: ``all_frames`` (every frame of every video: StyleGAN-V's ``fid50k_full`` real side)
  and ``video_major`` (the first ``N`` frames in file order, video after video: StyleGAN-V's
  generated side when the generated videos are given as a dataset).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

Sampling = Literal["class_aware", "first", "first_available", "dataset_order", "all_frames", "video_major"]


@dataclass(frozen=True)
class ClipRef:
    video_index: int
    start: int


@dataclass(frozen=True)
class ClipPlan:
    clips: tuple[ClipRef, ...]
    num_frames: int
    frame_stride: int
    sampling: Sampling
    seed: int
    skipped_short_videos: int

    def frame_indices(self, clip: ClipRef) -> list[int]:
        return [clip.start + k * self.frame_stride for k in range(self.num_frames)]


def plan_clips(
    frame_counts: Sequence[int],
    num_clips: int,
    num_frames: int,
    frame_stride: int = 1,
    sampling: Sampling = "class_aware",
    seed: int = 0,
    source_name: str = "source",
) -> ClipPlan:
    span = (num_frames - 1) * frame_stride + 1
    eligible = [i for i, count in enumerate(frame_counts) if count >= span]
    skipped = len(frame_counts) - len(eligible)
    if not eligible:
        raise ValueError(f"{source_name}: no video has the {span} frames a clip needs (longest: {max(frame_counts, default=0)})")
    if sampling == "first":
        if len(eligible) < num_clips:
            raise ValueError(
                f"{source_name}: {len(eligible)} videos have >= {span} frames but {num_clips} are needed; "
                f"lower --num-videos or add videos"
            )
        clips = tuple(ClipRef(i, 0) for i in eligible[:num_clips])
    elif sampling == "first_available":
        clips = tuple(ClipRef(i, 0) for i in eligible[:num_clips])
    elif sampling == "dataset_order":
        rng = np.random.default_rng(seed)
        clips = tuple(ClipRef(i, int(rng.integers(0, frame_counts[i] - span + 1))) for i in eligible[:num_clips])
    elif sampling == "class_aware":
        from styleinv_data.sampling import ClassAwareFrameSampler

        sampler = ClassAwareFrameSampler(list(frame_counts), seed=seed, rank=0, world_size=1,
                                         clip_length=num_frames, frame_stride=frame_stride)
        clips = tuple(ClipRef(int(v), int(f[0])) for v, f in itertools.islice(iter(sampler), num_clips))
    else:
        raise ValueError(f"unknown sampling '{sampling}' for clips: use 'class_aware', 'first', 'first_available' "
                         "or 'dataset_order'")
    return ClipPlan(clips, num_frames, frame_stride, sampling, seed, skipped)


def plan_frames(
    frame_counts: Sequence[int], num_images: int, sampling: Sampling = "class_aware", seed: int = 0,
    source_name: str = "source",
) -> ClipPlan:
    """Single frames as one-frame clips: class-aware (video, then frame), or ``first``: round-robin
    over the videos (frame 0 of every video, then frame 1, ...), so every video contributes;
    ``all_frames``: every frame (``num_images`` ignored); ``video_major``: the first ``num_images``
    frames video after video (fewer when the source holds fewer)."""
    if sampling == "all_frames":
        return ClipPlan(tuple(ClipRef(v, f) for v, count in enumerate(frame_counts) for f in range(count)),
                        1, 1, sampling, seed, 0)
    if sampling == "video_major":
        clips = [ClipRef(v, f) for v, count in enumerate(frame_counts) for f in range(count)][:num_images]
        return ClipPlan(tuple(clips), 1, 1, sampling, seed, 0)
    if sampling == "first":
        longest = max(frame_counts, default=0)
        clips = [ClipRef(v, f) for f in range(longest) for v, count in enumerate(frame_counts) if f < count][:num_images]
        if len(clips) < num_images:
            raise ValueError(f"{source_name}: holds {len(clips)} frames, {num_images} needed; lower --num-frames")
        return ClipPlan(tuple(clips), 1, 1, sampling, seed, 0)
    return plan_clips(frame_counts, num_images, 1, 1, sampling, seed, source_name)
