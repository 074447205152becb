"""RetinaFace plumbing with randomly initialised weights saved to a local file (real weights: skipped if absent)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("albumentations")
predict_single = pytest.importorskip("retinaface.predict_single")

from styleinv_data.faces.retinaface_backend import RetinaFaceCropLandmarker, RetinaFaceDetector  # noqa: E402
from styleinv_data.faces.weights import MissingWeightsError, resolve_weights  # noqa: E402


@pytest.fixture(scope="module")
def random_retinaface_file(tmp_path_factory):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's "pretrained" deprecation notice
        model = predict_single.Model(max_size=64)
    # Variance-preserving init: the default one shrinks activations to denormals (very slow on CPU).
    for module in model.model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("retinaface") / "retinaface_random.pth"
    torch.save(model.model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def detector(random_retinaface_file):
    # Small images keep the anchor count (and the package's per-box post-processing) small.
    return RetinaFaceDetector(random_retinaface_file, max_size=64, min_score=0.0)


def test_detections_have_boxes_scores_and_five_points(detector):
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    faces = detector.detect(image)
    assert faces, "random weights with min_score=0 should give boxes"
    for f in faces[:5]:
        assert f.box_xyxy.shape == (4,) and f.points_5.shape == (5, 2)
    assert all(a.score >= b.score for a, b in zip(faces, faces[1:]))


def test_crop_landmarker_returns_five_points_per_box_in_image_coordinates(detector):
    """Moving the content and the box by (dx, dy) moves the points by exactly (dx, dy)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (80, 80, 3), dtype=np.uint8)
    boxes = np.array([[30.0, 30.0, 50.0, 50.0], [28.0, 31.0, 48.0, 51.0]])
    landmarker = RetinaFaceCropLandmarker(detector)
    pts = landmarker.landmarks(image, boxes)
    assert pts.shape == (2, 5, 2)
    assert np.isfinite(pts).all()
    moved = np.zeros((96, 100, 3), np.uint8)
    moved[6:86, 10:90] = image
    pts_moved = landmarker.landmarks(moved, boxes + np.array([10.0, 6.0, 10.0, 6.0]))
    np.testing.assert_allclose(pts_moved, pts + np.array([10.0, 6.0]), atol=1e-6)


def test_weights_of_another_network_are_a_clear_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="other.pth: not RetinaFace ResNet-50 weights"):
        RetinaFaceDetector(path, max_size=64)


def test_real_retinaface_finds_the_astronaut(astronaut_rgb):
    try:
        path = resolve_weights("retinaface")
    except MissingWeightsError as e:
        pytest.skip(f"real RetinaFace weights are not on this machine: {e}")
    faces = RetinaFaceDetector(path).detect(astronaut_rgb)
    assert faces and faces[0].score > 0.9
    np.testing.assert_allclose(faces[0].box_xyxy, [175, 76, 266, 167], atol=25)
