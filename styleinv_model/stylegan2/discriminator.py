"""Residual discriminator with minibatch standard deviation (StyleGAN2-ADA layout)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from styleinv_model.ops import setup_filter
from styleinv_model.stylegan2.config import DiscriminatorConfig
from styleinv_model.stylegan2.layers import DEFAULT_RESAMPLE_FILTER, Conv2dLayer, FullyConnectedLayer
from styleinv_model.stylegan2.mapping import MappingNetwork
from styleinv_model.stylegan2.synthesis import fp16_resolution_threshold


class DiscriminatorBlock(nn.Module):
    """fromRGB (first block only), two 3x3 convs (the second halves the size), 1x1 skip."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, use_fp16: bool = False, activation: str = "lrelu",
                 resample_filter: Sequence[float] = DEFAULT_RESAMPLE_FILTER,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.use_fp16 = use_fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, activation=activation,
                                       conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, activation=activation,
                                 conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, kernel_size=3, activation=activation, down=2,
                                 resample_filter=resample_filter, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, kernel_size=1, bias=False, down=2,
                                resample_filter=resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor, force_fp32: bool = False) -> torch.Tensor:
        use_fp16 = self.use_fp16 and not force_fp32 and img.device.type == "cuda"
        dtype = torch.float16 if use_fp16 else torch.float32
        if self.in_channels == 0:
            x = self.fromrgb(img.to(dtype))
        else:
            x = x.to(dtype)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x


class MinibatchStdLayer(nn.Module):
    """Append the mean (over features) std over groups of `group_size` samples as extra channels."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n) if self.group_size is not None else n
        if n % group != 0:
            raise ValueError(f"minibatch-stddev: the batch ({n}) must be a multiple of the group size ({group})")
        f = self.num_channels
        y = x.reshape(group, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1).repeat(group, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4: minibatch std, 3x3 conv, FC, output (projection with the class embedding if conditional)."""

    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, mbstd_group_size: int | None = 4,
                 mbstd_num_channels: int = 1, activation: str = "lrelu", conv_clamp: float | None = None) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, kernel_size=3,
                                activation=activation, conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None, *, return_vector: bool = False) -> torch.Tensor:
        """Logits [N, 1]; with ``return_vector`` the output layer's [N, cmap_dim] vector, unprojected
        (a conditioning vector for another epilogue)."""
        x = x.to(torch.float32)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if return_vector:
            return x
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    """image [N, C, R, R] (+ c) -> logits [N, 1]."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.c_dim = config.c_dim
        self.img_resolution = config.img_resolution
        self.img_channels = config.img_channels
        log2 = config.img_resolution.bit_length() - 1
        self.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
        channels = {res: min(config.channel_base // res, config.channel_max) for res in self.block_resolutions + [4]}
        fp16_resolution = fp16_resolution_threshold(config.img_resolution, config.num_fp16_res)
        cmap_dim = config.cmap_dim if config.cmap_dim is not None else channels[4]
        if config.c_dim == 0:
            cmap_dim = 0
        for res in self.block_resolutions:
            in_channels = channels[res] if res < config.img_resolution else 0
            block = DiscriminatorBlock(in_channels, channels[res], channels[res // 2], res, config.img_channels,
                                       use_fp16=(res >= fp16_resolution), conv_clamp=config.conv_clamp)
            setattr(self, f"b{res}", block)
        if config.c_dim > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=config.c_dim, w_dim=cmap_dim, num_ws=None, w_avg_beta=None)
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, resolution=4, mbstd_group_size=config.mbstd_group_size,
                                        mbstd_num_channels=config.mbstd_num_channels, conv_clamp=config.conv_clamp)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None, force_fp32: bool = False) -> torch.Tensor:
        expected = (self.img_channels, self.img_resolution, self.img_resolution)
        if img.ndim != 4 or tuple(img.shape[1:]) != expected:
            raise ValueError(f"the discriminator expects images [N, {expected[0]}, {expected[1]}, {expected[2]}], "
                             f"got {tuple(img.shape)}")
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img, force_fp32=force_fp32)
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, cmap)
