"""Jittered-box landmark averaging."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.crop.ffhq import ffhq_quad
from styleinv_data.crop.stabilize import StabilizeOptions, face_canvas, jittered_boxes, stabilized_landmarks
from styleinv_data.faces.dlib_backend import DlibLandmarker

BOX = np.array([175.0, 76.0, 266.0, 167.0])  # dlib's box of the astronaut's face


@pytest.fixture(scope="module")
def landmarker(dlib_68_model_path):
    return DlibLandmarker(dlib_68_model_path, min_face_px=0)


def test_jittered_boxes_stay_within_the_shift_and_keep_their_size():
    opts = StabilizeOptions(num_boxes=64, shift_fraction=0.1, seed=3)
    boxes = jittered_boxes(BOX, opts, frame_index=5)
    shift = (boxes[:, :2] + boxes[:, 2:]) / 2 - (BOX[:2] + BOX[2:]) / 2
    size = np.sqrt((BOX[2] - BOX[0]) * (BOX[3] - BOX[1]))
    assert np.hypot(*shift.T).max() <= 0.1 * size + 1e-9
    assert np.hypot(*shift.T).max() > 0.05 * size  # it does move
    np.testing.assert_allclose(boxes[:, 2:] - boxes[:, :2], np.tile(BOX[2:] - BOX[:2], (64, 1)))
    angles = np.arctan2(shift[:, 1], shift[:, 0])
    assert (angles > 0).any() and (angles < 0).any()


def test_jitter_depends_only_on_seed_and_frame():
    opts = StabilizeOptions(num_boxes=8, shift_fraction=0.05, seed=7)
    np.testing.assert_array_equal(jittered_boxes(BOX, opts, 11), jittered_boxes(BOX, opts, 11))
    assert not np.allclose(jittered_boxes(BOX, opts, 11), jittered_boxes(BOX, opts, 12))
    other = StabilizeOptions(num_boxes=8, shift_fraction=0.05, seed=8)
    assert not np.allclose(jittered_boxes(BOX, opts, 11), jittered_boxes(BOX, other, 11))


def test_one_run_uses_the_box_as_given():
    np.testing.assert_array_equal(jittered_boxes(BOX, StabilizeOptions(num_boxes=1), 0), BOX[None])


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="num_boxes"):
        StabilizeOptions(num_boxes=0)
    with pytest.raises(ValueError, match="shift_fraction"):
        StabilizeOptions(shift_fraction=0.9)


def test_averaging_eight_runs_reduces_the_quad_spread(astronaut_rgb, landmarker):
    """Quad corners over 12 seeds: the mean of 8 jittered runs varies less than a single jittered run."""
    singles, means = [], []
    for seed in range(12):
        opts = StabilizeOptions(num_boxes=8, shift_fraction=0.05, seed=seed)
        boxes = jittered_boxes(BOX, opts, 0)
        runs = landmarker.landmarks(astronaut_rgb, boxes)
        singles.append(ffhq_quad(runs[0]))
        means.append(ffhq_quad(stabilized_landmarks(astronaut_rgb, BOX, landmarker, opts, 0).landmarks))
    spread_single = np.std(np.stack(singles), axis=0).mean()
    spread_mean = np.std(np.stack(means), axis=0).mean()
    assert spread_mean < 0.6 * spread_single


def test_upright_upscaled_canvas_maps_points_back(astronaut_rgb, landmarker):
    """Landmarks measured on a rotated, upscaled crop land where the direct ones are."""
    opts = StabilizeOptions(num_boxes=8, shift_fraction=0.05, seed=0, face_px=320)
    direct = stabilized_landmarks(astronaut_rgb, BOX, landmarker, StabilizeOptions(num_boxes=8, seed=0), 0)
    canvas_pts = stabilized_landmarks(astronaut_rgb, BOX, landmarker, opts, 0, roll_deg=8.0)
    assert direct is not None and canvas_pts is not None
    assert np.hypot(*(canvas_pts.landmarks - direct.landmarks).T).mean() < 1.5
    canvas, m = face_canvas(astronaut_rgb, BOX, 8.0, 320)
    scale = np.hypot(*m[0, :2])
    assert scale == pytest.approx(320 / 91.0)
    assert canvas.shape[0] == canvas.shape[1] >= 320 * 1.5  # the face plus context around it


def test_runs_without_points_are_ignored():
    class HalfBlind:
        name = "half"
        num_points = 5

        def landmarks(self, image, boxes):
            out = np.tile(np.arange(10.0).reshape(5, 2), (len(boxes), 1, 1))
            out[::2] = np.nan
            return out

    class Blind(HalfBlind):
        def landmarks(self, image, boxes):
            return np.full((len(boxes), 5, 2), np.nan)

    image = np.zeros((50, 50, 3), np.uint8)
    box = np.array([10.0, 10.0, 40.0, 40.0])
    got = stabilized_landmarks(image, box, HalfBlind(), StabilizeOptions(num_boxes=8), 0)
    assert got is not None and got.runs == 4
    np.testing.assert_allclose(got.landmarks, np.arange(10.0).reshape(5, 2))
    assert stabilized_landmarks(image, box, Blind(), StabilizeOptions(num_boxes=8), 0) is None
