"""upfirdn2d: upsample (zero insertion), pad, FIR filter, downsample a batch of images.

For ``x`` [N, C, H, W] and a filter ``f`` ([fh, fw], or [k] for a separable filter applied along x
then y), the op inserts ``up - 1`` zeros after every pixel, pads by ``padding`` (negative values
crop), convolves with ``f`` (true convolution unless ``flip_filter``) scaled by ``gain``, and keeps
every ``down``-th pixel. Output height: ``(H * up_y + pad_y0 + pad_y1 - fh + down_y) // down_y``.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from styleinv_model.ops.backend import resolve_impl

IntOrPair = int | Sequence[int]
Padding = int | Sequence[int]


def _pair(value: IntOrPair, name: str) -> tuple[int, int]:
    """(x, y) from an int or a two-element sequence."""
    if isinstance(value, int):
        return value, value
    if len(value) != 2:
        raise ValueError(f"{name} must be an int or (x, y), got {value!r}")
    return int(value[0]), int(value[1])


def parse_padding(padding: Padding) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, (x, y) or (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    if len(padding) == 4:
        return padding[0], padding[1], padding[2], padding[3]
    raise ValueError(f"padding must be an int, (x, y) or (x0, x1, y0, y1), got {padding!r}")


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a 2-D or separable 1-D filter; (1, 1) for None."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[-1], f.shape[-2]


def setup_filter(f: Sequence[float] | torch.Tensor | None, device: torch.device | str = "cpu",
                 normalize: bool = True, flip_filter: bool = False, gain: float = 1.0,
                 separable: bool | None = None) -> torch.Tensor:
    """A float32 filter tensor from taps: 1-D taps become their outer product (unless separable,
    the default for 8 taps or more), normalised to sum 1, optionally flipped and scaled by `gain`."""
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"a filter must have 1 or 2 dimensions and at least one tap, got shape {tuple(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: IntOrPair = 1, down: IntOrPair = 1,
              padding: Padding = 0, flip_filter: bool = False, gain: float = 1.0,
              impl: str = "auto") -> torch.Tensor:
    """Upsample, pad, filter and downsample `x` [N, C, H, W]; see the module docstring."""
    if x.ndim != 4:
        raise ValueError(f"upfirdn2d expects x of shape [N, C, H, W], got {tuple(x.shape)}")
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    if f.ndim not in (1, 2) or f.dtype != torch.float32 or f.requires_grad:
        raise ValueError("upfirdn2d: the filter must be a float32 1-D or 2-D tensor without requires_grad "
                         "(build it with setup_filter)")
    upx, upy = _pair(up, "up")
    downx, downy = _pair(down, "down")
    if min(upx, upy, downx, downy) < 1:
        raise ValueError(f"upfirdn2d: up and down must be >= 1, got up={up}, down={down}")
    padx0, padx1, pady0, pady1 = parse_padding(padding)
    if resolve_impl(impl, x, "upfirdn2d") == "cuda":
        from styleinv_model.ops.upfirdn2d_cuda import upfirdn2d_cuda

        return upfirdn2d_cuda(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1,
                              flip_filter, float(gain))
    return upfirdn2d_ref(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1,
                         flip_filter, float(gain))


def upfirdn2d_ref(x: torch.Tensor, f: torch.Tensor, upx: int, upy: int, downx: int, downy: int,
                  padx0: int, padx1: int, pady0: int, pady1: int, flip_filter: bool,
                  gain: float) -> torch.Tensor:
    """The PyTorch reference: zero insertion, pad/crop, grouped conv2d, strided slice."""
    from styleinv_model.ops import conv2d_gradfix

    batch, channels, height, width = x.shape
    if upx > 1 or upy > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(batch, channels, height * upy, width * upx)
    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[:, :, max(-pady0, 0): x.shape[2] - max(-pady1, 0), max(-padx0, 0): x.shape[3] - max(-padx1, 0)]
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))  # conv2d correlates; flipping makes it a convolution
    f = f[None, None].repeat([channels, 1] + [1] * f.ndim)
    if f.ndim == 4:
        x = conv2d_gradfix.conv2d(x, f, groups=channels)
    else:
        x = conv2d_gradfix.conv2d(x, f.unsqueeze(2), groups=channels)
        x = conv2d_gradfix.conv2d(x, f.unsqueeze(3), groups=channels)
    return x[:, :, ::downy, ::downx]


def filter2d(x: torch.Tensor, f: torch.Tensor, padding: Padding = 0, flip_filter: bool = False,
             gain: float = 1.0, impl: str = "auto") -> torch.Tensor:
    """Filter `x` with `f`, keeping the size (plus `padding`)."""
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    pad = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: IntOrPair = 2, padding: Padding = 0,
               flip_filter: bool = False, gain: float = 1.0, impl: str = "auto") -> torch.Tensor:
    """Upsample by `up` with the interpolation filter `f` (output = input size * up)."""
    upx, upy = _pair(up, "up")
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    pad = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=(upx, upy), padding=pad, flip_filter=flip_filter, gain=gain * upx * upy, impl=impl)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: IntOrPair = 2, padding: Padding = 0,
                 flip_filter: bool = False, gain: float = 1.0, impl: str = "auto") -> torch.Tensor:
    """Downsample by `down` after filtering with the anti-aliasing filter `f`."""
    downx, downy = _pair(down, "down")
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    pad = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2, py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=(downx, downy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)
