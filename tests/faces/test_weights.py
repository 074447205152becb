"""Weight-path resolution: flag > recipe > environment variable > default place, never a download."""

from __future__ import annotations

from pathlib import Path

import pytest

from styleinv_data.faces import FaceBackendConfig, MissingWeightsError, build_detector, build_landmarker, resolve_weights


@pytest.fixture
def no_defaults(tmp_path, monkeypatch):
    """No env vars and an empty torch hub folder, so only explicit paths can resolve."""
    for var in ("STYLEINV_DLIB68_WEIGHTS", "STYLEINV_FAN_WEIGHTS", "STYLEINV_RETINAFACE_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    return tmp_path


def _touch(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


def test_flag_beats_recipe_beats_env(no_defaults, monkeypatch):
    flag, recipe, env = (_touch(no_defaults / n) for n in ("flag.pth", "recipe.pth", "env.pth"))
    monkeypatch.setenv("STYLEINV_FAN_WEIGHTS", str(env))
    assert resolve_weights("fan", flag, recipe) == flag
    assert resolve_weights("fan", None, recipe) == recipe
    assert resolve_weights("fan") == env


def test_default_place_is_torch_hub_checkpoints(no_defaults):
    hub = no_defaults / "torch_home" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    placed = _touch(hub / "2DFAN4-11f355bf06.pth.tar")
    assert resolve_weights("fan") == placed


@pytest.mark.parametrize("backend, file_name", [("fan", "2DFAN4-11f355bf06.pth.tar"),
                                                ("retinaface", "retinaface_resnet50_2020-07-20-f168fae3c.zip")])
def test_missing_default_names_the_file_and_where_to_get_it(no_defaults, backend, file_name):
    with pytest.raises(MissingWeightsError) as err:
        resolve_weights(backend)
    message = str(err.value)
    assert file_name in message and "https://" in message and "\n" not in message


def test_explicit_missing_path_is_an_error_not_a_fallback(no_defaults):
    with pytest.raises(MissingWeightsError, match="nope.dat.*given by --dlib-weights"):
        resolve_weights("dlib", no_defaults / "nope.dat")


def test_missing_weights_for_each_optional_backend(no_defaults):
    with pytest.raises(MissingWeightsError, match="fan weights not found.*2DFAN4"):
        build_landmarker(FaceBackendConfig(landmarker="fan", fan_weights=str(no_defaults / "fan.pth")))
    with pytest.raises(MissingWeightsError, match="retinaface weights not found.*retinaface_resnet50"):
        build_detector(FaceBackendConfig(detector="retinaface", retinaface_weights=str(no_defaults / "r.pth")))
    with pytest.raises(MissingWeightsError, match="retinaface weights not found"):
        build_landmarker(FaceBackendConfig(landmarker="retinaface"))


def test_unknown_backends_are_rejected():
    with pytest.raises(ValueError, match="unknown face detector 'mtcnn'"):
        FaceBackendConfig(detector="mtcnn")
    with pytest.raises(ValueError, match="unknown face backend"):
        resolve_weights("mtcnn")


def test_dlib_default_is_found_offline(dlib_68_model_path, monkeypatch):
    monkeypatch.delenv("STYLEINV_DLIB68_WEIGHTS", raising=False)
    assert resolve_weights("dlib") == dlib_68_model_path
