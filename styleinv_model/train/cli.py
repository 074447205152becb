"""``styleinv-train``: the three training stages and the style-transfer finetune.

    styleinv-train stage1 --config faceforensics --manifest data/ffs/manifest.jsonl
    styleinv-train stage2 --config faceforensics --manifest ... --generator runs/00000-stage1-.../checkpoints/ckpt-....safetensors
    styleinv-train stage3 --config faceforensics --manifest ... --generator G.safetensors --encoder E.safetensors
    styleinv-train finetune --config faceforensics --generator G.safetensors --images stylised/
    torchrun --nproc_per_node 8 -m styleinv_model.train.cli stage1 ...     (data parallel)
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from styleinv_model.train.config import STAGES, ConfigError, TrainConfig, config_from_resolved, load_stage_config

EXIT_CONFIG = 2
EXIT_FAILED = 1


def stage_class(stage: str) -> type:
    if stage == "stage1":
        from styleinv_model.train.stage1 import Stage1

        return Stage1
    if stage == "stage2":
        from styleinv_model.train.stage2 import Stage2

        return Stage2
    if stage == "stage3":
        from styleinv_model.train.stage3 import Stage3

        return Stage3
    from styleinv_model.train.finetune import Finetune

    return Finetune


def flag_overrides(stage: str, outdir: Path | None = None, seed: int | None = None, device: str | None = None,
                   max_steps: int | None = None, generator: Path | None = None, encoder: Path | None = None,
                   images: Path | None = None, manifest: Path | None = None) -> list[str]:
    """The ``--set`` texts that the command-line flags stand for (paths quoted as YAML strings)."""
    def path(value: Path, absolute: bool = False) -> str:
        return json.dumps(str(Path(value).resolve() if absolute else value))

    sets = []
    if outdir is not None:
        sets.append(f"run.outdir={path(outdir)}")
    if seed is not None:
        sets.append(f"run.seed={seed}")
    if device is not None:
        sets.append(f"run.device={json.dumps(device)}")
    if manifest is not None:
        sets.append(f"run.manifest={path(manifest, absolute=True)}")
    if max_steps is not None:
        sets.append(f"{stage}.max_steps={max_steps}")
    if generator is not None:
        key = "init_from" if stage == "stage1" else "generator_checkpoint"
        sets.append(f"{stage}.{key}={path(generator)}")
    if encoder is not None:
        if stage != "stage3":
            raise ConfigError("--encoder is a stage3 option (the stage-2 checkpoint)")
        sets.append(f"stage3.encoder_checkpoint={path(encoder)}")
    if images is not None:
        if stage != "finetune":
            raise ConfigError("--images is a finetune option (the stylised image folder)")
        sets.append(f"finetune.images={path(images)}")
    return sets


def build_config(stage: str, config: str, overrides: tuple[str, ...], outdir: Path | None, seed: int | None,
                 device: str | None, max_steps: int | None, generator: Path | None, encoder: Path | None,
                 images: Path | None, manifest: Path | None = None) -> TrainConfig:
    """The config of a new run: a bundled config (or YAML file), ``--set`` overrides, then the flags."""
    sets = list(overrides) + flag_overrides(stage, outdir, seed, device, max_steps, generator, encoder, images, manifest)
    return load_stage_config(stage, config, sets)


def train(stage: str, config: TrainConfig, manifest: Path | None = None, resume: Path | None = None,
          name: str | None = None, progress: bool = True, exit_when_distributed: bool = False):
    """Run one stage in this process (joining a torchrun process group when there is one).

    `manifest` (when given) is recorded in the config as ``run.manifest``; without it the config's
    is used. With `resume`, `config` must be the run's own (as :func:`resume_config` returns it): a
    change of anything but the safe settings is refused, and each safe change is printed.
    `exit_when_distributed`: under torchrun, end the process once the run finished
    (:func:`shutdown_distributed`; the CLI sets it)."""
    from styleinv_model.train.distributed import init_distributed, shutdown_distributed
    from styleinv_model.train.loop import device_type, resolve_device, run_stage
    from styleinv_model.train.resume import check_resume_config, read_run_config, resume_target

    if manifest is not None:
        config = dataclasses.replace(config, run=dataclasses.replace(config.run, manifest=str(Path(manifest).resolve())))
    notes: list[str] = []
    if resume is not None:
        run_dir, checkpoint = resume_target(resume)
        notes = check_resume_config(config_from_resolved(read_run_config(run_dir, checkpoint)), config)
    info = init_distributed(device_type(config.run.device))
    finished = False
    try:
        if info.is_main:
            for note in notes:
                print(note, file=sys.stderr)
        device = resolve_device(config.run.device, info)
        run_manifest = Path(config.run.manifest) if config.run.manifest else None
        stage_obj = stage_class(stage)(config, run_manifest, info, device)
        result = run_stage(stage_obj, resume=resume, run_name=name, progress=progress)
        finished = True
        return result
    finally:
        shutdown_distributed(finished, exit_process=exit_when_distributed)


def _common(function):
    options = [
        click.option("--config", "config_name", default=None,
                     help="A bundled config (faceforensics, deeperforensics, celebvhq, taichi, skytimelapse, demo) "
                          "or a YAML path [default: demo]. Not with --resume (the run's own config is used)."),
        click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Dataset manifest (styleinv-data manifest); recorded in the run's config, so --resume "
                          "needs it only if the file moved. Not used by finetune."),
        click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="Override a config value, e.g. --set stage1.batch_size=32 (repeatable)."),
        click.option("--resume", type=click.Path(path_type=Path), default=None,
                     help="A run folder (its latest checkpoint) or a checkpoint file to continue exactly, with the "
                          "run's own settings; --set / flags may change only how long it runs, logging, "
                          "checkpoint intervals, the manifest's path, device and threads."),
        click.option("--outdir", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Where run folders go (run.outdir)."),
        click.option("--name", default=None, help="Run name (default: the dataset name)."),
        click.option("--seed", type=int, default=None),
        click.option("--device", default=None, help="auto, cpu, cuda or cuda:N."),
        click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Stop after this many steps."),
        click.option("--generator", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Stage-1 checkpoint or StyleGAN2-ADA .pkl (stage1: start from it)."),
        click.option("--encoder", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="stage3: the stage-2 encoder checkpoint."),
        click.option("--images", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="finetune: folder of stylised aligned images."),
        click.option("--quiet", is_flag=True, help="No progress bar or summary."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Train StyleInV: stage1 (image generator), stage2 (inversion encoder), stage3 (StyleInV), finetune."""


def _make_command(stage: str, help_text: str) -> None:
    @main.command(stage, help=help_text)
    @_common
    def command(config_name, manifest, overrides, resume, outdir, name, seed, device, max_steps, generator, encoder,
                images, quiet) -> None:
        from styleinv_model.safe_pickle import UnsafePickleError
        from styleinv_model.train.loop import NonFiniteLoss
        from styleinv_model.train.resume import resume_config
        from styleinv_model.train.state import CheckpointMismatch

        try:
            if resume is not None:
                if config_name is not None:
                    raise ConfigError(f"--config is not used with --resume: {resume} continues with its own "
                                      "config.yaml (change a safe setting with --set)")
                if name is not None:
                    raise ConfigError("--name names a new run; --resume continues an existing run folder")
                sets = list(overrides) + flag_overrides(stage, outdir, seed, device, max_steps, generator, encoder,
                                                        images, manifest)
                config = resume_config(stage, resume, sets)
            else:
                config = build_config(stage, config_name or "demo", overrides, outdir, seed, device, max_steps,
                                      generator, encoder, images, manifest)
        except ConfigError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_CONFIG)
        except (FileNotFoundError, ValueError) as error:  # --resume of a missing folder, a bad latest.json
            click.echo(f"error: {str(error).splitlines()[0]}", err=True)
            sys.exit(EXIT_CONFIG)
        try:
            train(stage, config, None, resume, name, progress=not quiet, exit_when_distributed=True)
        except NonFiniteLoss as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_FAILED)
        except ConfigError as error:  # e.g. a resume override that would change the run
            click.echo(f"error: {error}", err=True)
            sys.exit(EXIT_CONFIG)
        except (CheckpointMismatch, FileNotFoundError, ValueError, RuntimeError, UnsafePickleError) as error:
            click.echo(f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}", err=True)
            sys.exit(EXIT_FAILED)


for _stage, _help in (
    ("stage1", "Stage 1: StyleGAN2 image generator on all frames (class-aware sampling, ADA, EMA)."),
    ("stage2", "Stage 2: pSp inversion encoder into W (L2, LPIPS and identity losses when their weights exist)."),
    ("stage3", "Stage 3: StyleInV over the frozen image generator (Eq. 6, sparse clips, video discriminator)."),
    ("finetune", "Style transfer: finetune the image generator on stylised images, mapping and layers <= 32 frozen."),
):
    _make_command(_stage, _help)


@main.command("show-config")
@click.option("--config", "config_name", default="demo", show_default=True)
@click.option("--stage", type=click.Choice(STAGES), default="stage1", show_default=True)
@click.option("--set", "overrides", multiple=True)
def show_config(config_name: str, stage: str, overrides: tuple[str, ...]) -> None:
    """Print the resolved, validated config of one stage as YAML."""
    import yaml

    try:
        config = load_stage_config(stage, config_name, list(overrides))
    except ConfigError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(yaml.safe_dump(config.to_dict(), sort_keys=False))


if __name__ == "__main__":
    main()
