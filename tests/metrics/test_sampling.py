from __future__ import annotations

from collections import Counter

import pytest

from styleinv_model.metrics.sampling import plan_clips, plan_frames


def test_class_aware_is_uniform_over_videos_not_frames() -> None:
    counts = [10_000, 20, 20, 20]  # one long video must not dominate
    plan = plan_clips(counts, 4000, 16, 1, "class_aware", seed=0)
    per_video = Counter(c.video_index for c in plan.clips)
    assert set(per_video) == {0, 1, 2, 3}
    assert all(800 <= n <= 1200 for n in per_video.values()), per_video
    assert all(0 <= c.start <= counts[c.video_index] - 16 for c in plan.clips)


def test_deterministic_under_seed_and_seed_matters() -> None:
    counts = [50, 80, 300]
    a = plan_clips(counts, 64, 16, 8, "class_aware", seed=5)
    b = plan_clips(counts, 64, 16, 8, "class_aware", seed=5)
    c = plan_clips(counts, 64, 16, 8, "class_aware", seed=6)
    assert a == b and a.clips != c.clips


def test_short_videos_are_skipped_and_counted() -> None:
    plan = plan_clips([10, 200, 121, 120], 32, 16, 8, "class_aware", seed=0)  # span 121
    assert plan.skipped_short_videos == 2
    assert {c.video_index for c in plan.clips} <= {1, 2}
    assert plan.frame_indices(plan.clips[0])[-1] - plan.frame_indices(plan.clips[0])[0] == 120
    with pytest.raises(ValueError, match="121 frames"):
        plan_clips([10, 20], 4, 16, 8, "class_aware", seed=0, source_name="real")


def test_first_sampling_takes_first_long_enough_videos_or_fails_clearly() -> None:
    plan = plan_clips([16, 5, 16, 16], 3, 16, 1, "first")
    assert [(c.video_index, c.start) for c in plan.clips] == [(0, 0), (2, 0), (3, 0)]
    with pytest.raises(ValueError, match="lower --num-videos"):
        plan_clips([16, 16], 3, 16, 1, "first", source_name="fake")


def test_frame_plans() -> None:
    plan = plan_frames([3, 2], 4, "first")
    assert [(c.video_index, c.start) for c in plan.clips] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert len(plan_frames([3, 2], 100, "class_aware", seed=1).clips) == 100
    with pytest.raises(ValueError, match="5 frames"):
        plan_frames([3, 2], 6, "first")


def test_stylegan_v_real_side_takes_each_video_once_in_dataset_order() -> None:
    """StyleGAN-V's real side: the first min(#videos, N) long-enough videos, in order, one clip each
    from a (here seeded) uniform start; never more clips than videos."""
    counts = [40, 10, 16, 100, 30]
    plan = plan_clips(counts, 3, 16, 1, "dataset_order", seed=2)
    assert [c.video_index for c in plan.clips] == [0, 2, 3] and plan.skipped_short_videos == 1
    assert all(0 <= c.start <= counts[c.video_index] - 16 for c in plan.clips)
    assert plan == plan_clips(counts, 3, 16, 1, "dataset_order", seed=2)
    starts = {plan_clips(counts, 3, 16, 1, "dataset_order", seed=s).clips[2].start for s in range(20)}
    assert len(starts) > 5  # the start is drawn, not fixed
    everything = plan_clips(counts, 2048, 16, 1, "dataset_order", seed=0)
    assert [c.video_index for c in everything.clips] == [0, 2, 3, 4]  # 4 videos: 4 clips, not 2048
    assert [c.video_index for c in plan_clips(counts, 2048, 16, 1, "first_available").clips] == [0, 2, 3, 4]


def test_stylegan_v_frame_plans() -> None:
    counts = [3, 2, 4]
    every = plan_frames(counts, 50_000, "all_frames")
    assert [(c.video_index, c.start) for c in every.clips] == \
        [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)]
    first = plan_frames(counts, 4, "video_major")
    assert [(c.video_index, c.start) for c in first.clips] == [(0, 0), (0, 1), (0, 2), (1, 0)]


def test_biased_covariance_is_the_unbiased_one_times_n_minus_1_over_n() -> None:
    import numpy as np

    from styleinv_model.metrics.frechet import GaussianStats

    features = np.random.default_rng(0).normal(size=(13, 5))
    unbiased, biased = GaussianStats.from_features(features), GaussianStats.from_features(features, "biased")
    np.testing.assert_allclose(unbiased.cov, np.cov(features, rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(biased.cov, unbiased.cov * 12 / 13, rtol=1e-12)
    with pytest.raises(ValueError, match="covariance must be"):
        GaussianStats.from_features(features, "n-2")
