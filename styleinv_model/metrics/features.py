"""Read the planned clips from a source (each video decoded once) and run them through a network."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterator

import numpy as np

from .sampling import ClipPlan
from .sources import VideoSource

FeatureFn = Callable[[np.ndarray], np.ndarray]


def iter_clips(source: VideoSource, plan: ClipPlan) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(position in plan, clip [T, H, W, 3] uint8)``, grouped by video (one decode per video)."""
    by_video: dict[int, list[int]] = defaultdict(list)
    for position, clip in enumerate(plan.clips):
        by_video[clip.video_index].append(position)
    for video_index in sorted(by_video):
        positions = by_video[video_index]
        needed = {i for p in positions for i in plan.frame_indices(plan.clips[p])}
        frames = source.read_frames(video_index, needed)
        for position in positions:
            yield position, np.stack([frames[i] for i in plan.frame_indices(plan.clips[position])])


def _same_size_batches(items: Iterator[tuple[int, np.ndarray]], batch_size: int) -> Iterator[tuple[list[int], np.ndarray]]:
    positions: list[int] = []
    clips: list[np.ndarray] = []
    for position, clip in items:
        if clips and (clip.shape != clips[0].shape or len(clips) == batch_size):
            yield positions, np.stack(clips)
            positions, clips = [], []
        positions.append(position)
        clips.append(clip)
    if clips:
        yield positions, np.stack(clips)


def extract_features(
    source: VideoSource,
    plan: ClipPlan,
    feature_fn: FeatureFn,
    batch_size: int = 8,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Features of every planned clip, in plan order. ``feature_fn`` takes a uint8 batch.

    One-frame plans (FID) hand ``feature_fn`` images ``[B, H, W, 3]``; video plans ``[B, T, H, W, 3]``.
    """
    results: list[np.ndarray | None] = [None] * len(plan.clips)
    done = 0
    for positions, batch in _same_size_batches(iter_clips(source, plan), batch_size):
        if plan.num_frames == 1:
            batch = batch[:, 0]
        features = feature_fn(batch)
        for position, row in zip(positions, features):
            results[position] = row
        done += len(positions)
        if progress:
            progress(done, len(plan.clips))
    return np.stack(results)  # type: ignore[arg-type]
