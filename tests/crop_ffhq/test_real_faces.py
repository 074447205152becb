"""Acceptance on real faces that ship offline: the crop puts the face where the transform says.

Landmarks re-detected in the 256 output must agree with the source landmarks pushed through the
crop's affine map within 2 px (mean over the 68 points), and the eye line must be level within 1
degree.
"""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.crop.ffhq import apply_affine, face_anchors, ffhq_quad, quad_to_output_affine, render_quad
from styleinv_data.crop.stabilize import StabilizeOptions, stabilized_landmarks
from styleinv_data.faces.dlib_backend import DlibHogDetector, DlibLandmarker

SIZE = 256
STABLE = StabilizeOptions(num_boxes=8, shift_fraction=0.05, seed=0, face_px=320)


@pytest.fixture(scope="module")
def dlib_pair(dlib_68_model_path):
    return DlibHogDetector(max_side=0, upsample=1), DlibLandmarker(dlib_68_model_path)


def _landmarks(image, detector, landmarker):
    faces = detector.detect(image)
    assert faces, "no face found"
    first = stabilized_landmarks(image, faces[0].box_xyxy, landmarker, STABLE, 0)
    assert first is not None
    return first.landmarks


def _check_crop(image, detector, landmarker):
    source = _landmarks(image, detector, landmarker)
    quad = ffhq_quad(source)
    crop = render_quad(image, quad, SIZE)
    expected = apply_affine(quad_to_output_affine(quad, SIZE), source)
    found = _landmarks(crop, detector, landmarker)
    error = np.hypot(*(found - expected).T)
    a = face_anchors(found)
    eye_angle = np.degrees(np.arctan2(*(a.eye_right - a.eye_left)[::-1]))
    return float(error.mean()), float(abs(eye_angle))


def _eye_line_vs_quad(landmarks) -> float:
    """Angle between the eye line and the quad's x axis (the FFHQ recipe mixes in the mouth)."""
    a = face_anchors(landmarks)
    q = ffhq_quad(landmarks)
    eye = np.degrees(np.arctan2(*(a.eye_right - a.eye_left)[::-1]))
    xq = np.degrees(np.arctan2(*(q[3] - q[0])[::-1]))
    return abs(eye - xq)


def test_astronaut_crop_agrees_with_the_transform(astronaut_rgb, dlib_pair):
    mean_error, eye_angle = _check_crop(astronaut_rgb, *dlib_pair)
    assert mean_error < 2.0
    assert eye_angle < 1.0


@pytest.mark.parametrize("angle", [-15.0, 10.0])
def test_tilted_astronaut_is_levelled(astronaut_rgb, dlib_pair, angle, face_placer):
    frame, _ = face_placer(astronaut_rgb, (256, 256), 1.0, angle, 512, 512, background=None)
    mean_error, eye_angle = _check_crop(frame, *dlib_pair)
    assert mean_error < 2.0
    assert eye_angle < 1.0


def test_carphone_frame_crop_agrees_with_the_transform(carphone_path, dlib_pair):
    from styleinv_data.io import iter_source_frames

    frame = next(iter(iter_source_frames(carphone_path)))
    mean_error, eye_angle = _check_crop(frame, *dlib_pair)
    assert mean_error < 2.0
    assert eye_angle < 1.0


def test_lfw_faces_crop_agrees_with_the_transform(dlib_pair):
    cv2 = pytest.importorskip("cv2")
    skimage_data = pytest.importorskip("skimage.data")
    faces = skimage_data.lfw_subset()[:100]  # the first 100 are faces, the rest are not
    checked = 0
    for face in faces[:12]:
        grey = cv2.resize((face * 255).astype(np.uint8), (100, 100), interpolation=cv2.INTER_CUBIC)
        image = np.repeat(np.pad(grey, 50, mode="edge")[:, :, None], 3, axis=2)
        if not dlib_pair[0].detect(image):
            continue
        mean_error, eye_angle = _check_crop(image, *dlib_pair)
        assert mean_error < 2.0
        # FFHQ's x axis mixes the eye line with the normal of the eye-mouth line, so on a turned
        # face the eye line is level only up to that difference (measured on the source points).
        assert eye_angle < 1.0 + _eye_line_vs_quad(_landmarks(image, *dlib_pair))
        checked += 1
        if checked == 4:
            break
    assert checked == 4
