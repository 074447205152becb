"""Strategy ``mask``: FaceForensics-style face masks -> per-frame box -> Algorithm 1 square.

The mask of video ``<root>/<video_dir>/<stem>.<ext>`` is ``<root>/<mask_dir>/<stem>.<any video ext>``
(``mask_layout: videos``) or the frame folder ``<root>/<mask_dir>/<stem>/`` (``mask_layout: frames``).
Frames whose mask is empty, or missing because the mask video is shorter, get a box interpolated
from their neighbours (the nearest one at the ends) and are counted; no frame is dropped.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterator

import click
import numpy as np

from styleinv_data.crop.plan import CropPlan, FramePlan, Segment
from styleinv_data.crop.square import BoxXYXY, fill_missing_boxes, leaves_image, square_from_box
from styleinv_data.io.decode import av_decode_supported, iter_video_frames_av
from styleinv_data.io.probe import VIDEO_EXTENSIONS, VideoInfo, probe_source
from styleinv_data.io.source import iter_source_frames
from styleinv_data.masks import MaskRule, mask_to_box
from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.square_crop import SquareRenderer, count_outside, squares_for_mode
from styleinv_data.pipeline.strategies import StrategyFlag, register_strategy
from styleinv_data.pipeline.tasks import VideoTask, discover_sources
from styleinv_data.scene_cuts import SceneCutDetector, SceneCutOptions

MASK_DEFAULTS: dict[str, Any] = {
    "mask_dir": "mask",  # relative to the input root
    "mask_layout": "videos",  # videos | frames
    "polarity": "dark",  # dark: the face is the dark part (StyleGAN-V's script); bright: the light part
    "rule": "projection",  # projection (StyleGAN-V) | pixel
    "threshold": 5.0,
    "projection_channels": 3,
    "scene_cuts": False,  # --scene-cuts: split at shot changes (an extra decode of the video; off: the masks define the face)
    "scene_cut_threshold": 27.0,
    "scene_cut_min_len": 15,
}


def _mask_rule(options: dict[str, Any]) -> MaskRule:
    try:
        return MaskRule(
            polarity=options["polarity"],
            rule=options["rule"],
            threshold=float(options["threshold"]),
            projection_channels=int(options["projection_channels"]),
        )
    except (ValueError, TypeError) as e:
        raise RecipeError(f"strategies.mask: {e}") from e


def find_mask(mask_root: Path, video_id: str, layout: str) -> Path | None:
    if layout == "frames":
        folder = mask_root / video_id
        return folder if folder.is_dir() else None
    for ext in VIDEO_EXTENSIONS:
        for candidate in (mask_root / f"{video_id}{ext}", mask_root / f"{video_id}{ext.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def discover_mask_tasks(options: dict[str, Any], recipe: CropRecipe) -> list[VideoTask]:
    if options["mask_layout"] not in ("videos", "frames"):
        raise RecipeError(f"strategies.mask.mask_layout={options['mask_layout']!r}: use videos or frames")
    _mask_rule(options)
    tasks = discover_sources(recipe)
    mask_root = Path(recipe.input.root or ".") / options["mask_dir"]
    if not mask_root.is_dir():
        raise RecipeError(f"{mask_root}: mask folder not found (strategies.mask.mask_dir={options['mask_dir']!r}; --mask-dir)")
    mask_resolved = mask_root.resolve()
    kept = []
    for task in tasks:
        if task.source.resolve().parent == mask_resolved or task.source.resolve() == mask_resolved:
            continue  # video_dir == mask_dir's parent: do not treat masks as videos
        mask = find_mask(mask_root, task.video_id, options["mask_layout"])
        task.inputs["mask_path"] = str(mask) if mask else None
        task.inputs["mask_root"] = str(mask_root)
        kept.append(task)
    return kept


class MaskStrategy(SquareRenderer):
    name = "mask"

    def __init__(self, options: dict[str, Any], recipe: CropRecipe) -> None:
        super().__init__(recipe.crop)
        try:
            self.scene_cuts = SceneCutOptions.from_options({**MASK_DEFAULTS, **options})
        except (TypeError, ValueError) as e:
            raise ValueError(f"strategies.mask: {e}") from e
        self.options = options
        self.rule = _mask_rule(options)
        self.crop = recipe.crop
        self.decode_threads = recipe.run.decode_threads
        self._video: tuple[Path, VideoInfo] | None = None  # the video being planned, for open_render_frames

    def open_render_frames(self) -> Iterator[Any] | None:
        """The video's frames for rendering, decoded in-process as ``yuv420p`` planes (no ffmpeg
        process, pipe or full-frame colour conversion; ``render_square`` converts only the crop region,
        with ffmpeg's numbers), for the sources where that gives ffmpeg's RGB pixels
        (:func:`~styleinv_data.io.decode.av_decode_supported`); ``None`` otherwise (the runner's RGB
        decode is used)."""
        if self._video is None or not av_decode_supported(self._video[1], "yuv420p"):
            return None
        path, info = self._video
        return iter_video_frames_av(path, pix_fmt="yuv420p", threads=self.decode_threads, info=info)

    def _mask_frames(self, mask_path: Path, mask_info: VideoInfo) -> Iterator[np.ndarray]:
        """gray8 mask frames: in-process decode (the luma plane, range-expanded as ffmpeg's ``gray``)
        for yuv420p limited-range mask videos, the ffmpeg pipe (or the frame folder) otherwise."""
        if av_decode_supported(mask_info, "gray"):
            return iter_video_frames_av(mask_path, pix_fmt="gray", threads=self.decode_threads, info=mask_info)
        return iter_source_frames(mask_path, gray=True, threads=self.decode_threads, info=mask_info)

    def params(self) -> dict[str, Any]:
        return {"mask": dataclasses.asdict(self.rule), "mask_layout": self.options["mask_layout"], **dataclasses.asdict(self.crop)}

    def _mask_boxes(self, mask_path: Path, info: VideoInfo) -> tuple[list[BoxXYXY | None], int]:
        """Per-frame raw boxes (None = empty/missing) in *video* pixels, and the number of mask frames."""
        mask_info = probe_source(mask_path)
        sx, sy = info.width / mask_info.width, info.height / mask_info.height
        boxes: list[BoxXYXY | None] = [None] * info.num_frames
        count = 0
        frames: Iterator[np.ndarray] = self._mask_frames(mask_path, mask_info)
        for i, mask in enumerate(frames):
            count += 1
            if i >= info.num_frames:
                continue  # a mask longer than its video: counted, ignored
            box = mask_to_box(mask, self.rule)
            if box is not None and (sx != 1 or sy != 1):
                box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
            boxes[i] = box
        return boxes, count

    def plan_stream(self, video_id: str, video_path: Path, **inputs: Any):
        """Single-pass planning for ``per-frame`` boxes: yields each frame's plan in order while the mask
        is decoded alongside the video (the runner zips the two), looking ahead over empty/missing masks
        only as far as the next mask with a face. Returns ``None`` when a full pass is needed (other
        box modes, a reused plan). The finished :class:`CropPlan` is ``self.streamed_plan`` afterwards."""
        self._video = (Path(video_path), inputs["info"])
        if (self.crop.box_mode != "per-frame" or inputs.get("previous_plan") is not None or not inputs.get("mask_path")
                or self.scene_cuts.enabled):
            return None
        return self._stream(video_id, Path(inputs["mask_path"]), inputs["info"])

    def _stream(self, video_id: str, mask_path: Path, info: VideoInfo) -> Iterator[FramePlan]:
        n = info.num_frames
        mask_info = probe_source(mask_path)
        sx, sy = info.width / mask_info.width, info.height / mask_info.height
        frames: list[FramePlan] = []
        pending: list[int] = []  # frames waiting for the next known box
        last: BoxXYXY | None = None
        counts = {"mask_frames": 0, "empty_mask": 0}
        outside = 0

        def emit(i: int, box: BoxXYXY, source: str) -> FramePlan:
            nonlocal outside
            square = square_from_box(box)
            outside += leaves_image(square, info.width, info.height)
            plan = FramePlan(i, source, box_xyxy=square)  # type: ignore[arg-type]
            frames.append(plan)
            return plan

        masks = self._mask_frames(mask_path, mask_info)
        try:
            for i, mask in enumerate(masks):
                counts["mask_frames"] += 1
                if i >= n:
                    continue
                box = mask_to_box(mask, self.rule)
                if box is None:
                    counts["empty_mask"] += 1
                    pending.append(i)
                    continue
                if sx != 1 or sy != 1:
                    box = (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)
                if pending:
                    if last is None:  # before the first face: reuse the nearest box
                        fills: list[BoxXYXY] = [box] * len(pending)
                    else:  # between two faces: linear interpolation, as fill_missing_boxes does
                        fills = fill_missing_boxes([last, *([None] * len(pending)), box])[0][1:-1]
                    for j, fb in zip(pending, fills):
                        yield emit(j, fb, "interpolated")
                    pending = []
                last = box
                yield emit(i, box, "mask")
        finally:
            if hasattr(masks, "close"):
                masks.close()
        missing = max(0, n - counts["mask_frames"])
        pending += list(range(counts["mask_frames"], n))
        if last is None:
            raise ValueError(
                f"{mask_path}: mask is empty in all {n} frames (polarity={self.rule.polarity}, rule={self.rule.rule}, "
                f"threshold={self.rule.threshold}); check --polarity/--threshold"
            )
        for j in pending:
            yield emit(j, last, "interpolated")
        stats = {
            "frames": n,
            "mask_frames": counts["mask_frames"],
            "empty_mask": counts["empty_mask"],
            "missing_mask": missing,
            "extra_mask_frames": max(0, counts["mask_frames"] - n),
            "interpolated": sum(1 for f in frames if f.source == "interpolated"),
            "square_outside_image": outside,
            "scene_cuts": [],
            "cuts": 0,
            "segments": 1,
            "dropped": [],
        }
        self.streamed_plan = CropPlan(video_id, self.name, frames, [Segment(video_id, 0, n)], self.params(), stats, (info.width, info.height))

    def plan(self, video_id: str, video_path: Path, **inputs: Any) -> CropPlan:
        info: VideoInfo = inputs["info"]
        self._video = (Path(video_path), info)
        n = info.num_frames
        if n <= 0:
            raise ValueError(f"{video_path}: no frames")
        previous: CropPlan | None = inputs.get("previous_plan")
        if previous is not None and len(previous.frames) == n and all(f.box_xyxy for f in previous.frames):
            frames = [FramePlan(f.frame_index, f.source, box_xyxy=f.box_xyxy) for f in previous.frames]
            stats = dict(previous.stats, reused_plan=True)
            return CropPlan(video_id, self.name, frames, [Segment(video_id, 0, n)], self.params(), stats, (info.width, info.height))
        mask_path = inputs.get("mask_path")
        if not mask_path:
            raise FileNotFoundError(
                f"no mask for {video_id} in {inputs.get('mask_root')} (layout {self.options['mask_layout']}; masks match videos by stem)"
            )
        boxes, mask_frames = self._mask_boxes(Path(mask_path), info)
        missing = max(0, n - mask_frames)
        empty = sum(1 for b in boxes[: min(n, mask_frames)] if b is None)
        if empty + missing == n:
            raise ValueError(
                f"{mask_path}: mask is empty in all {n} frames (polarity={self.rule.polarity}, rule={self.rule.rule}, "
                f"threshold={self.rule.threshold}); check --polarity/--threshold"
            )
        cuts = self._scene_cuts(inputs, info) if self.scene_cuts.enabled else []
        frames, segments, dropped = [], [], []
        bounds = [0, *cuts, n]
        for k, (start, stop) in enumerate(zip(bounds, bounds[1:])):
            shot = (boxes + [None] * n)[start:stop]
            if all(b is None for b in shot):  # no face in this shot: nothing to crop, nothing to fill from
                dropped.append({"start": start, "stop": stop, "reason": "no mask box in this shot"})
                continue
            filled, was_filled = fill_missing_boxes(shot)  # per shot: no box is interpolated across a cut
            squares = squares_for_mode(filled, self.crop)  # video-union / smoothed modes per shot as well
            frames += [FramePlan(start + i, "interpolated" if was_filled[i] else "mask", box_xyxy=squares[i])
                       for i in range(stop - start)]
            segments.append((start, stop))
        out_ids = [video_id] if len(segments) == 1 else [f"{video_id}_s{k}" for k in range(len(segments))]
        squares = [f.box_xyxy for f in frames]
        was_filled = [f.source == "interpolated" for f in frames]
        stats = {
            "frames": n,
            "mask_frames": mask_frames,
            "empty_mask": empty,
            "missing_mask": missing,
            "extra_mask_frames": max(0, mask_frames - n),
            "interpolated": sum(was_filled),
            "square_outside_image": count_outside(squares, info.width, info.height),
            "scene_cuts": cuts,
            "cuts": len(cuts),
            "segments": len(segments),
            "dropped": dropped,
        }
        return CropPlan(video_id, self.name, frames, [Segment(o, a, b) for o, (a, b) in zip(out_ids, segments)],
                        self.params(), stats, (info.width, info.height))

    def _scene_cuts(self, inputs: dict[str, Any], info: VideoInfo) -> list[int]:
        """Shot changes of the video (one extra decode: the mask strategy does not read frames to plan)."""
        detector = SceneCutDetector(self.scene_cuts, info.fps)
        for index, frame in enumerate(inputs["open_frames"]()):
            detector.is_cut(index, frame)
        return detector.cuts


register_strategy(
    "mask",
    factory=lambda options, recipe: MaskStrategy(options, recipe),
    defaults=MASK_DEFAULTS,
    flags=[
        StrategyFlag("--mask-dir", "mask_dir", "[mask] mask folder, relative to INPUT (default: mask)."),
        StrategyFlag("--mask-layout", "mask_layout", "[mask] masks are videos or frame folders.", type=click.Choice(["videos", "frames"])),
        StrategyFlag("--polarity", "polarity", "[mask] the face is the dark or the bright part of the mask.", type=click.Choice(["dark", "bright"])),
        StrategyFlag("--mask-rule", "rule", "[mask] projection (StyleGAN-V) or per-pixel threshold.", type=click.Choice(["projection", "pixel"])),
        StrategyFlag("--threshold", "threshold", "[mask] face threshold (default 5).", type=float),
        StrategyFlag("--scene-cuts", "scene_cuts", "Split at shot changes (PySceneDetect; ffhq: the tracker restarts "
                     "at each): on by default for ffhq, off for mask.", is_flag=True),
    ],
    discover=discover_mask_tasks,
    description="FaceForensics masks -> bounding box -> Algorithm 1 square (TGANv2/StyleGAN-V)",
)
