"""conv2d_gradfix (double backward without version checks) and conv2d_resample."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from styleinv_model.ops import (conv2d, conv2d_resample, conv_transpose2d, no_weight_gradients,
                                setup_filter, upfirdn2d)


@pytest.mark.parametrize("stride,padding,groups", [(1, 1, 1), (2, 0, 2), (2, 1, 1)])
def test_conv2d_matches_torch_with_gradients(stride, padding, groups):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn([2, 4, 7, 7], generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn([6, 4 // groups, 3, 3], generator=gen, dtype=torch.float64, requires_grad=True)
    b = torch.randn([6], generator=gen, dtype=torch.float64, requires_grad=True)
    ours = conv2d(x, w, b, stride=stride, padding=padding, groups=groups)
    theirs = F.conv2d(x, w, b, stride=stride, padding=padding, groups=groups)
    assert torch.allclose(ours, theirs)
    g = torch.randn_like(ours)
    assert all(torch.allclose(a, c) for a, c in zip(torch.autograd.grad(ours, [x, w, b], g),
                                                     torch.autograd.grad(theirs, [x, w, b], g)))


@pytest.mark.parametrize("transpose", [False, True])
def test_gradcheck_and_gradgradcheck(transpose):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn([1, 2, 4, 4], generator=gen, dtype=torch.float64, requires_grad=True)
    if transpose:
        w = torch.randn([2, 2, 3, 3], generator=gen, dtype=torch.float64, requires_grad=True)
        fn = lambda x, w: conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)  # noqa: E731
    else:
        w = torch.randn([2, 2, 3, 3], generator=gen, dtype=torch.float64, requires_grad=True)
        fn = lambda x, w: conv2d(x, w, stride=2, padding=1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


def test_r1_style_double_backward_equals_native():
    """grad of |d out / d x|^2 w.r.t. the weight: the R1 penalty's path."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn([2, 3, 6, 6], generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn([4, 3, 3, 3], generator=gen, dtype=torch.float64, requires_grad=True)
    results = []
    for op in (conv2d, F.conv2d):
        out = op(x, w, None, 1, 1).tanh().sum()
        (gx,) = torch.autograd.grad(out, x, create_graph=True)
        results.append(torch.autograd.grad(gx.square().sum(), w)[0])
    assert torch.allclose(results[0], results[1])


def test_no_weight_gradients_skips_weight_grad():
    x = torch.randn([1, 2, 4, 4], requires_grad=True)
    w = torch.randn([3, 2, 3, 3], requires_grad=True)
    with no_weight_gradients():
        gx, gw = torch.autograd.grad(conv2d(x, w, padding=1).sum(), [x, w], allow_unused=True)
    assert gx is not None and gw is None
    gx, gw = torch.autograd.grad(conv2d(x, w, padding=1).sum(), [x, w])
    assert gw is not None and gw.abs().sum() > 0


def general_resample(x, w, f, up, down, padding, groups, flip_weight):
    """conv2d_resample's definition without its fast paths: every padding (conv, upsampling and
    downsampling filters) goes before the upsampling filter; then the convolution; then the
    downsampling filter without padding."""
    fw = f.shape[-1]
    pad = padding
    pad0 = pad1 = pad
    if up > 1:
        pad0, pad1 = pad0 + (fw + up - 1) // 2, pad1 + (fw - up) // 2
    if down > 1:
        pad0, pad1 = pad0 + (fw - down + 1) // 2, pad1 + (fw - down) // 2
    x = upfirdn2d(x, f if up > 1 else None, up=up, padding=[pad0, pad1, pad0, pad1], gain=up ** 2, impl="ref")
    if not flip_weight:
        w = w.flip([2, 3])
    x = F.conv2d(x, w, groups=groups)
    if down > 1:
        x = upfirdn2d(x, f, down=down, impl="ref")
    return x


@pytest.mark.parametrize("kernel,up,down,groups,flip_weight",
                         [(k, u, d, g, fl) for k, (u, d), g, fl in
                          itertools.product([1, 3], [(1, 1), (2, 1), (1, 2), (2, 2)], [1, 2], [True, False])])
def test_conv2d_resample_matches_definition(kernel, up, down, groups, flip_weight):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn([2, 4, 8, 8], generator=gen, dtype=torch.float64)
    w = torch.randn([6, 4 // groups, kernel, kernel], generator=gen, dtype=torch.float64)
    f = setup_filter([1, 3, 3, 1])
    ours = conv2d_resample(x, w, f=f, up=up, down=down, padding=kernel // 2, groups=groups,
                           flip_weight=flip_weight, impl="ref")
    expected = general_resample(x, w, f, up, down, kernel // 2, groups, flip_weight)
    assert ours.shape == expected.shape
    assert torch.allclose(ours, expected, atol=1e-6)


@pytest.mark.parametrize("up,down", [(2, 1), (1, 2)])
def test_conv2d_resample_gradgradcheck(up, down):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn([1, 2, 4, 4], generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn([2, 2, 3, 3], generator=gen, dtype=torch.float64, requires_grad=True)
    f = setup_filter([1, 3, 3, 1])
    fn = lambda x, w: conv2d_resample(x, w, f=f, up=up, down=down, padding=1, impl="ref")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


def test_conv2d_resample_errors():
    with pytest.raises(ValueError, match="needs a filter"):
        conv2d_resample(torch.zeros([1, 1, 4, 4]), torch.zeros([1, 1, 3, 3]), up=2)
    with pytest.raises(ValueError, match="4-D"):
        conv2d_resample(torch.zeros([1, 4, 4]), torch.zeros([1, 1, 3, 3]))
