"""Training checkpoints: networks, optimisers, EMA, augmentation state, RNG states and progress in
one safetensors file (our checkpoint format), written atomically, with a ``latest.json`` pointer
that is only moved once the file is complete. A run killed while writing keeps the previous
checkpoint as its resume point.

Layout inside a run folder::

    checkpoints/ckpt-00000500.safetensors   (+ .json sibling with the same header)
    checkpoints/latest.json                  {"step": 500, "file": "ckpt-00000500.safetensors"}
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from styleinv_model.atomic import temporary_file
from styleinv_model.checkpoints.safetensors_io import load_checkpoint, save_checkpoint

CHECKPOINT_DIR = "checkpoints"
LATEST = "latest.json"
TRAINING_KIND = "styleinv-training-state"


class CheckpointMismatch(ValueError):
    """A checkpoint that does not belong to this run's stage or networks."""


@dataclass
class TrainingState:
    """What a resume needs besides the networks: progress and JSON-able loop state."""

    step: int = 0  # optimisation steps done
    images_seen: int = 0  # images (stage 1/2/finetune) or videos (stage 3) seen, all ranks
    loop: dict[str, Any] = field(default_factory=dict)  # e.g. the ADA counters

    @property
    def kimg(self) -> float:
        return self.images_seen / 1000.0


def _optimizer_payload(name: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"opt.{name}.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in state["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _restore_optimizer(name: str, optimizer: torch.optim.Optimizer, meta: dict[str, Any],
                       tensors: dict[str, torch.Tensor], path: Path) -> None:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"opt.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, _, field_name = key[len(prefix):].partition(".")
            state.setdefault(int(index), {})[field_name] = value
    for index, values in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    groups = []
    for group in meta["param_groups"]:
        groups.append({k: (tuple(v) if k == "betas" else v) for k, v in group.items()})
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as error:
        raise CheckpointMismatch(f"{path}: optimiser {name!r} does not fit this run's parameters ({error})") from error


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    np_state = np.random.get_state(legacy=False)
    meta = {"python": _jsonable(random.getstate()), "numpy": _jsonable(np_state)}
    return tensors, meta


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"__tuple__": [_jsonable(v) for v in value]}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_from_jsonable(v) for v in value["__tuple__"])
        if "__ndarray__" in value:
            return np.asarray(value["__ndarray__"], dtype=value["dtype"])
        return {k: _from_jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonable(v) for v in value]
    return value


def restore_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"].to(torch.uint8))
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k].to(torch.uint8) for k in cuda]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(states)
    if "python" in meta:
        random.setstate(_from_jsonable(meta["python"]))
    if "numpy" in meta:
        np.random.set_state(_from_jsonable(meta["numpy"]))


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = temporary_file(path)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_training_checkpoint(run_dir: Path, state: TrainingState, modules: dict[str, nn.Module],
                             optimizers: dict[str, torch.optim.Optimizer], config: dict[str, Any],
                             extra_tensors: dict[str, torch.Tensor] | None = None,
                             keep: int = 3) -> Path:
    """Write ``checkpoints/ckpt-<step>.safetensors`` atomically, then move ``latest.json`` to it."""
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = dict(extra_tensors or {})
    optim_meta: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        opt_tensors, meta = _optimizer_payload(name, optimizer)
        tensors.update(opt_tensors)
        optim_meta[name] = meta
    rng_tensors, rng_meta = rng_state()
    tensors.update(rng_tensors)
    payload = {
        "kind": TRAINING_KIND,
        "train_config": config,
        "progress": {"step": state.step, "images_seen": state.images_seen, "loop": state.loop},
        "optimizers": optim_meta,
        "rng": rng_meta,
    }
    path = folder / f"ckpt-{state.step:08d}.safetensors"
    save_checkpoint(path, modules, payload, tensors)
    _fault_injection_pause(state.step)
    _write_json_atomic(folder / LATEST, {"step": state.step, "file": path.name})
    _prune(folder, keep)
    return path


def _fault_injection_pause(step: int) -> None:
    """Tests only: with ``STYLEINV_TEST_PAUSE_AT_STEP=<step>``, the checkpoint of that step sleeps
    ``STYLEINV_TEST_PAUSE_SECONDS`` between the file and the pointer (``STYLEINV_TEST_PAUSE_FILE``
    marks that moment), so a test can SIGKILL the run in the middle of a checkpoint write."""
    at = os.environ.get("STYLEINV_TEST_PAUSE_AT_STEP")
    if at is not None and int(at) == step:
        pause = os.environ.get("STYLEINV_TEST_PAUSE_SECONDS", "60")
        marker = os.environ.get("STYLEINV_TEST_PAUSE_FILE")
        if marker:
            Path(marker).write_text("paused")
        import time

        time.sleep(float(pause))


def _prune(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("ckpt-*.safetensors"))
    for old in files[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
        old.with_suffix(".json").unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``latest.json`` points at (None when the run has none yet)."""
    folder = checkpoint_dir(run_dir)
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    try:
        data = json.loads(pointer.read_text())
        path = folder / data["file"]
    except (ValueError, KeyError, OSError) as error:
        raise ValueError(f"{pointer} is unreadable ({error}); delete it to resume from the newest "
                         f"ckpt-*.safetensors in {folder}") from error
    if not path.is_file():
        raise FileNotFoundError(f"{pointer} points at {path.name}, which is missing from {folder}")
    return path


def checkpoint_file(path: Path | str) -> Path:
    """`path` itself, or for a run folder the checkpoint its ``latest.json`` names (as --resume reads it)."""
    path = Path(path)
    if not path.is_dir():
        return path
    found = latest_checkpoint(path)
    if found is None:
        raise FileNotFoundError(f"{path}: no checkpoints/latest.json; pass a training run folder that has written a "
                                "checkpoint, or a .safetensors file")
    return found


@dataclass
class LoadedTrainingState:
    path: Path
    state: TrainingState
    config: dict[str, Any]


def load_training_checkpoint(path: Path, modules: dict[str, nn.Module],
                             optimizers: dict[str, torch.optim.Optimizer], stage: str,
                             device: torch.device | str = "cpu") -> tuple[LoadedTrainingState, dict[str, torch.Tensor]]:
    """Restore `modules` and `optimizers` in place (and the global RNG states) from `path`.

    Returns the progress and the remaining extra tensors (loop buffers such as the path-length mean).
    Raises CheckpointMismatch when the file belongs to another stage or other networks."""
    checkpoint = load_checkpoint(path)
    config = checkpoint.config
    if config.get("kind") != TRAINING_KIND:
        raise CheckpointMismatch(f"{path} is not a training checkpoint (kind {config.get('kind')!r}); "
                                 "to start from trained weights use the stage's init options instead of --resume")
    written_stage = config.get("train_config", {}).get("stage")
    if written_stage != stage:
        raise CheckpointMismatch(f"{path} was written by {written_stage}, not {stage}: resume it with "
                                 f"`styleinv-train {written_stage}`")
    missing = sorted(set(modules) - set(checkpoint.state_dicts))
    if missing:
        raise CheckpointMismatch(f"{path} lacks the networks {missing}")
    for name, module in modules.items():
        stored = checkpoint.module_configs.get(name, {}).get("config")
        current = getattr(getattr(module, "config", None), "to_dict", lambda: None)()
        if stored is not None and current is not None and _normalise(stored) != _normalise(current):
            raise CheckpointMismatch(f"{path}: network {name!r} was trained with another configuration "
                                     f"(checkpoint {stored} vs run {current}); resume with the run's own config")
        try:
            module.load_state_dict(checkpoint.state_dicts[name], strict=True)
        except RuntimeError as error:
            first = str(error).splitlines()[0]
            raise CheckpointMismatch(f"{path}: network {name!r} does not match ({first})") from error
    for name, optimizer in optimizers.items():
        meta = config.get("optimizers", {}).get(name)
        if meta is None:
            raise CheckpointMismatch(f"{path} has no optimiser state {name!r}")
        extra = {k: v.to(device) for k, v in checkpoint.extra_tensors.items() if k.startswith(f"opt.{name}.")}
        _restore_optimizer(name, optimizer, meta, extra, path)
    restore_rng_state({k: v for k, v in checkpoint.extra_tensors.items() if k.startswith("rng.")}, config.get("rng", {}))
    progress = config.get("progress", {})
    state = TrainingState(step=int(progress.get("step", 0)), images_seen=int(progress.get("images_seen", 0)),
                          loop=dict(progress.get("loop", {})))
    rest = {k: v.to(device) for k, v in checkpoint.extra_tensors.items()
            if not k.startswith("opt.") and not k.startswith("rng.")}
    return LoadedTrainingState(path, state, config.get("train_config", {})), rest


def _normalise(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=list))
