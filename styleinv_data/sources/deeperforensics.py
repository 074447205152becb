"""DeeperForensics-1.0 source selection: only the front camera under uniform lighting.

The paper uses the front-camera, uniform-light recordings. The release encodes camera and
lighting in its folder and file names; the rule below reads them from the path relative to the
input folder (all folder names and the file stem), case-insensitively, with ``_``, ``-``, ``.``,
spaces and ``/`` as separators, so ``.../light_uniform/.../camera_front/x.mp4``,
``W101_light_uniform_camera_front.mp4`` and ``front-camera/uniform-light/x.mp4`` all match.
Both patterns are recipe options (regular expressions) in case a copy names them differently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from styleinv_data.pipeline.recipe import CropRecipe, RecipeError
from styleinv_data.pipeline.tasks import VideoTask, input_video_dir

_SEP = r"[\s/_\-.]"
DEFAULT_CAMERA_PATTERN = rf"(?:^|{_SEP})(?:camera{_SEP}?front|front{_SEP}?camera|cam{_SEP}?front)(?:$|{_SEP})"
DEFAULT_LIGHT_PATTERN = rf"(?:^|{_SEP})(?:light(?:ing)?{_SEP}?uniform|uniform{_SEP}?light(?:ing)?)(?:$|{_SEP})"


def selection_key(relative_path: Path) -> str:
    """The text the patterns see: the relative path without the extension, lower case."""
    return relative_path.with_suffix("").as_posix().lower()


def is_selected(relative_path: Path, camera_pattern: str = DEFAULT_CAMERA_PATTERN,
                light_pattern: str = DEFAULT_LIGHT_PATTERN) -> bool:
    key = selection_key(relative_path)
    return re.search(camera_pattern, key) is not None and re.search(light_pattern, key) is not None


def video_id_for(relative_path: Path) -> str:
    """A unique id from the relative path (folders joined with ``__``), stable across runs."""
    parts = list(relative_path.with_suffix("").parts)
    return "__".join(parts)


def discover_deeperforensics(options: dict[str, Any], recipe: CropRecipe) -> list[VideoTask]:
    """Every front-camera, uniform-light video under the input's video folder (searched recursively)."""
    video_dir = input_video_dir(recipe)
    camera = options.get("camera_pattern") or DEFAULT_CAMERA_PATTERN
    light = options.get("light_pattern") or DEFAULT_LIGHT_PATTERN
    for name, pattern in (("camera_pattern", camera), ("light_pattern", light)):
        try:
            re.compile(pattern)
        except re.error as e:
            raise RecipeError(f"strategies.ffhq.{name}={pattern!r}: not a regular expression ({e})") from e
    exts = {e.lower() if e.startswith(".") else "." + e.lower() for e in recipe.input.extensions}
    tasks: list[VideoTask] = []
    seen = 0
    for path in sorted(video_dir.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in exts or path.name.startswith((".", "_")):
            continue
        seen += 1
        rel = path.relative_to(video_dir)
        if is_selected(rel, camera, light):
            tasks.append(VideoTask(video_id_for(rel), path))
    if seen and not tasks:
        raise RecipeError(f"{video_dir}: none of {seen} videos is front camera + uniform light by its name; "
                          "check strategies.ffhq.camera_pattern / light_pattern")
    return tasks
