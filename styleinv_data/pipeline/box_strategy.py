"""Strategy ``box``: per-clip boxes from a metadata table (first-order-model's TaiChi format).

Each table row cuts ``[start, end)`` out of its source video and crops the Algorithm 1 square of
its box (scaled from the table's frame size to the video's; frame numbers converted from the
table's fps to the video's when they differ by more than 0.1%). Rows of the same video become the
segments ``<video_id>_s<k>`` (or ``<video_id>`` for a single row); rows may not overlap.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path
from typing import Any

from styleinv_data.crop.plan import CropPlan, FramePlan, Segment
from styleinv_data.crop.square import square_from_box
from styleinv_data.io.probe import VideoInfo
from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.square_crop import SquareRenderer, count_outside
from styleinv_data.pipeline.strategies import StrategyFlag, register_strategy
from styleinv_data.pipeline.taichi_metadata import ClipRow, read_clip_table
from styleinv_data.pipeline.tasks import VideoTask, input_video_dir

BOX_DEFAULTS: dict[str, Any] = {
    "metadata": None,  # path of the csv table (relative paths: to the working directory, then to INPUT)
    "partition": None,  # keep only rows of this partition (train / test), None = all
}


def _metadata_path(options: dict[str, Any], recipe: CropRecipe) -> Path:
    if not options.get("metadata"):
        raise RecipeError("strategy box needs a metadata table: --metadata taichi-metadata.csv (strategies.box.metadata)")
    path = Path(options["metadata"])
    if not path.is_file() and recipe.input.root and (Path(recipe.input.root) / path).is_file():
        path = Path(recipe.input.root) / path
    return path


def discover_box_tasks(options: dict[str, Any], recipe: CropRecipe) -> list[VideoTask]:
    try:
        rows = read_clip_table(_metadata_path(options, recipe), options.get("partition"))
    except (OSError, ValueError) as e:
        raise RecipeError(str(e)) from e
    video_dir = input_video_dir(recipe)
    by_video: dict[str, list[ClipRow]] = defaultdict(list)
    for row in rows:
        by_video[row.video_id].append(row)
    tasks = []
    exts = recipe.input.extensions
    for video_id in sorted(by_video):
        source = next((video_dir / f"{video_id}{e}" for e in exts if (video_dir / f"{video_id}{e}").exists()), None)
        if source is None and (video_dir / video_id).is_dir():
            source = video_dir / video_id
        clips = [dataclasses.asdict(r) for r in sorted(by_video[video_id], key=lambda r: r.start)]
        tasks.append(VideoTask(video_id, source or video_dir / f"{video_id}{exts[0]}", {"clips": clips}))
    return tasks


class BoxStrategy(SquareRenderer):
    name = "box"

    def __init__(self, options: dict[str, Any], recipe: CropRecipe) -> None:
        super().__init__(recipe.crop)
        self.options = options
        self.crop = recipe.crop

    def plan(self, video_id: str, video_path: Path, **inputs: Any) -> CropPlan:
        info: VideoInfo = inputs["info"]
        clips = [ClipRow(**{**c, "bbox_ltrb": tuple(c["bbox_ltrb"])}) for c in inputs.get("clips", [])]
        if not clips:
            raise ValueError(f"{video_id}: no metadata rows")
        frames: list[FramePlan] = []
        segments: list[Segment] = []
        squares = []
        prev_stop = 0
        for k, clip in enumerate(clips):
            fps_scale = 1.0
            if clip.fps and info.fps and abs(clip.fps / info.fps - 1) > 1e-3:
                fps_scale = info.fps / clip.fps
            start = round(clip.start * fps_scale)
            stop = min(round(clip.end * fps_scale), info.num_frames)
            if start >= stop:
                raise ValueError(f"metadata line {clip.line}: clip [{clip.start}, {clip.end}) lies beyond the video's {info.num_frames} frames")
            if start < prev_stop:
                raise ValueError(f"metadata line {clip.line}: clip starting at {clip.start} overlaps the previous clip")
            prev_stop = stop
            sx = info.width / clip.width if clip.width else 1.0
            sy = info.height / clip.height if clip.height else 1.0
            left, top, right, bottom = clip.bbox_ltrb
            square = square_from_box((left * sx, top * sy, right * sx, bottom * sy))
            squares.append(square)
            out_id = video_id if len(clips) == 1 else f"{video_id}_s{k}"
            segments.append(Segment(out_id, start, stop))
            frames.extend(FramePlan(i, "metadata", box_xyxy=square) for i in range(start, stop))
        stats = {
            "clips": len(clips),
            "frames": sum(s.stop - s.start for s in segments),
            "square_outside_image": count_outside(squares, info.width, info.height),
        }
        params = {"metadata": str(self.options.get("metadata")), **dataclasses.asdict(self.crop)}
        return CropPlan(video_id, self.name, frames, segments, params, stats, (info.width, info.height))


register_strategy(
    "box",
    factory=lambda options, recipe: BoxStrategy(options, recipe),
    defaults=BOX_DEFAULTS,
    flags=[
        StrategyFlag("--metadata", "metadata", "[box] clip table (first-order-model TaiChi csv)."),
        StrategyFlag("--partition", "partition", "[box] keep only rows of this partition (train/test)."),
    ],
    discover=discover_box_tasks,
    description="per-clip boxes from a metadata table (TaiChi) -> Algorithm 1 square",
)
