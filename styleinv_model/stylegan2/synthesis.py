"""Synthesis network: learned constant, modulated convolutions with noise, skip toRGB outputs."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from styleinv_model.ops import setup_filter, upsample2d
from styleinv_model.stylegan2.layers import (DEFAULT_RESAMPLE_FILTER, SynthesisLayer, ToRGBLayer,
                                             resolutions_up_to)

NoiseBuffer = dict[str, torch.Tensor]


def fp16_resolution_threshold(img_resolution: int, num_fp16_res: int) -> int:
    """Blocks at this resolution and above run in float16 (at least 8, like StyleGAN2-ADA)."""
    log2 = img_resolution.bit_length() - 1
    return max(2 ** (log2 + 1 - num_fp16_res), 8)


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 upsampling x2), conv1, toRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, use_fp16: bool = False, use_noise: bool = True,
                 resample_filter: Sequence[float] = DEFAULT_RESAMPLE_FILTER,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.is_last = is_last
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, use_noise=use_noise,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, use_noise=use_noise,
                                    conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_torgb += 1

    def conv_layer_names(self) -> list[str]:
        return (["conv0"] if self.in_channels != 0 else []) + ["conv1"]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise_mode: str = "random", noise: NoiseBuffer | None = None, force_fp32: bool = False,
                fused_modconv: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        w_iter = iter(ws.unbind(dim=1))
        use_fp16 = self.use_fp16 and not force_fp32 and ws.device.type == "cuda"
        dtype = torch.float16 if use_fp16 else torch.float32
        if fused_modconv is None:
            fused_modconv = (not self.training) and (dtype == torch.float32 or int(ws.shape[0]) == 1)
        noise = noise or {}
        prefix = f"b{self.resolution}"
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(w_iter), noise_mode=noise_mode, noise=noise.get(f"{prefix}.conv0"),
                           fused_modconv=fused_modconv)
        x = self.conv1(x, next(w_iter), noise_mode=noise_mode, noise=noise.get(f"{prefix}.conv1"),
                       fused_modconv=fused_modconv)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv).to(torch.float32)
        img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R] (skip architecture)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 16384,
                 channel_max: int = 512, num_fp16_res: int = 0, conv_clamp: float | None = None,
                 use_noise: bool = True) -> None:
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.block_resolutions = resolutions_up_to(img_resolution)
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = fp16_resolution_threshold(img_resolution, num_fp16_res)
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   is_last=(res == img_resolution), use_fp16=(res >= fp16_resolution),
                                   use_noise=use_noise, conv_clamp=conv_clamp)
            self.num_ws += block.num_conv
            if res == img_resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def noise_layer_shapes(self) -> dict[str, tuple[int, int]]:
        """Name ("b64.conv0") -> (height, width) of every layer that takes noise."""
        shapes = {}
        for block in self.blocks():
            for name in block.conv_layer_names():
                if getattr(block, name).use_noise:
                    shapes[f"b{block.resolution}.{name}"] = (block.resolution, block.resolution)
        return shapes

    def make_noise(self, batch: int, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> NoiseBuffer:
        """A per-video constant noise buffer: layer name -> unit Gaussian [batch, 1, r, r].

        Pass it as `noise=` for every frame of the same videos so the noise does not flicker."""
        if device is None:
            device = generator.device if generator is not None else self.b4.const.device
        return {name: torch.randn([batch, 1, h, w], generator=generator, device=device)
                for name, (h, w) in self.noise_layer_shapes().items()}

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise: NoiseBuffer | None = None,
                force_fp32: bool = False, fused_modconv: bool | None = None) -> torch.Tensor:
        """Render ws. `noise` (from make_noise) overrides `noise_mode` unless that is "none".

        float16 blocks run in float16 only on CUDA; on the CPU everything is float32."""
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if noise is not None:
            unknown = sorted(set(noise) - set(self.noise_layer_shapes()))
            if unknown:
                raise ValueError(f"noise buffer has unknown layer names {unknown}: build it with make_noise()")
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, noise=noise, force_fp32=force_fp32,
                           fused_modconv=fused_modconv)
        return img
