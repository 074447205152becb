"""Named configurations (StyleGAN2-ADA's `--cfg`): network sizes and training hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from styleinv_model.stylegan2.config import DiscriminatorConfig, GeneratorConfig, check_resolution
from styleinv_model.stylegan2.discriminator import Discriminator
from styleinv_model.stylegan2.generator import Generator


@dataclass(frozen=True)
class Preset:
    """One configuration for one resolution (and GPU count, for batch-dependent values)."""

    name: str
    resolution: int
    channel_base: int
    channel_max: int
    mapping_layers: int
    mbstd_group_size: int
    batch_size: int
    learning_rate: float
    r1_gamma: float
    ema_kimg: float
    ema_rampup: float | None
    num_fp16_res: int = 4
    conv_clamp: float = 256


PRESET_NAMES = ("auto", "paper256", "paper512", "paper1024", "stylegan2")


def get_preset(name: str, resolution: int, gpus: int = 1) -> Preset:
    """The values of StyleGAN2-ADA's named configurations."""
    check_resolution(resolution)
    if gpus < 1:
        raise ValueError(f"gpus must be >= 1, got {gpus}")
    if name == "auto":
        batch = max(min(gpus * min(4096 // resolution, 32), 64), gpus)
        fmaps = 1.0 if resolution >= 512 else 0.5
        return Preset("auto", resolution, int(fmaps * 32768), 512, mapping_layers=2,
                      mbstd_group_size=min(batch // gpus, 4), batch_size=batch,
                      learning_rate=0.002 if resolution >= 1024 else 0.0025,
                      r1_gamma=0.0002 * resolution ** 2 / batch, ema_kimg=batch * 10 / 32, ema_rampup=0.05)
    table: dict[str, dict[str, Any]] = {
        "paper256": dict(channel_base=16384, mapping_layers=8, mbstd_group_size=8, batch_size=64,
                         learning_rate=0.0025, r1_gamma=1.0, ema_kimg=20.0),
        "paper512": dict(channel_base=32768, mapping_layers=8, mbstd_group_size=8, batch_size=64,
                         learning_rate=0.0025, r1_gamma=0.5, ema_kimg=20.0),
        "paper1024": dict(channel_base=32768, mapping_layers=8, mbstd_group_size=4, batch_size=32,
                          learning_rate=0.002, r1_gamma=2.0, ema_kimg=10.0),
        "stylegan2": dict(channel_base=32768, mapping_layers=8, mbstd_group_size=4, batch_size=32,
                          learning_rate=0.002, r1_gamma=10.0, ema_kimg=10.0),
    }
    if name not in table:
        raise ValueError(f"unknown preset {name!r}: use one of {PRESET_NAMES}")
    return Preset(name, resolution, channel_max=512, ema_rampup=None, **table[name])


def _split_overrides(overrides: dict[str, Any], allowed: set[str], what: str) -> dict[str, Any]:
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} override(s) {unknown}: valid ones are {sorted(allowed)}")
    return overrides


def generator_config(preset: str = "auto", *, resolution: int, **overrides: Any) -> GeneratorConfig:
    """GeneratorConfig of `preset` at `resolution`, with any field overridden."""
    p = get_preset(preset, resolution)
    values: dict[str, Any] = dict(img_resolution=resolution, channel_base=p.channel_base, channel_max=p.channel_max,
                                  mapping_layers=p.mapping_layers, num_fp16_res=p.num_fp16_res,
                                  conv_clamp=p.conv_clamp)
    allowed = set(GeneratorConfig.__dataclass_fields__) - {"img_resolution"}
    values.update(_split_overrides(overrides, allowed, "generator"))
    return GeneratorConfig(**values)


def discriminator_config(preset: str = "auto", *, resolution: int, **overrides: Any) -> DiscriminatorConfig:
    """DiscriminatorConfig of `preset` at `resolution`, with any field overridden."""
    p = get_preset(preset, resolution)
    values: dict[str, Any] = dict(img_resolution=resolution, channel_base=p.channel_base, channel_max=p.channel_max,
                                  num_fp16_res=p.num_fp16_res, conv_clamp=p.conv_clamp,
                                  mbstd_group_size=p.mbstd_group_size)
    allowed = set(DiscriminatorConfig.__dataclass_fields__) - {"img_resolution"}
    values.update(_split_overrides(overrides, allowed, "discriminator"))
    return DiscriminatorConfig(**values)


def build_generator(preset: str = "auto", *, resolution: int, **overrides: Any) -> Generator:
    """A freshly initialised Generator (weights from the global torch seed)."""
    return Generator(generator_config(preset, resolution=resolution, **overrides))


def build_discriminator(preset: str = "auto", *, resolution: int, **overrides: Any) -> Discriminator:
    """A freshly initialised Discriminator (weights from the global torch seed)."""
    return Discriminator(discriminator_config(preset, resolution=resolution, **overrides))
