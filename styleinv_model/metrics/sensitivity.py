"""Sensitivity checks for FVD on real footage: sliding windows, perturbations, bootstrap spread.

Used by the tests (small) and by ``benchmarks/fvd_sensitivity.py`` (full size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .frechet import frechet_distance_features


def sliding_windows(frames: np.ndarray, length: int, step: int = 1, first: int = 0, last: int | None = None) -> np.ndarray:
    """Windows ``[N, length, H, W, 3]`` of consecutive frames whose frames lie in ``[first, last)``."""
    last = frames.shape[0] if last is None else last
    starts = range(first, last - length + 1, step)
    return np.stack([frames[s : s + length] for s in starts])


def shuffle_frames(clips: np.ndarray, seed: int) -> np.ndarray:
    """Each clip with its frames in a random order (a fresh permutation per clip)."""
    rng = np.random.default_rng(seed)
    return np.stack([clip[rng.permutation(clip.shape[0])] for clip in clips])


def add_noise(clips: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Gaussian pixel noise with std ``sigma`` (in 0..255 units), rounded and clipped back to uint8."""
    rng = np.random.default_rng(seed)
    noisy = clips.astype(np.float32) + rng.normal(0.0, sigma, clips.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def bootstrap_fd_std(features_a: np.ndarray, features_b: np.ndarray, rounds: int, seed: int) -> float:
    """Std of the Fréchet distance when both sets are resampled with replacement."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        ia = rng.integers(0, len(features_a), len(features_a))
        ib = rng.integers(0, len(features_b), len(features_b))
        values.append(frechet_distance_features(features_a[ia], features_b[ib]))
    return float(np.std(values, ddof=1))


@dataclass(frozen=True)
class SmoothPath:
    """A smooth similarity transform over time: sums of slow sinusoids per parameter."""

    shift_xy: np.ndarray  # [T, 2] in output-size fractions
    angle_rad: np.ndarray  # [T]
    log_scale: np.ndarray  # [T]


def random_smooth_path(num_frames: int, rng: np.random.Generator, periods: tuple[float, float] = (40.0, 160.0)) -> SmoothPath:
    t = np.arange(num_frames, dtype=np.float64)

    def wave(amplitude: float) -> np.ndarray:
        total = np.zeros(num_frames)
        for _ in range(3):
            period = rng.uniform(*periods)
            total += amplitude / 3 * np.sin(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi))
        return total

    return SmoothPath(np.stack([wave(0.12), wave(0.12)], 1), wave(0.25), wave(0.15))


def render_along_path(image_rgb: np.ndarray, path: SmoothPath, size: int) -> np.ndarray:
    """Render ``image_rgb`` (uint8 ``[H, W, 3]``) through the path's transforms: ``[T, size, size, 3]`` uint8."""
    cos, sin = np.cos(path.angle_rad), np.sin(path.angle_rad)
    inv_scale = np.exp(-path.log_scale)
    theta = np.zeros((len(cos), 2, 3), dtype=np.float32)
    theta[:, 0, 0], theta[:, 0, 1] = cos * inv_scale, -sin * inv_scale
    theta[:, 1, 0], theta[:, 1, 1] = sin * inv_scale, cos * inv_scale
    theta[:, :, 2] = path.shift_xy * 2
    source = torch.from_numpy(image_rgb).permute(2, 0, 1)[None].float()
    grid = F.affine_grid(torch.from_numpy(theta), [len(cos), 3, size, size], align_corners=False)
    frames = F.grid_sample(source.expand(len(cos), -1, -1, -1), grid, mode="bilinear",
                           padding_mode="reflection", align_corners=False)
    return frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
