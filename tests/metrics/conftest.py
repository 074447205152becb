"""Fixtures of the metrics tests: a private weights cache, the two networks, real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def metrics_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache root for the whole session (conversion at first use is part of what we test)."""
    root = tmp_path_factory.mktemp("styleinv_cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("STYLEINV_CACHE", str(root))
    yield root
    mp.undo()


@pytest.fixture(scope="session")
def i3d_extractor(metrics_cache: Path):
    from styleinv_model.metrics.networks import I3DExtractor
    from styleinv_model.metrics.weights import I3D_SOURCE, WeightsNotFoundError, locate_packaged_source

    try:
        locate_packaged_source(I3D_SOURCE)
    except WeightsNotFoundError as error:
        pytest.skip(str(error))
    return I3DExtractor.load(device="cpu")


@pytest.fixture(scope="session")
def inception_extractor(metrics_cache: Path):
    from styleinv_model.metrics.networks import InceptionExtractor
    from styleinv_model.metrics.weights import INCEPTION_SOURCE, WeightsNotFoundError, locate_packaged_source

    try:
        locate_packaged_source(INCEPTION_SOURCE)
    except WeightsNotFoundError as error:
        pytest.skip(str(error))
    return InceptionExtractor.load(device="cpu")


@pytest.fixture(scope="session")
def carphone_frames(carphone_path: Path) -> np.ndarray:
    """All 120 frames of the real carphone clip, ``[120, 144, 176, 3]`` uint8."""
    import av

    with av.open(str(carphone_path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
