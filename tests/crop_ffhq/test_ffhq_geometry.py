"""The FFHQ quad recipe and the warp, on hand-made landmarks and images."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.crop.ffhq import (
    WarpOptions,
    apply_affine,
    axes_from_quad,
    face_anchors,
    ffhq_quad,
    quad_axes,
    quad_to_output_affine,
    render_quad,
)


def synthetic_68(eye_left=(100.0, 100.0), eye_right=(160.0, 100.0), mouth_left=(110.0, 170.0),
                 mouth_right=(150.0, 170.0)) -> np.ndarray:
    pts = np.zeros((68, 2))
    pts[36:42] = eye_left
    pts[42:48] = eye_right
    pts[48] = mouth_left
    pts[54] = mouth_right
    return pts


def test_quad_follows_the_ffhq_recipe_on_a_level_face():
    quad = ffhq_quad(synthetic_68())
    # eye_to_eye = (60, 0), eye_to_mouth = (0, 70): x = (60, 0) + (70, 0) -> unit (1, 0),
    # scaled by max(2 * 60, 1.8 * 70) = 126; c = (130, 100) + 0.1 * (0, 70) = (130, 107).
    expected = np.array([[4, -19], [4, 233], [256, 233], [256, -19]], dtype=np.float64)
    np.testing.assert_allclose(quad, expected, atol=1e-9)


def test_five_points_give_the_same_quad_as_68():
    pts68 = synthetic_68((90, 110), (150, 95), (105, 180), (150, 170))
    a = face_anchors(pts68)
    pts5 = np.stack([a.eye_left, a.eye_right, (a.eye_left + a.mouth_right) / 2, a.mouth_left, a.mouth_right])
    np.testing.assert_allclose(ffhq_quad(pts5), ffhq_quad(pts68), atol=1e-9)


def test_quad_rotates_with_the_face():
    base = synthetic_68()
    centre = base[36:48].mean(0)
    theta = np.radians(20)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    rotated = (base - centre) @ rot.T + centre
    q0, q1 = ffhq_quad(base), ffhq_quad(rotated)
    np.testing.assert_allclose(q1, (q0 - centre) @ rot.T + centre, atol=1e-9)
    c, x = axes_from_quad(q1)
    assert np.degrees(np.arctan2(x[1], x[0])) == pytest.approx(20.0, abs=1e-9)


def test_bad_landmarks_are_rejected():
    with pytest.raises(ValueError, match="68, 2"):
        ffhq_quad(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="degenerate"):
        ffhq_quad(np.zeros((68, 2)))


def test_affine_maps_quad_corners_to_output_corners():
    quad = ffhq_quad(synthetic_68((80, 120), (150, 100), (100, 190), (150, 180)))
    m = quad_to_output_affine(quad, 256)
    np.testing.assert_allclose(apply_affine(m, quad), [[-0.5, -0.5], [-0.5, 255.5], [255.5, 255.5], [255.5, -0.5]], atol=1e-9)
    c, _ = quad_axes(synthetic_68((80, 120), (150, 100), (100, 190), (150, 180)))
    np.testing.assert_allclose(apply_affine(m, c[None])[0], [127.5, 127.5], atol=1e-9)


@pytest.mark.parametrize("size", [64, 129, 256, 1024])
def test_render_puts_a_source_dot_where_the_affine_says(size):
    h, w = 300, 400
    frame = np.full((h, w, 3), 30, np.uint8)
    dot = np.array([190.0, 140.0])
    yy, xx = np.mgrid[0:h, 0:w]
    blob = np.exp(-((xx - dot[0]) ** 2 + (yy - dot[1]) ** 2) / (2 * 3.0 ** 2))
    frame[..., 1] = np.clip(30 + 220 * blob, 0, 255).astype(np.uint8)
    quad = ffhq_quad(synthetic_68((150, 120), (230, 110), (170, 200), (225, 195)))
    out = render_quad(frame, quad, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8
    expected = apply_affine(quad_to_output_affine(quad, size), dot[None])[0]
    g = out[..., 1].astype(np.float64) - 30
    g[g < 0.5 * g.max()] = 0
    ys, xs = np.mgrid[0:size, 0:size]
    found = np.array([(xs * g).sum() / g.sum(), (ys * g).sum() / g.sum()])
    assert np.hypot(*(found - expected)) < 0.02 * size + 0.5


def test_quad_leaving_the_frame_is_reflect_padded_not_black(astronaut_rgb):
    quad = ffhq_quad(synthetic_68((20, 150), (90, 150), (30, 230), (80, 230)))  # left half outside
    assert quad[:, 0].min() < 0
    padded = render_quad(astronaut_rgb, quad, 128)
    black = render_quad(astronaut_rgb, quad, 128, WarpOptions(pad=False))
    assert (black[:, :10] < 3).all()  # the part outside the frame is black without padding
    assert padded[:, :10].mean() > 40  # and filled from the image with it
    np.testing.assert_array_equal(padded.shape, (128, 128, 3))


def test_quad_entirely_outside_the_frame_is_an_error(astronaut_rgb):
    quad = ffhq_quad(synthetic_68()) + 5000
    with pytest.raises(ValueError, match="outside the frame"):
        render_quad(astronaut_rgb, quad, 64)


def test_grey_frames_render_as_rgb():
    grey = (np.arange(200 * 200) % 251).astype(np.uint8).reshape(200, 200)
    out = render_quad(grey, ffhq_quad(synthetic_68((70, 80), (130, 80), (80, 140), (120, 140))), 32)
    assert out.shape == (32, 32, 3)
    np.testing.assert_array_equal(out[..., 0], out[..., 1])
