"""The generator: mapping network + synthesis network."""

from __future__ import annotations

import torch
from torch import nn

from styleinv_model.stylegan2.config import GeneratorConfig
from styleinv_model.stylegan2.mapping import MappingNetwork
from styleinv_model.stylegan2.synthesis import NoiseBuffer, SynthesisNetwork


class Generator(nn.Module):
    """z (+ c) -> image. Parameter and buffer names equal StyleGAN2-ADA's state-dict keys."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.z_dim = config.z_dim
        self.c_dim = config.c_dim
        self.w_dim = config.w_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        self.synthesis = SynthesisNetwork(config.w_dim, config.img_resolution, config.img_channels,
                                          channel_base=config.channel_base, channel_max=config.channel_max,
                                          num_fp16_res=config.num_fp16_res, conv_clamp=config.conv_clamp,
                                          use_noise=config.use_noise)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, self.num_ws,
                                      num_layers=config.mapping_layers,
                                      lr_multiplier=config.mapping_lr_multiplier, w_avg_beta=config.w_avg_beta)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None, noise_mode: str = "const",
                noise: NoiseBuffer | None = None, force_fp32: bool = False, update_emas: bool = False,
                fused_modconv: bool | None = None) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff,
                          update_emas=update_emas)
        return self.synthesis(ws, noise_mode=noise_mode, noise=noise, force_fp32=force_fp32,
                              fused_modconv=fused_modconv)
