"""The compiled CUDA kernels against the PyTorch reference, on a real GPU (skipped without one).

The CPU suite checks the autograd wiring around the kernels with an emulation (conftest.py); this
file runs the kernels themselves: outputs and first derivatives of bias_act (every activation, with
gain and clamp, and its second derivative), upfirdn2d (up, down, up and down with cropping) and
conv2d_resample (up, down), float32 with TF32 off. Bound: relative error ||cuda - ref|| / ||ref||
<= 1e-5 (the kernels do the same arithmetic in another order; float32 rounding is ~1e-7 relative)."""

from __future__ import annotations

import pytest
import torch

from styleinv_model.ops import ACTIVATIONS, bias_act, conv2d_resample, setup_filter, upfirdn2d

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]
LIMIT = 1e-5


@pytest.fixture(autouse=True)
def _no_tf32():
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def _compare(fn, inputs: list[torch.Tensor], what: str, second_order: bool = False) -> None:
    """fn(impl, *inputs): outputs and input gradients (and a second derivative) of cuda vs ref."""
    results = {}
    for impl in ("cuda", "ref"):
        leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
        y = fn(impl, *leaves)
        weight = torch.randn(y.shape, device=y.device, generator=torch.Generator(y.device).manual_seed(1))
        grads = torch.autograd.grad((y * weight).sum(), leaves, create_graph=second_order)
        second = []
        penalty = sum(g.square().sum() for g in grads)
        if second_order and penalty.requires_grad:  # (linear: the gradient does not depend on the input)
            second = [s if s is not None else torch.zeros_like(x)
                      for s, x in zip(torch.autograd.grad(penalty, leaves, allow_unused=True), leaves)]
        results[impl] = [y.detach(), *[g.detach() for g in grads], *second]
    for k, (a, b) in enumerate(zip(results["cuda"], results["ref"])):
        error = _relative(a, b)
        assert error <= LIMIT, f"{what}: tensor {k} (0 output, then gradients) relative error {error:.3g}"


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_bias_act_kernel(act: str) -> None:
    g = torch.Generator("cuda").manual_seed(0)
    x = torch.randn(4, 16, 8, 8, device="cuda", generator=g)
    b = torch.randn(16, device="cuda", generator=g)
    _compare(lambda impl, x, b: bias_act(x, b, act=act, gain=1.3, clamp=2.5, impl=impl), [x, b], act,
             second_order=True)


@pytest.mark.parametrize("up, down, padding", [(2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)), (3, 2, (-1, 2, 0, -2))])
def test_upfirdn2d_kernel(up: int, down: int, padding: tuple[int, int, int, int]) -> None:
    g = torch.Generator("cuda").manual_seed(0)
    x = torch.randn(2, 8, 16, 16, device="cuda", generator=g)
    f = setup_filter([1, 3, 3, 1], device="cuda")
    _compare(lambda impl, x: upfirdn2d(x, f, up=up, down=down, padding=padding, impl=impl), [x],
             f"upfirdn2d up {up} down {down}")


@pytest.mark.parametrize("up, down", [(2, 1), (1, 2)])
def test_conv2d_resample_kernel(up: int, down: int) -> None:
    g = torch.Generator("cuda").manual_seed(0)
    x = torch.randn(2, 8, 16, 16, device="cuda", generator=g)
    w = torch.randn(12, 8, 3, 3, device="cuda", generator=g)
    f = setup_filter([1, 3, 3, 1], device="cuda")
    _compare(lambda impl, x, w: conv2d_resample(x, w, f=f, up=up, down=down, padding=1, impl=impl), [x, w],
             f"conv2d_resample up {up} down {down}")
