"""Which clips / frames a metric reads from a source (deterministic under a seed).

* ``class_aware`` (real data): ``styleinv_data.sampling.ClassAwareFrameSampler`` (the same sampler
  training uses): every epoch visits each usable video once in a seeded order, and each visit takes
  a start uniformly among the positions where the whole clip fits, so long videos do not dominate.
  Videos shorter than the clip span are skipped and counted, never crash the sampler.
* ``first`` (generated data): the first ``N`` videos long enough, each from frame 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal, Sequence

Sampling = Literal["class_aware", "first"]


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
    elif sampling == "class_aware":
        from styleinv_data.sampling import ClassAwareFrameSampler

        sampler = ClassAwareFrameSampler(list(frame_counts), seed=seed, rank=0, world_size=1,
                                         clip_length=num_frames, frame_stride=frame_stride)
        clips = tuple(ClipRef(int(v), int(f[0])) for v, f in itertools.islice(iter(sampler), num_clips))
    else:
        raise ValueError(f"unknown sampling '{sampling}': use 'class_aware' or 'first'")
    return ClipPlan(clips, num_frames, frame_stride, sampling, seed, skipped)


def plan_frames(
    frame_counts: Sequence[int], num_images: int, sampling: Sampling = "class_aware", seed: int = 0,
    source_name: str = "source",
) -> ClipPlan:
    """Single frames as one-frame clips: class-aware (video, then frame), or ``first``: round-robin
    over the videos (frame 0 of every video, then frame 1, ...), so every video contributes."""
    if sampling == "first":
        longest = max(frame_counts, default=0)
        clips = [ClipRef(v, f) for f in range(longest) for v, count in enumerate(frame_counts) if f < count][:num_images]
        if len(clips) < num_images:
            raise ValueError(f"{source_name}: holds {len(clips)} frames, {num_images} needed; lower --num-frames")
        return ClipPlan(tuple(clips), 1, 1, sampling, seed, 0)
    return plan_clips(frame_counts, num_images, 1, 1, sampling, seed, source_name)
