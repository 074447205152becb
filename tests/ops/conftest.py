"""Fixtures of the ops tests: an emulation of the CUDA kernels in PyTorch.

The emulation follows the kernels' contract (modes 0/1/2 of bias_act with explicit derivative
formulas; upfirdn2d as direct tap sums) so the autograd wiring of the CUDA path (first and second
derivatives, gradient padding of upfirdn2d) is tested on the CPU. The kernels themselves are
checked against the reference by benchmarks/gpu_ops.py on a GPU.
"""

from __future__ import annotations

import math

import pytest
import torch

SELU_SCALE = 1.0507009873554805
SELU_ALPHA = 1.6732632423543772


def activation_derivative(act_id: int, order: int, z: torch.Tensor, alpha: float) -> torch.Tensor:
    """Value (order 0), first or second derivative of the activation with kernel id `act_id`."""
    one = torch.ones_like(z)
    zero = torch.zeros_like(z)
    s = torch.sigmoid(z)
    t = torch.tanh(z)
    pos = z > 0
    table = {
        1: (z, one, zero),
        2: (torch.where(pos, z, zero), torch.where(pos, one, zero), zero),
        3: (torch.where(pos, z, alpha * z), torch.where(pos, one, alpha * one), zero),
        4: (t, 1 - t * t, -2 * t * (1 - t * t)),
        5: (s, s * (1 - s), s * (1 - s) * (1 - 2 * s)),
        6: (torch.where(pos, z, torch.expm1(z)), torch.where(pos, one, torch.exp(z)), torch.where(pos, zero, torch.exp(z))),
        7: (SELU_SCALE * torch.where(pos, z, SELU_ALPHA * torch.expm1(z)),
            SELU_SCALE * torch.where(pos, one, SELU_ALPHA * torch.exp(z)),
            torch.where(pos, zero, SELU_SCALE * SELU_ALPHA * torch.exp(z))),
        8: (torch.where(z > 20, z, torch.log1p(torch.exp(z))), torch.where(z > 20, one, s),
            torch.where(z > 20, zero, s * (1 - s))),
        9: (z * s, s * (1 + z * (1 - s)), s * (1 - s) * (2 + z * (1 - 2 * s))),
    }
    return table[act_id][order]


class EmulatedPlugin:
    """Same signatures as the compiled extension, computed with PyTorch on the CPU."""

    @staticmethod
    def bias_act(x, b, dy, mode, dim, act_id, alpha, gain, clamp):
        z = x
        if b.numel() > 0:
            z = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
        y = activation_derivative(act_id, 0, z, alpha) * gain
        if mode == 0:
            return y.clamp(-clamp, clamp) if clamp >= 0 else y
        grad = dy * gain * activation_derivative(act_id, mode, z, alpha)
        if clamp >= 0:
            grad = torch.where(y.abs() > clamp, torch.zeros_like(grad), grad)
        return grad

    @staticmethod
    def upfirdn2d(x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain):
        n, c, h, w = x.shape
        fh, fw = f.shape
        big = torch.zeros([n, c, h * upy, w * upx], dtype=x.dtype)
        big[:, :, ::upy, ::upx] = x
        padded = torch.zeros([n, c, h * upy + max(pady0, 0) + max(pady1, 0), w * upx + max(padx0, 0) + max(padx1, 0)],
                             dtype=x.dtype)
        padded[:, :, max(pady0, 0): max(pady0, 0) + h * upy, max(padx0, 0): max(padx0, 0) + w * upx] = big
        padded = padded[:, :, max(-pady0, 0): padded.shape[2] - max(-pady1, 0),
                        max(-padx0, 0): padded.shape[3] - max(-padx1, 0)]
        taps = f.to(x.dtype) if flip_filter else f.to(x.dtype).flip([0, 1])
        out_h = (padded.shape[2] - fh) // downy + 1
        out_w = (padded.shape[3] - fw) // downx + 1
        out = torch.zeros([n, c, out_h, out_w], dtype=x.dtype)
        for ky in range(fh):
            for kx in range(fw):
                window = padded[:, :, ky: ky + (out_h - 1) * downy + 1: downy, kx: kx + (out_w - 1) * downx + 1: downx]
                out = out + window * taps[ky, kx]
        return out * gain


@pytest.fixture
def emulated_plugin(monkeypatch):
    """Route the CUDA autograd wiring to EmulatedPlugin (works on CPU tensors)."""
    from styleinv_model.ops import build

    monkeypatch.setattr(build, "get_plugin", lambda: (EmulatedPlugin(), None))
    return EmulatedPlugin()


def naive_activation(name: str, value: float, alpha: float) -> float:
    """Scalar definitions written out, independent of torch.nn.functional."""
    if name == "linear":
        return value
    if name == "relu":
        return max(value, 0.0)
    if name == "lrelu":
        return value if value > 0 else alpha * value
    if name == "tanh":
        return math.tanh(value)
    if name == "sigmoid":
        return 1 / (1 + math.exp(-value))
    if name == "elu":
        return value if value > 0 else math.exp(value) - 1
    if name == "selu":
        return SELU_SCALE * (value if value > 0 else SELU_ALPHA * (math.exp(value) - 1))
    if name == "softplus":
        return math.log1p(math.exp(value))
    if name == "swish":
        return value / (1 + math.exp(-value))
    raise KeyError(name)


@pytest.fixture
def naive_act():
    return naive_activation
