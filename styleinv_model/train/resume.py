"""Resuming a run exactly as it was configured.

A run folder holds its resolved config (``config.yaml``, rewritten when a resume changes a safe
setting); ``--resume RUN`` rebuilds the config from it, never from the bundled file or the CLI's
defaults. A ``--set`` (or a flag such as ``--max-steps``) given with ``--resume`` may change only the
settings that do not alter what the run computes (:data:`SAFE_RUN_KEYS`, :data:`SAFE_STAGE_KEYS`: how
long it runs, how often it logs and checkpoints, where it reads the manifest from, which device and
how many CPU threads);
each such change is printed. Any other change is refused with a one-line error naming the key and
the override, because the continued run would no longer be the run that was started.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from styleinv_model.train.config import ConfigError, TrainConfig, config_from_resolved
from styleinv_model.train.run_dir import CONFIG_NAME
from styleinv_model.train.state import latest_checkpoint

# Settings a resume may change. Device and thread count change float rounding (a CPU run resumed
# on a GPU, or with other threads, continues the same computation to float precision, not bitwise).
SAFE_RUN_KEYS = ("outdir", "manifest", "device", "cpu_threads", "deterministic", "log_every", "checkpoint_every",
                 "snapshot_every", "metrics_every", "metrics_num_samples", "keep_checkpoints", "loader_threads",
                 "tensorboard")
SAFE_STAGE_KEYS = ("max_steps", "total_kimg")
ROUNDING_KEYS = ("run.device", "run.cpu_threads", "run.deterministic")


def safe_key(stage: str, key: str) -> bool:
    section, _, name = key.partition(".")
    return (section == "run" and name in SAFE_RUN_KEYS) or (section == stage and name in SAFE_STAGE_KEYS)


def resume_target(resume: Path | None) -> tuple[Path | None, Path | None]:
    """(run folder, checkpoint) of a --resume argument (a run folder or a checkpoint file in it)."""
    if resume is None:
        return None, None
    resume = Path(resume)
    if resume.is_dir():
        return resume, latest_checkpoint(resume)
    if resume.is_file():
        return resume.parent.parent, resume
    raise FileNotFoundError(f"--resume {resume}: no such run folder or checkpoint file")


def read_run_config(run_dir: Path, checkpoint: Path | None = None) -> dict[str, Any]:
    """The resolved config of a run: its ``config.yaml``, else the one stored in `checkpoint`."""
    path = Path(run_dir) / CONFIG_NAME
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"{path}: cannot read the run's config ({error}); restore it from the "
                              "checkpoint's .json sibling (its train_config)") from error
        if not isinstance(data, dict) or "stage" not in data:
            raise ConfigError(f"{path}: not a resolved training config (no 'stage'); restore it from the "
                              "checkpoint's .json sibling (its train_config)")
        return data
    if checkpoint is not None:
        from styleinv_model.checkpoints.safetensors_io import load_checkpoint

        stored = load_checkpoint(checkpoint).config.get("train_config")
        if isinstance(stored, dict) and "stage" in stored:
            return stored
    raise ConfigError(f"{run_dir}: no {CONFIG_NAME} and no config in its checkpoint; pass the run folder that "
                      "styleinv-train created")


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _settings(config: TrainConfig) -> dict[str, Any]:
    return _flatten({"dataset": config.dataset, "run": dataclasses.asdict(config.run),
                     config.stage: dataclasses.asdict(config.settings)}, "")


def config_changes(before: TrainConfig, after: TrainConfig) -> list[tuple[str, Any, Any]]:
    """(dotted key, value before, value after) of every setting that differs."""
    old, new = _settings(before), _settings(after)
    return [(key, old.get(key), new.get(key)) for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def check_resume_config(run_config: TrainConfig, config: TrainConfig) -> list[str]:
    """Refuse a resume whose config changes what the run computes; a line per safe change applied.

    The ConfigError names the first unsafe key, where its new value came from and both values."""
    if config.stage != run_config.stage:
        raise ConfigError(f"the run was trained by {run_config.stage}, not {config.stage}: resume it with "
                          f"`styleinv-train {run_config.stage} --resume ...`")
    notes = []
    for key, old, new in config_changes(run_config, config):
        if not safe_key(config.stage, key):
            raise ConfigError(f"{config.where(key)}: a resume cannot change this setting of the run ({old!r} -> "
                              f"{new!r}); it continues the run as it was configured: drop the override, or start "
                              "a new run with it")
        rounding = " (float rounding may then differ from an uninterrupted run)" if key in ROUNDING_KEYS else ""
        notes.append(f"resume: {key} {old!r} -> {new!r}{rounding}")
    return notes


def resume_config(stage: str, resume: Path, overrides: list[str] | None = None) -> TrainConfig:
    """The config to continue `resume` with: the run's own config plus the overrides (which
    ``train`` then checks with :func:`check_resume_config` before any work)."""
    run_dir, checkpoint = resume_target(resume)
    data = read_run_config(run_dir, checkpoint)
    if data.get("stage") != stage:
        raise ConfigError(f"{run_dir} was trained by {data.get('stage')}, not {stage}: resume it with "
                          f"`styleinv-train {data.get('stage')} --resume {resume}`")
    return config_from_resolved(data, overrides)
