"""Rendering one video's plan: decode (streaming), render each planned frame, write its segment's clip."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterable, Iterator

from styleinv_data.crop.plan import CropPlan, FramePlan
from styleinv_data.io.writers import ClipSink
from styleinv_data.pipeline.outputs import open_sink
from styleinv_data.pipeline.recipe import CropRecipe
from styleinv_data.quality import ClipProbe

_MORE_FRAMES = (
    "the video decodes to more frames than the {n} its header declares; no frame may be dropped: "
    "re-mux it (ffmpeg -i IN -c copy OUT.mp4) and re-run"
)


def render_segments(
    strategy: Any, plan: CropPlan, recipe: CropRecipe, out_root: Path, frames: Iterable, fps: float | None,
    num_frames: int,
) -> tuple[list[dict[str, Any]], int]:
    """Decode once, render every planned frame into its segment's sink, commit all sinks."""
    size = recipe.output.size
    by_index: dict[int, FramePlan] = {f.frame_index: f for f in plan.frames}
    segments = sorted(plan.segments, key=lambda s: s.start)
    for a, b in zip(segments, segments[1:]):
        if b.start < a.stop:
            raise ValueError(f"plan segments {a.out_id} and {b.out_id} overlap")
    for seg in segments:
        missing = [i for i in range(seg.start, seg.stop) if i not in by_index]
        if missing:
            raise ValueError(f"segment {seg.out_id} has {len(missing)} frames without a plan (first: {missing[0]})")
    sinks: list[ClipSink] = []
    probes: list[ClipProbe] = []
    decoded = 0
    try:
        seg_iter = iter(segments)
        seg = next(seg_iter, None)
        sink: ClipSink | None = None
        last_needed = segments[-1].stop if segments else 0
        for index, frame in enumerate(frames):
            decoded = index + 1
            while seg is not None and index >= seg.stop:
                seg = next(seg_iter, None)
                sink = None
            if seg is None:
                if last_needed >= num_frames:  # the plan covers the whole video, yet a frame is left
                    raise ValueError(_MORE_FRAMES.format(n=num_frames))
                break
            if index < seg.start:
                continue
            if sink is None:
                probe = ClipProbe(seg.stop - seg.start)
                sink = open_sink(recipe, out_root, seg.out_id, fps,
                                 render=lambda f, fp, probe=probe: probe.observe(strategy.render(f, fp, size)))
                sinks.append(sink)
                probes.append(probe)
            sink.write((frame, by_index[index]))
        if hasattr(frames, "close"):
            frames.close()
        if decoded < last_needed:
            raise ValueError(
                f"decoded only {decoded} of the {last_needed} frames the plan needs; the video is truncated or damaged"
            )
        outputs = []
        for seg, sink, probe in zip(segments, sinks, probes):
            written = sink.commit()
            quality = probe.quality([by_index[i] for i in range(seg.start, seg.stop)], size, plan.source_size)
            outputs.append({"out_id": seg.out_id, "frames": written, "source_start": seg.start, "source_stop": seg.stop,
                            "quality": quality})
        return outputs, decoded
    except BaseException:
        for s in sinks:
            with contextlib.suppress(Exception):
                s.abort()
        raise


def render_streamed(
    strategy: Any, frame_plans: Iterator[FramePlan], num_frames: int, out_id: str, recipe: CropRecipe,
    out_root: Path, frames: Iterator, fps: float | None,
) -> tuple[ClipSink, int, ClipProbe]:
    """Zip the decoded frames with the lazily produced frame plans (one segment = the whole video).
    Returns the uncommitted sink, the number of frames decoded and the written frames' scores."""
    size = recipe.output.size
    frame_plans = iter(frame_plans)
    probe = ClipProbe(num_frames)
    sink = open_sink(recipe, out_root, out_id, fps,
                     render=lambda frame, fp: probe.observe(strategy.render(frame, fp, size)))
    decoded = 0
    try:
        for frame in frames:
            frame_plan = next(frame_plans, None)
            if frame_plan is None:
                raise ValueError(_MORE_FRAMES.format(n=num_frames))
            if frame_plan.frame_index != decoded:
                raise ValueError(f"plan for frame {frame_plan.frame_index} arrived at frame {decoded}")
            decoded += 1
            sink.write((frame, frame_plan))
        if hasattr(frames, "close"):
            frames.close()
        if decoded < num_frames:  # the video ended early (a planner error would have been raised above)
            raise ValueError(
                f"decoded only {decoded} of the {num_frames} frames the plan needs; the video is truncated or damaged"
            )
        for _ in frame_plans:  # let the planner finish (it sets the final CropPlan)
            pass
        return sink, decoded, probe
    except BaseException:
        sink.abort()
        raise
