"""The numba Lanczos resize gives Pillow's bytes on the square crops render_square makes, and hands
every other shape to Pillow."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from styleinv_data.crop import lanczos
from styleinv_data.crop.lanczos import resize_box_lanczos
from styleinv_data.crop.square import crop_padded, render_square

pytest.importorskip("numba", reason="the Lanczos kernels need numba (in the pinned environment)")


def _pillow(image: np.ndarray, box, size) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS, box=tuple(box)))


def _textured_frame(rng: np.random.Generator, height: int = 120, width: int = 160) -> np.ndarray:
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    smooth = (np.cumsum(noise.astype(np.int64), axis=1) // 5 % 256).astype(np.uint8)
    return np.where(rng.random((height, width, 1)) < 0.5, noise, smooth)  # edges and ramps: overshoot, clipping


def _forbid_pillow_fallback(monkeypatch):
    def fail(*args):
        raise AssertionError("square crops must take the numba kernels, not the Pillow fallback")

    monkeypatch.setattr(lanczos, "_resize_pillow", fail)


def test_square_crops_are_bit_exact_with_pillow(monkeypatch):
    _forbid_pillow_fallback(monkeypatch)
    rng = np.random.default_rng(0)
    frame = _textured_frame(rng)
    for _ in range(150):
        side = rng.uniform(1.5, 200.0)  # up to 6x reduction, down to 40x enlargement
        x0 = rng.uniform(-side / 2, 160 - side / 2)
        y0 = rng.uniform(-side / 2, 120 - side / 2)
        size = int(rng.choice([8, 32, 64, 256]))
        margin = math.ceil(3.0 * max(side / size, 1.0)) + 1
        ix0, iy0 = math.floor(x0) - margin, math.floor(y0) - margin
        ix1, iy1 = math.ceil(x0 + side) + margin, math.ceil(y0 + side) + margin
        region = np.ascontiguousarray(crop_padded(frame, ix0, iy0, ix1, iy1))
        box = (x0 - ix0, y0 - iy0, x0 + side - ix0, y0 + side - iy0)
        expected = _pillow(region, box, (size, size))
        assert np.array_equal(resize_box_lanczos(region, box, (size, size)), expected), (x0, y0, side, size)
        assert np.array_equal(render_square(frame, (x0, y0, x0 + side, y0 + side), size), expected)


def test_gray_square_is_bit_exact(monkeypatch):
    _forbid_pillow_fallback(monkeypatch)
    rng = np.random.default_rng(1)
    gray = _textured_frame(rng, 50, 50)[:, :, 0].copy()
    box = (3.25, 4.5, 41.75, 43.0)
    assert np.array_equal(resize_box_lanczos(gray, box, (64, 64)), _pillow(gray, box, (64, 64)))


@pytest.mark.parametrize(
    "shape, box, size",
    [((40, 120, 3), (2.5, 1.0, 100.5, 30.0), (50, 20)),  # wide box, non-square output
     ((300, 30, 3), (1.0, 10.0, 25.0, 290.0), (12, 40)),  # tall image, height reduced far more
     ((30, 30, 3), (0.0, 0.0, 30.0, 30.0), (30, 30))],  # identity
)
def test_other_shapes_match_pillow(shape, box, size):
    image = _textured_frame(np.random.default_rng(2), shape[0], shape[1])
    assert np.array_equal(resize_box_lanczos(image, box, size), _pillow(image, box, size))


def test_rejects_non_uint8_and_rgba():
    with pytest.raises(ValueError, match="8-bit"):
        resize_box_lanczos(np.zeros((8, 8, 3), np.float32), (0, 0, 4, 4), (4, 4))
    with pytest.raises(ValueError, match="8-bit"):
        resize_box_lanczos(np.zeros((8, 8, 4), np.uint8), (0, 0, 4, 4), (4, 4))


def test_cached_taps_give_the_same_bytes_on_repeated_half_pixel_squares(monkeypatch):
    """Squares of integer mask boxes repeat (side, half-pixel offset) pairs: the second and later
    resizes take the taps from the cache and must still give Pillow's bytes."""
    _forbid_pillow_fallback(monkeypatch)
    lanczos._cached_taps.cache_clear()
    rng = np.random.default_rng(3)
    frame = _textured_frame(rng)
    squares = [(10.5, 20.0, 74.5, 84.0), (40.0, 12.5, 104.0, 76.5), (10.5, 20.0, 74.5, 84.0), (-6.5, 30.0, 57.5, 94.0)]
    for x0, y0, x1, y1 in squares * 2:
        pad = 200
        big = np.pad(frame, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        expected = _pillow(big, (x0 + pad, y0 + pad, x1 + pad, y1 + pad), (48, 48))
        assert np.array_equal(render_square(frame, (x0, y0, x1, y1), 48), expected), (x0, y0)
    info = lanczos._cached_taps.cache_info()
    assert info.hits >= 8 and info.misses <= 6  # 3 distinct (size, offset) keys per axis at most
