"""Algorithm 1 (unit + property tests), box sequences, and the padded square render."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from styleinv_data.crop.square import (
    crop_padded,
    fill_missing_boxes,
    leaves_image,
    render_square,
    smooth_squares,
    square_from_box,
    union_box,
)


def test_algorithm1_tall_box_grows_width_by_half_delta_each_side():
    assert square_from_box((10, 20, 30, 60)) == (0.0, 20.0, 40.0, 60.0)  # w=20, h=40, delta=20


def test_algorithm1_wide_box_grows_height_and_keeps_odd_delta_as_halves():
    assert square_from_box((0, 0, 25, 10)) == (0.0, -7.5, 25.0, 17.5)  # delta=15 -> 7.5 each side


def test_algorithm1_square_box_unchanged():
    assert square_from_box((1.5, 2.5, 11.5, 12.5)) == (1.5, 2.5, 11.5, 12.5)


def test_algorithm1_rejects_empty_box():
    with pytest.raises(ValueError, match="empty"):
        square_from_box((5, 5, 5, 9))


coords = st.floats(min_value=-2000, max_value=2000, allow_nan=False, allow_infinity=False)
sizes = st.floats(min_value=0.5, max_value=3000, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(x0=coords, y0=coords, w=sizes, h=sizes)
def test_algorithm1_properties(x0, y0, w, h):
    box = (x0, y0, x0 + w, y0 + h)
    bw, bh = box[2] - box[0], box[3] - box[1]
    sx0, sy0, sx1, sy1 = square_from_box(box)
    tol = 1e-9 * max(1.0, abs(x0), abs(y0), w, h)
    # contains the original box
    assert sx0 <= box[0] + tol and sy0 <= box[1] + tol and sx1 >= box[2] - tol and sy1 >= box[3] - tol
    # side is max(w, h) on both axes
    assert math.isclose(sx1 - sx0, max(bw, bh), rel_tol=1e-9, abs_tol=tol)
    assert math.isclose(sy1 - sy0, max(bw, bh), rel_tol=1e-9, abs_tol=tol)
    # centre within 0.5 px of the box centre
    assert abs((sx0 + sx1) / 2 - (box[0] + box[2]) / 2) <= 0.5
    assert abs((sy0 + sy1) / 2 - (box[1] + box[3]) / 2) <= 0.5


@settings(max_examples=100, deadline=None)
@given(x0=st.integers(-500, 500), y0=st.integers(-500, 500), w=st.integers(1, 400), h=st.integers(1, 400))
def test_algorithm1_integer_boxes_exact_centre(x0, y0, w, h):
    sx0, sy0, sx1, sy1 = square_from_box((x0, y0, x0 + w, y0 + h))
    assert (sx0 + sx1) / 2 == x0 + w / 2 and (sy0 + sy1) / 2 == y0 + h / 2


def test_fill_missing_interpolates_between_and_reuses_at_ends():
    boxes = [None, (0, 0, 10, 10), None, None, (30, 0, 40, 10), None]
    filled, flags = fill_missing_boxes(boxes)
    assert flags == [True, False, True, True, False, True]
    assert filled[0] == (0, 0, 10, 10) and filled[5] == (30, 0, 40, 10)
    assert filled[2] == pytest.approx((10, 0, 20, 10)) and filled[3] == pytest.approx((20, 0, 30, 10))


def test_fill_missing_all_empty_raises():
    with pytest.raises(ValueError, match="all 3 missing"):
        fill_missing_boxes([None, None, None])


def test_union_box():
    assert union_box([(0, 5, 10, 20), (-3, 7, 8, 30)]) == (-3, 5, 10, 30)


def test_smoothing_reduces_jitter_and_keeps_static_boxes():
    rng = np.random.default_rng(0)
    static = [(10.0, 10.0, 50.0, 50.0)] * 20
    assert np.allclose(smooth_squares(static, 3.0), static)
    jitter = [(10 + dx, 10 + dy, 50 + dx, 50 + dy) for dx, dy in rng.normal(0, 2, (60, 2))]
    smoothed = np.asarray(smooth_squares(jitter, 3.0))
    raw = np.asarray(jitter)
    second_diff = lambda a: np.abs(np.diff(a[:, 0], 2)).mean()  # noqa: E731
    assert second_diff(smoothed) < 0.2 * second_diff(raw)
    assert np.allclose(smoothed[:, 2] - smoothed[:, 0], 40.0)  # sides stay square


def test_leaves_image():
    assert leaves_image((-0.5, 0, 10, 10), 20, 20)
    assert not leaves_image((0, 0, 20, 20), 20, 20)
    assert leaves_image((0, 0, 20, 20.5), 20, 20)


@pytest.mark.parametrize("mode", ["edge", "constant"])
def test_crop_padded_matches_numpy_pad(mode):
    frame = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    pad = 50
    kwargs = {"constant_values": 7} if mode == "constant" else {}
    big = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode=mode, **kwargs)
    for x0, y0, x1, y1 in [(-10, -5, 20, 25), (30, 20, 60, 50), (-45, -45, -5, -5), (0, 0, 40, 30)]:
        got = crop_padded(frame, x0, y0, x1, y1, mode, 7)
        assert np.array_equal(got, big[y0 + pad : y1 + pad, x0 + pad : x1 + pad])


def test_render_square_float_box_matches_pil_on_padded_frame():
    frame = np.random.default_rng(2).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    square = (-7.5, 10.0, 32.5, 50.0)
    pad = 20
    big = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    expected = np.asarray(Image.fromarray(big).resize((32, 32), Image.Resampling.LANCZOS,
                                                      box=(square[0] + pad, square[1] + pad, square[2] + pad, square[3] + pad)))
    got = render_square(frame, square, 32)
    assert got.shape == (32, 32, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
