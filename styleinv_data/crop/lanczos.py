"""Lanczos-3 resize of a float source box, the same numbers as Pillow's
``Image.resize(size, Image.Resampling.LANCZOS, box=...)`` on 8-bit images, computed by numba kernels.

Pillow's algorithm, reproduced step by step (its ``Resample.c``): per output pixel, the taps of the
Lanczos-3 kernel (widened by the scale when reducing) are evaluated in double precision, normalised
to sum 1 and rounded to 22-bit fixed point; a horizontal pass over the rows the vertical pass needs
then a vertical pass, each rounding and clipping to 8 bits. The box corners are single precision, as
Pillow receives them. The difference is the loop order: each pass here runs along contiguous rows
(the horizontal pass on a transposed copy), which the compiler vectorises, so the resize costs a
fraction of Pillow's scalar loops while giving the same bytes.

Pillow 13 runs the vertical pass first for some shapes (tall images, heights reduced more than
widths); this module reproduces the horizontal-first order only, so it takes the square crops
(square box, square output, near-square source region) and hands every other shape, or everything
when numba is missing, to Pillow itself.
"""

from __future__ import annotations

import functools
import math
from typing import Sequence

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is in the pinned environment
    numba = None

PRECISION_BITS = 22  # Pillow's fixed point for 8-bit images: 32 - 8 - 2
LANCZOS_SUPPORT = 3.0


def _jit(fn):
    return numba.njit(cache=True, nogil=True)(fn) if numba is not None else fn


@_jit
def _lanczos(x: float) -> float:
    if not (-LANCZOS_SUPPORT <= x < LANCZOS_SUPPORT):
        return 0.0
    a = 1.0 if x == 0.0 else math.sin(x * math.pi) / (x * math.pi)
    y = x / 3.0
    b = 1.0 if y == 0.0 else math.sin(y * math.pi) / (y * math.pi)
    return a * b


@_jit
def _taps(in_size: int, in0: np.float32, in1: np.float32, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: (first source index, tap count) and the fixed-point weights (Pillow's
    ``precompute_coeffs`` + ``normalize_coeffs_8bpc``)."""
    scale = np.float64(in1 - in0) / out_size  # the difference in single precision, as Pillow does
    filterscale = max(scale, 1.0)
    inv_filterscale = 1.0 / filterscale
    support = LANCZOS_SUPPORT * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    bounds = np.zeros((out_size, 2), np.int64)
    weights = np.zeros((out_size, ksize), np.int32)
    taps = np.zeros(ksize, np.float64)
    one = float(1 << PRECISION_BITS)
    for i in range(out_size):
        center = np.float64(in0) + (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        count = min(int(center + support + 0.5), in_size) - lo
        total = 0.0
        for k in range(count):
            taps[k] = _lanczos((k + lo - center + 0.5) * inv_filterscale)
            total += taps[k]
        for k in range(count):
            w = taps[k] / total if total != 0.0 else taps[k]
            weights[i, k] = int(w * one - 0.5) if w < 0 else int(w * one + 0.5)
        bounds[i, 0], bounds[i, 1] = lo, count
    return bounds, weights


@_jit
def _resample_rows(src: np.ndarray, first: int, bounds: np.ndarray, weights: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = clip8(sum_k weights[i, k] * src[first + bounds[i, 0] + k])`` over whole rows (2-D arrays)."""
    width = src.shape[1]
    acc = np.empty(width, np.int32)
    half = np.int32(1 << (PRECISION_BITS - 1))
    for i in range(out.shape[0]):
        acc[:] = half
        lo = first + bounds[i, 0]
        for k in range(bounds[i, 1]):
            w = weights[i, k]
            row = src[lo + k]
            for j in range(width):
                acc[j] += np.int32(row[j]) * w
        for j in range(width):
            v = acc[j] >> PRECISION_BITS
            out[i, j] = 0 if v < 0 else (255 if v > 255 else v)


@_jit
def _transpose(src: np.ndarray, channels: int) -> np.ndarray:
    """``(A, B*C)`` -> ``(B, A*C)``: swap the two pixel axes of a flattened ``(A, B, C)`` image."""
    a, b = src.shape[0], src.shape[1] // channels
    out = np.empty((b, a * channels), np.uint8)
    # one output row at a time (contiguous writes); RGB spelled out: ~2.5x the generic loop
    if channels == 3:
        for j in range(b):
            row, s = out[j], 3 * j
            for i in range(a):
                src_row = src[i]
                row[3 * i] = src_row[s]
                row[3 * i + 1] = src_row[s + 1]
                row[3 * i + 2] = src_row[s + 2]
        return out
    for j in range(b):
        row = out[j]
        for i in range(a):
            for c in range(channels):
                row[i * channels + c] = src[i, j * channels + c]
    return out


@_jit
def _horizontal(image: np.ndarray, channels: int, bounds: np.ndarray, weights: np.ndarray, out_w: int) -> np.ndarray:
    """Horizontal pass of a ``(rows, W*C)`` image -> ``(rows, out_w*C)``, run along rows of its transpose."""
    columns = _transpose(image, channels)  # (W, rows*C)
    resized = np.empty((out_w, columns.shape[1]), np.uint8)
    _resample_rows(columns, 0, bounds, weights, resized)
    return _transpose(resized, channels)


@_jit
def _resize_with_taps(image, channels, need_h, need_v, h_bounds, h_weights, v_bounds, v_weights, out_w, out_h):
    """The two passes of :func:`_resize` with their taps given."""
    first_row = 0
    if need_h:
        first_row = v_bounds[0, 0]
        last_row = v_bounds[out_h - 1, 0] + v_bounds[out_h - 1, 1]
        image = _horizontal(image[first_row:last_row], channels, h_bounds, h_weights, out_w)
    if need_v:
        out = np.empty((out_h, image.shape[1]), np.uint8)
        _resample_rows(image, -first_row, v_bounds, v_weights, out)
        return out
    return image.copy()


@_jit
def _resize(image: np.ndarray, channels: int, box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """Pillow's ``ImagingResampleInner`` for a ``(H, W*C)`` uint8 image, horizontal pass first: each pass
    only when needed, the horizontal one only over the rows the vertical one reads."""
    height, width = image.shape[0], image.shape[1] // channels
    x0, y0, x1, y1 = box[0], box[1], box[2], box[3]
    need_h = out_w != width or x0 != 0 or x1 != out_w
    need_v = out_h != height or y0 != 0 or y1 != out_h
    v_bounds, v_weights = _taps(height, y0, y1, out_h)
    h_bounds, h_weights = _taps(width, x0, x1, out_w)
    return _resize_with_taps(image, channels, need_h, need_v, h_bounds, h_weights, v_bounds, v_weights, out_w, out_h)


@functools.lru_cache(maxsize=1024)
def _cached_taps(in_size: int, in0: float, in1: float, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_taps` of float32 box corners (passed as the exact Python floats of float32 values). The
    square crops of a video repeat few (side, fractional offset) pairs: Algorithm 1 squares of integer
    mask boxes sit on half-pixel corners, so the taps are computed once per pair, not per frame."""
    return _taps(in_size, np.float32(in0), np.float32(in1), out_size)


def _resize_cached(flat: np.ndarray, channels: int, box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    """:func:`_resize` with the taps from :func:`_cached_taps` (the same numbers)."""
    height, width = flat.shape[0], flat.shape[1] // channels
    x0, y0, x1, y1 = (float(v) for v in box)  # exact: box is float32
    need_h = out_w != width or x0 != 0 or x1 != out_w
    need_v = out_h != height or y0 != 0 or y1 != out_h
    v_bounds, v_weights = _cached_taps(height, y0, y1, out_h)
    h_bounds, h_weights = _cached_taps(width, x0, x1, out_w)
    return _resize_with_taps(flat, channels, need_h, need_v, h_bounds, h_weights, v_bounds, v_weights, out_w, out_h)


def _pillow_goes_horizontal_first(shape: tuple[int, ...], box: np.ndarray, out_w: int, out_h: int) -> bool:
    """True for the case checked to match Pillow (13) byte for byte: a square box resized to a square,
    from a near-square image (what :func:`~styleinv_data.crop.square.render_square` passes). Pillow
    may run the vertical pass first for other shapes; those go to Pillow itself."""
    height, width = shape[0], shape[1]
    box_w, box_h = float(box[2] - box[0]), float(box[3] - box[1])
    return out_w == out_h and abs(box_w - box_h) <= 1e-3 * max(box_w, 1.0) and abs(width - height) <= 2


def resize_box_lanczos(image: np.ndarray, box_xyxy: Sequence[float], size: tuple[int, int]) -> np.ndarray:
    """Resize the float ``box_xyxy`` of an 8-bit ``(H, W)`` or ``(H, W, 3)`` image to ``size = (width,
    height)`` with Lanczos-3: the bytes of ``Image.resize(size, LANCZOS, box=box_xyxy)``."""
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected an 8-bit (H, W) or (H, W, 3) image, got {image.dtype} {image.shape}")
    out_w, out_h = int(size[0]), int(size[1])
    box = np.asarray(box_xyxy, dtype=np.float32)
    if numba is None or not _pillow_goes_horizontal_first(image.shape, box, out_w, out_h):
        return _resize_pillow(image, box, out_w, out_h)
    channels = 1 if image.ndim == 2 else 3
    flat = np.ascontiguousarray(image).reshape(image.shape[0], -1)
    return _resize_cached(flat, channels, box, out_w, out_h).reshape((out_h, out_w) + image.shape[2:])


def _resize_pillow(image: np.ndarray, box: np.ndarray, out_w: int, out_h: int) -> np.ndarray:
    from PIL import Image

    resized = Image.fromarray(np.ascontiguousarray(image)).resize(
        (out_w, out_h), Image.Resampling.LANCZOS, box=tuple(float(v) for v in box)
    )
    return np.asarray(resized)
