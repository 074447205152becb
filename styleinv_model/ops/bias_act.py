"""Fused bias + activation + gain + clamp: ``y = clamp(act(x + b) * gain, -clamp, clamp)``.

Two implementations with one signature: the PyTorch reference (plain autograd, so any order of
derivative works) and a CUDA kernel with first and second derivatives (R1 needs double backward).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from styleinv_model.ops.backend import resolve_impl

_SELU_SCALE = 1.0507009873554805
_SELU_ALPHA = 1.6732632423543772


@dataclass(frozen=True)
class ActivationSpec:
    """One activation: its reference function, default alpha and gain, and its kernel id."""

    func: Callable[[torch.Tensor, float], torch.Tensor]
    def_alpha: float
    def_gain: float
    kernel_id: int


ACTIVATIONS: dict[str, ActivationSpec] = {
    "linear": ActivationSpec(lambda x, a: x, 0.0, 1.0, 1),
    "relu": ActivationSpec(lambda x, a: F.relu(x), 0.0, math.sqrt(2), 2),
    "lrelu": ActivationSpec(lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2), 3),
    "tanh": ActivationSpec(lambda x, a: torch.tanh(x), 0.0, 1.0, 4),
    "sigmoid": ActivationSpec(lambda x, a: torch.sigmoid(x), 0.0, 1.0, 5),
    "elu": ActivationSpec(lambda x, a: F.elu(x), 0.0, 1.0, 6),
    "selu": ActivationSpec(lambda x, a: F.selu(x), 0.0, 1.0, 7),
    "softplus": ActivationSpec(lambda x, a: F.softplus(x), 0.0, 1.0, 8),
    "swish": ActivationSpec(lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2), 9),
}


def activation_gain(act: str) -> float:
    """The default gain of `act` (sqrt(2) for relu/lrelu/swish, 1 otherwise)."""
    return _spec(act).def_gain


def _spec(act: str) -> ActivationSpec:
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}: use one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[act]


def _check_bias(x: torch.Tensor, b: torch.Tensor | None, dim: int) -> None:
    if b is None:
        return
    if b.ndim != 1 or not 0 <= dim < x.ndim or b.shape[0] != x.shape[dim]:
        raise ValueError(f"bias of shape {tuple(b.shape)} does not match dimension {dim} of input "
                         f"{tuple(x.shape)}: the bias must be 1-D with x.shape[dim] entries")


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, dim: int = 1, act: str = "linear",
             alpha: float | None = None, gain: float | None = None, clamp: float | None = None,
             impl: str = "auto") -> torch.Tensor:
    """Add `b` along `dim`, apply `act`, multiply by `gain` (default: the activation's) and clamp.

    `clamp=None` (or negative) disables clamping. `impl` is "auto", "cuda" or "ref".
    """
    spec = _spec(act)
    _check_bias(x, b, dim)
    alpha_value = float(alpha if alpha is not None else spec.def_alpha)
    gain_value = float(gain if gain is not None else spec.def_gain)
    clamp_value = float(clamp if clamp is not None else -1)
    if resolve_impl(impl, x, "bias_act") == "cuda":
        from styleinv_model.ops.bias_act_cuda import bias_act_cuda

        return bias_act_cuda(x, b, dim, spec.kernel_id, alpha_value, gain_value, clamp_value)
    return bias_act_ref(x, b, dim, act, alpha_value, gain_value, clamp_value)


def bias_act_ref(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str, alpha: float,
                 gain: float, clamp: float) -> torch.Tensor:
    """The PyTorch reference (autograd gives every derivative)."""
    spec = _spec(act)
    if b is not None:
        x = x + b.to(x.dtype).reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = spec.func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x
