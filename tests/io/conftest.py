"""Small media for the I/O tests, synthesised with the static ffmpeg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from styleinv_data.io.encode import write_mp4


def gradient_frames(n: int = 10, width: int = 48, height: int = 32) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width]
    return [np.stack([(xx * 5 + i * 7) % 256, (yy * 7) % 256, np.full_like(xx, i * 20 % 256)], axis=2).astype(np.uint8) for i in range(n)]


@pytest.fixture(name="make_frames")
def make_frames_fixture():
    return gradient_frames


@pytest.fixture(scope="module")
def small_video(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    frames = gradient_frames()
    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    write_mp4(path, frames, fps=10, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    return path, frames
