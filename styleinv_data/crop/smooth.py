"""Optional temporal smoothing of FFHQ quads (off by default).

A quad is its centre ``c`` and half-side vector ``x`` (see :mod:`styleinv_data.crop.ffhq`).

* ``gaussian``: STIT's choice: Gaussian smoothing over time of ``c`` (sigma 1 frame) and of ``x``
  (sigma 3). It is centred (no lag); the clip's end values are held beyond its ends.
* ``local_quadratic``: at each frame, a Gaussian-weighted least-squares fit of a quadratic in time
  (a Savitzky-Golay filter with Gaussian weights), evaluated at that frame. It removes frame-to-frame
  noise like a Gaussian of the same sigma but follows constant velocity and acceleration without
  bias. The quad is smoothed as centre (``sigma_center``), roll angle (``sigma_roll``, 2 frames:
  a head rolls about as quickly as it moves) and log size (``sigma_axes``), and the filter adapts
  to the motion: where
  the fit departs from the raw value by more than the noise explains (``motion_noise_ratio``
  times the noise estimated from the clip's own second differences), it hands over to the raw
  value, so a sudden move, stop or roll is not rounded off.
* ``one_euro``: the one-euro filter (Casiez et al. 2012) applied forward then backward and
  averaged, which cancels its lag; it smooths little when the face moves fast.

Smoothing runs within each output clip, never across a split.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from styleinv_data.crop.ffhq import axes_from_quad, quad_from_axes

SmoothMethod = Literal["none", "gaussian", "local_quadratic", "one_euro"]
SMOOTH_METHODS = ("none", "gaussian", "local_quadratic", "one_euro")


@dataclass(frozen=True)
class SmoothOptions:
    method: SmoothMethod = "none"
    sigma_center: float = 1.0  # gaussian: frames
    sigma_axes: float = 3.0  # gaussian: frames
    min_cutoff: float = 1.0  # one_euro: cutoff frequency (Hz) when the face is still
    beta: float = 0.5  # one_euro: how fast the cutoff grows with the speed (per px/s)
    fps: float = 30.0
    motion_noise_ratio: float = 10.0  # local_quadratic: hand over to the raw value beyond this many noise sigmas
    sigma_roll: float = 2.0  # local_quadratic: frames, for the roll angle

    def __post_init__(self) -> None:
        if self.method not in SMOOTH_METHODS:
            raise ValueError(f"smooth method {self.method!r}: use one of {', '.join(SMOOTH_METHODS)}")
        if self.sigma_center < 0 or self.sigma_axes < 0 or self.sigma_roll < 0 or self.motion_noise_ratio < 0:
            raise ValueError("smoothing sigmas must be >= 0")


def gaussian_smooth(signal: np.ndarray, sigma: float) -> np.ndarray:
    """Centred Gaussian smoothing along axis 0 (end values held); sigma in samples."""
    if sigma <= 0 or len(signal) < 2:
        return signal.copy()
    from scipy.ndimage import gaussian_filter1d  # noqa: PLC0415

    return gaussian_filter1d(signal, sigma=sigma, axis=0, mode="nearest", truncate=4.0)


def local_polynomial_smooth(signal: np.ndarray, sigma: float, degree: int = 2) -> np.ndarray:
    """Gaussian-weighted local polynomial fit along axis 0, evaluated at each sample."""
    n = len(signal)
    if sigma <= 0 or n <= degree + 1:
        return signal.copy()
    radius = max(int(np.ceil(3.0 * sigma)), degree + 1)
    flat = signal.reshape(n, -1)
    out = np.empty_like(flat)

    def weights_for(lo: int, hi: int, t: int) -> np.ndarray:
        k = np.arange(lo, hi) - t
        w = np.exp(-0.5 * (k / sigma) ** 2)
        design = np.vander(k.astype(np.float64), degree + 1, increasing=True)  # columns 1, k, k^2
        wd = design * w[:, None]
        # value at k = 0 is the constant coefficient: first row of (D^T W D)^-1 D^T W
        return np.linalg.solve(design.T @ wd, wd.T)[0]

    if n > 2 * radius:
        kernel = weights_for(-radius, radius + 1, 0)
        for d in range(flat.shape[1]):
            out[radius:n - radius, d] = np.correlate(flat[:, d], kernel, mode="valid")
        edges = list(range(radius)) + list(range(n - radius, n))
    else:
        edges = list(range(n))
    for t in edges:
        lo, hi = max(0, t - radius), min(n, t + radius + 1)
        out[t] = weights_for(lo, hi, t) @ flat[lo:hi]
    return out.reshape(signal.shape)


def _one_euro_pass(signal: np.ndarray, options: SmoothOptions) -> np.ndarray:
    def alpha(cutoff: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * np.pi * cutoff)
        te = 1.0 / options.fps
        return 1.0 / (1.0 + tau / te)

    out = np.empty_like(signal)
    out[0] = signal[0]
    deriv = np.zeros_like(signal[0])
    d_cutoff = 1.0
    for t in range(1, len(signal)):
        raw_deriv = (signal[t] - out[t - 1]) * options.fps
        a_d = alpha(d_cutoff)
        deriv = a_d * raw_deriv + (1.0 - a_d) * deriv
        cutoff = options.min_cutoff + options.beta * np.abs(deriv)
        a = alpha(cutoff)
        out[t] = a * signal[t] + (1.0 - a) * out[t - 1]
    return out


def one_euro_smooth(signal: np.ndarray, options: SmoothOptions) -> np.ndarray:
    """Zero-lag one-euro filter: forward and backward passes, averaged."""
    if len(signal) < 2:
        return signal.copy()
    forward = _one_euro_pass(signal, options)
    backward = _one_euro_pass(signal[::-1], options)[::-1]
    return (forward + backward) / 2.0


def smooth_quads(quads: np.ndarray, options: SmoothOptions) -> np.ndarray:
    """Smooth a ``(T, 4, 2)`` run of quads of one clip; returns new quads (squares again)."""
    quads = np.asarray(quads, dtype=np.float64)
    if options.method == "none" or len(quads) < 2:
        return quads.copy()
    axes = [axes_from_quad(q) for q in quads]
    centres = np.stack([a[0] for a in axes])
    xs = np.stack([a[1] for a in axes])
    if options.method == "gaussian":
        centres = gaussian_smooth(centres, options.sigma_center)
        xs = gaussian_smooth(xs, options.sigma_axes)
    elif options.method == "local_quadratic":
        return _smooth_local_quadratic(centres, xs, options)
    else:
        centres = one_euro_smooth(centres, options)
        xs = one_euro_smooth(xs, options)
    return np.stack([quad_from_axes(c, x) for c, x in zip(centres, xs)])


def noise_sigma(signal: np.ndarray) -> np.ndarray:
    """Per-column frame-to-frame noise of a smooth signal, from the median absolute second difference.

    For white noise of sigma s on a smooth path, the second difference has sigma ``sqrt(6) s``;
    the median ignores the few frames where the motion itself changes fast.
    """
    flat = signal.reshape(len(signal), -1)
    if len(flat) < 3:
        return np.zeros(flat.shape[1])
    d2 = flat[2:] - 2 * flat[1:-1] + flat[:-2]
    return 1.4826 * np.median(np.abs(d2 - np.median(d2, axis=0)), axis=0) / np.sqrt(6.0)


def motion_adaptive(raw: np.ndarray, smoothed: np.ndarray, ratio: float) -> np.ndarray:
    """Keep ``smoothed`` where it stays within ``ratio`` noise sigmas of ``raw``; hand over to
    ``raw`` linearly between ``ratio`` and ``2 * ratio`` sigmas (per frame, all columns together)."""
    if ratio <= 0 or len(raw) < 3:
        return smoothed
    flat_raw, flat_smooth = raw.reshape(len(raw), -1), smoothed.reshape(len(raw), -1)
    sigma = np.maximum(noise_sigma(flat_raw), 1e-9)
    departure = np.max(np.abs(flat_smooth - flat_raw) / sigma, axis=1)  # in noise sigmas
    weight_raw = np.clip((departure - ratio) / ratio, 0.0, 1.0)[:, None]
    return (flat_smooth + weight_raw * (flat_raw - flat_smooth)).reshape(raw.shape)


def _smooth_local_quadratic(centres: np.ndarray, xs: np.ndarray, options: SmoothOptions) -> np.ndarray:
    """Centre, roll and log size each by a local quadratic fit, adapted to the motion (module doc)."""
    angle = np.unwrap(np.arctan2(xs[:, 1], xs[:, 0]))
    log_size = np.log(np.maximum(np.hypot(xs[:, 0], xs[:, 1]), 1e-9))
    # One noise scale for all: the angle and log size become pixels at the quad's corners.
    size = float(np.exp(np.median(log_size)))
    raw = np.concatenate([centres, (angle * size)[:, None], (log_size * size)[:, None]], axis=1)
    smoothed = np.concatenate([
        local_polynomial_smooth(raw[:, :2], options.sigma_center),
        local_polynomial_smooth(raw[:, 2:3], options.sigma_roll),
        local_polynomial_smooth(raw[:, 3:], options.sigma_axes)], axis=1)
    smoothed = motion_adaptive(raw, smoothed, options.motion_noise_ratio)
    angle, scale = smoothed[:, 2] / size, np.exp(smoothed[:, 3] / size)
    xs = np.stack([scale * np.cos(angle), scale * np.sin(angle)], axis=1)
    return np.stack([quad_from_axes(c, x) for c, x in zip(smoothed[:, :2], xs)])
