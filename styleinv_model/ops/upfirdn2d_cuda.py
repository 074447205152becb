"""Autograd wiring of the CUDA upfirdn2d kernel; the gradient is another upfirdn2d, so every
order of derivative works."""

from __future__ import annotations

import torch

from styleinv_model.ops import build


def _as_2d_filter(f: torch.Tensor) -> torch.Tensor:
    """The kernel takes 2-D filters: a separable 1-D filter becomes its outer product."""
    return torch.outer(f, f) if f.ndim == 1 else f


class _UpFirDn2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain):  # type: ignore[override]
        plugin, reason = build.get_plugin()
        if plugin is None:
            raise RuntimeError(f"upfirdn2d: CUDA kernels unavailable: {reason}")
        f2 = _as_2d_filter(f).contiguous()
        # The reference scales a separable filter by gain**0.5 per pass: gain in total, as here.
        gain2d = gain
        y = plugin.upfirdn2d(x.contiguous(), f2, upx, upy, downx, downy, padx0, padx1, pady0, pady1,
                             bool(flip_filter), float(gain2d))
        ctx.save_for_backward(f)
        ctx.params = (x.shape, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain)
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        (f,) = ctx.saved_tensors
        x_shape, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain = ctx.params
        _, _, in_h, in_w = x_shape
        _, _, out_h, out_w = dy.shape
        fw = f.shape[-1]
        fh = f.shape[0]
        grad_pad = (fw - padx0 - 1, in_w * upx - out_w * downx + padx0 - upx + 1,
                    fh - pady0 - 1, in_h * upy - out_h * downy + pady0 - upy + 1)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = _UpFirDn2d.apply(dy, f, downx, downy, upx, upy, *grad_pad, not flip_filter, gain)
        return (dx,) + (None,) * 11


def upfirdn2d_cuda(x: torch.Tensor, f: torch.Tensor, upx: int, upy: int, downx: int, downy: int,
                   padx0: int, padx1: int, pady0: int, pady1: int, flip_filter: bool,
                   gain: float) -> torch.Tensor:
    """CUDA upfirdn2d with autograd."""
    return _UpFirDn2d.apply(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain)
