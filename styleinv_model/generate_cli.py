"""`styleinv-generate`: videos (mp4 per seed + PNG grid) or images from a StyleInV checkpoint.

A thin layer over :mod:`styleinv_model.generate`; every error is one line naming the fix.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import torch

from styleinv_model import __version__


def parse_seeds(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                low, high = part.split("-", 1)
                a, b = int(low), int(high)
                if b < a:
                    raise ValueError
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise click.BadParameter(f"cannot read seeds {text!r}: use e.g. '0-3,7'", param_hint="--seeds") from None
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"need one or more seeds >= 0, got {text!r}", param_hint="--seeds")
    return seeds


def _device(name: str) -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise click.UsageError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return name


def _random_init_model(resolution: int, preset: str):
    from styleinv_model.stylegan2 import build_generator
    from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator

    torch.manual_seed(0)
    image_generator = build_generator(preset, resolution=resolution)
    return StyleInVGenerator(image_generator, StyleInVConfig.faces(resolution)).eval().requires_grad_(False)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="styleinv-generate")
@click.option("--checkpoint", "checkpoint_path", type=click.Path(path_type=Path),
              help="StyleInV checkpoint (.safetensors) from training, or a training run folder (its latest "
                   "checkpoint); image-only mode also takes a StyleGAN2 one.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: seed####.mp4 per video (seed####.png in image-only mode) and grid.png.")
@click.option("--seeds", default="0-3", show_default=True, help="Seeds, one video each: '0-3,7'.")
@click.option("--num-videos", type=click.IntRange(min=1), default=None,
              help="Instead of --seeds: this many videos with seeds seed-start, seed-start+1, ...")
@click.option("--seed-start", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--frames", "num_frames", type=click.IntRange(min=1), default=None,
              help="Frames per output video (default 128 unless --seconds is given).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Video length in seconds at the data frame rate --fps (instead of --frames).")
@click.option("--fps", type=click.FloatRange(min=0, min_open=True), default=30.0, show_default=True,
              help="Frame rate of the training data: one timestamp unit lasts 1/fps seconds.")
@click.option("--start", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="First timestamp (in data frames).")
@click.option("--step", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Timestamp step; 0.5 doubles the frame rate (temporal interpolation).")
@click.option("--out-fps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Frame rate written to the mp4 (default fps / step, so the duration is kept).")
@click.option("--truncation-psi", type=float, default=1.0, show_default=True)
@click.option("--noise-mode", type=click.Choice(["const", "video", "none"]), default="const", show_default=True,
              help="Image-generator noise: G's stored buffers, a fresh per-video buffer, or none; always "
                   "constant over the frames of a video.")
@click.option("--chunk-frames", type=click.IntRange(min=1), default=16, show_default=True,
              help="Frames per video generated per step (memory does not grow with video length).")
@click.option("--videos-per-batch", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--grid-columns", type=click.IntRange(min=0), default=8, show_default=True,
              help="Frames per video in grid.png (0 = no grid).")
@click.option("--format", "output_format", type=click.Choice(["mp4", "frames", "gif"]), default="mp4",
              show_default=True, help="mp4 files, a folder of PNG frames per video, or looping GIFs.")
@click.option("--as-frames", is_flag=True, help="Same as --format frames (StyleGAN-V's generate.py layout).")
@click.option("--grid-row-px", type=click.IntRange(min=0), default=512, show_default=True,
              help="grid.png is upscaled (nearest) until a row of frames is at least this wide; rows are labelled by seed.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--image-only", is_flag=True, help="Only the first frames G(w0), as PNGs.")
@click.option("--generator", "generator_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Another image generator for the StyleInV network (a style-transfer finetune: styleinv-train "
                   "finetune); its G_ema is used.")
@click.option("--random-init", is_flag=True,
              help="SMOKE TEST ONLY: untrained random networks instead of a checkpoint (outputs are noise).")
@click.option("--resolution", type=int, default=256, show_default=True, help="With --random-init only.")
@click.option("--preset", default="paper256", show_default=True, help="With --random-init only: StyleGAN2 preset.")
def main(checkpoint_path: Path | None, out_dir: Path, seeds: str, num_videos: int | None, seed_start: int,
         num_frames: int | None, seconds: float | None, fps: float, start: float, step: float,
         out_fps: float | None, truncation_psi: float, noise_mode: str, chunk_frames: int, videos_per_batch: int,
         grid_columns: int, output_format: str, as_frames: bool, grid_row_px: int, device: str, image_only: bool,
         generator_path: Path | None, random_init: bool, resolution: int, preset: str) -> None:
    """Generate StyleInV videos of any length (any timestamps: --start/--step) or images."""
    from styleinv_model.generate import Timeline, VideoGenerationConfig, generate_images, generate_videos
    from styleinv_model.styleinv.checkpoint import load_image_generator, load_styleinv

    seed_list = list(range(seed_start, seed_start + num_videos)) if num_videos else parse_seeds(seeds)
    if as_frames:
        if output_format not in ("mp4", "frames"):
            raise click.UsageError(f"--as-frames and --format {output_format} exclude each other")
        output_format = "frames"
    if num_frames is not None and seconds is not None:
        raise click.UsageError("give either --frames or --seconds, not both")
    if checkpoint_path is None and not random_init:
        raise click.UsageError(
            "no trained checkpoint given: pass --checkpoint RUN/styleinv.safetensors (from StyleInV training), "
            "or --random-init for an untrained smoke test"
        )
    if checkpoint_path is not None and random_init:
        raise click.UsageError("--checkpoint and --random-init exclude each other")
    run_device = _device(device)
    try:
        if checkpoint_path is not None and checkpoint_path.is_dir():
            from styleinv_model.train.state import checkpoint_file

            checkpoint_path = checkpoint_file(checkpoint_path)
            click.echo(f"loading {checkpoint_path} (the run folder's latest checkpoint)", err=True)
        if random_init:
            click.echo("WARNING: --random-init: untrained random weights, the output is noise (smoke test only)",
                       err=True)
            model = _random_init_model(resolution, preset)
        elif image_only:
            model = load_image_generator(checkpoint_path, run_device)
        else:
            model = load_styleinv(checkpoint_path, run_device)
        if generator_path is not None:
            from styleinv_model.styleinv.checkpoint import replace_image_generator

            if image_only or random_init:
                raise click.UsageError("--generator pairs an image generator with a trained StyleInV checkpoint")
            model = replace_image_generator(model, load_image_generator(generator_path, run_device))
    except (FileNotFoundError, ValueError, KeyError, TypeError) as error:
        raise click.ClickException(str(error)) from None

    try:
        if image_only:
            result = generate_images(model, seed_list, out_dir, truncation_psi=truncation_psi, noise_mode=noise_mode,
                                     device=run_device)
            click.echo(f"wrote {len(result.videos)} images and {result.grid} in {result.elapsed_s:.1f} s")
            return

        if seconds is not None:
            timeline = Timeline.from_seconds(seconds, fps, start=start, step=step)
        else:
            timeline = Timeline(num_frames or 128, start=start, step=step)
        config = VideoGenerationConfig(
            seeds=seed_list, timestamps=timeline, out_fps=out_fps or fps / step, truncation_psi=truncation_psi,
            noise_mode=noise_mode, chunk_frames=chunk_frames, videos_per_batch=videos_per_batch,
            grid_columns=grid_columns, device=run_device, output_format=output_format, grid_row_px=grid_row_px,
        )
        total = timeline.num_frames
        from styleinv_data.progress import progress_bar

        with progress_bar(total=total * len(seed_list), desc="generate", unit="frame") as bar:
            result = generate_videos(model, config, out_dir, progress=bar.update)
        click.echo(
            f"wrote {len(result.videos)} videos ({output_format}) x {result.frames_per_video} frames (t = {timeline.start:g} .. "
            f"{timeline.last:g}, step {step:g}, {config.out_fps:g} fps) and {result.grid} in {result.elapsed_s:.1f} s"
        )
    except OSError as error:  # an unwritable --out, a full disk
        where = error.filename or out_dir
        raise click.ClickException(f"cannot write {where} ({error.strerror or error}): choose a writable --out "
                                   "(or free space there)") from None


if __name__ == "__main__":  # pragma: no cover
    main()
