"""Identity loss of pSp (Richardson et al. 2021): cosine distance of ArcFace IR-SE-50 embeddings.

The network is the IR-SE-50 backbone of TreB1eN/InsightFace_Pytorch as used by pSp
(``Backbone(input_size=112, num_layers=50, mode='ir_se')``), laid out so that pSp's released
``model_ir_se50.pth`` loads with strict key matching:

* ``input_layer.{0: conv 3->64 3x3, 1: BatchNorm2d, 2: PReLU}``
* ``body.{0..23}``: bottleneck units (3, 4, 14, 3 units of depth 64, 128, 256, 512; the first unit of
  each stage strides 2). Each has ``shortcut_layer`` (a 1x1 max-pool, no weights, when the depth
  is unchanged, else ``{0: conv 1x1, 1: BatchNorm2d}``) and ``res_layer.{0: BatchNorm2d, 1: conv 3x3,
  2: PReLU, 3: conv 3x3 (strided), 4: BatchNorm2d, 5: squeeze-excitation {fc1, fc2} (ratio 16)}``
* ``output_layer.{0: BatchNorm2d(512), 1: Dropout, 2: Flatten, 3: Linear(512*7*7, 512),
  4: BatchNorm1d(512)}``, then L2 normalisation.

Preprocessing as in pSp: images in [-1, 1] brought to 256x256 (pSp pools its generator output to
256), cropped to rows 35:223 and columns 32:220, average-pooled to 112x112.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .lpips import match_state_dict, path_from_env, read_state_dict

ARCFACE_FILE = "model_ir_se50.pth"
ARCFACE_ENV = "STYLEINV_ARCFACE_IRSE50"
ARCFACE_HINT = ("pSp's ArcFace IR-SE-50 weights model_ir_se50.pth (linked from the "
                "eladrich/pixel2style2pixel README, 'IR-SE50 Model')")
IRSE50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))  # (in, depth, units)
CROP_ROWS = (35, 223)
CROP_COLS = (32, 220)


def default_arcface_path() -> Path:
    """``$STYLEINV_ARCFACE_IRSE50``, else ``model_ir_se50.pth`` in the weights folder
    (``$STYLEINV_CACHE/weights`` or ``~/.cache/styleinv/weights``)."""
    return path_from_env(ARCFACE_ENV, ARCFACE_FILE)


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1, bias=False)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        return x * gate


class _BottleneckIRSE(nn.Module):
    def __init__(self, in_channels: int, depth: int, stride: int) -> None:
        super().__init__()
        if in_channels == depth:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(kernel_size=1, stride=stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_channels, depth, 1, stride, bias=False),
                                                nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            _SqueezeExcite(depth, 16),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class IRSE50(nn.Module):
    """ArcFace IR-SE-50 for 112x112 faces -> L2-normalised 512-d embeddings (pSp's key layout)."""

    def __init__(self, drop_ratio: float = 0.6) -> None:
        super().__init__()
        self.input_layer = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64))
        units: list[nn.Module] = []
        for in_channels, depth, count in IRSE50_STAGES:
            units.append(_BottleneckIRSE(in_channels, depth, 2))
            units.extend(_BottleneckIRSE(depth, depth, 1) for _ in range(count - 1))
        self.body = nn.Sequential(*units)
        self.output_layer = nn.Sequential(nn.BatchNorm2d(512), nn.Dropout(drop_ratio), nn.Flatten(),
                                          nn.Linear(512 * 7 * 7, 512), nn.BatchNorm1d(512))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (112, 112):
            raise ValueError(f"IR-SE-50 needs 112x112 faces, got {tuple(x.shape[-2:])}")
        return F.normalize(self.output_layer(self.body(self.input_layer(x))), dim=1)


class IdentityLossOutput(NamedTuple):
    loss: torch.Tensor  # scalar: mean over the batch of 1 - cos(f(y_hat), f(y)), differentiable
    similarity: torch.Tensor  # [N] cos(f(y_hat), f(y)), detached
    improvement: torch.Tensor | None  # [N] cos(y_hat, y) - cos(y, x), detached; only when x is given


def arcface_preprocess(images: torch.Tensor) -> torch.Tensor:
    """pSp's face crop: [N, 3, H, W] in [-1, 1] -> [N, 3, 112, 112]. Larger images are area-pooled
    to 256x256 (pSp's AdaptiveAvgPool2d), smaller ones bilinearly upsampled; then rows 35:223,
    columns 32:220 are cut and adaptively average-pooled to 112x112."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"identity loss needs [N, 3, H, W] images, got {tuple(images.shape)}")
    x = images.float()
    height, width = x.shape[-2:]
    if (height, width) != (256, 256):
        if height >= 256 and width >= 256:
            x = F.adaptive_avg_pool2d(x, (256, 256))
        else:
            x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)
    x = x[:, :, CROP_ROWS[0]:CROP_ROWS[1], CROP_COLS[0]:CROP_COLS[1]]
    return F.adaptive_avg_pool2d(x, (112, 112))


class IdentityLoss(nn.Module):
    """Frozen pSp identity loss. ``forward(y_hat, y, x=None)`` -> `IdentityLossOutput`; the loss is
    mean_n (1 - cos(f(y_hat_n), f(y_n).detach())), in [0, 2], 0 for identical images. Gradients flow
    to y_hat only. Always in eval mode (BatchNorm running stats, no dropout); ``train()`` is a no-op."""

    def __init__(self) -> None:
        super().__init__()
        self.facenet = IRSE50()
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "IdentityLoss":
        return self

    def load_weights(self, state: dict[str, torch.Tensor], path: Path = Path("<arcface>")) -> None:
        """Load pSp's state dict (strict; ``num_batches_tracked`` may be absent, as in old files)."""
        matched = match_state_dict(path, "ArcFace IR-SE-50 state dict", state, self.facenet.state_dict(),
                                   optional=lambda key: key.endswith("num_batches_tracked"))
        full = dict(self.facenet.state_dict())
        full.update({k: (v.float() if v.dtype.is_floating_point else v) for k, v in matched.items()})
        self.facenet.load_state_dict(full, strict=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "IdentityLoss":
        path = Path(path)
        state = read_state_dict(path, "ArcFace IR-SE-50 weights", ARCFACE_HINT, ARCFACE_ENV)
        model = cls()
        with torch.no_grad():
            model.load_weights(state, path)
        return model

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] in [-1, 1] -> unit 512-d embeddings [N, 512] (float32)."""
        return self.facenet(arcface_preprocess(images))

    def forward(self, y_hat: torch.Tensor, y: torch.Tensor, x: torch.Tensor | None = None) -> IdentityLossOutput:
        if y_hat.shape[0] != y.shape[0]:
            raise ValueError(f"identity loss needs batches of one size, got {y_hat.shape[0]} and {y.shape[0]}")
        target = self.embed(y).detach()
        similarity = (self.embed(y_hat) * target).sum(dim=1).clamp(-1.0, 1.0)
        loss = (1.0 - similarity).mean()
        improvement = None
        if x is not None:
            with torch.no_grad():
                views = (self.embed(x) * target).sum(dim=1).clamp(-1.0, 1.0)
            improvement = similarity.detach() - views
        return IdentityLossOutput(loss=loss, similarity=similarity.detach(), improvement=improvement)
