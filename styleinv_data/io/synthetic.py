"""Synthesised clips with a known moving face box, for tests and benchmarks (deterministic)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from styleinv_data.io.encode import Mp4Encoder


@dataclass(frozen=True)
class MovingBoxClip:
    width: int
    height: int
    boxes_xyxy: list[tuple[int, int, int, int]]  # integer half-open face boxes per frame (None-free)

    @property
    def num_frames(self) -> int:
        return len(self.boxes_xyxy)


def textured_background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient plus mid-frequency blobs: every crop position looks different."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.stack([xx / max(width - 1, 1), yy / max(height - 1, 1), 0.5 + 0.5 * np.sin((xx + yy) / 23.0)], axis=2)
    for _ in range(12):
        cx, cy, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(6, 30)
        color = rng.uniform(0, 1, 3).astype(np.float32)
        w = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))[..., None]
        img = img * (1 - w) + color * w
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def paste_patch(frame: np.ndarray, patch: np.ndarray, x0: int, y0: int) -> None:
    """Paste ``patch`` with its top-left at (x0, y0), clipped to the frame."""
    h, w = frame.shape[:2]
    ph, pw = patch.shape[:2]
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + pw, w), min(y0 + ph, h)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = patch[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def render_moving_box_frames(clip: MovingBoxClip, face: np.ndarray | None = None, seed: int = 0):
    """Yield ``(frame_rgb, mask_gray)``: the face image (or a textured patch) resized into each box on a
    textured background, and the mask with the box dark (0) on white (255)."""
    from PIL import Image

    background = textured_background(clip.width, clip.height, seed)
    patch_src = face if face is not None else textured_background(97, 89, seed + 1)[:, ::-1]
    cache: dict[tuple[int, int], np.ndarray] = {}
    for x0, y0, x1, y1 in clip.boxes_xyxy:
        frame = background.copy()
        key = (x1 - x0, y1 - y0)
        if key not in cache:
            cache[key] = np.asarray(Image.fromarray(patch_src).resize(key, Image.Resampling.BILINEAR))
        paste_patch(frame, cache[key], x0, y0)
        mask = np.full((clip.height, clip.width), 255, dtype=np.uint8)
        mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
        yield frame, mask


def write_moving_box_clip(
    video_path: Path,
    mask_path: Path,
    clip: MovingBoxClip,
    *,
    face: np.ndarray | None = None,
    fps: float = 25.0,
    lossless: bool = True,
    seed: int = 0,
) -> None:
    """Encode the clip (lossless yuv444p, or crf 18 yuv420p) and its lossless mask video."""
    video_kwargs = dict(crf=0, pix_fmt="yuv444p", preset="ultrafast") if lossless else dict(crf=18, preset="veryfast")
    with Mp4Encoder(video_path, clip.width, clip.height, fps, **video_kwargs) as venc, Mp4Encoder(
        mask_path, clip.width, clip.height, fps, crf=0, pix_fmt="yuv444p", preset="ultrafast"
    ) as menc:
        for frame, mask in render_moving_box_frames(clip, face, seed):
            venc.write(frame)
            menc.write(mask)


def linear_path(start: Sequence[int], stop: Sequence[int], n: int) -> list[tuple[int, int, int, int]]:
    """``n`` integer boxes moving linearly from ``start`` to ``stop`` (both xyxy)."""
    a, b = np.asarray(start, float), np.asarray(stop, float)
    return [tuple(int(round(v)) for v in a + (b - a) * t) for t in np.linspace(0, 1, n)]  # type: ignore[misc]
