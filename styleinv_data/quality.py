"""Per-clip quality scores of a crop, computed while the crop runs from what it already has.

From the plan (no pixels): the crop region's side in source pixels (``face_px_median``,
``face_px_min``; the FFHQ quad's side or the mask square's) and the upscaling to the output size
(``upscale_max`` = output size / ``face_px_min``); crop stability (``jitter_px``: RMS of the
region corners' second difference over time, in output pixels); frames interpolated and frames
whose region leaves the source image (``padded``); the plan's per-frame confidence where the
strategy has one (``confidence_min`` / ``confidence_median``).

From the written frames (sampled, in the writer thread): sharpness (``sharpness``: the median
variance of the Laplacian of up to 16 evenly spaced output frames, grey, 0..255 scale) and a
perceptual hash of the first frame (``phash``: ImageHash's 64-bit DCT hash, hex) for duplicate
detection across videos and splits.

Video-level counts (frames without a face, segments, scene cuts) stay in the status ``counts``;
the manifest joins both (``docs/manifest.md``).
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

import numpy as np

from styleinv_data.crop.square import leaves_image

SHARPNESS_SAMPLES = 16


def crop_corners(frame_plan: Any) -> np.ndarray | None:
    """The crop region of a frame plan as 4 corners (quad, else the box's square), source pixels."""
    quad = getattr(frame_plan, "quad", None)
    if quad is not None:
        return np.asarray(quad, dtype=np.float64).reshape(4, 2)
    box = getattr(frame_plan, "box_xyxy", None)
    if box is None:
        return None
    x0, y0, x1, y1 = (float(v) for v in box)
    return np.array([[x0, y0], [x0, y1], [x1, y1], [x1, y0]], dtype=np.float64)


def _side(corners: np.ndarray) -> float:
    return float(np.mean([np.hypot(*(corners[1] - corners[0])), np.hypot(*(corners[3] - corners[0]))]))


def plan_scores(frames: Sequence[Any], size: int, source_size: tuple[int, int] | None) -> dict[str, Any]:
    """The plan-side scores of one clip's frame plans (in frame order)."""
    corners = [c for c in (crop_corners(f) for f in frames) if c is not None]
    out: dict[str, Any] = {"interpolated": sum(1 for f in frames if getattr(f, "source", "") == "interpolated")}
    if corners:
        sides = np.array([_side(c) for c in corners])
        out["face_px_median"] = round(float(np.median(sides)), 2)
        out["face_px_min"] = round(float(sides.min()), 2)
        out["upscale_max"] = round(size / max(float(sides.min()), 1e-6), 3)
        if len(corners) >= 3:
            stack = np.stack(corners)  # [T, 4, 2]
            second = stack[2:] - 2 * stack[1:-1] + stack[:-2]
            scale = size / np.maximum(sides[1:-1], 1e-6)
            per_frame = np.sqrt(np.mean(np.sum(second ** 2, axis=-1), axis=-1)) * scale
            out["jitter_px"] = round(float(np.sqrt(np.mean(per_frame ** 2))), 4)
        else:
            out["jitter_px"] = 0.0
        if source_size is not None:
            out["padded"] = int(sum(leaves_image((*c.min(axis=0), *c.max(axis=0)), *source_size) for c in corners))
    confidence = [float(f.confidence) for f in frames if getattr(f, "confidence", None) is not None]
    if confidence:
        out["confidence_min"] = round(min(confidence), 4)
        out["confidence_median"] = round(float(np.median(confidence)), 4)
    return out


def sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (higher: sharper)."""
    import cv2  # noqa: PLC0415

    grey = image if image.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F).var())


def perceptual_hash(image: np.ndarray) -> str:
    """ImageHash's DCT perceptual hash (64 bits, hex) of an RGB image."""
    import imagehash  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    return str(imagehash.phash(Image.fromarray(np.ascontiguousarray(image[..., :3]) if image.ndim == 3 else image)))


class ClipProbe:
    """Scores of the frames written to one clip: wraps the render function the sink calls."""

    def __init__(self, num_frames: int) -> None:
        count = max(1, min(SHARPNESS_SAMPLES, num_frames))
        self._sample_at = {int(round(k * (num_frames - 1) / max(count - 1, 1))) for k in range(count)}
        self._seen = 0
        self._sharpness: list[float] = []
        self._phash: str | None = None
        self._lock = threading.Lock()

    def observe(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            position = self._seen
            self._seen += 1
        if position == 0:
            self._phash = perceptual_hash(image)
        if position in self._sample_at:
            self._sharpness.append(sharpness(image))
        return image

    def quality(self, frames: Sequence[Any], size: int, source_size: tuple[int, int] | None) -> dict[str, Any]:
        """The clip's scores: :func:`plan_scores` of its frame plans and those of its written frames."""
        return {**plan_scores(frames, size, source_size), **self.scores()}

    def scores(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._sharpness:
            out["sharpness"] = round(float(np.median(self._sharpness)), 3)
        if self._phash is not None:
            out["phash"] = self._phash
        return out
