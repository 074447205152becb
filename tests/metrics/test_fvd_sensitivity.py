"""FVD responds to broken motion and to noise on real footage; FVD128 runs on long clips; FID(x, x) ~ 0.

Small versions of ``benchmarks/fvd_sensitivity.py`` (which runs every window, and more paths).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from styleinv_model.metrics.evaluate import SideSpec, compute_fid, compute_fvd
from styleinv_model.metrics.frechet import frechet_distance_features
from styleinv_model.metrics.protocols import VIDEO_PROTOCOLS, ImageProtocol
from styleinv_model.metrics.sensitivity import (
    add_noise,
    bootstrap_fd_std,
    random_smooth_path,
    render_along_path,
    shuffle_frames,
    sliding_windows,
)
from styleinv_model.metrics.sources import ArrayVideoSource
from styleinv_model.metrics.stats_cache import StatsCache


def _features(extractor, clips: np.ndarray, batch: int = 4) -> np.ndarray:
    return np.concatenate([extractor(clips[i : i + batch]) for i in range(0, len(clips), batch)])


def test_fvd16_separates_shuffled_and_noisy_clips_from_real(i3d_extractor, carphone_frames) -> None:
    windows = sliding_windows(carphone_frames, 16, step=4)  # 27 windows over the 120 real frames
    half_a, half_b = windows[0::2], windows[1::2]  # two interleaved halves: 14 and 13 clips
    feats_a, feats_b = _features(i3d_extractor, half_a), _features(i3d_extractor, half_b)
    real_vs_real = frechet_distance_features(feats_a, feats_b)
    spread = bootstrap_fd_std(feats_a, feats_b, rounds=200, seed=0)
    shuffled = frechet_distance_features(feats_a, _features(i3d_extractor, shuffle_frames(half_b, seed=1)))
    noisy = frechet_distance_features(feats_a, _features(i3d_extractor, add_noise(half_b, sigma=25.0, seed=2)))
    print(f"FVD16 carphone: real-real {real_vs_real:.1f} (bootstrap std {spread:.1f}), "
          f"shuffled {shuffled:.1f}, noise {noisy:.1f}")
    assert shuffled - real_vs_real >= 3 * spread
    assert noisy - real_vs_real >= 3 * spread


def test_fvd128_and_every_8th_separate_smooth_motion_from_shuffled(i3d_extractor, astronaut_rgb, tmp_path) -> None:
    face = astronaut_rgb[:256, 96:352]  # the real face photo, 256²
    rng_a, rng_b = np.random.default_rng(10), np.random.default_rng(11)
    set_a = [render_along_path(face, random_smooth_path(128, rng_a), 128) for _ in range(2)]
    set_b = [render_along_path(face, random_smooth_path(128, rng_b), 128) for _ in range(2)]
    set_shuffled = list(shuffle_frames(np.stack(set_b), seed=3))
    values = {}
    for name in ("fvd128", "fvd128_s8"):
        protocol = replace(VIDEO_PROTOCOLS[name], num_videos=2)
        cache = StatsCache(tmp_path / name)  # set A's statistics are computed once, then read back
        side_a = SideSpec(ArrayVideoSource(set_a), "first", cacheable=True)
        real_real = compute_fvd(side_a, SideSpec(ArrayVideoSource(set_b), "first"), protocol, i3d_extractor, 1, cache)
        shuffled = compute_fvd(side_a, SideSpec(ArrayVideoSource(set_shuffled), "first"), protocol, i3d_extractor, 1, cache)
        assert shuffled.sides["fake"]["stats_from_cache"] is True  # set A is the first side
        assert shuffled.protocol["span"] == (128 if name == "fvd128" else 121)
        values[name] = (real_real.value, shuffled.value)
    print("FVD128 smooth paths (real-real, shuffled):", values)
    # measured: fvd128 222.6 vs 3709.9 (16.7x); every 8th 585.0 vs 929.9 (1.59x): subsampling by 8
    # already makes smooth motion jumpy, so shuffling changes less (benchmarks/fvd_sensitivity.py)
    assert values["fvd128"][1] > 5 * values["fvd128"][0]
    assert values["fvd128_s8"][1] > 1.2 * values["fvd128_s8"][0]


def test_fid_of_a_set_against_itself_is_zero(inception_extractor, carphone_frames) -> None:
    features = inception_extractor(carphone_frames[::10])  # 12 real frames
    assert frechet_distance_features(features, features) < 1e-3
    assert frechet_distance_features(features[:6], features[6:]) > 1.0  # different frames: a real distance
    source = ArrayVideoSource([carphone_frames[:40], carphone_frames[40:80]])  # and through the pipeline
    protocol = ImageProtocol(num_images=6)
    result = compute_fid(SideSpec(source, "class_aware", seed=4), SideSpec(source, "class_aware", seed=4),
                         protocol, inception_extractor, batch_size=6)
    assert result.value < 1e-3
    assert result.protocol["weights_sha256"] == inception_extractor.weights.sha256
