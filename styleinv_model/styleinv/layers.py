"""Equalised-learning-rate layers of the temporal style and the encoder (the video discriminator
uses the StyleGAN2 layers of `styleinv_model.stylegan2`).

Plain PyTorch (no custom ops), so every StyleInV module runs on the CPU and the GPU alike.
Equalised learning rate: parameters are stored as N(0, 1) / lr_multiplier and scaled at run time by
``lr_multiplier / sqrt(fan_in)``; biases by ``lr_multiplier``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)  # StyleGAN's default gain after a leaky ReLU


class EqualizedLinear(nn.Module):
    """Fully connected layer with equalised learning rate.

    ``activation`` is ``"linear"`` or ``"lrelu"`` (slope 0.2, output scaled by sqrt(2) as in
    StyleGAN's fully connected layers).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        bias_init: float = 0.0,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
    ) -> None:
        super().__init__()
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"unknown activation {activation!r}: use 'linear' or 'lrelu'")
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype) * self.weight_gain
        bias = None if self.bias is None else self.bias.to(x.dtype) * self.bias_gain
        y = F.linear(x, weight, bias)
        if self.activation == "lrelu":
            y = F.leaky_relu(y, LRELU_SLOPE) * LRELU_GAIN
        return y

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class LeftSidedConv1d(nn.Module):
    """Causal ("left-sided") 1D convolution over a sequence of anchors, length preserved.

    Output ``i`` depends on inputs ``i - (taps - 1) .. i`` only. The weight holds the ``taps``
    effective taps ([out, in, taps]); the authors store a kernel of ``2 * taps - 1`` with the
    right ``taps - 1`` entries masked to zero and compute the equalised-lr gain over all of them,
    so ``gain_taps`` defaults to ``2 * taps - 1`` to keep their scale.
    Leaky ReLU (slope 0.2, no extra gain, as in the authors' 1D conv).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        taps: int = 6,
        gain_taps: int | None = None,
        lr_multiplier: float = 0.01,
        activation: str = "lrelu",
    ) -> None:
        super().__init__()
        if taps < 1:
            raise ValueError(f"taps must be >= 1, got {taps}")
        if activation not in ("linear", "lrelu"):
            raise ValueError(f"unknown activation {activation!r}: use 'linear' or 'lrelu'")
        self.taps = taps
        self.activation = activation
        gain_taps = 2 * taps - 1 if gain_taps is None else gain_taps
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, taps) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * gain_taps)
        self.bias_gain = lr_multiplier

    @property
    def receptive_context(self) -> int:
        """How many earlier positions an output depends on."""
        return self.taps - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, C, L] -> [B, C_out, L]; zeros stand in for positions before the sequence."""
        weight = self.weight.to(x.dtype) * self.weight_gain
        bias = self.bias.to(x.dtype) * self.bias_gain
        y = F.conv1d(F.pad(x, (self.taps - 1, 0)), weight, bias)
        if self.activation == "lrelu":
            y = F.leaky_relu(y, LRELU_SLOPE)
        return y
