"""Small FaceForensics-style datasets for the pipeline tests (synthesised, a few KB each)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from styleinv_data.io.encode import write_mp4
from styleinv_data.io.synthetic import MovingBoxClip, linear_path, render_moving_box_frames, write_moving_box_clip

W, H, N = 64, 48, 12


def small_clip(n: int = N, seed: int = 0) -> MovingBoxClip:
    return MovingBoxClip(W, H, linear_path((4 + seed, 6, 24 + seed, 30), (30, 10, 56, 40), n))


def add_video(root: Path, video_id: str, n: int = N, mask_frames: int | None = None, empty_mask: bool = False,
              seed: int = 0) -> None:
    """``root/original/<id>.mp4`` and ``root/mask/<id>.mp4`` (mask possibly shorter or all empty)."""
    (root / "original").mkdir(parents=True, exist_ok=True)
    (root / "mask").mkdir(parents=True, exist_ok=True)
    clip = small_clip(n, seed)
    if mask_frames is None and not empty_mask:
        write_moving_box_clip(root / "original" / f"{video_id}.mp4", root / "mask" / f"{video_id}.mp4", clip, seed=seed)
        return
    pairs = list(render_moving_box_frames(clip, seed=seed))
    write_mp4(root / "original" / f"{video_id}.mp4", [f for f, _ in pairs], fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")
    masks = [np.full((H, W), 255, np.uint8) if empty_mask else m for _, m in pairs][: mask_frames or n]
    write_mp4(root / "mask" / f"{video_id}.mp4", masks, fps=25, crf=0, pix_fmt="yuv444p", preset="ultrafast")


@pytest.fixture(name="add_video")
def add_video_fixture() -> Callable[..., None]:
    return add_video


@pytest.fixture(name="small_clip")
def small_clip_fixture() -> Callable[..., MovingBoxClip]:
    return small_clip


@pytest.fixture(scope="module")
def good_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ffs")
    for i in range(3):
        add_video(root, f"v{i}", seed=i)
    return root
