"""The crop-plan contract shared by every crop strategy.

Cropping is split in two on purpose:

* *planning* decides, for every frame of a video, where to crop (an axis-aligned square
  ``box_xyxy`` for the mask/box strategies, or an FFHQ ``quad`` for the landmark strategy),
  records how that decision was made (``source``) and keeps the evidence (``landmarks``);
* *rendering* turns a decoded frame and its :class:`FramePlan` into the output image.

A plan is saved next to each output as a JSON sidecar (``<video_id>.plan.json``) so that a
video can be re-rendered (``--reuse-landmarks``) without running masks or detectors again.
Coordinates are float source pixels; boxes are half-open intervals ``[x0, x1) x [y0, y1)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, Sequence

import numpy as np

PLAN_SCHEMA_VERSION = 1

FrameSource = Literal["mask", "metadata", "detected", "tracked", "interpolated", "reused"]


@dataclass
class FramePlan:
    """Where to crop one frame.

    Exactly one of ``box_xyxy`` (square crop box) and ``quad`` (4x2 FFHQ quad, corners in the
    FFHQ order ``c-x-y, c-x+y, c+x+y, c+x-y``) is set.
    """

    frame_index: int
    source: FrameSource
    box_xyxy: tuple[float, float, float, float] | None = None
    quad: np.ndarray | None = None  # (4, 2) float64
    landmarks: np.ndarray | None = None  # (68, 2) or (5, 2) float64, averaged when stabilised

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frame_index": int(self.frame_index), "source": self.source}
        if self.box_xyxy is not None:
            out["box_xyxy"] = [float(v) for v in self.box_xyxy]
        if self.quad is not None:
            out["quad"] = np.asarray(self.quad, dtype=np.float64).round(4).tolist()
        if self.landmarks is not None:
            out["landmarks"] = np.asarray(self.landmarks, dtype=np.float64).round(4).tolist()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "FramePlan":
        return cls(
            frame_index=int(d["frame_index"]),
            source=d["source"],
            box_xyxy=tuple(float(v) for v in d["box_xyxy"]) if d.get("box_xyxy") is not None else None,  # type: ignore[arg-type]
            quad=np.asarray(d["quad"], dtype=np.float64) if d.get("quad") is not None else None,
            landmarks=np.asarray(d["landmarks"], dtype=np.float64) if d.get("landmarks") is not None else None,
        )


@dataclass
class Segment:
    """A run of frames ``[start, stop)`` that becomes one output clip (``out_id``).

    The mask and box strategies produce one segment per video (nothing is ever dropped); the
    FFHQ strategy may split a video on long face-less gaps or drop it, with ``reason`` recorded.
    """

    out_id: str
    start: int
    stop: int


@dataclass
class CropPlan:
    video_id: str
    strategy: str
    frames: list[FramePlan]
    segments: list[Segment]
    params: dict[str, Any] = field(default_factory=dict)  # the recipe values that produced it
    stats: dict[str, Any] = field(default_factory=dict)  # e.g. {"interpolated": 3, "lost_face": 0}
    source_size: tuple[int, int] | None = None  # (width, height) of the source frames

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": PLAN_SCHEMA_VERSION,
            "video_id": self.video_id,
            "strategy": self.strategy,
            "source_size": list(self.source_size) if self.source_size else None,
            "params": self.params,
            "stats": self.stats,
            "segments": [{"out_id": s.out_id, "start": s.start, "stop": s.stop} for s in self.segments],
            "frames": [f.to_json() for f in self.frames],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "CropPlan":
        if d.get("schema_version") != PLAN_SCHEMA_VERSION:
            raise ValueError(f"crop plan schema_version {d.get('schema_version')!r} is not {PLAN_SCHEMA_VERSION}")
        return cls(
            video_id=d["video_id"],
            strategy=d["strategy"],
            frames=[FramePlan.from_json(f) for f in d["frames"]],
            segments=[Segment(**s) for s in d["segments"]],
            params=d.get("params", {}),
            stats=d.get("stats", {}),
            source_size=tuple(d["source_size"]) if d.get("source_size") else None,  # type: ignore[arg-type]
        )

    def save(self, path: Path) -> None:
        """Write atomically (temp name, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "CropPlan":
        try:
            return cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{path}: unreadable crop plan ({e}); re-run without --reuse-landmarks") from e


class CropStrategy(Protocol):
    """A crop strategy plans a whole video, then renders frames one at a time (streaming)."""

    name: str

    def plan(self, video_id: str, video_path: Path, **inputs: Any) -> CropPlan:
        """Decide the crop of every frame (may decode the video or its mask itself)."""
        ...

    def render(self, frame_rgb: np.ndarray, frame_plan: FramePlan, size: int) -> np.ndarray:
        """Return the ``size x size`` RGB8 crop of one decoded frame."""
        ...


def frames_in_segments(segments: Sequence[Segment]) -> int:
    return sum(s.stop - s.start for s in segments)
