"""Media and timing shared by the crop benchmarks (crop_throughput.py, crop_throughput_ffhq.py):
a helper module, not a benchmark; the benchmark scripts import it and never each other."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np


def synth_face_clip(folder: Path, frames: int, width: int = 640, height: int = 480) -> tuple[Path, Path]:
    """``folder/original/clip.mp4`` + ``folder/mask/clip.mp4`` (both libx264 crf 18, yuv420p)."""
    from skimage import data

    from styleinv_data.io.encode import Mp4Encoder
    from styleinv_data.io.synthetic import MovingBoxClip, render_moving_box_frames

    face = data.astronaut()[10:190, 130:290]  # the astronaut's face, 160x180
    t = np.linspace(0, 1, frames)
    boxes = []
    for u in t:  # a loop across the frame, growing, passing close to the left border
        cx = 320 + 260 * np.cos(2 * np.pi * u)
        cy = 240 + 120 * np.sin(4 * np.pi * u)
        w = 120 + 60 * np.sin(2 * np.pi * u) ** 2
        h = w * 1.15
        boxes.append((int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2)))
    boxes = [(max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)) for x0, y0, x1, y1 in boxes]
    clip = MovingBoxClip(width, height, boxes)
    (folder / "original").mkdir(parents=True, exist_ok=True)
    (folder / "mask").mkdir(parents=True, exist_ok=True)
    video, mask = folder / "original" / "clip.mp4", folder / "mask" / "clip.mp4"
    with Mp4Encoder(video, width, height, 30, crf=18) as venc, Mp4Encoder(mask, width, height, 30, crf=18) as menc:
        for frame, mask_gray in render_moving_box_frames(clip, face=face):
            venc.write(frame)
            menc.write(mask_gray)
    return video, mask


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its finished children (the ffmpeg decoders)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
