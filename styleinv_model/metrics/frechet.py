"""Fréchet distance between Gaussians, in float64, with a symmetric (stable) matrix square root.

``d² = |μ1 − μ2|² + tr Σ1 + tr Σ2 − 2 tr (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}``. Both square roots are of
symmetric PSD matrices and are taken by eigendecomposition with negative round-off eigenvalues
clipped to zero, which stays stable for the singular covariances of small sample sets (where
``scipy.linalg.sqrtm(Σ1 Σ2)`` may return complex values).

When a side has fewer samples than dimensions and its centred features are known (``Σ = A Aᵀ``
with ``A = (X − μ)ᵀ / √(n − 1)``, ``D x n``), the same trace comes from small matrices:
``tr sqrt(Σ1 A2 A2ᵀ) = Σ sqrt eig(A2ᵀ Σ1 A2)``, and with both factors it is the nuclear norm
(sum of singular values) of ``A1ᵀ A2``. Exact, and n² instead of D³ work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GaussianStats:
    mean: np.ndarray  # [D] float64
    cov: np.ndarray  # [D, D] float64
    count: int
    factor: np.ndarray | None = None  # [D, n] with cov = factor @ factor.T; kept only when n < D

    @staticmethod
    def from_features(features: np.ndarray, covariance: str = "unbiased") -> "GaussianStats":
        """Mean and covariance of [N, D] features; the covariance divided by N - 1 ("unbiased", as
        numpy and the FID reference do) or by N ("biased", as StyleGAN-V's metric code does)."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"need at least 2 feature rows [N, D], got shape {features.shape}")
        if covariance not in ("unbiased", "biased"):
            raise ValueError(f"covariance must be 'unbiased' or 'biased', got {covariance!r}")
        n, dim = features.shape
        mean = features.mean(axis=0)
        factor = (features - mean).T / np.sqrt(n - 1 if covariance == "unbiased" else n)
        return GaussianStats(mean, factor @ factor.T, n, factor if n < dim else None)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    eigvals, eigvecs = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


def trace_sqrt_product(cov1: np.ndarray, cov2: np.ndarray) -> float:
    """``tr sqrt(Σ1 Σ2)`` via the similar symmetric matrix ``Σ1^{1/2} Σ2 Σ1^{1/2}``."""
    root1 = _symmetric_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    eigvals = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(np.clip(eigvals, 0.0, None)).sum())


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    if mean1.shape != mean2.shape or cov1.shape != cov2.shape or cov1.shape != (mean1.size, mean1.size):
        raise ValueError(f"shape mismatch: means {mean1.shape}/{mean2.shape}, covariances {cov1.shape}/{cov2.shape}")
    diff = mean1 - mean2
    value = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt_product(cov1, cov2))
    return max(value, 0.0)


def frechet_distance_stats(a: GaussianStats, b: GaussianStats) -> float:
    if a.factor is None and b.factor is None:
        return frechet_distance(a.mean, a.cov, b.mean, b.cov)
    if a.mean.shape != b.mean.shape:
        raise ValueError(f"shape mismatch: means {a.mean.shape}/{b.mean.shape}")
    if a.factor is not None and b.factor is not None:
        cross = np.linalg.svd(a.factor.T @ b.factor, compute_uv=False).sum()
    else:
        full, low = (a, b) if b.factor is not None else (b, a)
        middle = low.factor.T @ full.cov @ low.factor
        cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    diff = a.mean - b.mean
    return max(float(diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2.0 * cross), 0.0)


def frechet_distance_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    return frechet_distance_stats(GaussianStats.from_features(features_a), GaussianStats.from_features(features_b))
