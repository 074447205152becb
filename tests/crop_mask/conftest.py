"""Fixtures of the mask-crop tests: a small synthesised clip with a known moving face rectangle."""

from __future__ import annotations

from pathlib import Path

import pytest

from styleinv_data.io.synthetic import MovingBoxClip, linear_path, write_moving_box_clip

WIDTH, HEIGHT, FRAMES = 160, 120, 36


def moving_clip() -> MovingBoxClip:
    # A tall box at the left border (its square leaves on the left), a wide one at the top right
    # (leaves at the top), then a wide one at the bottom border (leaves at the bottom).
    boxes = (
        linear_path((2, 20, 22, 80), (40, 30, 70, 100), 12)
        + linear_path((100, 2, 150, 30), (126, 4, 159, 40), 12)
        + linear_path((60, 85, 120, 119), (20, 90, 90, 120), 12)
    )
    return MovingBoxClip(WIDTH, HEIGHT, boxes)


@pytest.fixture(scope="module")
def moving_dataset(tmp_path_factory) -> tuple[Path, MovingBoxClip]:
    """``root/original/clip.mp4`` + ``root/mask/clip.mp4`` (lossless)."""
    root = tmp_path_factory.mktemp("ffs")
    (root / "original").mkdir()
    (root / "mask").mkdir()
    clip = moving_clip()
    write_moving_box_clip(root / "original" / "clip.mp4", root / "mask" / "clip.mp4", clip)
    return root, clip
