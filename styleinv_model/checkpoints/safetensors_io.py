"""Our checkpoint format: one .safetensors file (tensors + JSON config in its metadata) and a
sibling .json with the same config for people and tools; both written atomically."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from styleinv_model.atomic import atomic_write

FORMAT_NAME = "styleinv-checkpoint"
FORMAT_VERSION = 1
EXTRA_PREFIX = "__extra__"


@dataclass
class Checkpoint:
    """What load_checkpoint returns: per-module state dicts, configs and any extra tensors."""

    path: Path
    state_dicts: dict[str, dict[str, torch.Tensor]]
    config: dict[str, Any]
    module_configs: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def sibling_json_path(path: str | Path) -> Path:
    """`run/G.safetensors` -> `run/G.json`."""
    return Path(path).with_suffix(".json")


def _module_config(module: nn.Module) -> dict[str, Any]:
    """{"class": ..., "config": {...}} for our networks (anything with a .config dataclass)."""
    config = getattr(module, "config", None)
    to_dict = getattr(config, "to_dict", None)
    return {"class": type(module).__name__, "config": to_dict() if callable(to_dict) else None}


_atomic_write = atomic_write


def save_checkpoint(path: str | Path, modules: dict[str, nn.Module], config: dict[str, Any],
                    extra_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `modules` (name -> module; keys "<name>.<state-dict key>") and `config` (JSON-able).

    Returns the path of the .safetensors file; the sibling .json holds the same metadata."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"checkpoint path {path} must end with .safetensors")
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        if "." in name or not name:
            raise ValueError(f"module name {name!r} must be non-empty and contain no '.'")
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().to("cpu").contiguous().clone()
    for key, value in (extra_tensors or {}).items():
        tensors[f"{EXTRA_PREFIX}.{key}"] = value.detach().to("cpu").contiguous().clone()
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "modules": {name: _module_config(module) for name, module in modules.items()},
        "config": config,
    }
    try:
        header_json = json.dumps(header, sort_keys=True)
    except TypeError as error:
        raise ValueError(f"checkpoint config for {path} is not JSON-serialisable: {error}") from error
    _atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata={"styleinv": header_json}))
    _atomic_write(sibling_json_path(path), lambda tmp: tmp.write_text(json.dumps(header, indent=1, sort_keys=True)))
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by save_checkpoint (config from the metadata, else the .json)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist: check the path (expected a .safetensors file)")
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file ({error}); for a StyleGAN2-ADA .pkl use "
                         "styleinv_model.checkpoints.import_sg2ada_pickle") from error
    if "styleinv" in metadata:
        header = json.loads(metadata["styleinv"])
    elif sibling_json_path(path).is_file():
        header = json.loads(sibling_json_path(path).read_text())
    else:
        raise ValueError(f"{path} has no styleinv config in its metadata and no {sibling_json_path(path).name} "
                         "beside it: it was not written by save_checkpoint")
    if header.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: unknown checkpoint format {header.get('format')!r}")
    module_names = list(header.get("modules", {}))
    state_dicts: dict[str, dict[str, torch.Tensor]] = {name: {} for name in module_names}
    extra: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        prefix, _, rest = key.partition(".")
        if prefix == EXTRA_PREFIX:
            extra[rest] = value
        elif prefix in state_dicts:
            state_dicts[prefix][rest] = value
        else:
            raise ValueError(f"{path}: tensor {key!r} belongs to no module listed in the config")
    module_configs = {name: entry for name, entry in header.get("modules", {}).items()}
    return Checkpoint(path, state_dicts, header.get("config", {}), module_configs, extra)
