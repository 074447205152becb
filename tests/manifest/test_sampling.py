"""Statistical and structural tests of the class-aware and sparse samplers."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import torch
from scipy import stats

from styleinv_data.sampling import (
    ClassAwareFrameSampler,
    SparseClipConfig,
    SparseClipSampler,
    allowed_spans,
    draw_sparse_positions,
    normalised_timestamps,
    sample_sparse_timestamps,
)

LENGTHS = [3, 10, 100, 1000, 5000, 7, 50, 20]  # very different lengths


def take(sampler, n):
    return list(itertools.islice(iter(sampler), n))


def test_video_frequencies_are_uniform_not_length_weighted():
    n = len(LENGTHS) * 60 + 5  # not a whole number of epochs
    draws = take(ClassAwareFrameSampler(LENGTHS, seed=1), n)
    freq = np.bincount([v for v, _ in draws], minlength=len(LENGTHS))
    assert stats.chisquare(freq).pvalue > 0.01, freq
    # the same counts are wildly unlikely under frame-uniform (length-weighted) sampling
    weighted = np.asarray(LENGTHS) / sum(LENGTHS) * n
    assert stats.chisquare(freq, weighted).pvalue < 1e-12


def test_frame_inside_a_video_is_uniform_and_in_range():
    draws = take(ClassAwareFrameSampler(LENGTHS, seed=2), len(LENGTHS) * 800)
    per_video: dict[int, list[int]] = {}
    for v, frames in draws:
        assert len(frames) == 1 and 0 <= frames[0] < LENGTHS[v]
        per_video.setdefault(v, []).append(frames[0])
    for v in (1, 5, 7):  # 10, 7 and 20 frames: enough draws per cell for a chi-square test
        counts = np.bincount(per_video[v], minlength=LENGTHS[v])
        assert stats.chisquare(counts).pvalue > 1e-3, (v, counts)
    big = np.asarray(per_video[4])  # 5000 frames: Kolmogorov-Smirnov against uniform
    assert stats.kstest((big + 0.5) / 5000, "uniform").pvalue > 1e-3


def test_clip_mode_skips_short_videos_and_stays_inside():
    s = ClassAwareFrameSampler(LENGTHS, seed=0, clip_length=16, frame_stride=2)  # needs 31 frames
    assert s.skipped_indices == [0, 1, 5, 7] and s.num_skipped == 4
    for v, frames in take(s, 400):
        assert LENGTHS[v] >= 31
        assert list(np.diff(frames)) == [2] * 15 and 0 <= frames[0] and frames[-1] < LENGTHS[v]
    with pytest.raises(ValueError, match="no video is long enough"):
        ClassAwareFrameSampler([3, 4], clip_length=16)


@pytest.mark.parametrize("sampler_factory", [
    lambda rank, world: ClassAwareFrameSampler(LENGTHS + [11, 12], seed=5, rank=rank, world_size=world),
    lambda rank, world: SparseClipSampler(LENGTHS + [11, 12], SparseClipConfig(nframes=32, max_dist=8), seed=5,
                                          rank=rank, world_size=world),
])
def test_ddp_shards_are_disjoint_and_cover_the_stream(sampler_factory):
    world, epochs = 3, 3
    n_videos = len(LENGTHS) + 2  # 10 videos; 30 positions over 3 epochs = 10 per rank
    per_rank = n_videos * epochs // world
    single = take(sampler_factory(0, 1), n_videos * epochs)
    shards = [take(sampler_factory(r, world), per_rank) for r in range(world)]
    # rank r holds exactly the global positions r, r + W, ...: disjoint, and together the whole stream
    for r in range(world):
        assert shards[r] == single[r::world]
    interleaved = [shards[p % world][p // world] for p in range(n_videos * epochs)]
    assert interleaved == single
    videos = Counter(v for shard in shards for v, _ in shard)
    assert videos == Counter({v: epochs for v in range(n_videos)})  # every video once per epoch


def test_samplers_are_deterministic_and_epochs_differ():
    a = take(ClassAwareFrameSampler(LENGTHS, seed=7), 40)
    b = take(ClassAwareFrameSampler(LENGTHS, seed=7), 40)
    c = take(ClassAwareFrameSampler(LENGTHS, seed=8), 40)
    assert a == b and a != c
    assert [v for v, _ in a[:8]] != [v for v, _ in a[8:16]]  # a new permutation each epoch
    resumed = ClassAwareFrameSampler(LENGTHS, seed=7)
    resumed.set_epoch(2)
    assert take(resumed, 8) == a[16:24]


SPARSE_LENGTHS = [2, 1, 5, 40, 128, 300, 1000]


def test_sparse_structure_on_every_draw():
    cfg = SparseClipConfig(nframes=128, max_dist=32)
    s = SparseClipSampler(SPARSE_LENGTHS, cfg, seed=0)
    assert s.skipped_indices == [0, 1] and s.num_skipped == 2  # too short for any span: skipped, counted
    for v, idx in take(s, 3000):
        count = SPARSE_LENGTHS[v]
        clip = min(count, 128)
        first, offset, middle, end = idx
        span = end - offset
        assert all(isinstance(i, int) for i in idx)
        assert span in allowed_spans(clip, 32) and span & (span - 1) == 0 and 2 <= span <= min(clip - 1, 32)
        assert first <= offset < middle < end  # frame 0 of the clip first, middle strictly inside
        assert end - first <= clip - 1  # all inside the clip
        assert 0 <= first and end < count  # all inside the video
        assert s.clip_length(v) == clip


def test_sparse_spans_offsets_and_middles_are_uniform():
    s = SparseClipSampler([300, 5], SparseClipConfig(nframes=128, max_dist=32), seed=3)
    spans_long, spans_short, middles_16, offsets_2 = [], [], [], []
    for v, (first, offset, middle, end) in take(s, 8000):
        span = end - offset
        if v == 0:
            spans_long.append(span)
            if span == 16:
                middles_16.append(middle - offset)
        else:
            spans_short.append(span)
            if span == 2:
                offsets_2.append(offset - first)
    assert sorted(set(spans_long)) == [2, 4, 8, 16, 32]
    assert stats.chisquare(list(Counter(spans_long).values())).pvalue > 1e-3
    assert sorted(set(spans_short)) == [2, 4]  # a 5-frame video is its own clip: spans up to 4
    assert stats.chisquare(list(Counter(spans_short).values())).pvalue > 1e-3
    assert sorted(set(middles_16)) == list(range(1, 16))
    assert stats.chisquare(np.bincount(middles_16)[1:]).pvalue > 1e-3
    assert sorted(set(offsets_2)) == [0, 1, 2]  # [0, clip - span - 1] = [0, 2]
    assert stats.chisquare(np.bincount(offsets_2)).pvalue > 1e-3


def test_sparse_clip_start_is_uniform_over_the_video():
    s = SparseClipSampler([200], SparseClipConfig(nframes=128, max_dist=32), seed=4)
    starts = np.asarray([idx[0] for _, idx in take(s, 3000)])
    assert starts.min() >= 0 and starts.max() <= 200 - 128
    assert stats.kstest((starts + 0.5) / 73, "uniform").pvalue > 1e-3


def test_sparse_fractional_offsets():
    s = SparseClipSampler([128], SparseClipConfig(nframes=128, max_dist=32, fractional=True), seed=0)
    draws = take(s, 500)
    fractional = 0
    for _, (first, offset, middle, end) in draws:
        span = round(end - offset)
        assert span in (2, 4, 8, 16, 32) and end - offset == pytest.approx(span, abs=1e-9)
        k = middle - offset
        assert k == pytest.approx(round(k), abs=1e-9) and 1 <= round(k) <= span - 1
        assert 0 <= offset - first <= 127 - span + 1e-9
        fractional += not float(offset).is_integer()
    assert fractional > 450  # offsets are real numbers


def test_timestamps():
    t = normalised_timestamps([(5, 7, 9, 11), (0, 1, 2, 127)], nframes=128)
    assert t.dtype == torch.float32
    assert torch.allclose(t, torch.tensor([[0, 2, 4, 6], [0, 1, 2, 127]], dtype=torch.float32) / 127)
    gen = sample_sparse_timestamps(64, SparseClipConfig(fractional=True), np.random.default_rng(0))
    assert gen.shape == (64, 4) and (gen[:, 0] == 0).all() and (gen >= 0).all() and (gen <= 1).all()
    assert (gen[:, 1] < gen[:, 2]).all() and (gen[:, 2] < gen[:, 3]).all()
    with pytest.raises(ValueError, match="too short for any span"):
        draw_sparse_positions(np.random.default_rng(0), 2, 32)


def test_all_too_short_is_a_clear_error_not_a_crash():
    with pytest.raises(ValueError, match="no video is long enough"):
        SparseClipSampler([1, 2, 2])
    with pytest.raises(ValueError, match="rank 3 is not in"):
        ClassAwareFrameSampler([5], rank=3, world_size=2)


from hypothesis import given, settings
from hypothesis import strategies as st


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 400), min_size=1, max_size=12), nframes=st.integers(3, 200),
       max_dist=st.integers(2, 160), fractional=st.booleans(), seed=st.integers(0, 2**31))
def test_sparse_invariants_for_any_lengths(counts, nframes, max_dist, fractional, seed):
    usable = [i for i, c in enumerate(counts) if min(c, nframes) >= 3]
    if not usable:
        with pytest.raises(ValueError, match="no video is long enough"):
            SparseClipSampler(counts, SparseClipConfig(nframes, max_dist, fractional), seed=seed)
        return
    s = SparseClipSampler(counts, SparseClipConfig(nframes, max_dist, fractional), seed=seed)
    assert sorted(s.skipped_indices + usable) == list(range(len(counts)))
    for v, (first, offset, middle, end) in take(s, 3 * len(usable)):
        clip = min(counts[v], nframes)
        span = round(end - offset)
        assert span in allowed_spans(clip, max_dist)
        assert first <= offset < middle < end <= first + clip - 1 + 1e-9
        assert 0 <= first and end <= counts[v] - 1 + 1e-9
