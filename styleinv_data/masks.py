"""Face masks -> face bounding boxes (FaceForensics / TGANv2 / StyleGAN-V conventions as options).

A mask frame is read as 8-bit gray. The *face value* of a pixel is ``255 - m`` when the face is the
dark part of the mask (``polarity="dark"``, the StyleGAN-V script's convention) or ``m`` when it is
the bright part. Two rules turn face values into a box:

* ``projection`` (StyleGAN-V / TGANv2): column ``x`` belongs to the box when the mean over all rows
  of its face value, summed over ``projection_channels`` colour channels (3 for their RGB masks),
  exceeds ``threshold``; rows likewise;
* ``pixel``: the box of the pixels whose face value exceeds ``threshold``.

The box is half-open: first selected column to last selected column + 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from styleinv_data.crop.square import BoxXYXY

try:  # OpenCV's SIMD row/column sums are ~5x numpy's; numpy is the fallback
    import cv2
except ImportError:  # pragma: no cover - opencv-python-headless is in the pinned environment
    cv2 = None

MaskPolarity = Literal["dark", "bright"]
MaskRuleName = Literal["projection", "pixel"]


@dataclass(frozen=True)
class MaskRule:
    polarity: MaskPolarity = "dark"
    rule: MaskRuleName = "projection"
    threshold: float = 5.0
    projection_channels: int = 3

    def __post_init__(self) -> None:
        if self.polarity not in ("dark", "bright"):
            raise ValueError(f"mask polarity {self.polarity!r}: use dark or bright")
        if self.rule not in ("projection", "pixel"):
            raise ValueError(f"mask rule {self.rule!r}: use projection or pixel")
        if self.projection_channels < 1:
            raise ValueError("projection_channels must be >= 1")


def _span(selected: np.ndarray) -> tuple[int, int] | None:
    hits = np.flatnonzero(selected)
    if hits.size == 0:
        return None
    return int(hits[0]), int(hits[-1]) + 1


def _uint8_axis_sums(image, cols, rows):  # compiled by numba on first use (see _axis_sums)
    """``cols[j] = sum_i image[i, j]``, ``rows[i] = sum_j image[i, j]`` in one pass along the rows."""
    height, width = image.shape
    cols[:] = 0
    for i in range(height):
        row = image[i]
        total = np.int32(0)
        for j in range(width):
            v = np.int32(row[j])
            cols[j] += v
            total += v
        rows[i] = total


_NUMBA_SUMS: list = []  # [compiled kernel] once numba has been imported (or [None] without numba)


def _numba_sums():
    if not _NUMBA_SUMS:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is in the pinned environment
            _NUMBA_SUMS.append(None)
        else:
            _NUMBA_SUMS.append(numba.njit(cache=True, nogil=True)(_uint8_axis_sums))
    return _NUMBA_SUMS[0]


def _axis_sums(mask_gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column and row sums as float64 (exact integers). A single-threaded numba pass when available:
    OpenCV's ``reduce`` is faster alone (0.03 vs 0.05 ms for 640x480) but runs on its thread pool;
    with it (and ``cv2.LUT`` for the mask's luma) the crop cost ~0.2 ms more CPU per frame on a busy
    2-core machine (docs/bench_crop.md). OpenCV, then numpy, are the fallbacks."""
    kernel = _numba_sums() if mask_gray.dtype == np.uint8 and mask_gray.size < 2**23 else None
    if kernel is not None:  # int32 sums cannot overflow below 2**23 pixels
        height, width = mask_gray.shape
        cols, rows = np.empty(width, np.int32), np.empty(height, np.int32)
        kernel(mask_gray, cols, rows)
        return cols.astype(np.float64), rows.astype(np.float64)
    if cv2 is not None and mask_gray.dtype == np.uint8 and mask_gray.size < 2**23:  # int32 sums cannot overflow
        m = np.ascontiguousarray(mask_gray)
        cols = cv2.reduce(m, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        rows = cv2.reduce(m, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
        return cols.astype(np.float64), rows.astype(np.float64)
    cols = np.add.reduce(mask_gray, axis=0, dtype=np.uint64).astype(np.float64)
    rows = np.add.reduce(mask_gray, axis=1, dtype=np.uint64).astype(np.float64)
    return cols, rows


def mask_to_box(mask_gray: np.ndarray, rule: MaskRule = MaskRule()) -> BoxXYXY | None:
    """Face box of one gray8 mask frame, or ``None`` when the mask holds no face."""
    if mask_gray.ndim != 2:
        raise ValueError(f"mask must be a 2-D gray image, got shape {mask_gray.shape}")
    height, width = mask_gray.shape
    if rule.rule == "projection":
        # Sums of raw values per column/row, then face value = 255 - mean (dark) or mean (bright).
        col_sum, row_sum = _axis_sums(mask_gray)
        col_mean, row_mean = col_sum / height, row_sum / width
        if rule.polarity == "dark":
            col_mean, row_mean = 255.0 - col_mean, 255.0 - row_mean
        cols = _span(col_mean * rule.projection_channels > rule.threshold)
        rows = _span(row_mean * rule.projection_channels > rule.threshold)
    else:
        if rule.polarity == "dark":
            face = mask_gray < 255.0 - rule.threshold
        else:
            face = mask_gray > rule.threshold
        cols = _span(face.any(axis=0))
        rows = _span(face.any(axis=1))
    if cols is None or rows is None:
        return None
    return (float(cols[0]), float(rows[0]), float(cols[1]), float(rows[1]))
