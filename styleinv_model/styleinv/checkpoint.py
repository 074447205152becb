"""StyleInV checkpoints: one safetensors file (our checkpoint format, JSON config in its metadata).

Modules stored: ``G`` (the frozen image generator, rebuilt from its own config), ``temporal_style``,
``encoder`` and optionally ``D_video``; the config holds ``{"kind": "styleinv", "styleinv": ...}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from styleinv_model.styleinv.generator import StyleInVConfig, StyleInVGenerator
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator

KIND = "styleinv"
TRAINING_KIND = "styleinv-training-state"  # styleinv_model.train.state
IMAGE_GENERATOR_NAMES = ("G", "G_ema")


def save_styleinv(
    path: str | Path,
    model: StyleInVGenerator,
    *,
    discriminator: VideoDiscriminator | None = None,
    extra_config: dict[str, Any] | None = None,
) -> Path:
    """Write the StyleInV generator (with its image generator) and optionally D to ``path``."""
    from styleinv_model.checkpoints.safetensors_io import save_checkpoint

    modules: dict[str, nn.Module] = {
        "G": model.image_generator,
        "temporal_style": model.temporal_style,
        "encoder": model.encoder,
    }
    config = model.config
    if discriminator is not None:
        modules["D_video"] = discriminator
        config = StyleInVConfig(temporal=config.temporal, encoder=config.encoder, discriminator=discriminator.config)
    payload = {"kind": KIND, "styleinv": config.to_dict(), **(extra_config or {})}
    return save_checkpoint(path, modules, payload)


def load_styleinv(path: str | Path, device: str | torch.device = "cpu") -> StyleInVGenerator:
    """Rebuild a StyleInVGenerator (eval mode, no gradients) from a checkpoint written by save_styleinv."""
    from styleinv_model.checkpoints.networks import build_module, load_stored_weights
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    checkpoint = load_checkpoint(path)
    names = set(checkpoint.module_configs)
    if checkpoint.config.get("kind") == TRAINING_KIND:
        return _from_training_checkpoint(path, checkpoint, device)
    if checkpoint.config.get("kind") != KIND or not {"temporal_style", "encoder"} <= names:
        raise ValueError(
            f"{path} holds no trained StyleInV networks (modules: {sorted(names)}): pass a checkpoint from StyleInV "
            "training, or use --image-only for an image-generator checkpoint"
        )
    g_name = next((n for n in IMAGE_GENERATOR_NAMES if n in names), None)
    if g_name is None:
        raise ValueError(f"{path} holds no image generator ('G' or 'G_ema'); modules: {sorted(names)}")
    image_generator = build_module(checkpoint.module_configs[g_name], g_name, checkpoint.path)
    load_stored_weights(image_generator, checkpoint.state_dicts[g_name], g_name, checkpoint.path)
    model = StyleInVGenerator(image_generator, StyleInVConfig.from_dict(checkpoint.config["styleinv"]))
    for module, name in ((model.temporal_style, "temporal_style"), (model.encoder, "encoder")):
        load_stored_weights(module, checkpoint.state_dicts[name], name, checkpoint.path)
    return model.eval().requires_grad_(False).to(device)


def load_image_generator(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """The image generator of a StyleInV or StyleGAN2 checkpoint (prefers G_ema, then G)."""
    from styleinv_model.checkpoints.networks import build_module, load_stored_weights
    from styleinv_model.checkpoints.safetensors_io import load_checkpoint

    checkpoint = load_checkpoint(path)
    names = set(checkpoint.module_configs)
    for name in ("G_ema", "G"):
        if name in names:
            generator = build_module(checkpoint.module_configs[name], name, checkpoint.path)
            load_stored_weights(generator, checkpoint.state_dicts[name], name, checkpoint.path)
            return generator.eval().requires_grad_(False).to(device)
    raise ValueError(f"{path} holds no image generator ('G_ema' or 'G'); modules: {sorted(names)}")


def _from_training_checkpoint(path: str | Path, checkpoint: Any, device: str | torch.device) -> StyleInVGenerator:
    """A stage-3 training checkpoint: the EMA temporal style network and encoder over its G."""
    from styleinv_model.checkpoints.networks import build_module, load_stored_weights

    names = set(checkpoint.state_dicts)
    styleinv = checkpoint.config.get("progress", {}).get("loop", {}).get("styleinv")
    if styleinv is None or not {"G", "temporal_style_ema", "encoder_ema"} <= names:
        stage = checkpoint.config.get("train_config", {}).get("stage")
        raise ValueError(f"{path} is a {stage} training checkpoint, not a StyleInV (stage 3) one: use --image-only "
                         "for an image generator, or pass a stage-3 checkpoint")
    image_generator = build_module(checkpoint.module_configs["G"], "G", checkpoint.path)
    load_stored_weights(image_generator, checkpoint.state_dicts["G"], "G", checkpoint.path)
    model = StyleInVGenerator(image_generator, StyleInVConfig.from_dict(styleinv))
    for module, name in ((model.temporal_style, "temporal_style_ema"), (model.encoder, "encoder_ema")):
        load_stored_weights(module, checkpoint.state_dicts[name], name, checkpoint.path)
    return model.eval().requires_grad_(False).to(device)


def replace_image_generator(model: StyleInVGenerator, generator: nn.Module) -> StyleInVGenerator:
    """Drive another image generator (e.g. a style-transfer finetune of the same G) with the same
    StyleInV network; the two must share W (same w_dim and number of layers)."""
    for attr in ("w_dim", "num_ws", "z_dim"):
        if int(getattr(generator, attr)) != int(getattr(model.image_generator, attr)):
            raise ValueError(f"the replacement generator's {attr} is {getattr(generator, attr)}, the StyleInV "
                             f"network's generator has {getattr(model.image_generator, attr)}: use a finetune of the "
                             "generator the StyleInV network was trained on")
    model.image_generator = generator.eval().requires_grad_(False).to(next(model.encoder.parameters()).device)
    return model
