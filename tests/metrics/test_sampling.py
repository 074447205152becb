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
