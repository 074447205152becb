"""Square crop boxes (the paper's Algorithm 1), box sequences over time, and the padded square render.

Boxes are half-open float intervals ``(x0, y0, x1, y1)`` = ``[x0, x1) x [y0, y1)`` in source
pixels: a box covering pixel columns 10..19 is ``(10, ., 20, .)`` and has width 10. A square that
leaves the image is *padded* (edge replication or a constant), never shifted, and every frame is
rendered: nothing here drops a frame.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np

BoxXYXY = tuple[float, float, float, float]
PadMode = Literal["edge", "constant"]


def square_from_box(box_xyxy: Sequence[float]) -> BoxXYXY:
    """Algorithm 1: grow the shorter side by Δ/2 at each end, Δ = |w − h|.

    The square has side ``max(w, h)``, contains the box and has the same centre (exactly, in
    float arithmetic up to rounding).
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    w, h = x1 - x0, y1 - y0
    if not (w > 0 and h > 0):
        raise ValueError(f"box {tuple(box_xyxy)} is empty (width {w}, height {h})")
    if w < h:
        delta = h - w
        return (x0 - delta / 2, y0, x1 + delta / 2, y1)
    delta = w - h
    return (x0, y0 - delta / 2, x1, y1 + delta / 2)


def union_box(boxes: Sequence[Sequence[float]]) -> BoxXYXY:
    """The smallest box holding all ``boxes``."""
    arr = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if arr.size == 0:
        raise ValueError("union of no boxes")
    return (float(arr[:, 0].min()), float(arr[:, 1].min()), float(arr[:, 2].max()), float(arr[:, 3].max()))


def fill_missing_boxes(boxes: Sequence[Sequence[float] | None]) -> tuple[list[BoxXYXY], list[bool]]:
    """Fill ``None`` entries: linear interpolation between the nearest known boxes on both sides,
    the nearest known box at the ends. Returns the boxes and a per-frame "was filled" flag.

    Raises ``ValueError`` when every box is missing.
    """
    n = len(boxes)
    known = np.array([b is not None for b in boxes], dtype=bool)
    if not known.any():
        raise ValueError(f"no frame has a box (all {n} missing)")
    idx = np.flatnonzero(known)
    values = np.asarray([boxes[i] for i in idx], dtype=np.float64)
    t = np.arange(n, dtype=np.float64)
    filled = np.stack([np.interp(t, idx.astype(np.float64), values[:, k]) for k in range(4)], axis=1)
    out = [tuple(float(v) for v in row) for row in filled]
    for i in idx:  # keep the known boxes bit-exact
        out[i] = tuple(float(v) for v in boxes[i])  # type: ignore[arg-type]
    return out, [not k for k in known]  # type: ignore[return-value]


def smooth_squares(squares: Sequence[Sequence[float]], sigma: float) -> list[BoxXYXY]:
    """Temporal Gaussian smoothing (``sigma`` in frames) of the square centres and sides.

    Removes the frame-to-frame jitter of per-frame boxes; a square may then miss up to the
    jitter amplitude of its frame's own box. ``sigma <= 0`` returns the squares unchanged.
    """
    arr = np.asarray(squares, dtype=np.float64).reshape(-1, 4)
    if sigma <= 0 or len(arr) < 2:
        return [tuple(float(v) for v in row) for row in arr]  # type: ignore[misc]
    from scipy.ndimage import gaussian_filter1d

    cx = (arr[:, 0] + arr[:, 2]) / 2
    cy = (arr[:, 1] + arr[:, 3]) / 2
    side = np.maximum(arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1])
    cx, cy, side = (gaussian_filter1d(v, sigma, mode="nearest") for v in (cx, cy, side))
    half = side / 2
    out = np.stack([cx - half, cy - half, cx + half, cy + half], axis=1)
    return [tuple(float(v) for v in row) for row in out]  # type: ignore[misc]


def leaves_image(box_xyxy: Sequence[float], width: int, height: int) -> bool:
    x0, y0, x1, y1 = box_xyxy
    return x0 < 0 or y0 < 0 or x1 > width or y1 > height


def crop_padded(
    frame: np.ndarray, x0: int, y0: int, x1: int, y1: int, pad_mode: PadMode = "edge", pad_value: int = 0
) -> np.ndarray:
    """``frame[y0:y1, x0:x1]`` for integer bounds that may leave the frame, padded as asked."""
    h, w = frame.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return frame[y0:y1, x0:x1]
    if pad_mode == "edge":
        rows = np.clip(np.arange(y0, y1), 0, h - 1)
        cols = np.clip(np.arange(x0, x1), 0, w - 1)
        return frame[rows[:, None], cols[None, :]]
    if pad_mode != "constant":
        raise ValueError(f"unknown pad mode {pad_mode!r}; use edge or constant")
    out = np.full((y1 - y0, x1 - x0) + frame.shape[2:], pad_value, dtype=frame.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
    return out


def render_square(
    frame_rgb: Any, square_xyxy: Sequence[float], size: int, pad_mode: PadMode = "edge", pad_value: int = 0
) -> np.ndarray:
    """Crop the float square (padding outside the frame) and resize it to ``size x size`` (Lanczos).

    ``frame_rgb`` is an ``(H, W, 3)`` RGB8 array or a :class:`~styleinv_data.io.yuv.Yuv420Frame`
    (then only the cut-out region is converted to RGB, with ffmpeg's numbers).

    Only the integer hull of the square plus the Lanczos filter's reach is cut out (numpy slicing;
    padding only when needed); Pillow's Lanczos filter (its numbers, computed by
    :func:`~styleinv_data.crop.lanczos.resize_box_lanczos`) then samples the exact float square from
    it, so the result equals resizing that square of the infinitely padded frame.
    """
    x0, y0, x1, y1 = (float(v) for v in square_xyxy)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"empty crop square {tuple(square_xyxy)}")
    scale = max(x1 - x0, y1 - y0) / size
    margin = math.ceil(3.0 * max(scale, 1.0)) + 1  # Lanczos-3 support in source pixels
    ix0, iy0 = math.floor(x0) - margin, math.floor(y0) - margin
    ix1, iy1 = math.ceil(x1) + margin, math.ceil(y1) + margin
    crop_rgb = getattr(frame_rgb, "crop_rgb", None)
    if crop_rgb is not None:  # a Yuv420Frame: convert only the region
        region = crop_rgb(ix0, iy0, ix1, iy1, pad_mode, pad_value)
    else:
        region = crop_padded(frame_rgb, ix0, iy0, ix1, iy1, pad_mode, pad_value)
    from styleinv_data.crop.lanczos import resize_box_lanczos  # imports numba on first use only

    return resize_box_lanczos(region, (x0 - ix0, y0 - iy0, x1 - ix0, y1 - iy0), (size, size))
