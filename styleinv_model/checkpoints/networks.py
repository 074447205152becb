"""Rebuild our networks (StyleGAN2 G and D, stage 2's inversion encoder) from a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from styleinv_model.checkpoints.safetensors_io import Checkpoint, load_checkpoint
from styleinv_model.styleinv.encoder import EncoderConfig, InversionEncoder
from styleinv_model.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

_BUILDERS = {
    "Generator": lambda values: Generator(GeneratorConfig.from_dict(values)),
    "Discriminator": lambda values: Discriminator(DiscriminatorConfig.from_dict(values)),
    "InversionEncoder": lambda values: InversionEncoder(EncoderConfig.from_dict(values)),
}


def build_module(entry: dict[str, Any], name: str, path: Path) -> nn.Module:
    """A fresh network from a checkpoint's module entry {"class", "config"}."""
    builder = _BUILDERS.get(entry.get("class", ""))
    if builder is None or entry.get("config") is None:
        raise ValueError(f"{path}: module {name!r} of class {entry.get('class')!r} cannot be rebuilt here "
                         f"(known: {sorted(_BUILDERS)}); load its state dict yourself from load_checkpoint()")
    return builder(entry["config"])


def load_stored_weights(module: nn.Module, state: dict[str, torch.Tensor], name: str, path: Path | str) -> None:
    """``module.load_state_dict(state, strict=True)``; a tensor of another shape, a missing or an
    unexpected key is a one-line ValueError naming the file and the network."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise ValueError(f"{path}: network {name!r} does not fit the configuration stored with it ({detail[:300]}); "
                         "the file was edited or damaged: use the checkpoint as training wrote it") from None


def load_networks(path: str | Path, names: list[str] | None = None,
                  device: str | torch.device = "cpu") -> dict[str, nn.Module]:
    """{name: network} rebuilt from the stored configs with the stored weights (eval mode)."""
    checkpoint: Checkpoint = load_checkpoint(path)
    wanted = names if names is not None else [n for n, e in checkpoint.module_configs.items() if e.get("class") in _BUILDERS]
    networks = {}
    for name in wanted:
        if name not in checkpoint.module_configs:
            raise KeyError(f"{path} holds no module {name!r}; it holds {sorted(checkpoint.module_configs)}")
        module = build_module(checkpoint.module_configs[name], name, checkpoint.path)
        load_stored_weights(module, checkpoint.state_dicts[name], name, checkpoint.path)
        networks[name] = module.eval().requires_grad_(False).to(device)
    return networks


def load_generator(path: str | Path, name: str = "G_ema", device: str | torch.device = "cpu") -> Generator:
    """The generator `name` (default the EMA generator) of a checkpoint."""
    module = load_networks(path, [name], device)[name]
    if not isinstance(module, Generator):
        raise TypeError(f"{path}: module {name!r} is a {type(module).__name__}, not a Generator")
    return module


def load_inversion_encoder(path: str | Path, device: str | torch.device = "cpu") -> InversionEncoder:
    """Stage 2's encoder from its checkpoint. It returns w offsets: add the image generator's
    ``mapping.w_avg`` (stage 2 trains that way unless ``start_from_latent_avg`` is false)."""
    module = load_networks(path, ["encoder"], device)["encoder"]
    if not isinstance(module, InversionEncoder):
        raise TypeError(f"{path}: module 'encoder' is a {type(module).__name__}, not stage 2's InversionEncoder")
    return module
