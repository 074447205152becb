"""Autograd wiring of the CUDA bias_act kernel (first and second derivatives)."""

from __future__ import annotations

import torch

from styleinv_model.ops import build

# Kernel modes: 0 = forward value, 1 = dy * d act(z)/dz, 2 = dy * d^2 act(z)/dz^2 (z = x + b);
# gain and the clamp mask are applied in every mode.
_FORWARD, _FIRST, _SECOND = 0, 1, 2


def _kernel(x: torch.Tensor, b: torch.Tensor | None, dy: torch.Tensor | None, mode: int, dim: int,
            act_id: int, alpha: float, gain: float, clamp: float) -> torch.Tensor:
    plugin, reason = build.get_plugin()
    if plugin is None:
        raise RuntimeError(f"bias_act: CUDA kernels unavailable: {reason}")
    empty = x.new_empty([0])
    bias = b.to(x.dtype).contiguous() if b is not None else empty
    grad = dy.to(x.dtype).contiguous() if dy is not None else empty
    return plugin.bias_act(x.contiguous(), bias, grad, mode, dim, act_id, alpha, gain, clamp)


def _reduce_to_bias(grad_x: torch.Tensor, dim: int) -> torch.Tensor:
    return grad_x.sum([i for i in range(grad_x.ndim) if i != dim])


class _BiasActGrad(torch.autograd.Function):
    """dx = dy * gain * act'(x + b) * mask; differentiable once more (second derivative)."""

    @staticmethod
    def forward(ctx, dy, x, b, dim, act_id, alpha, gain, clamp):  # type: ignore[override]
        ctx.save_for_backward(dy, x, b)
        ctx.params = (dim, act_id, alpha, gain, clamp)
        return _kernel(x, b, dy, _FIRST, dim, act_id, alpha, gain, clamp)

    @staticmethod
    def backward(ctx, d_dx):  # type: ignore[override]
        dy, x, b = ctx.saved_tensors
        dim, act_id, alpha, gain, clamp = ctx.params
        d_dy = d_x = d_b = None
        if ctx.needs_input_grad[0]:
            d_dy = _kernel(x, b, d_dx, _FIRST, dim, act_id, alpha, gain, clamp)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            d_x = _kernel(x, b, d_dx * dy, _SECOND, dim, act_id, alpha, gain, clamp)
            if b is not None and b.numel() > 0 and ctx.needs_input_grad[2]:
                d_b = _reduce_to_bias(d_x, dim).to(b.dtype)
        return d_dy, d_x, d_b, None, None, None, None, None


class _BiasAct(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b, dim, act_id, alpha, gain, clamp):  # type: ignore[override]
        ctx.save_for_backward(x, b)
        ctx.params = (dim, act_id, alpha, gain, clamp)
        return _kernel(x, b, None, _FORWARD, dim, act_id, alpha, gain, clamp)

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        x, b = ctx.saved_tensors
        dim, act_id, alpha, gain, clamp = ctx.params
        dx = _BiasActGrad.apply(dy.contiguous(), x, b, dim, act_id, alpha, gain, clamp)
        db = _reduce_to_bias(dx, dim).to(b.dtype) if ctx.needs_input_grad[1] else None
        return dx, db, None, None, None, None, None


def bias_act_cuda(x: torch.Tensor, b: torch.Tensor | None, dim: int, act_id: int, alpha: float,
                  gain: float, clamp: float) -> torch.Tensor:
    """CUDA bias_act with autograd (1st and 2nd derivatives)."""
    bias = b if b is not None else x.new_empty([0])
    return _BiasAct.apply(x, bias, dim, act_id, alpha, gain, clamp)
