"""Reads the crop step's sidecars under ``ROOT/_meta/`` (status, plan, recipe).

``<video_id>.status.json`` lists the clips (``outputs``) a source video produced, with their
frame counts and source spans; ``<video_id>.plan.json`` holds the per-frame plan whose
``source`` field tells detected / tracked / interpolated frames apart.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from styleinv_data.manifest.schema import ManifestError
from styleinv_data.manifest.storage import META_DIR


@dataclass
class ClipMeta:
    """What the crop step recorded about one output clip."""

    out_id: str
    video_id: str
    frames: int | None
    source: str | None
    source_start: int | None
    source_stop: int | None
    fps: float | None
    strategy: str | None
    counts: dict[str, Any]
    frame_sources: dict[str, int]
    quality: dict[str, Any] | None = None


@dataclass
class CropMeta:
    clips: dict[str, ClipMeta] = field(default_factory=dict)  # out_id -> meta
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video_id, reason)
    status_files: int = 0  # > 0: the root is crop output, and its clip list is the done outputs
    strategy: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] | None = None

    def header_crop(self) -> dict[str, Any] | None:
        if not self.clips and self.recipe is None:
            return None
        return {"strategy": self.strategy, "params": self.params, "recipe": self.recipe}


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ManifestError(f"{path}: corrupt crop sidecar ({e.msg} at line {e.lineno}); re-run the crop of this video") from e
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: crop sidecar is not a JSON object; re-run the crop of this video")
    return data


def _frame_sources(plan: dict[str, Any] | None, start: int | None, stop: int | None) -> dict[str, int]:
    if plan is None:
        return {}
    counts: Counter[str] = Counter()
    for frame in plan.get("frames") or []:
        idx = int(frame.get("frame_index", -1))
        if (start is None or idx >= start) and (stop is None or idx < stop):
            counts[str(frame.get("source"))] += 1
    return dict(sorted(counts.items()))


def _clip_quality(output: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any] | None:
    """A clip's quality scores plus its video's dropped fraction, segments and scene cuts (None
    for a crop made before the scores were recorded)."""
    scores = output.get("quality")
    if not isinstance(scores, dict):
        return None
    frames_in = counts.get("frames_in")
    quality = dict(scores)
    if frames_in:
        quality["dropped_fraction"] = round(1.0 - float(counts.get("frames_out", 0)) / float(frames_in), 4)
    quality["segments"] = int(counts.get("segments", 1) or 0)
    quality["cuts"] = int(counts.get("cuts", 0) or 0)
    return quality


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


def read_crop_meta(root: Path) -> CropMeta:
    """Everything under ``ROOT/_meta``; an empty :class:`CropMeta` when there is no such folder."""
    meta_dir = Path(root) / META_DIR
    meta = CropMeta()
    if not meta_dir.is_dir():
        return meta
    recipe_path = meta_dir / "recipe.yaml"
    if recipe_path.is_file():
        try:
            recipe = yaml.safe_load(recipe_path.read_text())
        except yaml.YAMLError as e:
            raise ManifestError(f"{recipe_path}: corrupt recipe ({e}); re-run the crop") from e
        meta.recipe = recipe if isinstance(recipe, dict) else None
    for status_path in sorted(meta_dir.glob("*.status.json")):
        meta.status_files += 1
        status = _load_json(status_path)
        video_id = str(status.get("video_id") or status_path.name[: -len(".status.json")])
        if status.get("state") != "done":
            meta.failed.append((video_id, str(status.get("reason") or status.get("state") or "unknown")))
            continue
        plan_path = meta_dir / f"{video_id}.plan.json"
        plan = _load_json(plan_path) if plan_path.is_file() else None
        meta.strategy = meta.strategy or status.get("strategy")
        if not meta.params and isinstance(status.get("params"), dict):
            meta.params = status["params"]
        fps = status.get("fps")
        for out in status.get("outputs") or []:
            out_id = str(out["out_id"])
            if out_id in meta.clips:
                raise ManifestError(
                    f"{status_path}: output {out_id!r} is also claimed by video {meta.clips[out_id].video_id!r}"
                )
            start, stop = _opt_int(out.get("source_start")), _opt_int(out.get("source_stop"))
            meta.clips[out_id] = ClipMeta(
                out_id=out_id,
                video_id=video_id,
                frames=_opt_int(out.get("frames")),
                source=status.get("source"),
                source_start=start,
                source_stop=stop,
                fps=float(fps) if fps else None,
                strategy=status.get("strategy"),
                counts=dict(status.get("counts") or {}),
                frame_sources=_frame_sources(plan, start, stop),
                quality=_clip_quality(out, status.get("counts") or {}),
            )
    return meta
