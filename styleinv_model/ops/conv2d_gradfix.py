"""conv2d / conv_transpose2d whose gradients are themselves differentiable convolutions.

Native convolution already supports double backward; this module adds what StyleGAN2 training
needs on top, without any torch-version whitelist: every gradient is expressed with the same
differentiable ops (so gradgradcheck passes on any torch >= 2.1), and the context manager
`no_weight_gradients()` skips the weight gradient (R1 regularisation needs only input gradients).
It uses only `torch.ops.aten.convolution` / `convolution_backward`, public since torch 1.11.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch

_weight_gradients_disabled = False


@contextlib.contextmanager
def no_weight_gradients(disable: bool = True) -> Iterator[None]:
    """Inside this block, convolutions do not compute gradients for their weights."""
    global _weight_gradients_disabled
    previous = _weight_gradients_disabled
    _weight_gradients_disabled = disable or previous
    try:
        yield
    finally:
        _weight_gradients_disabled = previous


@dataclass(frozen=True)
class ConvSpec:
    """Geometry of one (possibly transposed) 2-D convolution."""

    transpose: bool
    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int

    def output_padding_of_gradient(self, input_shape: torch.Size, output_shape: torch.Size,
                                   weight_shape: torch.Size) -> tuple[int, int]:
        """output_padding that makes the input-gradient convolution return `input_shape`."""
        if self.transpose:
            return (0, 0)
        return tuple(  # type: ignore[return-value]
            input_shape[i + 2] - (output_shape[i + 2] - 1) * self.stride[i]
            - (1 - 2 * self.padding[i]) - self.dilation[i] * (weight_shape[i + 2] - 1)
            for i in range(2))


def _two(value: int | tuple[int, ...] | list[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    value = tuple(int(v) for v in value)
    return (value[0], value[0]) if len(value) == 1 else (value[0], value[1])


def _convolution(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, spec: ConvSpec) -> torch.Tensor:
    return torch.ops.aten.convolution(x, w, b, list(spec.stride), list(spec.padding), list(spec.dilation),
                                      spec.transpose, list(spec.output_padding), spec.groups)


class _Conv(torch.autograd.Function):
    """(Transposed) convolution whose backward is built from _Conv and _ConvWeightGrad."""

    @staticmethod
    def forward(ctx, x, w, b, spec):  # type: ignore[override]
        ctx.spec = spec
        ctx.save_for_backward(x if w.requires_grad else None, w if x.requires_grad else None)
        ctx.input_shape = x.shape
        ctx.weight_shape = w.shape
        ctx.has_bias = b is not None
        return _convolution(x, w, b, spec)

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        x, w = ctx.saved_tensors
        spec: ConvSpec = ctx.spec
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            grad_spec = ConvSpec(not spec.transpose, spec.stride, spec.padding,
                                 spec.output_padding_of_gradient(ctx.input_shape, dy.shape, ctx.weight_shape),
                                 spec.dilation, spec.groups)
            dx = _Conv.apply(dy, w, None, grad_spec)
        if ctx.needs_input_grad[1] and not _weight_gradients_disabled:
            dw = _ConvWeightGrad.apply(dy, x, ctx.weight_shape, spec)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = dy.sum([0, 2, 3])
        return dx, dw, db, None


class _ConvWeightGrad(torch.autograd.Function):
    """dW of a convolution given (dy, x); its own gradient is again a pair of convolutions."""

    @staticmethod
    def forward(ctx, dy, x, weight_shape, spec):  # type: ignore[override]
        ctx.spec = spec
        ctx.save_for_backward(dy if x.requires_grad else None, x if dy.requires_grad else None)
        ctx.weight_shape = weight_shape
        ctx.dy_shape = dy.shape
        ctx.x_shape = x.shape
        weight = torch.empty(weight_shape, dtype=x.dtype, device=x.device)
        grads = torch.ops.aten.convolution_backward(
            dy, x, weight, None, list(spec.stride), list(spec.padding), list(spec.dilation),
            spec.transpose, list(spec.output_padding), spec.groups, [False, True, False])
        return grads[1]

    @staticmethod
    def backward(ctx, d_dw):  # type: ignore[override]
        dy, x = ctx.saved_tensors
        spec: ConvSpec = ctx.spec
        d_dy = d_x = None
        if ctx.needs_input_grad[0]:
            d_dy = _Conv.apply(x, d_dw, None, spec)  # dW is linear in dy: the forward conv with d_dw
        if ctx.needs_input_grad[1]:
            grad_spec = ConvSpec(not spec.transpose, spec.stride, spec.padding,
                                 spec.output_padding_of_gradient(ctx.x_shape, ctx.dy_shape, ctx.weight_shape),
                                 spec.dilation, spec.groups)
            d_x = _Conv.apply(dy, d_dw, None, grad_spec)
        return d_dy, d_x, None, None


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: int = 1,
           padding: int | tuple[int, int] = 0, dilation: int = 1, groups: int = 1) -> torch.Tensor:
    """torch.nn.functional.conv2d with double-differentiable gradients (see module docstring)."""
    spec = ConvSpec(False, _two(stride), _two(padding), (0, 0), _two(dilation), groups)
    return _Conv.apply(x, weight, bias, spec)


def conv_transpose2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
                     stride: int = 1, padding: int | tuple[int, int] = 0,
                     output_padding: int | tuple[int, int] = 0, groups: int = 1,
                     dilation: int = 1) -> torch.Tensor:
    """torch.nn.functional.conv_transpose2d with double-differentiable gradients."""
    spec = ConvSpec(True, _two(stride), _two(padding), _two(output_padding), _two(dilation), groups)
    return _Conv.apply(x, weight, bias, spec)
