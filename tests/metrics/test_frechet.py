from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from styleinv_model.metrics.frechet import GaussianStats, frechet_distance, frechet_distance_features


def _rotation(dim: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q


def test_diagonal_gaussians_match_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)  # 1 + 6.25 + 4 + 1 + 0
    assert expected == pytest.approx(12.25)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(dim=st.integers(1, 40), seed=st.integers(0, 10_000))
def test_commuting_covariances_match_closed_form(dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = _rotation(dim, seed)
    a, b = rng.uniform(0.01, 10.0, dim), rng.uniform(0.01, 10.0, dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-9)


def test_one_dimensional_case() -> None:
    # W2² between N(m1, s1²) and N(m2, s2²) is (m1 - m2)² + (s1 - s2)².
    assert frechet_distance([3.0], [[4.0]], [1.0], [[1.0]]) == pytest.approx(4.0 + 1.0)


def test_general_covariances_match_scipy_sqrtm() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(200, 30)), rng.normal(size=(150, 30)) @ rng.normal(size=(30, 30)) + 0.5
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    m1, m2 = x.mean(0), y.mean(0)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    reference = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(reference, rel=1e-9)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-10)


def test_self_distance_is_zero_even_for_singular_covariance() -> None:
    features = np.random.default_rng(0).normal(size=(50, 400)) * 5.0  # rank 49 in 400 dims
    assert frechet_distance_features(features, features) < 1e-6


def test_rejects_mismatched_shapes_and_too_few_rows() -> None:
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="at least 2"):
        GaussianStats.from_features(np.zeros((1, 4)))


@pytest.mark.parametrize("n_a,n_b", [(30, 45), (30, 500), (500, 30), (300, 400)])
def test_low_rank_paths_agree_with_the_dense_formula(n_a: int, n_b: int) -> None:
    rng = np.random.default_rng(n_a + n_b)
    dim = 120
    x = rng.normal(size=(n_a, dim)) @ rng.normal(size=(dim, dim)) * 0.3
    y = rng.normal(size=(n_b, dim)) + 0.2
    a, b = GaussianStats.from_features(x), GaussianStats.from_features(y)
    assert (a.factor is not None) == (n_a < dim)
    dense = frechet_distance(a.mean, a.cov, b.mean, b.cov)
    from styleinv_model.metrics.frechet import frechet_distance_stats

    # the dense path takes square roots of round-off eigenvalues (~1e-13) of the singular product,
    # worth ~1e-8 relative here; the low-rank path has no such terms
    assert frechet_distance_stats(a, b) == pytest.approx(dense, rel=1e-7)
    assert frechet_distance_stats(b, a) == pytest.approx(dense, rel=1e-7)
