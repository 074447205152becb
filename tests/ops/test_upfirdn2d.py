"""upfirdn2d: reference vs a direct per-pixel sum, helpers' sizes, derivatives, CUDA wiring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleinv_model.ops import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d
from styleinv_model.ops.upfirdn2d_cuda import upfirdn2d_cuda

CASES = [  # up, down, padding (x0, x1, y0, y1), flip_filter, gain
    ((1, 1), (1, 1), (0, 0, 0, 0), False, 1.0),
    ((2, 2), (1, 1), (2, 1, 2, 1), False, 4.0),
    ((1, 1), (2, 2), (1, 1, 1, 1), True, 1.0),
    ((3, 2), (2, 1), (-1, 2, 3, -2), False, 1.7),
    ((2, 2), (2, 2), (-3, 0, 1, 4), True, 0.5),
]


def naive_upfirdn2d(x: np.ndarray, f: np.ndarray, up, down, pad, flip, gain) -> np.ndarray:
    """The definition, one output pixel at a time: sum over taps of the upsampled, padded input."""
    (upx, upy), (downx, downy), (px0, px1, py0, py1) = up, down, pad
    n, c, h, w = x.shape
    fh, fw = f.shape
    taps = f if flip else f[::-1, ::-1]
    out_h = (h * upy + py0 + py1 - fh) // downy + 1
    out_w = (w * upx + px0 + px1 - fw) // downx + 1
    out = np.zeros([n, c, out_h, out_w])
    for oy in range(out_h):
        for ox in range(out_w):
            for ky in range(fh):
                for kx in range(fw):
                    sy, sx = oy * downy + ky - py0, ox * downx + kx - px0  # position in the upsampled image
                    if sy % upy or sx % upx:
                        continue
                    iy, ix = sy // upy, sx // upx
                    if 0 <= iy < h and 0 <= ix < w:
                        out[:, :, oy, ox] += x[:, :, iy, ix] * taps[ky, kx]
    return out * gain


@pytest.mark.parametrize("up,down,pad,flip,gain", CASES)
def test_reference_matches_direct_sum(up, down, pad, flip, gain):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn([2, 3, 7, 6], generator=gen, dtype=torch.float64)
    f = torch.randn([4, 3], generator=gen)
    y = upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, impl="ref")
    expected = naive_upfirdn2d(x.numpy(), f.double().numpy(), up, down, pad, flip, gain)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y.numpy(), expected, atol=1e-5)  # the filter is float32


def test_separable_filter_equals_outer_product():
    x = torch.randn([1, 2, 9, 9], dtype=torch.float64)
    taps = [1, 3, 5, 7, 7, 5, 3, 1]
    f_sep = setup_filter(taps)
    f_2d = setup_filter(taps, separable=False)
    assert f_sep.ndim == 1 and f_2d.ndim == 2
    a = upfirdn2d(x, f_sep, up=2, padding=3, gain=4, impl="ref")
    b = upfirdn2d(x, f_2d, up=2, padding=3, gain=4, impl="ref")
    assert torch.allclose(a, b, atol=1e-6)


def test_setup_filter_normalises_and_scales():
    f = setup_filter([1, 3, 3, 1], gain=4)
    assert f.shape == (4, 4)
    assert f.sum().item() == pytest.approx(4.0)
    assert f[0, 0].item() == pytest.approx(4 / 64)


def test_resampling_helpers_sizes_and_constant_preservation():
    f = setup_filter([1, 3, 3, 1])
    x = torch.ones([1, 1, 8, 8], dtype=torch.float64)
    up = upsample2d(x, f, impl="ref")
    down = downsample2d(x, f, impl="ref")
    same = filter2d(x, f, impl="ref")
    assert up.shape == (1, 1, 16, 16) and down.shape == (1, 1, 4, 4) and same.shape == (1, 1, 8, 8)
    # Away from the zero-padded border a constant stays constant.
    assert torch.allclose(up[..., 3:-3, 3:-3], torch.ones(1, 1, 10, 10, dtype=torch.float64))
    assert torch.allclose(down[..., 1:-1, 1:-1], torch.ones(1, 1, 2, 2, dtype=torch.float64))


@pytest.mark.parametrize("up,down,pad,flip,gain", CASES[1:4])
def test_reference_gradcheck_and_gradgradcheck(up, down, pad, flip, gain):
    x = torch.randn([1, 1, 5, 4], dtype=torch.float64, requires_grad=True)
    f = setup_filter([1, 2, 1])
    fn = lambda x: upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, impl="ref")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


@pytest.mark.parametrize("up,down,pad,flip,gain", CASES)
def test_cuda_wiring_gradient_padding(up, down, pad, flip, gain, emulated_plugin):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn([1, 1, 5, 4], generator=gen, dtype=torch.float64, requires_grad=True)
    f = torch.randn([4, 3], generator=gen)
    fn = lambda x: upfirdn2d_cuda(x, f, *up, *down, *pad, flip, gain)  # noqa: E731
    ref = upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, impl="ref")
    assert torch.allclose(fn(x), ref, atol=1e-5)
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


def test_bad_inputs_have_clear_errors():
    x = torch.zeros([1, 1, 4, 4])
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        upfirdn2d(torch.zeros([4, 4]), setup_filter([1, 1]))
    with pytest.raises(ValueError, match="float32"):
        upfirdn2d(x, torch.ones([2, 2], dtype=torch.float64))
    with pytest.raises(ValueError, match="up and down"):
        upfirdn2d(x, setup_filter([1, 1]), up=0)
    with pytest.raises(ValueError, match="padding"):
        upfirdn2d(x, setup_filter([1, 1]), padding=[1, 2, 3])
