"""The dlib backends on real faces."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.faces.dlib_backend import DlibHogDetector, DlibLandmarker

pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def landmarker(dlib_68_model_path):
    return DlibLandmarker(dlib_68_model_path)


def test_detects_the_astronaut_face(astronaut_rgb):
    faces = DlibHogDetector(max_side=0, upsample=1).detect(astronaut_rgb)
    assert faces[0].score > 0.5
    np.testing.assert_allclose(faces[0].box_xyxy, [175, 76, 266, 167], atol=8)
    assert all(a.score >= b.score for a, b in zip(faces, faces[1:]))


def test_downscaled_detection_returns_full_size_boxes(astronaut_rgb):
    full = DlibHogDetector(max_side=0, upsample=1).detect(astronaut_rgb)[0]
    small = DlibHogDetector(max_side=256, upsample=1).detect(astronaut_rgb)[0]
    assert np.abs(small.box_xyxy - full.box_xyxy).max() < 0.15 * full.size


def test_no_face_in_a_flat_image():
    assert DlibHogDetector().detect(np.full((120, 160, 3), 128, np.uint8)) == []


def test_grey_and_rgba_inputs_are_accepted(astronaut_rgb, landmarker):
    box = np.array([[175.0, 76.0, 266.0, 167.0]])
    grey = astronaut_rgb.mean(2).astype(np.uint8)
    rgba = np.concatenate([astronaut_rgb, np.full(astronaut_rgb.shape[:2] + (1,), 255, np.uint8)], 2)
    assert landmarker.landmarks(grey, box).shape == (1, 68, 2)
    np.testing.assert_array_equal(landmarker.landmarks(rgba, box), landmarker.landmarks(astronaut_rgb, box))
    with pytest.raises(ValueError, match="uint8"):
        landmarker.landmarks(astronaut_rgb.astype(np.float32), box)


def test_landmarks_of_several_boxes_and_the_upscaled_path_agree(astronaut_rgb, landmarker, dlib_68_model_path):
    boxes = np.array([[175.0, 76.0, 266.0, 167.0], [178.0, 79.0, 269.0, 170.0]])
    pts = landmarker.landmarks(astronaut_rgb, boxes)
    assert pts.shape == (2, 68, 2)
    eyes = pts[0, 36:48].mean(0)
    assert 190 < eyes[0] < 250 and 100 < eyes[1] < 130  # the eyes are in the upper half of the box
    direct = DlibLandmarker(dlib_68_model_path, min_face_px=0).landmarks(astronaut_rgb, boxes)
    assert np.hypot(*(direct - pts).reshape(-1, 2).T).mean() < 1.5


def test_not_a_predictor_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.dat: not a dlib shape predictor"):
        DlibLandmarker(bad)


def test_the_cached_detector_gives_dlibs_detections_and_a_damaged_cache_is_rebuilt(astronaut_rgb, tmp_path,
                                                                                    monkeypatch):
    """The detector is loaded from a copy in dlib's own format (~1 ms instead of ~0.25 s per process)."""
    import dlib

    from styleinv_data.faces.dlib_backend import frontal_face_detector

    monkeypatch.setenv("STYLEINV_CACHE", str(tmp_path))
    reference = dlib.get_frontal_face_detector().run(astronaut_rgb, 1, -0.5)
    first = frontal_face_detector(dlib)  # builds and writes the copy
    (copy,) = (tmp_path / "dlib").glob("frontal_face_detector-*.svm")
    cached = frontal_face_detector(dlib)  # loads the copy
    for detector in (first, cached):
        rects, scores, kinds = detector.run(astronaut_rgb, 1, -0.5)
        assert [(r.left(), r.top(), r.right(), r.bottom()) for r in rects] == \
            [(r.left(), r.top(), r.right(), r.bottom()) for r in reference[0]]
        assert scores == reference[1] and kinds == reference[2]
    copy.write_bytes(b"not a detector")
    again = frontal_face_detector(dlib)
    assert again.run(astronaut_rgb, 1, -0.5)[1] == reference[1]
    assert copy.stat().st_size > 1000  # rewritten
    assert not list((tmp_path / "dlib").glob("*.tmp"))
