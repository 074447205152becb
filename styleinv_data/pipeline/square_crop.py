"""Shared by the mask and box strategies: per-frame face boxes -> squares (box modes) -> render."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from styleinv_data.crop.plan import FramePlan
from styleinv_data.crop.square import (
    BoxXYXY,
    leaves_image,
    render_square,
    smooth_squares,
    square_from_box,
    union_box,
)
from styleinv_data.pipeline.recipe import CropConfig


def squares_for_mode(boxes: Sequence[BoxXYXY], crop: CropConfig) -> list[BoxXYXY]:
    """Algorithm 1 squares for ``per-frame`` boxes, one union square, or temporally smoothed squares."""
    if crop.box_mode == "video-union":
        square = square_from_box(union_box(boxes))
        return [square] * len(boxes)
    squares = [square_from_box(b) for b in boxes]
    if crop.box_mode == "smoothed":
        return smooth_squares(squares, crop.smooth_sigma)
    return squares


def count_outside(squares: Sequence[BoxXYXY], width: int, height: int) -> int:
    return sum(1 for s in squares if leaves_image(s, width, height))


class SquareRenderer:
    """``render()`` of the square strategies: padded crop + Lanczos resize."""

    def __init__(self, crop: CropConfig) -> None:
        self.pad_mode = crop.pad_mode
        self.pad_value = crop.pad_value

    def render(self, frame_rgb: np.ndarray, frame_plan: FramePlan, size: int) -> np.ndarray:
        if frame_plan.box_xyxy is None:
            raise ValueError(f"frame {frame_plan.frame_index}: the plan has no box_xyxy")
        return render_square(frame_rgb, frame_plan.box_xyxy, size, self.pad_mode, self.pad_value)  # type: ignore[arg-type]
