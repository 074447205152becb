"""Modulated inversion encoder: initial frame G(w0) + temporal style s_t -> delta w_t.

IR-SE-50 trunk (pSp's encoder backbone: input conv 3x3 -> BN -> PReLU, then four stages of
bottleneck units with squeeze-excitation), with one StarGAN-v2 residual AdaIN block after the last
unit of each stage, modulated by s_t. Then adaptive average pool -> FC(512 -> 512) -> delta w_t.

The stem (input layer and the stage-1 units) does not depend on s_t: :meth:`encode_stem` computes it
once per video and :meth:`forward_from_stem` runs the rest per frame, which is how generation uses it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from styleinv_model.styleinv.layers import EqualizedLinear

IR_SE_UNITS: dict[int, tuple[int, int, int, int]] = {
    50: (3, 4, 14, 3),
    100: (3, 13, 30, 3),
    152: (3, 8, 36, 3),
}


@dataclass(frozen=True)
class EncoderConfig:
    """Shape of the modulated IR-SE encoder; defaults are IR-SE-50 with 512-d codes."""

    stage_channels: tuple[int, ...] = (64, 128, 256, 512)
    stage_units: tuple[int, ...] = IR_SE_UNITS[50]
    se_reduction: int = 16
    style_dim: int = 512
    w_dim: int = 512
    input_resolution: int | None = None  # resize G(w0) to this size first; None = as generated
    mixed_precision: str = "bf16"  # autocast dtype on CUDA: "bf16", "fp16" or "off"; CPU is float32
    adain_lr_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if len(self.stage_channels) != len(self.stage_units) or not self.stage_channels:
            raise ValueError("stage_channels and stage_units need the same, non-zero length")
        if self.mixed_precision not in ("bf16", "fp16", "off"):
            raise ValueError(f"mixed_precision must be 'bf16', 'fp16' or 'off', got {self.mixed_precision!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "EncoderConfig":
        """Inverse of :meth:`to_dict` (JSON turns the tuples into lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    @classmethod
    def ir_se(cls, num_layers: int = 50, **overrides: object) -> "EncoderConfig":
        if num_layers not in IR_SE_UNITS:
            raise ValueError(f"IR-SE depth must be one of {sorted(IR_SE_UNITS)}, got {num_layers}")
        return cls(stage_units=IR_SE_UNITS[num_layers], **overrides)  # type: ignore[arg-type]


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the 1x1 convs on a 1x1 map are matrix products: run them as such (same maths, faster on CPU)
        pooled = x.mean(dim=(2, 3))
        hidden = F.relu(F.linear(pooled, self.fc1.weight.flatten(1).to(x.dtype)))
        gate = torch.sigmoid(F.linear(hidden, self.fc2.weight.flatten(1).to(x.dtype)))
        return x * gate[:, :, None, None]


class BottleneckIRSE(nn.Module):
    """pSp's bottleneck_IR_SE: BN -> conv3x3 -> PReLU -> conv3x3(stride) -> BN -> SE, plus shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, se_reduction: int) -> None:
        super().__init__()
        self.stride = stride
        if in_channels == out_channels:
            self.shortcut: nn.Module | None = None  # pSp's MaxPool2d(1, stride): a strided subsample
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        self.residual = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1, bias=False),
            nn.PReLU(out_channels),
            nn.Conv2d(out_channels, out_channels, 3, stride, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            SqueezeExcitation(out_channels, se_reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            shortcut = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        else:
            shortcut = self.shortcut(x)
        return self.residual(x) + shortcut


class AdaIN(nn.Module):
    """Instance norm, then (1 + gamma(s)) * x + beta(s)."""

    def __init__(self, style_dim: int, channels: int, lr_multiplier: float = 1.0) -> None:
        super().__init__()
        self.affine = EqualizedLinear(style_dim, 2 * channels, lr_multiplier=lr_multiplier)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(style.to(x.dtype)).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return (1.0 + gamma) * F.instance_norm(x) + beta


class AdaINResBlock(nn.Module):
    """StarGAN-v2 residual AdaIN block without resampling; output = (x + residual) / sqrt(2)."""

    def __init__(self, channels: int, style_dim: int, lr_multiplier: float = 1.0) -> None:
        super().__init__()
        self.norm1 = AdaIN(style_dim, channels, lr_multiplier)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm2 = AdaIN(style_dim, channels, lr_multiplier)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.norm1(x, style), 0.2))
        h = self.conv2(F.leaky_relu(self.norm2(h, style), 0.2))
        return (x + h) / math.sqrt(2.0)


def build_trunk(config: EncoderConfig) -> tuple[nn.Sequential, nn.ModuleList]:
    """pSp's IR-SE trunk: input layer (conv 3x3 -> BN -> PReLU) and the stages of bottleneck units."""
    first = config.stage_channels[0]
    input_layer = nn.Sequential(nn.Conv2d(3, first, 3, 1, 1, bias=False), nn.BatchNorm2d(first), nn.PReLU(first))
    stages = []
    in_channels = first
    for channels, units in zip(config.stage_channels, config.stage_units):
        blocks = [BottleneckIRSE(in_channels, channels, 2, config.se_reduction)]
        blocks += [BottleneckIRSE(channels, channels, 1, config.se_reduction) for _ in range(units - 1)]
        stages.append(nn.Sequential(*blocks))
        in_channels = channels
    return input_layer, nn.ModuleList(stages)


def prepare_encoder_input(image: torch.Tensor, size: int | None) -> torch.Tensor:
    """Check [N, 3, H, W] and resize to ``size`` (antialiased bilinear) when given."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"encoder input must be [N, 3, H, W], got {tuple(image.shape)}")
    if size is not None and image.shape[-1] != size:
        image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return image.float()


class InversionEncoder(nn.Module):
    """Stage 2's pSp encoder into W: IR-SE trunk -> average pool -> FC -> w (one 512-d code).

    Its ``input_layer.*`` and ``stages.*`` tensors have the same names and shapes as the
    modulated encoder's, which stage 3 initialises from them."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EncoderConfig()
        self.input_layer, self.stages = build_trunk(config)
        self.output_fc = EqualizedLinear(config.stage_channels[-1], config.w_dim)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """w offsets [N, w_dim] for images [N, 3, H, W] in [-1, 1] (stage 2 adds G's w_avg)."""
        x = self.input_layer(prepare_encoder_input(image, self.config.input_resolution))
        for stage in self.stages:
            x = stage(x)
        return self.output_fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class ModulatedInversionEncoder(nn.Module):
    """IR-SE trunk with an AdaIN residual block after each stage: (image, s_t) -> delta w_t."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or EncoderConfig()
        self.input_layer, self.stages = build_trunk(config)
        self.adains = nn.ModuleList(
            AdaINResBlock(channels, config.style_dim, config.adain_lr_multiplier) for channels in config.stage_channels
        )
        self.output_fc = EqualizedLinear(config.stage_channels[-1], config.w_dim)

    # ------------------------------------------------------------------ precision
    def _autocast(self, device: torch.device) -> torch.autocast:
        enabled = device.type == "cuda" and self.config.mixed_precision != "off"
        dtype = torch.float16 if self.config.mixed_precision == "fp16" else torch.bfloat16
        return torch.autocast(device_type=device.type, dtype=dtype, enabled=enabled)

    def _prepare(self, image: torch.Tensor) -> torch.Tensor:
        return prepare_encoder_input(image, self.config.input_resolution)

    # ------------------------------------------------------------------ forward
    def encode_stem(self, image: torch.Tensor) -> torch.Tensor:
        """Style-independent features (input layer + stage-1 units) of images in [-1, 1]."""
        with self._autocast(image.device):
            return self.stages[0](self.input_layer(self._prepare(image)))

    def forward_from_stem(self, stem: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """delta w [N, w_dim] from stem features [N, C, h, w] and styles [N, style_dim]."""
        if style.shape[0] != stem.shape[0]:
            raise ValueError(f"stem has {stem.shape[0]} rows but styles have {style.shape[0]}")
        with self._autocast(stem.device):
            x = self.adains[0](stem, style)
            for stage, adain in zip(self.stages[1:], self.adains[1:]):
                x = adain(stage(x), style)
            pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.output_fc(pooled.float())

    def forward(self, image: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        """delta w [N, w_dim] for images [N, 3, H, W] in [-1, 1] and styles [N, style_dim]."""
        return self.forward_from_stem(self.encode_stem(image), style)
