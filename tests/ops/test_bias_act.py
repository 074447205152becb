"""bias_act: reference vs a direct scalar computation, derivatives, CUDA autograd wiring."""

from __future__ import annotations

import math

import pytest
import torch

from styleinv_model.ops import ACTIVATIONS, bias_act
from styleinv_model.ops.bias_act_cuda import bias_act_cuda

NAMES = sorted(ACTIVATIONS)


@pytest.mark.parametrize("act", NAMES)
def test_reference_matches_scalar_definition(act, naive_act):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn([2, 3, 4], generator=gen, dtype=torch.float64) * 2
    b = torch.randn([3], generator=gen, dtype=torch.float64)
    spec = ACTIVATIONS[act]
    gain, clamp = 1.3, 1.5
    y = bias_act(x, b, dim=1, act=act, gain=gain, clamp=clamp, impl="ref")
    for idx in range(x.numel()):
        i, j, k = idx // 12, (idx // 4) % 3, idx % 4
        expected = naive_act(act, float(x[i, j, k] + b[j]), spec.def_alpha) * gain
        expected = min(max(expected, -clamp), clamp)
        assert y[i, j, k].item() == pytest.approx(expected, abs=1e-12)


def test_default_gain_and_no_clamp():
    x = torch.tensor([[-2.0, 3.0]])
    y = bias_act(x, act="lrelu", impl="ref")
    assert torch.allclose(y, torch.tensor([[-0.4, 3.0]]) * math.sqrt(2))
    assert bias_act(torch.tensor([500.0]), dim=0, impl="ref").item() == 500.0


@pytest.mark.parametrize("act", NAMES)
def test_reference_gradcheck_and_gradgradcheck(act):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn([2, 3, 2], generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn([3], generator=gen, dtype=torch.float64, requires_grad=True)
    fn = lambda x, b: bias_act(x, b, act=act, gain=0.7, clamp=1.2, impl="ref")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


@pytest.mark.parametrize("act", NAMES)
def test_cuda_wiring_matches_reference_to_second_order(act, emulated_plugin):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn([2, 3, 2], generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn([3], generator=gen, dtype=torch.float64, requires_grad=True)
    spec = ACTIVATIONS[act]
    cuda_fn = lambda x, b: bias_act_cuda(x, b, 1, spec.kernel_id, spec.def_alpha, 0.7, 1.2)  # noqa: E731
    ref_fn = lambda x, b: bias_act(x, b, act=act, gain=0.7, clamp=1.2, impl="ref")  # noqa: E731
    assert torch.allclose(cuda_fn(x, b), ref_fn(x, b), atol=1e-12)
    assert torch.autograd.gradcheck(cuda_fn, (x, b))
    assert torch.autograd.gradgradcheck(cuda_fn, (x, b))
    # Second derivatives equal the reference's (what R1 regularisation relies on).
    for fn_pair in [(cuda_fn, ref_fn)]:
        grads = []
        for fn in fn_pair:
            (gx,) = torch.autograd.grad(fn(x, b).square().sum(), x, create_graph=True)
            grads.append(torch.autograd.grad(gx.sin().sum(), [x, b]))
        for a, r in zip(*grads):
            assert torch.allclose(a, r, atol=1e-10)


def test_bad_inputs_have_clear_errors():
    x = torch.zeros([2, 3])
    with pytest.raises(ValueError, match="unknown activation"):
        bias_act(x, act="gelu2")
    with pytest.raises(ValueError, match="bias of shape"):
        bias_act(x, torch.zeros([4]), dim=1)
    with pytest.raises(ValueError, match="impl="):
        bias_act(x, impl="fast")


def test_env_var_forces_path(monkeypatch):
    x = torch.zeros([2, 3])
    monkeypatch.setenv("STYLEINV_OPS", "cuda")
    with pytest.raises(RuntimeError, match="needs a CUDA tensor"):
        bias_act(x)
    monkeypatch.setenv("STYLEINV_OPS", "ref")
    assert bias_act(x).shape == (2, 3)
    monkeypatch.setenv("STYLEINV_OPS", "fast")
    with pytest.raises(ValueError, match="STYLEINV_OPS"):
        bias_act(x)


def test_cuda_wiring_without_bias(emulated_plugin):
    x = torch.randn([3, 4], dtype=torch.float64, requires_grad=True)
    spec = ACTIVATIONS["swish"]
    fn = lambda x: bias_act_cuda(x, None, 1, spec.kernel_id, spec.def_alpha, spec.def_gain, -1)  # noqa: E731
    assert torch.allclose(fn(x), bias_act(x, act="swish", impl="ref"))
    assert torch.autograd.gradgradcheck(fn, (x,))
