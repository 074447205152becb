"""The FFHQ alignment: landmarks -> oriented square ("quad") -> warped ``size x size`` crop.

Coordinates are pixel-centre coordinates (pixel ``i`` spans ``[i - 0.5, i + 0.5]``), the
convention of the landmarkers. The quad corners are ordered ``c-x-y, c-x+y, c+x+y, c+x-y``: the
output's top-left, bottom-left, bottom-right and top-right corners. The whole warp is one affine
map (:func:`quad_to_output_affine`), so points can be pushed through it exactly.

Rendering follows the FFHQ recipe: *shrink* the frame first when the quad is much larger than the
output, *crop* to the quad plus a border, *pad* by reflection (blurring and fading to the median
colour towards the outer edge) when the quad leaves the frame, then *transform*. The last step
warps to twice the output size and halves with area averaging, which stands in for FFHQ's
oversized transform plus antialiased resize at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# iBUG 68-point indices used by the recipe.
LEFT_EYE_68 = slice(36, 42)  # image-left eye (the subject's right eye)
RIGHT_EYE_68 = slice(42, 48)
MOUTH_LEFT_68 = 48
MOUTH_RIGHT_68 = 54


@dataclass(frozen=True)
class FaceAnchors:
    """The four points the recipe needs."""

    eye_left: np.ndarray
    eye_right: np.ndarray
    mouth_left: np.ndarray
    mouth_right: np.ndarray


def face_anchors(landmarks: np.ndarray) -> FaceAnchors:
    """Eye centres and mouth corners from 68 iBUG points or 5 points (eyes, nose, mouth corners)."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape == (68, 2):
        return FaceAnchors(pts[LEFT_EYE_68].mean(0), pts[RIGHT_EYE_68].mean(0), pts[MOUTH_LEFT_68], pts[MOUTH_RIGHT_68])
    if pts.shape == (5, 2):
        return FaceAnchors(pts[0], pts[1], pts[3], pts[4])
    raise ValueError(f"FFHQ alignment needs (68, 2) or (5, 2) landmarks, got shape {pts.shape}")


def quad_axes(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The quad's centre ``c`` and half-side vector ``x`` (``y`` is ``x`` turned by +90 degrees)."""
    a = face_anchors(landmarks)
    eye_avg = (a.eye_left + a.eye_right) * 0.5
    eye_to_eye = a.eye_right - a.eye_left
    mouth_avg = (a.mouth_left + a.mouth_right) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * np.array([-1.0, 1.0])
    norm = np.hypot(*x)
    if not np.isfinite(norm) or norm <= 1e-9:
        raise ValueError("degenerate landmarks: eyes and mouth coincide")
    x = x / norm * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    c = eye_avg + eye_to_mouth * 0.1
    return c, x


def quad_from_axes(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    y = np.flipud(x) * np.array([-1.0, 1.0])
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def axes_from_quad(quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(quad, dtype=np.float64)
    c = q.mean(0)
    x = ((q[3] - q[0]) + (q[2] - q[1])) / 4.0
    return c, x


def ffhq_quad(landmarks: np.ndarray) -> np.ndarray:
    """The FFHQ quad ``(4, 2)`` of a face from its landmarks."""
    return quad_from_axes(*quad_axes(landmarks))


def quad_to_output_affine(quad: np.ndarray, size: int) -> np.ndarray:
    """The 2x3 affine map from source pixel coords to output pixel coords of a ``size`` crop."""
    q = np.asarray(quad, dtype=np.float64)
    # output corner (0, 0) <- q0, (0, size) <- q1, (size, 0) <- q3, in corner coordinates.
    basis = np.stack([q[3] - q[0], q[1] - q[0]], axis=1) / float(size)  # columns: d(src)/d(out_x), d(src)/d(out_y)
    inv = np.linalg.inv(basis)
    origin = q[0] + 0.5  # corner coords of the quad's first corner
    m = np.empty((2, 3))
    m[:, :2] = inv
    # out_corner = inv @ (src_corner - origin); out_idx = out_corner - 0.5, src_corner = src_idx + 0.5
    m[:, 2] = inv @ (0.5 - origin) - 0.5
    return m


def apply_affine(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


@dataclass(frozen=True)
class WarpOptions:
    """FFHQ rendering knobs (the FFHQ values are the defaults)."""

    shrink: bool = True
    pad: bool = True  # reflect-pad + blur where the quad leaves the frame (else: black)
    border_fraction: float = 0.1  # crop margin, fraction of the quad side
    pad_fraction: float = 0.3  # minimum reflection padding, fraction of the quad side
    blur_fraction: float = 0.02  # blur sigma in the padding, fraction of the quad side
    supersample: int = 2  # warp to this multiple of the output size, then area-average down


def render_quad(frame_rgb: np.ndarray, quad: np.ndarray, size: int, options: WarpOptions = WarpOptions()) -> np.ndarray:
    """Warp the quad of ``frame_rgb`` to a ``size x size`` RGB8 image (the FFHQ recipe)."""
    import cv2  # noqa: PLC0415

    if size < 1:
        raise ValueError(f"output size must be positive, got {size}")
    img = np.asarray(frame_rgb)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    quad = np.asarray(quad, dtype=np.float64).copy()
    if quad.shape != (4, 2) or not np.all(np.isfinite(quad)):
        raise ValueError(f"quad must be a finite (4, 2) array, got {quad.shape}")
    qsize = float(np.hypot(*(quad[3] - quad[0])))
    # (1) shrink: keep at most 2x the output size before the final warp (cheap area resize).
    shrink = int(np.floor(qsize / (size * options.supersample))) if options.shrink else 1
    if shrink > 1:
        h, w = img.shape[:2]
        new_size = (max(1, int(np.rint(w / shrink))), max(1, int(np.rint(h / shrink))))
        sx, sy = new_size[0] / w, new_size[1] / h
        img = cv2.resize(img, new_size, interpolation=cv2.INTER_AREA)
        quad = (quad + 0.5) * np.array([sx, sy]) - 0.5
        qsize *= (sx + sy) / 2.0
    h, w = img.shape[:2]
    # (2) crop to the quad plus a border.
    border = max(int(np.rint(qsize * options.border_fraction)), 3)
    lo = np.floor(quad.min(0)).astype(int) - border
    hi = np.ceil(quad.max(0)).astype(int) + border + 1
    cx0, cy0 = max(lo[0], 0), max(lo[1], 0)
    cx1, cy1 = min(hi[0], w), min(hi[1], h)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError("the quad lies entirely outside the frame")
    img = img[cy0:cy1, cx0:cx1]
    quad -= np.array([cx0, cy0], dtype=np.float64)
    # (3) pad by reflection where the quad (plus border) leaves the frame.
    pad_l, pad_t = max(-lo[0] + cx0, 0), max(-lo[1] + cy0, 0)
    pad_r, pad_b = max(hi[0] - cx1, 0), max(hi[1] - cy1, 0)
    pads = np.array([pad_l, pad_t, pad_r, pad_b])
    if options.pad and pads.max() > 0:
        img, quad = _reflect_pad(img, quad, pads, qsize, options)
    # (4) transform: affine from the quad to the (supersampled) output square.
    ss = max(1, int(options.supersample))
    m = quad_to_output_affine(quad, size * ss)
    border_mode = cv2.BORDER_REFLECT_101 if options.pad else cv2.BORDER_CONSTANT
    out = cv2.warpAffine(np.ascontiguousarray(img), m, (size * ss, size * ss), flags=cv2.INTER_LINEAR,
                         borderMode=border_mode)
    if ss > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def _edge_mask(n: int, pad_lo: int, pad_hi: int) -> np.ndarray:
    """Per position along one axis: 1 - (distance to the padded outer edge) / (pad width).

    1 at the outer edge, 0 where the original pixels start, negative inside them (the FFHQ mask).
    """
    pos = np.arange(n, dtype=np.float32)
    lo = pos / pad_lo if pad_lo > 0 else np.full(n, np.inf, dtype=np.float32)
    hi = (n - 1 - pos) / pad_hi if pad_hi > 0 else np.full(n, np.inf, dtype=np.float32)
    return 1.0 - np.minimum(lo, hi)


def _reflect_pad(img: np.ndarray, quad: np.ndarray, pads: np.ndarray, qsize: float,
                 options: WarpOptions) -> tuple[np.ndarray, np.ndarray]:
    import cv2  # noqa: PLC0415

    minimum = int(np.rint(qsize * options.pad_fraction))
    want = [int(max(p, minimum)) if p > 0 else 0 for p in pads]  # left, top, right, bottom
    done = [0, 0, 0, 0]
    padded = img
    # One reflection cannot exceed the image size: repeat for tiny crops near the frame edge.
    while any(d < wv for d, wv in zip(done, want)):
        ph, pw = padded.shape[:2]
        step = [min(want[0] - done[0], pw - 1), min(want[1] - done[1], ph - 1),
                min(want[2] - done[2], pw - 1), min(want[3] - done[3], ph - 1)]
        if max(step) <= 0:
            break
        padded = cv2.copyMakeBorder(padded, step[1], step[3], step[0], step[2], cv2.BORDER_REFLECT_101)
        done = [d + s for d, s in zip(done, step)]
    quad = quad + np.array([done[0], done[1]], dtype=np.float64)
    ph, pw = padded.shape[:2]
    mask = np.maximum(_edge_mask(ph, done[1], done[3])[:, None], _edge_mask(pw, done[0], done[2])[None, :])
    mask = mask[:, :, None]
    work = padded.astype(np.float32)
    sigma = max(qsize * options.blur_fraction, 0.5)
    blurred = cv2.GaussianBlur(work, (0, 0), sigmaX=sigma, sigmaY=sigma)
    work += (blurred - work) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    median = np.median(work.reshape(-1, work.shape[2]), axis=0)
    work += (median - work) * np.clip(mask, 0.0, 1.0)
    return np.clip(np.rint(work), 0, 255).astype(np.uint8), quad

