"""Crop recipes: YAML -> validated dataclasses, with ``--set key=value`` and CLI-flag overrides.

Precedence (lowest first): dataclass defaults < recipe YAML < ``--set`` overrides < explicit flags.
Strategy-specific options live in ``strategies.<name>`` (a plain mapping, validated by the
strategy's registered defaults; see :mod:`styleinv_data.pipeline.strategies`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

LAYOUTS = ("frames", "zip", "mp4")
IMAGE_FORMATS = ("jpg", "png")
BOX_MODES = ("per-frame", "video-union", "smoothed")
PAD_MODES = ("edge", "constant")
BACKENDS = ("loky", "threading", "sequential", "dask", "ray")


class RecipeError(ValueError):
    """A recipe value is invalid; the message names the key (and the file) and what is allowed."""


@dataclass
class InputConfig:
    root: str | None = None  # dataset root; the CLI's INPUT argument
    video_dir: str = "."  # where the source videos / frame folders are, relative to root
    extensions: list[str] = field(default_factory=lambda: [".mp4", ".avi", ".mov", ".mkv", ".webm"])
    frame_folders: bool = True  # also take sub-folders of jpg/png frames as videos
    recursive: bool = False


@dataclass
class OutputConfig:
    root: str | None = None  # the CLI's OUT argument
    layout: str = "frames"  # frames | zip | mp4
    image_format: str = "jpg"  # jpg | png (frames and zip layouts)
    jpeg_quality: int = 95
    size: int = 256
    mp4_crf: int = 18


@dataclass
class CropConfig:
    """The square-crop options shared by the mask and box strategies."""

    box_mode: str = "per-frame"  # per-frame | video-union | smoothed
    smooth_sigma: float = 3.0  # frames, for box_mode=smoothed
    pad_mode: str = "edge"  # edge | constant
    pad_value: int = 0


@dataclass
class RunConfig:
    jobs: int = 1
    backend: str = "loky"  # loky | threading | sequential | dask
    scheduler: str | None = None  # Dask scheduler address (backend=dask); Ray cluster address (backend=ray; none: local)
    scheduler_timeout_s: float = 10.0  # how long to wait for the Dask scheduler
    decode_threads: int = 1  # ffmpeg decoder threads per video
    writer_thread: bool = True  # encode + write output images in a background thread
    overwrite: bool = False
    reuse_plan: bool = False  # --reuse-plan / --reuse-landmarks: render from OUT/_meta/<id>.plan.json
    limit: int | None = None  # only the first N videos (sorted by id)
    progress: bool = True
    shard: str | None = None  # "I/N": this run crops shard I of N (pipeline/shards.py)


@dataclass
class CropRecipe:
    strategy: str = "mask"
    input: InputConfig = field(default_factory=InputConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    run: RunConfig = field(default_factory=RunConfig)
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugins: list[str] = field(default_factory=list)  # extra modules that register strategies

    def strategy_options(self, name: str | None = None) -> dict[str, Any]:
        return dict(self.strategies.get(name or self.strategy, {}) or {})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def validate(self) -> "CropRecipe":
        _choice("output.layout", self.output.layout, LAYOUTS)
        _choice("output.image_format", self.output.image_format, IMAGE_FORMATS)
        _choice("crop.box_mode", self.crop.box_mode, BOX_MODES)
        _choice("crop.pad_mode", self.crop.pad_mode, PAD_MODES)
        _choice("run.backend", self.run.backend, BACKENDS)
        if not (1 <= self.output.jpeg_quality <= 100):
            raise RecipeError(f"output.jpeg_quality={self.output.jpeg_quality}: use 1..100")
        if self.output.size < 8:
            raise RecipeError(f"output.size={self.output.size}: use at least 8")
        if self.output.layout == "mp4" and self.output.size % 2:
            raise RecipeError(f"output.size={self.output.size}: mp4 (yuv420p) needs an even size")
        if self.run.jobs < 1:
            raise RecipeError(f"run.jobs={self.run.jobs}: use 1 or more")
        if self.run.backend == "dask" and not self.run.scheduler:
            raise RecipeError("run.backend=dask needs run.scheduler (--scheduler ADDRESS of a running Dask scheduler)")
        if not (0 <= self.crop.pad_value <= 255):
            raise RecipeError(f"crop.pad_value={self.crop.pad_value}: use 0..255")
        from styleinv_data.pipeline.shards import parse_shard  # noqa: PLC0415

        parse_shard(self.run.shard)
        return self


def _choice(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise RecipeError(f"{key}={value!r}: use one of {', '.join(allowed)}")


_SECTIONS = {"input": InputConfig, "output": OutputConfig, "crop": CropConfig, "run": RunConfig}


def recipe_from_dict(data: Mapping[str, Any], origin: str = "recipe") -> CropRecipe:
    """Build a recipe from a nested mapping; unknown keys are an error naming ``origin``."""
    data = dict(data or {})
    known_top = {"strategy", "strategies", "plugins", *_SECTIONS}
    unknown = sorted(set(data) - known_top)
    if unknown:
        raise RecipeError(f"{origin}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known_top))}")
    kwargs: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = data.get(name) or {}
        if not isinstance(section, Mapping):
            raise RecipeError(f"{origin}: `{name}` must be a mapping")
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(section) - names)
        if bad:
            raise RecipeError(f"{origin}: unknown key(s) {', '.join(f'{name}.{b}' for b in bad)}; allowed: {', '.join(sorted(names))}")
        kwargs[name] = cls(**section)
    strategies = data.get("strategies") or {}
    if not isinstance(strategies, Mapping) or not all(isinstance(v, Mapping) or v is None for v in strategies.values()):
        raise RecipeError(f"{origin}: `strategies` must map strategy names to option mappings")
    kwargs["strategies"] = {k: dict(v or {}) for k, v in strategies.items()}
    kwargs["plugins"] = list(data.get("plugins") or [])
    if "strategy" in data:
        kwargs["strategy"] = str(data["strategy"])
    return CropRecipe(**kwargs)


def find_recipe_file(name_or_path: str | Path) -> Path:
    """A recipe path, or a bare name looked up as ``pipelines/<name>.yaml`` of this repository."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    repo_pipelines = Path(__file__).resolve().parents[2] / "pipelines"
    for candidate in (repo_pipelines / f"{name_or_path}", repo_pipelines / f"{name_or_path}.yaml"):
        if candidate.is_file():
            return candidate
    raise RecipeError(f"{name_or_path}: recipe not found (give a YAML path or a name under pipelines/)")


def load_recipe_dict(path: str | Path) -> dict[str, Any]:
    path = find_recipe_file(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise RecipeError(f"{path}: cannot read recipe YAML ({str(e).splitlines()[0]})") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a YAML mapping")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], YAML-parsed value)."""
    if "=" not in text:
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. crop.box_mode=smoothed")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise RecipeError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def set_nested(data: dict[str, Any], parts: list[str], value: Any) -> None:
    node = data
    for p in parts[:-1]:
        child = node.get(p)
        if not isinstance(child, dict):
            child = {}
            node[p] = child
        node = child
    node[parts[-1]] = value


def build_recipe(
    recipe_path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    flags: Mapping[str, Any] | None = None,
) -> CropRecipe:
    """Defaults < YAML < ``--set`` overrides < flags (``{"output.size": 128, ...}``, None = not given)."""
    data: dict[str, Any] = copy.deepcopy(load_recipe_dict(recipe_path)) if recipe_path else {}
    origin = str(find_recipe_file(recipe_path)) if recipe_path else "recipe"
    for text in overrides:
        parts, value = parse_override(text)
        set_nested(data, parts, value)
    for dotted, value in (flags or {}).items():
        if value is not None:
            set_nested(data, dotted.split("."), value)
    return recipe_from_dict(data, origin=origin).validate()
