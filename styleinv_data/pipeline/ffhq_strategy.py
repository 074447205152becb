"""Strategy ``ffhq``: stabilised FFHQ alignment of the main face of each video.

Plan: track the main face (:mod:`styleinv_data.crop.track`), average the landmarks of N jittered
boxes per frame (:mod:`styleinv_data.crop.stabilize`), interpolate short face-less gaps and split
on long ones, turn landmarks into FFHQ quads (:mod:`styleinv_data.crop.ffhq`), optionally smooth
them over time (:mod:`styleinv_data.crop.smooth`). Render: warp each frame's quad to the output.

The plan sidecar keeps, per frame, the averaged landmarks, the quad and the box the landmarks were
measured in (``face_box_xyxy``), so ``--reuse-landmarks`` re-derives quads (new smoothing, new gap
rules) without running a detector again.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from styleinv_data.crop.ffhq import WarpOptions, ffhq_quad, render_quad
from styleinv_data.crop.plan import CropPlan, FramePlan, Segment
from styleinv_data.crop.smooth import SMOOTH_METHODS, SmoothOptions, smooth_quads
from styleinv_data.crop.stabilize import StabilizeOptions
from styleinv_data.crop.track import FaceObservation, FaceTracker, GapOptions, TrackOptions, fill_gaps
from styleinv_data.faces import FaceBackendConfig, build_detector, build_landmarker
from styleinv_data.io.decode import DecodeError
from styleinv_data.scene_cuts import SceneCutDetector, SceneCutOptions

STRATEGY_NAME = "ffhq"


@dataclass
class FfhqFramePlan(FramePlan):
    """A :class:`FramePlan` (``quad`` + averaged ``landmarks``) that also records, in the sidecar,
    the box the landmarks were measured in (``face_box_xyxy``; provenance only, not used to render)
    and how far the frame's estimate stayed from the tracker's check limits (``confidence``; for an
    interpolated frame, the lower of its ends' reduced by the gap's predicted interpolation error)."""

    face_box_xyxy: np.ndarray | None = None
    confidence: float | None = None  # 1: every check passed with room to spare; 0: at a check's limit

    def to_json(self) -> dict[str, Any]:
        out = super().to_json()
        if self.face_box_xyxy is not None:
            out["face_box_xyxy"] = np.asarray(self.face_box_xyxy, dtype=np.float64).round(3).tolist()
        if self.confidence is not None:
            out["confidence"] = round(float(self.confidence), 4)
        return out

# Every option of the strategy (the recipe section `strategies.ffhq` may only use these keys).
FFHQ_DEFAULTS: dict[str, Any] = {
    "detector": "dlib",  # dlib | retinaface
    "landmarker": "dlib",  # dlib | fan | retinaface (5 points from RetinaFace re-run on shifted crops)
    "device": "cpu",
    "dlib_weights": None,  # else $STYLEINV_DLIB68_WEIGHTS, else face-recognition-models' file
    "fan_weights": None,  # else $STYLEINV_FAN_WEIGHTS, else torch hub's checkpoints folder
    "retinaface_weights": None,  # else $STYLEINV_RETINAFACE_WEIGHTS, else torch hub's checkpoints folder
    "jitter_runs": 8,  # N landmark runs on jittered boxes, averaged
    "jitter_shift": 0.05,  # largest box shift, fraction of the box size
    "landmark_face_px": 320,  # landmarks run on a face crop upscaled to at least this box size (0: off)
    "seed": 0,
    "track": True,  # False: detect on every frame (the naive loop)
    "detect_every": 10,  # verify the track with a detection every K frames
    "detect_max_side": 320,  # downscale frames to this longer side before detection
    "detect_upsample": 1,
    "max_gap": 8,  # interpolate face-less runs up to this many frames
    "min_segment": 16,  # drop clips shorter than this many frames
    "smooth": "none",  # none | local_quadratic (recommended) | gaussian (STIT's) | one_euro
    "smooth_sigma_center": 1.0,
    "smooth_sigma_axes": 3.0,
    "smooth_sigma_roll": 2.0,  # local_quadratic: frames, for the roll angle
    "smooth_motion_ratio": 10.0,  # local_quadratic: keep the raw quad where the fit departs > this many noise sigmas
    "pad": True,  # FFHQ reflect-pad + blur where the quad leaves the frame (False: black)
    # Shot changes (PySceneDetect's content detector): the tracker restarts and the output splits
    # at each; the cut frames are recorded in the plan (stats.scene_cuts).
    "scene_cuts": True,
    "scene_cut_threshold": 27.0,
    "scene_cut_min_len": 15,
    # Videos whose raw RGB frames fit this many MiB are decoded once, ahead, into a scratch file
    # ($STYLEINV_TMP, else /dev/shm) while the models load; plan and render both read it (0: off).
    "decode_ahead_mb": 512,
    # Which sources: every video under INPUT (videos), DeeperForensics' front camera + uniform
    # light (deeperforensics), or CelebV-HQ clips cut by celebvhq_info.json (celebvhq).
    "dataset": "videos",
    "camera_pattern": None,  # deeperforensics: regex on the relative path (None: the built-in rule)
    "light_pattern": None,
    "celebvhq_info": "celebvhq_info.json",  # celebvhq: relative to the working directory, then to INPUT
}
DATASETS = ("videos", "deeperforensics", "celebvhq")


@dataclass(frozen=True)
class FfhqOptions:
    faces: FaceBackendConfig
    stabilize: StabilizeOptions
    track: TrackOptions
    gaps: GapOptions
    smooth: SmoothOptions
    warp: WarpOptions
    scene_cuts: SceneCutOptions = SceneCutOptions()

    @classmethod
    def from_dict(cls, options: dict[str, Any], fps: float = 30.0) -> "FfhqOptions":
        opts = dict(FFHQ_DEFAULTS)
        unknown = sorted(set(options) - set(opts))
        if unknown:
            raise ValueError(f"strategies.ffhq: unknown option(s) {', '.join(unknown)}; allowed: {', '.join(sorted(opts))}")
        opts.update(options)
        try:
            faces = FaceBackendConfig(
                detector=str(opts["detector"]), landmarker=str(opts["landmarker"]), device=str(opts["device"]),
                dlib_weights=opts["dlib_weights"], fan_weights=opts["fan_weights"],
                retinaface_weights=opts["retinaface_weights"], detect_max_side=int(opts["detect_max_side"]),
                detect_upsample=int(opts["detect_upsample"]))
            stabilize = StabilizeOptions(num_boxes=int(opts["jitter_runs"]), shift_fraction=float(opts["jitter_shift"]),
                                         seed=int(opts["seed"]), face_px=int(opts["landmark_face_px"]))
            track = TrackOptions(mode="track" if bool(opts["track"]) else "detect",
                                 detect_every=int(opts["detect_every"]))
            gaps = GapOptions(max_gap=int(opts["max_gap"]), min_segment=int(opts["min_segment"]))
            smooth = SmoothOptions(method=str(opts["smooth"]),  # type: ignore[arg-type]
                                   sigma_center=float(opts["smooth_sigma_center"]),
                                   sigma_axes=float(opts["smooth_sigma_axes"]), fps=float(fps) if fps else 30.0,
                                   sigma_roll=float(opts["smooth_sigma_roll"]),
                                   motion_noise_ratio=float(opts["smooth_motion_ratio"]))
            cuts = SceneCutOptions.from_options(opts)
        except (TypeError, ValueError) as e:
            raise ValueError(f"strategies.ffhq: {e}") from e
        return cls(faces, stabilize, track, gaps, smooth, WarpOptions(pad=bool(opts["pad"])), cuts)


@functools.lru_cache(maxsize=4)
def _backends(faces: FaceBackendConfig):
    """Detector and landmarker, built once per process per configuration."""
    detector = build_detector(faces)
    return detector, build_landmarker(faces, detector)


def backends_for(faces: FaceBackendConfig):
    return _backends(faces)


@dataclass
class SavedFrameFields:
    """What a plan sidecar records per frame beyond :class:`FramePlan` (keyed by source frame)."""

    face_boxes: dict[int, np.ndarray]
    confidence: dict[int, float]


def saved_frame_fields(sidecar: Path | None) -> SavedFrameFields:
    """``face_box_xyxy`` and ``confidence`` per frame from a plan sidecar's raw JSON (empty when unavailable)."""
    empty = SavedFrameFields({}, {})
    if sidecar is None or not Path(sidecar).is_file():
        return empty
    try:
        frames = json.loads(Path(sidecar).read_text()).get("frames", [])
        return SavedFrameFields(
            {int(f["frame_index"]): np.asarray(f["face_box_xyxy"], dtype=np.float64)
             for f in frames if f.get("face_box_xyxy") is not None},
            {int(f["frame_index"]): float(f["confidence"]) for f in frames if f.get("confidence") is not None})
    except (OSError, ValueError, KeyError, TypeError):
        return empty


def observations_from_plan(plan: CropPlan, saved: SavedFrameFields | None = None) -> list[FaceObservation]:
    """Per-frame observations recovered from a saved plan (interpolated frames count as missing).

    Frames whose estimate failed a check (``stats["failed_check_frames"]``) stay failed, so new gap
    rules never interpolate across them. A plan written before confidences were recorded reads
    as confidence 1. Indices are relative to the plan's span (``stats["span_start"]``, 0 for whole
    videos).
    """
    offset = int(plan.stats.get("span_start", 0))
    n = int(plan.stats.get("frames", 0)) or (max((f.frame_index - offset for f in plan.frames), default=-1) + 1)
    saved = saved or SavedFrameFields({}, {})
    failed = {int(i) - offset for i in plan.stats.get("failed_check_frames", [])}
    obs = [FaceObservation(i, "none", reason="a face estimate failed a check" if i in failed else
                           "no face in the saved plan", check_failed=i in failed) for i in range(n)]
    for f in plan.frames:
        i = f.frame_index - offset
        if f.landmarks is None or f.source == "interpolated" or not 0 <= i < n:
            continue
        obs[i] = FaceObservation(i, "tracked", saved.face_boxes.get(f.frame_index), f.landmarks,
                                 confidence=saved.confidence.get(f.frame_index, 1.0))
    return obs


def build_plan(video_id: str, observations: list[FaceObservation], options: FfhqOptions,
               source_size: tuple[int, int] | None, track_stats: dict[str, Any] | None = None,
               reused: bool = False, cuts: list[int] | None = None) -> CropPlan:
    """Gaps -> segments (split at scene ``cuts``) -> quads (-> smoothing) -> :class:`CropPlan`."""
    cuts = sorted(cuts or [])
    timeline = fill_gaps(observations, options.gaps, cuts)
    quads: dict[int, np.ndarray] = {}
    for i, lm in enumerate(timeline.landmarks):
        if lm is not None:
            quads[i] = ffhq_quad(lm)
    for start, stop in timeline.segments:
        run = np.stack([quads[i] for i in range(start, stop)])
        for i, q in zip(range(start, stop), smooth_quads(run, options.smooth)):
            quads[i] = q
    frames = []
    for i, lm in enumerate(timeline.landmarks):
        if lm is None:
            continue
        source = timeline.sources[i]
        frames.append(FfhqFramePlan(i, "reused" if reused and source != "interpolated" else source,  # type: ignore[arg-type]
                                    quad=quads[i], landmarks=lm, face_box_xyxy=observations[i].box_xyxy
                                    if source != "interpolated" else None, confidence=timeline.confidence[i]))
    if len(timeline.segments) == 1:
        segments = [Segment(video_id, *timeline.segments[0])]
    else:
        segments = [Segment(f"{video_id}_s{k}", a, b) for k, (a, b) in enumerate(timeline.segments)]
    stats: dict[str, Any] = dict(timeline.counts)
    stats["lost_face"] = sum(1 for d in timeline.dropped if d["reason"].startswith("no face"))
    stats["dropped"] = timeline.dropped
    stats["failed_check_frames"] = [i for i, o in enumerate(observations) if o.check_failed]
    stats["scene_cuts"] = cuts
    kept = [timeline.confidence[i] for a, b in timeline.segments for i in range(a, b)]
    stats["confidence_min"] = round(float(min(kept)), 4) if kept else None
    if not segments:
        stats["reason"] = ("no face found in any frame" if timeline.counts["no_face"] == len(observations)
                           else f"no face run reaches min_segment={options.gaps.min_segment} frames")
    if track_stats:
        stats.update(track_stats)
    stats["reused_plan"] = reused
    params = {
        "faces": dataclasses.asdict(options.faces), "stabilize": dataclasses.asdict(options.stabilize),
        "track": dataclasses.asdict(options.track), "gaps": dataclasses.asdict(options.gaps),
        "smooth": dataclasses.asdict(options.smooth), "warp": dataclasses.asdict(options.warp),
    }
    return CropPlan(video_id, STRATEGY_NAME, frames, segments, params, stats, source_size)


def plan_frames(video_id: str, frames: Iterable[np.ndarray], options: FfhqOptions,
                source_size: tuple[int, int] | None = None) -> CropPlan:
    """Plan a video from its frames (streamed once)."""
    detector, landmarker = backends_for(options.faces)
    tracker = FaceTracker(detector, landmarker, options.stabilize, options.track)
    cut_detector = SceneCutDetector(options.scene_cuts, options.smooth.fps) if options.scene_cuts.enabled else None
    size_seen: list[tuple[int, int]] = []

    def watched(it: Iterable[np.ndarray]):
        """The frames, with the size remembered and the tracker restarted at each scene cut."""
        for index, frame in enumerate(it):
            if not size_seen:
                size_seen.append((int(frame.shape[1]), int(frame.shape[0])))
            if cut_detector is not None and cut_detector.is_cut(index, frame):
                tracker.restart()
            yield frame

    observations = tracker.run(watched(frames))
    stats = dataclasses.asdict(tracker.stats)
    return build_plan(video_id, observations, options, source_size or (size_seen[0] if size_seen else None), stats,
                      cuts=cut_detector.cuts if cut_detector is not None else [])


def shift_plan(plan: CropPlan, offset: int) -> CropPlan:
    """The plan of a span starting at source frame ``offset`` in source frame numbers."""
    if offset == 0:
        return plan
    for f in plan.frames:
        f.frame_index += offset
    plan.segments = [Segment(s.out_id, s.start + offset, s.stop + offset) for s in plan.segments]
    for d in plan.stats.get("dropped", []):
        d["start"] += offset
        d["stop"] += offset
    plan.stats["failed_check_frames"] = [i + offset for i in plan.stats.get("failed_check_frames", [])]
    plan.stats["scene_cuts"] = [i + offset for i in plan.stats.get("scene_cuts", [])]
    plan.stats["span_start"] = offset
    return plan


def discover_ffhq_tasks(options: dict[str, Any], recipe: Any) -> list:
    dataset = options.get("dataset") or "videos"
    if dataset == "deeperforensics":
        from styleinv_data.sources.deeperforensics import discover_deeperforensics  # noqa: PLC0415

        return discover_deeperforensics(options, recipe)
    if dataset == "celebvhq":
        from styleinv_data.sources.celebvhq import discover_celebvhq  # noqa: PLC0415

        return discover_celebvhq(options, recipe)
    if dataset != "videos":
        from styleinv_data.pipeline.recipe import RecipeError  # noqa: PLC0415

        raise RecipeError(f"strategies.ffhq.dataset={dataset!r}: use one of {', '.join(DATASETS)}")
    from styleinv_data.pipeline.tasks import discover_sources  # noqa: PLC0415

    return discover_sources(recipe)


class FfhqStrategy:
    """The ``ffhq`` crop strategy (see the module docstring)."""

    name = STRATEGY_NAME

    def __init__(self, options: dict[str, Any], recipe: Any = None) -> None:
        self.raw_options = dict(options)
        self.options = FfhqOptions.from_dict(self.raw_options)
        try:
            self.decode_ahead_bytes = int(float(self.raw_options.get("decode_ahead_mb", FFHQ_DEFAULTS["decode_ahead_mb"]))
                                          * 2 ** 20)
        except (TypeError, ValueError) as e:
            raise ValueError(f"strategies.ffhq.decode_ahead_mb: {e}") from e
        self._ahead: Any = None  # DecodedAhead of the video being cropped, read again by render

    def _start_decode_ahead(self, video_path: Path, inputs: dict[str, Any]) -> Any:
        """Start decoding the whole video into a scratch file when it is small enough (else None)."""
        from styleinv_data.io.decode_ahead import DecodedAhead, raw_rgb_bytes  # noqa: PLC0415

        info = inputs.get("info")
        if (info is None or getattr(info, "kind", None) != "video" or inputs.get("start_sec") is not None
                or self.decode_ahead_bytes <= 0 or not 0 < raw_rgb_bytes(info) <= self.decode_ahead_bytes):
            return None
        recipe = inputs.get("recipe")
        threads = int(getattr(getattr(recipe, "run", None), "decode_threads", 1) or 1)
        try:
            return DecodedAhead(Path(video_path), info, threads=threads)
        except OSError:
            return None  # no scratch space: stream as usual

    def open_render_frames(self) -> Iterable[np.ndarray] | None:
        """The frames decoded ahead for the plan (no second decode), else None (the runner decodes)."""
        ahead, self._ahead = self._ahead, None
        return ahead.frames() if ahead is not None else None

    def plan(self, video_id: str, video_path: Path, **inputs: Any) -> CropPlan:
        """Plan a video; with ``start_sec``/``end_sec`` inputs (CelebV-HQ clips) only that span."""
        info = inputs.get("info")
        fps = float(getattr(info, "fps", 0.0) or 30.0)
        options = dataclasses.replace(self.options, smooth=dataclasses.replace(self.options.smooth, fps=fps))
        size = (int(info.width), int(info.height)) if info is not None else None
        previous = inputs.get("previous_plan")
        if previous is not None and previous.strategy == STRATEGY_NAME:
            saved = saved_frame_fields(self._sidecar(inputs.get("recipe"), video_id))
            offset = int(previous.stats.get("span_start", 0))
            plan = build_plan(video_id, observations_from_plan(previous, saved), options,
                              size or previous.source_size, reused=True,
                              cuts=[c - offset for c in previous.stats.get("scene_cuts", [])])
            return shift_plan(plan, offset)
        if self._ahead is not None:
            self._ahead.close()
        self._ahead = self._start_decode_ahead(video_path, inputs)
        if self._ahead is not None:
            try:
                backends_for(options.faces)  # load the models while ffmpeg decodes
            except BaseException:
                self._ahead.close()  # stop ffmpeg, remove the scratch file
                raise
            try:
                self._ahead.array()
            except (DecodeError, OSError, ValueError):
                # e.g. the scratch folder filled up: stream instead (a broken video fails there)
                self._ahead.close()
                self._ahead = None
        open_frames = inputs.get("open_frames")
        if self._ahead is not None:
            frames = self._ahead.frames()
        elif open_frames is None:
            from styleinv_data.io.source import iter_source_frames  # noqa: PLC0415

            frames = iter_source_frames(video_path, info=info)
        else:
            frames = open_frames()
        if inputs.get("start_sec") is None:
            return plan_frames(video_id, frames, options, size)  # the scratch file is gone once mapped
        from styleinv_data.sources.celebvhq import span_to_frames  # noqa: PLC0415

        start, stop = span_to_frames(float(inputs["start_sec"]), float(inputs["end_sec"]), fps,
                                     getattr(info, "num_frames", None))
        span = (frame for i, frame in enumerate(frames) if start <= i < stop)
        if start >= stop:
            span = iter(())
        plan = plan_frames(video_id, itertools.islice(span, stop - start), options, size)
        return shift_plan(plan, start)

    @staticmethod
    def _sidecar(recipe: Any, video_id: str) -> Path | None:
        root = getattr(getattr(recipe, "output", None), "root", None)
        if not root:
            return None
        try:
            from styleinv_data.pipeline.status import plan_path  # noqa: PLC0415
        except ImportError:  # pragma: no cover
            return None
        return plan_path(Path(root), video_id)

    def render(self, frame_rgb: np.ndarray, frame_plan: FramePlan, size: int) -> np.ndarray:
        if frame_plan.quad is None:
            raise ValueError(f"frame {frame_plan.frame_index}: the ffhq strategy needs a quad in the plan")
        return render_quad(frame_rgb, frame_plan.quad, size, self.options.warp)


def make_ffhq_strategy(options: dict[str, Any], recipe: Any) -> FfhqStrategy:
    return FfhqStrategy(options, recipe)


def register() -> None:
    """Register ``ffhq`` with the crop pipeline (at import: the registry lists this module in
    ``BUILTIN_STRATEGY_MODULES``)."""
    import click  # noqa: PLC0415

    from styleinv_data.pipeline.strategies import StrategyFlag, register_strategy  # noqa: PLC0415

    register_strategy(
        STRATEGY_NAME,
        factory=make_ffhq_strategy,
        defaults=FFHQ_DEFAULTS,
        flags=[
            StrategyFlag("--detector", "detector", "ffhq: face detector", type=click.Choice(["dlib", "retinaface"])),
            StrategyFlag("--landmarker", "landmarker", "ffhq: landmarker",
                         type=click.Choice(["dlib", "fan", "retinaface"])),
            StrategyFlag("--jitter-runs", "jitter_runs", "ffhq: landmark runs on jittered boxes, averaged (N)", type=int),
            StrategyFlag("--jitter-shift", "jitter_shift", "ffhq: largest box shift, fraction of the box", type=float),
            StrategyFlag("--jitter-seed", "seed", "ffhq: seed of the box jitter", type=int),
            StrategyFlag("--smooth", "smooth", "ffhq: temporal smoothing of the quad",
                         type=click.Choice(list(SMOOTH_METHODS))),
            StrategyFlag("--detect-every", "detect_every", "ffhq: verify the face track every K frames", type=int),
            StrategyFlag("--dlib-weights", "dlib_weights", "ffhq: dlib 68-point shape predictor file"),
            StrategyFlag("--fan-weights", "fan_weights", "ffhq: FAN 2DFAN4 weights file"),
            StrategyFlag("--retinaface-weights", "retinaface_weights", "ffhq: RetinaFace ResNet-50 weights file"),
            StrategyFlag("--face-device", "device", "ffhq: torch device for fan/retinaface"),
            StrategyFlag("--celebvhq-info", "celebvhq_info", "ffhq: CelebV-HQ celebvhq_info.json (dataset celebvhq)"),
            StrategyFlag("--scene-cuts", "scene_cuts", "Split at shot changes (PySceneDetect; ffhq: the tracker "
                         "restarts at each): on by default for ffhq, off for mask.", is_flag=True),
        ],
        discover=discover_ffhq_tasks,
        description="FFHQ alignment from landmarks, stabilised by jittered-box averaging and face tracking",
    )


register()
