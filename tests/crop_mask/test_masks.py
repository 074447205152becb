"""Mask -> box rules: StyleGAN-V's projection rule, the per-pixel rule, polarity, threshold."""

from __future__ import annotations

import numpy as np
import pytest

from styleinv_data.masks import MaskRule, mask_to_box


def _mask(h=48, w=64, box=(5, 10, 30, 20), face=0, background=255):
    m = np.full((h, w), background, np.uint8)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = face
    return m


def test_dark_face_box_is_half_open():
    assert mask_to_box(_mask()) == (5.0, 10.0, 30.0, 20.0)
    assert mask_to_box(_mask(), MaskRule(rule="pixel")) == (5.0, 10.0, 30.0, 20.0)


def test_bright_polarity():
    m = _mask(face=255, background=0)
    assert mask_to_box(m, MaskRule(polarity="bright")) == (5.0, 10.0, 30.0, 20.0)
    assert mask_to_box(m, MaskRule(polarity="dark")) == (0.0, 0.0, 64.0, 48.0)  # wrong polarity: everything


def test_empty_mask_is_none():
    assert mask_to_box(np.full((10, 10), 255, np.uint8)) is None
    assert mask_to_box(np.full((10, 10), 255, np.uint8), MaskRule(rule="pixel")) is None


def test_projection_rule_uses_column_mean_times_channels():
    # One dark pixel column of height 2 in a 100-row mask: column mean of (255 - m) = 255*2/100 = 5.1,
    # times 3 channels = 15.3 > 5; a single dark pixel with value 254 gives 0.01*3 < 5.
    m = np.full((100, 20), 255, np.uint8)
    m[40:42, 7] = 0
    m[10, 15] = 254
    assert mask_to_box(m) == (7.0, 40.0, 8.0, 42.0)
    assert mask_to_box(m, MaskRule(projection_channels=1, threshold=5.2)) is None  # 5.1 <= 5.2
    # the per-pixel rule keeps any pixel darker than 255 - threshold
    m2 = m.copy()
    m2[10, 15] = 240
    assert mask_to_box(m2, MaskRule(rule="pixel")) == (7.0, 10.0, 16.0, 42.0)


def test_projection_ignores_faint_noise_that_pixel_rule_sees():
    m = np.full((100, 100), 255, np.uint8)
    m[30:60, 40:70] = 0
    m[0, 0] = 200  # compression speck
    assert mask_to_box(m) == (40.0, 30.0, 70.0, 60.0)
    assert mask_to_box(m, MaskRule(rule="pixel")) == (0.0, 0.0, 70.0, 60.0)


def test_bad_rule_values():
    with pytest.raises(ValueError, match="polarity"):
        MaskRule(polarity="white")
    with pytest.raises(ValueError, match="rule"):
        MaskRule(rule="mean")
    with pytest.raises(ValueError, match="2-D"):
        mask_to_box(np.zeros((4, 4, 3), np.uint8))


def test_axis_sums_are_exact_on_views_and_large_values():
    from styleinv_data.masks import _axis_sums

    rng = np.random.default_rng(7)
    full = rng.integers(0, 256, (301, 517), dtype=np.uint8)
    full[:, :40] = 255  # saturated columns: 301 * 255 per column
    for image in (full, full[3:200:2, 5:400], np.ascontiguousarray(full.T)):
        cols, rows = _axis_sums(image)
        assert cols.dtype == rows.dtype == np.float64
        assert np.array_equal(cols, image.astype(np.int64).sum(axis=0))
        assert np.array_equal(rows, image.astype(np.int64).sum(axis=1))
