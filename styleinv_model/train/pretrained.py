"""Networks to start from: our checkpoints (.safetensors) or official StyleGAN2-ADA pickles (read
with the restricted unpickler; no code from the file runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from torch import nn

from styleinv_model.stylegan2 import Generator


def load_image_networks(path: str | Path) -> dict[str, nn.Module]:
    """{"G", "G_ema", "D"} (those present) from a stage-1 checkpoint or a StyleGAN2-ADA .pkl."""
    path = Path(path)
    if not str(path):
        raise ValueError("no image-generator checkpoint given: set generator_checkpoint to the stage-1 checkpoint")
    if not path.is_file():
        raise FileNotFoundError(f"image-generator checkpoint {path} does not exist: pass the stage-1 "
                                "checkpoint (.safetensors) or an official StyleGAN2-ADA .pkl")
    if path.suffix == ".pkl":
        from styleinv_model.checkpoints.sg2ada_pickle import import_sg2ada_pickle

        return import_sg2ada_pickle(path)
    from styleinv_model.checkpoints.networks import build_module, load_stored_weights
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    checkpoint = load_checkpoint(path)
    networks: dict[str, nn.Module] = {}
    for name in ("G", "G_ema", "D"):
        entry = checkpoint.module_configs.get(name)
        if entry is None or entry.get("class") not in ("Generator", "Discriminator"):
            continue
        module = build_module(entry, name, checkpoint.path)
        load_stored_weights(module, checkpoint.state_dicts[name], name, checkpoint.path)
        networks[name] = module
    if not networks:
        raise ValueError(f"{path} holds no StyleGAN2 networks (modules: {sorted(checkpoint.module_configs)}): "
                         "pass a stage-1 checkpoint")
    return networks


def load_frozen_generator(path: str | Path) -> Generator:
    """The EMA generator (else G) of a checkpoint, in eval mode with gradients off."""
    networks = load_image_networks(path)
    generator = networks.get("G_ema") or networks.get("G")
    if not isinstance(generator, Generator):
        raise ValueError(f"{path} holds no image generator ('G_ema' or 'G')")
    return generator.eval().requires_grad_(False)


def with_generator_w_dim(overrides: dict[str, Any], w_dim: int, section: str,
                         log: Callable[[str], None] = print) -> dict[str, Any]:
    """``overrides`` of a network that consumes the generator's W, with ``w_dim`` set to the
    generator's: a config written for another generator (the demo's 64-d W, say, with an official
    512-d StyleGAN2-ADA pickle) does not fail on the first batch. A differing value is replaced
    and said once."""
    given = overrides.get("w_dim")
    if given is not None and int(given) != int(w_dim):
        log(f"{section}.w_dim {given} -> {w_dim}: taken from the generator")
    return {**overrides, "w_dim": int(w_dim)}
