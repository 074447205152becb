"""8-bit 4:2:0 frames (``yuv420p``) and their conversion to RGB8, only where it is needed.

The crop decodes the video as ``yuv420p`` (half the bytes of ``rgb24``, and no colour conversion
in ffmpeg) and converts only the pixels of the crop square to RGB. The conversion reproduces what
ffmpeg's own ``yuv420p -> rgb24`` conversion (libswscale, default flags) does for limited-range
video: each chroma sample serves its 2x2 luma block (no chroma interpolation), and the arithmetic is
libswscale's 16-bit fixed point (``Y*8`` and ``C*8`` offset, multiplied by 13-bit coefficients
keeping the high 16 bits, i.e. rounding down, terms added, clipped to 0..255), with the BT.709
matrix for sources tagged BT.709 and BT.601 otherwise, as ffmpeg does. Checked against ffmpeg n9.0.2
(x86-64): identical on every pixel of the test clips (``tests/io/test_yuv.py`` allows up to 2
levels, for builds whose libswscale rounds otherwise).

Only sources that ffmpeg converts with exactly these numbers take this path
(:func:`yuv420_fast_path`): ``yuv420p`` (not ``yuvj420p``), limited or unspecified range, matrix
BT.601, BT.709 or untagged, even width and height (for an odd height ffmpeg switches to its general
scaler, which interpolates chroma). Every other source is decoded as ``rgb24`` as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import importlib.util

# numba is imported on the first conversion, not with this module (~0.15 s a process that never
# converts, e.g. an FFHQ crop, would pay at start-up).
_HAVE_NUMBA = importlib.util.find_spec("numba") is not None

# libswscale's inverse tables (crv, cbu, cgu, cgv in 16.16, already scaled by 255/224) and its luma
# gain for limited range (255/219 in 16.16, integer division), rounded to the 13-bit coefficients its
# SIMD code multiplies with (``roundToInt16(c * 2**13)``).
_INVERSE_TABLES = {"bt601": (104597, 132201, 25675, 53279), "bt709": (117489, 138438, 13975, 34925)}
_CY = (65536 * 255) // 219


def _coef(c: int) -> int:
    return (c * 8192 + (1 << 15)) >> 16


_levels = np.arange(256, dtype=np.int64)


def _conversion_lut(matrix: str) -> np.ndarray:
    """Per-byte terms of R = y + rv, G = y + gu + gv, B = y + bu (each a floor of a 16-bit high product)."""
    crv, cbu, cgu, cgv = _INVERSE_TABLES[matrix]
    c = _levels * 8 - 1024
    return np.stack(
        [
            ((_levels * 8 - 128) * _coef(_CY)) >> 16,  # y
            (c * _coef(crv)) >> 16,  # rv (from V)
            (c * -_coef(cgu)) >> 16,  # gu (from U)
            (c * -_coef(cgv)) >> 16,  # gv (from V)
            (c * _coef(cbu)) >> 16,  # bu (from U)
        ]
    ).astype(np.int32)


_LUTS = {name: _conversion_lut(name) for name in _INVERSE_TABLES}

# ffmpeg's ``yuv420p -> gray`` (limited-range luma expanded to full range): round((Y - 16) * 255 / 219),
# clipped; no value falls on a .5 tie (219 is odd).
GRAY_FROM_LIMITED_Y = np.clip(np.floor((_levels - 16) * 255 / 219 + 0.5), 0, 255).astype(np.uint8)

# PyAV's codec-context values (FFmpeg's AVColorRange / AVColorSpace numbers)
_LIMITED_OR_UNSPECIFIED_RANGE = (0, 1)  # unspecified, MPEG (tv)
# the matrix ffmpeg converts with, per AVColorSpace: BT.709 when tagged so; BT.601 when tagged BT470BG or
# SMPTE170M, and when untagged (whatever the frame size)
MATRIX_OF_COLOR_SPACE = {1: "bt709", 2: "bt601", 5: "bt601", 6: "bt601"}


@dataclass(frozen=True)
class Yuv420Frame:
    """One limited-range ``yuv420p`` frame as three plane views: ``y`` ``(H, W)``, ``u`` and ``v``
    ``(ceil(H/2), ceil(W/2))``; ``matrix`` (``bt601`` or ``bt709``) is the one ffmpeg converts it with."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    matrix: str = "bt601"

    def __post_init__(self) -> None:
        if self.matrix not in _LUTS:
            raise ValueError(f"matrix {self.matrix!r}: use one of {', '.join(_LUTS)}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """The shape of the RGB frame it stands for, ``(H, W, 3)``."""
        return (self.y.shape[0], self.y.shape[1], 3)

    def to_rgb(self) -> np.ndarray:
        """The whole frame as ``(H, W, 3)`` RGB8 (ffmpeg's numbers, see the module docstring)."""
        h, w = self.y.shape
        return crop_yuv420_rgb(self, 0, 0, w, h)

    def crop_rgb(self, x0: int, y0: int, x1: int, y1: int, pad_mode: str = "edge", pad_value: int = 0) -> np.ndarray:
        return crop_yuv420_rgb(self, x0, y0, x1, y1, pad_mode, pad_value)


def yuv420_frame_bytes(width: int, height: int) -> int:
    return width * height + 2 * ((width + 1) // 2) * ((height + 1) // 2)


def split_yuv420(buf: bytes | np.ndarray, width: int, height: int, matrix: str = "bt601") -> Yuv420Frame:
    """Planes of one tightly packed ``yuv420p`` frame (ffmpeg's rawvideo layout); no copy."""
    flat = np.frombuffer(buf, dtype=np.uint8) if not isinstance(buf, np.ndarray) else buf.reshape(-1)
    cw, ch = (width + 1) // 2, (height + 1) // 2
    n_y, n_c = width * height, cw * ch
    if flat.size != n_y + 2 * n_c:
        raise ValueError(f"a {width}x{height} yuv420p frame has {n_y + 2 * n_c} bytes, got {flat.size}")
    return Yuv420Frame(
        flat[:n_y].reshape(height, width), flat[n_y : n_y + n_c].reshape(ch, cw), flat[n_y + n_c :].reshape(ch, cw),
        matrix,
    )


def yuv420_fast_path(info) -> bool:
    """True when ffmpeg's own RGB conversion of this source is one reproduced here (limited range,
    BT.601 or BT.709), so decoding it as ``yuv420p`` and converting the crop gives ffmpeg's RGB pixels."""
    return (
        getattr(info, "kind", None) == "video"
        and getattr(info, "pix_fmt", None) == "yuv420p"
        and getattr(info, "color_range", None) in _LIMITED_OR_UNSPECIFIED_RANGE
        and getattr(info, "color_space", None) in MATRIX_OF_COLOR_SPACE
        # ffmpeg takes its general scaler (interpolated chroma) for odd heights; odd sizes stay on rgb24
        and info.width % 2 == 0
        and info.height % 2 == 0
    )


def source_matrix(info) -> str:
    """The matrix ffmpeg converts a :func:`yuv420_fast_path` source with."""
    return MATRIX_OF_COLOR_SPACE[info.color_space]


class _LazyJit:
    """``numba.njit(cache=True, nogil=True)(fn)``, compiled (or loaded from numba's cache) on first call."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.compiled = None
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        if self.compiled is None:
            import numba  # noqa: PLC0415

            self.compiled = numba.njit(cache=True, nogil=True)(self.fn)
        return self.compiled(*args)


def _jit(fn):
    return _LazyJit(fn) if _HAVE_NUMBA else fn


@_jit
def _apply_lut(plane, lut):  # pragma: no cover - numba
    height, width = plane.shape
    out = np.empty((height, width), np.uint8)
    for i in range(height):
        src, dst = plane[i], out[i]
        for j in range(width):
            dst[j] = lut[src[j]]
    return out


def gray_from_limited_y(y_plane: np.ndarray) -> np.ndarray:
    """ffmpeg's ``-pix_fmt gray`` image of a limited-range frame, from its luma plane (a new array).

    A single-threaded numba loop: ``cv2.LUT`` is about as fast alone but runs on OpenCV's thread pool;
    with it and ``cv2.reduce`` (the mask box) the crop cost ~0.2 ms more CPU per frame on a busy
    2-core machine (docs/bench_crop.md)."""
    if _HAVE_NUMBA:
        return _apply_lut(y_plane, GRAY_FROM_LIMITED_Y)
    return GRAY_FROM_LIMITED_Y[y_plane]  # pragma: no cover - numba is in the pinned environment


@_jit
def _crop_convert(y_plane, u_plane, v_plane, lut, x0, y0, out, edge, pad_value):  # pragma: no cover - numba
    """``out[i, j] = RGB(frame[y0 + i, x0 + j])``; outside the frame: the nearest edge pixel (``edge``)
    or ``pad_value``. ``out`` is ``(rows, cols * 3)`` uint8."""
    height, width = y_plane.shape
    rows, cols = out.shape[0], out.shape[1] // 3
    cx = np.empty(cols, np.int64)
    inside = np.empty(cols, np.bool_)
    for j in range(cols):
        x = x0 + j
        inside[j] = 0 <= x < width
        cx[j] = min(max(x, 0), width - 1)
    for i in range(rows):
        yy = y0 + i
        row_inside = 0 <= yy < height
        yy = min(max(yy, 0), height - 1)
        cy = yy >> 1
        y_row, u_row, v_row = y_plane[yy], u_plane[cy], v_plane[cy]
        o = out[i]
        for j in range(cols):
            if not edge and not (row_inside and inside[j]):
                o[3 * j] = pad_value
                o[3 * j + 1] = pad_value
                o[3 * j + 2] = pad_value
                continue
            x = cx[j]
            yv = lut[0, y_row[x]]
            u = u_row[x >> 1]
            v = v_row[x >> 1]
            r = yv + lut[1, v]
            g = yv + lut[2, u] + lut[3, v]
            b = yv + lut[4, u]
            o[3 * j] = 0 if r < 0 else (255 if r > 255 else r)
            o[3 * j + 1] = 0 if g < 0 else (255 if g > 255 else g)
            o[3 * j + 2] = 0 if b < 0 else (255 if b > 255 else b)


def crop_yuv420_rgb(
    frame: Yuv420Frame, x0: int, y0: int, x1: int, y1: int, pad_mode: str = "edge", pad_value: int = 0
) -> np.ndarray:
    """RGB8 ``(y1 - y0, x1 - x0, 3)`` of the integer window ``[x0, x1) x [y0, y1)`` (which may leave the
    frame: padded by edge replication or ``pad_value``), converting only the window's pixels."""
    if pad_mode not in ("edge", "constant"):
        raise ValueError(f"unknown pad mode {pad_mode!r}; use edge or constant")
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty window [{x0}, {x1}) x [{y0}, {y1})")
    if not _HAVE_NUMBA:  # pragma: no cover - numba is in the pinned environment
        return _crop_convert_numpy(frame, x0, y0, x1, y1, pad_mode, pad_value)
    out = np.empty((y1 - y0, (x1 - x0) * 3), np.uint8)
    _crop_convert(frame.y, frame.u, frame.v, _LUTS[frame.matrix], int(x0), int(y0), out, pad_mode == "edge", int(pad_value))
    return out.reshape(y1 - y0, x1 - x0, 3)


def _crop_convert_numpy(frame: Yuv420Frame, x0: int, y0: int, x1: int, y1: int, pad_mode: str, pad_value: int) -> np.ndarray:
    h, w = frame.y.shape
    lut = _LUTS[frame.matrix]
    xs, ys = np.arange(x0, x1), np.arange(y0, y1)
    cx, cy = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    yv = lut[0][frame.y[cy[:, None], cx[None, :]]]
    u = frame.u[(cy >> 1)[:, None], (cx >> 1)[None, :]]
    v = frame.v[(cy >> 1)[:, None], (cx >> 1)[None, :]]
    rgb = np.stack([yv + lut[1][v], yv + lut[2][u] + lut[3][v], yv + lut[4][u]], axis=2)
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    if pad_mode == "constant":
        outside = ~(((ys >= 0) & (ys < h))[:, None] & ((xs >= 0) & (xs < w))[None, :])
        rgb[outside] = pad_value
    return rgb
