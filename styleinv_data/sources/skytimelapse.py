"""Strategy ``resize``: the whole frame resized to the output size (SkyTimelapse is used as released).

StyleGAN-V's SkyTimelapse copy is already 256x256 frame folders; this strategy only resizes (area
averaging when shrinking, bicubic when enlarging) so other sizes can be made from the same
sources. Load it with ``plugins: [styleinv_data.sources.skytimelapse]`` in a recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from styleinv_data.crop.plan import CropPlan, FramePlan, Segment
from styleinv_data.pipeline.strategies import register_strategy


class ResizeStrategy:
    name = "resize"

    def __init__(self, options: dict[str, Any], recipe: Any = None) -> None:
        self.options = dict(options)

    def plan(self, video_id: str, video_path: Path, **inputs: Any) -> CropPlan:
        info = inputs["info"]
        box = (0.0, 0.0, float(info.width), float(info.height))
        frames = [FramePlan(i, "metadata", box_xyxy=box) for i in range(info.num_frames)]
        segments = [Segment(video_id, 0, info.num_frames)] if info.num_frames else []
        return CropPlan(video_id, self.name, frames, segments, params={}, stats={"frames": info.num_frames},
                        source_size=(info.width, info.height))

    def render(self, frame_rgb: np.ndarray, frame_plan: FramePlan, size: int) -> np.ndarray:
        import cv2  # noqa: PLC0415

        frame = np.asarray(frame_rgb)
        if frame.ndim == 2:
            frame = np.repeat(frame[:, :, None], 3, axis=2)
        frame = frame[:, :, :3]
        if frame.shape[:2] == (size, size):
            return np.ascontiguousarray(frame)
        shrink = frame.shape[0] > size or frame.shape[1] > size
        return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


register_strategy("resize", lambda options, recipe: ResizeStrategy(options, recipe), defaults={},
                  description="the whole frame resized to the output size (SkyTimelapse)")
