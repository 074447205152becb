"""Video tasks: one source video (or frame folder) per task, plus strategy-specific inputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from styleinv_data.io.frames_dir import FRAME_EXTENSIONS
from styleinv_data.pipeline.recipe import CropRecipe, RecipeError


@dataclass
class VideoTask:
    """``video_id`` is the source's stem; ``inputs`` go to ``strategy.plan(**inputs)`` (picklable values)."""

    video_id: str
    source: Path
    inputs: dict[str, Any] = field(default_factory=dict)


def input_video_dir(recipe: CropRecipe) -> Path:
    if not recipe.input.root:
        raise RecipeError("no input root: give INPUT on the command line or input.root in the recipe")
    root = Path(recipe.input.root)
    if not root.is_dir():
        raise RecipeError(f"{root}: input root is not a directory; check the path")
    video_dir = root / recipe.input.video_dir
    if not video_dir.is_dir():
        raise RecipeError(f"{video_dir}: video folder not found (input.video_dir={recipe.input.video_dir!r} under {root})")
    return video_dir


def _is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in FRAME_EXTENSIONS for p in path.iterdir() if p.is_file())


def discover_sources(recipe: CropRecipe) -> list[VideoTask]:
    """Video files (by extension) and, if enabled, frame folders under the input's video folder,
    sorted by id. Duplicate stems (``a.mp4`` and ``a.avi``) are an error naming both."""
    video_dir = input_video_dir(recipe)
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in recipe.input.extensions}
    candidates = video_dir.rglob("*") if recipe.input.recursive else video_dir.iterdir()
    found: dict[str, Path] = {}
    for path in sorted(candidates):
        if path.name.startswith(".") or path.name == "_meta" or "_meta" in path.relative_to(video_dir).parts:
            continue  # hidden files, and a crop output's sidecars when OUT lies inside INPUT
        if path.is_file() and path.suffix.lower() in exts:
            vid = path.stem
        elif recipe.input.frame_folders and _is_frame_folder(path):
            vid = path.name
        else:
            continue
        if vid in found:
            raise RecipeError(f"two sources share the id {vid!r}: {found[vid]} and {path}; rename one")
        found[vid] = path
    return [VideoTask(video_id=v, source=p) for v, p in sorted(found.items())]
