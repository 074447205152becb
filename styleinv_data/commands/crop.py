"""``styleinv-data crop``: crop raw videos into square clips (a thin layer over the pipeline runner)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from styleinv_data.pipeline.recipe import BACKENDS, BOX_MODES, IMAGE_FORMATS, LAYOUTS, PAD_MODES, RecipeError, build_recipe
from styleinv_data.pipeline.strategies import all_strategy_specs

# Generic flags -> recipe keys.
_FLAG_KEYS = {
    "strategy": "strategy",
    "video_dir": "input.video_dir",
    "size": "output.size",
    "layout": "output.layout",
    "image_format": "output.image_format",
    "jpeg_quality": "output.jpeg_quality",
    "box_mode": "crop.box_mode",
    "smooth_sigma": "crop.smooth_sigma",
    "pad_mode": "crop.pad_mode",
    "pad_value": "crop.pad_value",
    "jobs": "run.jobs",
    "backend": "run.backend",
    "scheduler": "run.scheduler",
    "decode_threads": "run.decode_threads",
    "limit": "run.limit",
    "shard": "run.shard",
}


def _strategy_flag_targets() -> tuple[list[click.Option], dict[str, list[str]]]:
    """click options for every registered strategy flag, and param name -> recipe keys."""
    options: dict[str, click.Option] = {}
    targets: dict[str, list[str]] = {}
    for spec in all_strategy_specs():
        for flag in spec.flags:
            param = flag.flag.lstrip("-").replace("-", "_")
            if param in _FLAG_KEYS:
                continue
            if param not in options:
                decls = [f"{flag.flag}/--no-{flag.flag.lstrip('-')}"] if flag.is_flag else [flag.flag]
                kwargs: dict[str, Any] = {"default": None, "help": flag.help}
                if not flag.is_flag:
                    kwargs["type"] = flag.type
                options[param] = click.Option(decls, **kwargs)
            targets.setdefault(param, []).append(f"strategies.{spec.name}.{flag.key}")
    return list(options.values()), targets


_STRATEGY_OPTIONS, _STRATEGY_TARGETS = _strategy_flag_targets()


def _crop(input_root: Path | None, out_root: Path | None, recipe_path: str | None, overrides: tuple[str, ...],
          overwrite: bool, reuse_plan: bool, no_progress: bool, summary_only: bool = False, **flags: Any) -> None:
    from styleinv_data.pipeline.runner import run_batch, summarize_batch

    recipe_flags: dict[str, Any] = {}
    for param, value in flags.items():
        if value is None:
            continue
        if param in _FLAG_KEYS:
            recipe_flags[_FLAG_KEYS[param]] = value
        for key in _STRATEGY_TARGETS.get(param, []):
            recipe_flags[key] = value
    if input_root is not None:
        recipe_flags["input.root"] = str(input_root)
    if out_root is not None:
        recipe_flags["output.root"] = str(out_root)
    if overwrite:
        recipe_flags["run.overwrite"] = True
    if reuse_plan:
        recipe_flags["run.reuse_plan"] = True
    if no_progress:
        recipe_flags["run.progress"] = False
    try:
        recipe = build_recipe(recipe_path, overrides, recipe_flags)
        if summary_only and recipe.run.shard:
            raise RecipeError("--summary reports the whole batch: give it without --shard")
        batch = summarize_batch if summary_only else run_batch
        summary = batch(recipe, echo=lambda line: click.echo(line, err=line.startswith("failed")))
    except RecipeError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    sys.exit(0 if summary.ok else 1)


@click.command(name="crop", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.argument("input_root", required=False, type=click.Path(path_type=Path))
@click.argument("out_root", required=False, type=click.Path(path_type=Path))
@click.option("--recipe", "recipe_path", default=None, help="Recipe YAML (path, or a name under pipelines/, e.g. faceforensics).")
@click.option("--strategy", default=None, help="Crop strategy (mask, box, ... as registered).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override any recipe value, e.g. --set crop.smooth_sigma=2 (repeatable).")
@click.option("--video-dir", default=None, help="Source videos / frame folders, relative to INPUT (default: .).")
@click.option("--size", type=int, default=None, help="Output side in pixels (default 256).")
@click.option("--layout", type=click.Choice(LAYOUTS), default=None, help="frames: OUT/<id>/<n>.jpg; zip: OUT/frames.zip; mp4: OUT/<id>.mp4.")
@click.option("--image-format", type=click.Choice(IMAGE_FORMATS), default=None, help="Frame format for frames/zip layouts (default jpg).")
@click.option("--jpeg-quality", type=int, default=None, help="JPEG quality (default 95).")
@click.option("--box-mode", type=click.Choice(BOX_MODES), default=None, help="per-frame (paper), video-union, smoothed (temporal smoothing).")
@click.option("--smooth-sigma", type=float, default=None, help="Gaussian sigma in frames for --box-mode smoothed (default 3).")
@click.option("--pad-mode", type=click.Choice(PAD_MODES), default=None, help="How a square leaving the image is padded (default edge).")
@click.option("--pad-value", type=int, default=None, help="Fill value for --pad-mode constant.")
@click.option("--jobs", "-j", type=int, default=None, help="Videos processed in parallel (default 1).")
@click.option("--backend", type=click.Choice(BACKENDS), default=None, help="joblib backend; dask runs on --scheduler.")
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://host:8786) for --backend dask.")
@click.option("--decode-threads", type=int, default=None, help="ffmpeg decoder threads per video (default 1).")
@click.option("--limit", type=int, default=None, help="Only the first N videos (sorted by id).")
@click.option("--shard", default=None, metavar="I/N",
              help="Crop only shard I (0..N-1) of N disjoint parts of the batch (SLURM arrays); shards share OUT.")
@click.option("--summary", "summary_only", is_flag=True,
              help="Crop nothing: report the whole batch from its status files (after --shard runs) and assemble frames.zip.")
@click.option("--overwrite", is_flag=True, help="Redo videos that are already done.")
@click.option("--reuse-plan", "--reuse-landmarks", "reuse_plan", is_flag=True, help="Render from the saved plan sidecar OUT/_meta/<id>.plan.json when present.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def crop(**kwargs: Any) -> None:
    """Crop every video under INPUT into square clips in OUT.

    \b
    Examples:
      styleinv-data crop data/ffs out/ffs --recipe faceforensics
      styleinv-data crop data/taichi out/taichi --recipe taichi --metadata taichi-metadata.csv
      styleinv-data crop data/ffs out/ffs --strategy mask --box-mode smoothed --jobs 4
      styleinv-data crop data/ffs out/ffs --recipe faceforensics --shard $SLURM_ARRAY_TASK_ID/8
      styleinv-data crop data/ffs out/ffs --recipe faceforensics --summary
    Re-running skips finished videos; the exit code is 1 if any video failed.
    """
    _crop(**kwargs)


for _option in _STRATEGY_OPTIONS:
    crop.params.append(_option)
