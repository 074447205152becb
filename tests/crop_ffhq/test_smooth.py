"""Temporal smoothing of quads."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.crop.ffhq import axes_from_quad, quad_from_axes
from styleinv_data.crop.smooth import SmoothOptions, local_polynomial_smooth, smooth_quads


def quads_along(centres: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.stack([quad_from_axes(c, x) for c, x in zip(centres, xs)])


def noisy_motion(n: int = 60, seed: int = 0):
    t = np.arange(n, dtype=np.float64)
    centres = np.stack([100 + 2.0 * t + 0.05 * t ** 2, 80 - 1.0 * t], 1)
    xs = np.stack([60 + 0.2 * t, 5 + 0.05 * t], 1)
    rng = np.random.default_rng(seed)
    return quads_along(centres, xs), quads_along(centres + rng.normal(0, 1.0, centres.shape),
                                                 xs + rng.normal(0, 0.5, xs.shape))


@pytest.mark.parametrize("ratio", [0.0, 3.0])  # 0: the motion-adaptive hand-over off
def test_local_quadratic_keeps_quadratic_motion_exactly(ratio):
    """Centre, roll angle and log size quadratic in time come through unchanged (float64 round-off)."""
    t = np.arange(60, dtype=np.float64)
    centres = np.stack([100 + 2.0 * t + 0.05 * t ** 2, 80 - 1.0 * t], 1)
    angle = 0.1 + 0.01 * t - 0.0002 * t ** 2
    size = 60.0 * np.exp(0.002 * t + 0.00005 * t ** 2)
    clean = quads_along(centres, np.stack([size * np.cos(angle), size * np.sin(angle)], 1))
    options = SmoothOptions("local_quadratic", 2.0, 3.0, motion_noise_ratio=ratio)
    np.testing.assert_allclose(smooth_quads(clean, options), clean, atol=1e-8)


def test_local_quadratic_follows_a_quick_roll():
    """A 10 degree roll over 8 frames with landmark noise: the smoothed roll stays within 1.5x the
    raw error on the roll, and removes noise elsewhere (the issue's acceptance bound)."""
    n = 60
    t = np.arange(n, dtype=np.float64)
    u = np.clip((t - 30) / 8.0, 0, 1)
    angle = np.radians(10.0) * (3 * u ** 2 - 2 * u ** 3)
    centres = np.stack([200 + 0.5 * t, 150 + 0 * t], 1)
    xs = np.stack([60 * np.cos(angle), 60 * np.sin(angle)], 1)
    clean = quads_along(centres, xs)
    rng = np.random.default_rng(0)
    noisy = quads_along(centres + rng.normal(0, 0.12, centres.shape), xs + rng.normal(0, 0.06, xs.shape))
    smoothed = smooth_quads(noisy, SmoothOptions("local_quadratic"))
    def rms(q, frames):
        return float(np.sqrt(np.mean(np.sum((q[frames] - clean[frames]) ** 2, -1))))

    fast, still = slice(29, 40), slice(0, 25)
    # measured: 0.64x; the roll smoothed with sigma_axes as before: 2.8x
    assert rms(smoothed, fast) <= 1.5 * rms(noisy, fast)
    assert rms(smoothed, still) < 0.85 * rms(noisy, still)  # measured: 0.73x


def test_local_quadratic_hands_over_to_the_raw_path_at_a_sudden_start():
    """A still face that starts moving at 20 px/frame: the quadratic fit alone rounds the corner
    of the path off by several pixels; the motion-adaptive hand-over keeps the raw path there."""
    t = np.arange(50, dtype=np.float64)
    centres = np.stack([100 + 20.0 * np.maximum(t - 25, 0), 150 + 0 * t], 1)
    xs = np.tile([60.0, 3.0], (50, 1))
    clean = quads_along(centres, xs)
    rng = np.random.default_rng(1)
    noisy = quads_along(centres + rng.normal(0, 0.12, centres.shape), xs + rng.normal(0, 0.06, xs.shape))
    corner = slice(22, 29)

    def worst(q):
        return float(np.max(np.hypot(*(q[corner] - clean[corner]).T)))

    fixed = smooth_quads(noisy, SmoothOptions("local_quadratic", motion_noise_ratio=0.0))
    default = smooth_quads(noisy, SmoothOptions("local_quadratic"))  # hand-over from 10 noise sigmas
    strict = smooth_quads(noisy, SmoothOptions("local_quadratic", motion_noise_ratio=3.0))
    assert worst(fixed) > 2.0  # measured: 2.92 px (the plain fit rounds the corner off)
    assert worst(default) < 0.5 * worst(fixed)  # measured: 1.12 px (10 sigmas keeps real-video jitter low)
    assert worst(strict) <= 1.5 * worst(noisy)  # measured: 0.28 px smoothed, 0.30 px raw


def test_plain_gaussian_rounds_off_accelerating_motion_local_quadratic_does_not():
    t = np.arange(40, dtype=np.float64)
    signal = np.stack([np.where(t < 20, 0.0, (t - 20) ** 2 * 0.5), t], 1)
    lq = local_polynomial_smooth(signal, 1.0)
    from styleinv_data.crop.smooth import gaussian_smooth

    g = gaussian_smooth(signal, 3.0)
    assert np.abs(g - signal)[25:35, 0].max() > 3 * np.abs(lq - signal)[25:35, 0].max()


@pytest.mark.parametrize("method", ["gaussian", "local_quadratic"])
def test_smoothing_reduces_frame_to_frame_jitter(method):
    clean, noisy = noisy_motion()
    smoothed = smooth_quads(noisy, SmoothOptions(method))

    def d2(q):
        e = q - clean
        return np.sqrt(np.mean((e[2:] - 2 * e[1:-1] + e[:-2]) ** 2))

    assert d2(smoothed) < 0.6 * d2(noisy)


def test_smoothed_quads_stay_squares():
    _, noisy = noisy_motion()
    for q in smooth_quads(noisy, SmoothOptions("gaussian")):
        c, x = axes_from_quad(q)
        np.testing.assert_allclose(q, quad_from_axes(c, x), atol=1e-9)


def test_none_is_identity_and_bad_method_is_rejected():
    _, noisy = noisy_motion(10)
    np.testing.assert_array_equal(smooth_quads(noisy, SmoothOptions()), noisy)
    with pytest.raises(ValueError, match="smooth method 'box'"):
        SmoothOptions("box")  # type: ignore[arg-type]


def test_one_euro_smooths_a_still_face_and_follows_a_moving_one():
    rng = np.random.default_rng(1)
    n = 60
    still = quads_along(np.full((n, 2), 100.0) + rng.normal(0, 1.0, (n, 2)), np.tile([60.0, 0.0], (n, 1)))
    smoothed = smooth_quads(still, SmoothOptions("one_euro"))
    assert np.std(smoothed[:, 0, 0]) < 0.5 * np.std(still[:, 0, 0])
    t = np.arange(n, dtype=np.float64)
    moving = quads_along(np.stack([100 + 10 * t, 100 + 0 * t], 1), np.tile([60.0, 0.0], (n, 1)))
    followed = smooth_quads(moving, SmoothOptions("one_euro"))
    np.testing.assert_allclose(followed[3:-3], moving[3:-3], atol=0.5)  # no lag away from the clip ends
