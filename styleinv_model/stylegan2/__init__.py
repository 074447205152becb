"""StyleGAN2 (StyleGAN2-ADA configuration): mapping, synthesis, discriminator and presets.

    G = build_generator("paper256", resolution=256)
    ws = G.mapping(z, truncation_psi=0.7)            # [N, G.num_ws, G.w_dim]
    noise = G.synthesis.make_noise(N)                # per-video constant noise
    img = G.synthesis(ws, noise=noise)               # [N, 3, 256, 256]
"""

from styleinv_model.stylegan2.config import DiscriminatorConfig, GeneratorConfig
from styleinv_model.stylegan2.discriminator import Discriminator
from styleinv_model.stylegan2.generator import Generator
from styleinv_model.stylegan2.mapping import MappingNetwork
from styleinv_model.stylegan2.presets import (PRESET_NAMES, Preset, build_discriminator, build_generator,
                                              discriminator_config, generator_config, get_preset)
from styleinv_model.stylegan2.synthesis import NoiseBuffer, SynthesisNetwork

__all__ = [
    "Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig", "MappingNetwork", "NoiseBuffer",
    "PRESET_NAMES", "Preset", "SynthesisNetwork", "build_discriminator", "build_generator",
    "discriminator_config", "generator_config", "get_preset",
]
