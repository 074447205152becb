"""CelebV-HQ clips: cut by the time spans of ``celebvhq_info.json``, then FFHQ-aligned.

``celebvhq_info.json`` maps clip ids to ``{"ytb_id", "duration": {"start_sec", "end_sec"},
"bbox": {...}, "attributes": {...}}`` under a ``"clips"`` key. Each clip becomes one task whose
source is the downloaded YouTube video ``<input>/<video_dir>/<ytb_id>.<ext>`` and whose output id is
the clip id; the ffhq strategy plans only the frames inside the clip's span.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.tasks import VideoTask, input_video_dir


@dataclass(frozen=True)
class CelebvClip:
    clip_id: str
    ytb_id: str
    start_sec: float
    end_sec: float


def load_celebvhq_info(path: Path) -> list[CelebvClip]:
    """The clips of a ``celebvhq_info.json`` file (one-line errors naming the file and the clip)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise RecipeError(f"{path}: cannot read CelebV-HQ info ({e.strerror}); pass --celebvhq-info PATH") from e
    except ValueError as e:
        raise RecipeError(f"{path}: not JSON ({e}); use the celebvhq_info.json of the CelebV-HQ release") from e
    clips = data.get("clips") if isinstance(data, dict) else None
    if not isinstance(clips, dict):
        raise RecipeError(f"{path}: no \"clips\" mapping; use the celebvhq_info.json of the CelebV-HQ release")
    out = []
    for clip_id, info in sorted(clips.items()):
        try:
            start = float(info["duration"]["start_sec"])
            end = float(info["duration"]["end_sec"])
            ytb = str(info["ytb_id"])
        except (KeyError, TypeError, ValueError) as e:
            raise RecipeError(f"{path}: clip {clip_id!r} lacks ytb_id / duration.start_sec / duration.end_sec") from e
        if not (math.isfinite(start) and math.isfinite(end)) or end <= start or start < 0:
            raise RecipeError(f"{path}: clip {clip_id!r} has an empty or negative time span [{start}, {end})")
        out.append(CelebvClip(clip_id, ytb, start, end))
    return out


def span_to_frames(start_sec: float, end_sec: float, fps: float, num_frames: int | None) -> tuple[int, int]:
    """Half-open frame range of a time span (frame k shows time k / fps)."""
    if fps <= 0:
        raise ValueError(f"cannot cut by time: the video reports fps={fps}")
    start = max(0, int(math.ceil(start_sec * fps - 1e-6)))
    stop = int(math.ceil(end_sec * fps - 1e-6))
    if num_frames:
        stop = min(stop, int(num_frames))
    return start, max(start, stop)


def _info_path(options: dict[str, Any], recipe: CropRecipe) -> Path:
    name = options.get("celebvhq_info") or "celebvhq_info.json"
    path = Path(name)
    if not path.is_file() and recipe.input.root and (Path(recipe.input.root) / path).is_file():
        path = Path(recipe.input.root) / path
    return path


def discover_celebvhq(options: dict[str, Any], recipe: CropRecipe) -> list[VideoTask]:
    clips = load_celebvhq_info(_info_path(options, recipe))
    video_dir = input_video_dir(recipe)
    exts = recipe.input.extensions
    tasks = []
    for clip in clips:
        source = next((video_dir / f"{clip.ytb_id}{e}" for e in exts if (video_dir / f"{clip.ytb_id}{e}").is_file()), None)
        if source is None:
            # Kept as a task: the runner records it as failed with the missing file named.
            source = video_dir / f"{clip.ytb_id}{exts[0] if exts else '.mp4'}"
        tasks.append(VideoTask(clip.clip_id, source, {"start_sec": clip.start_sec, "end_sec": clip.end_sec}))
    return tasks
