"""FFA-APE temporal style: causality, the fixed first anchor, the aligned time code, shapes."""

from __future__ import annotations

import math

import pytest
import torch

from styleinv_model.styleinv.layers import LeftSidedConv1d
from styleinv_model.styleinv.temporal_style import TemporalStyle, TemporalStyleConfig, log_spaced_frequencies

SMALL = TemporalStyleConfig(w_dim=16, motion_dim=12, num_frequencies=6, style_dim=10, motion_z_distance=4,
                            min_period=4.0, max_period=32.0)


def _style(config: TemporalStyleConfig = SMALL, seed: int = 0) -> TemporalStyle:
    torch.manual_seed(seed)
    return TemporalStyle(config).eval()


def test_default_parameter_shapes_match_the_spec() -> None:
    style = TemporalStyle()
    assert style.first_anchor.shape == (512,)
    assert len(style.anchor_convs) == 2
    for conv in style.anchor_convs:
        assert conv.weight.shape == (512, 512, 6)  # a left-sided kernel with 6 effective taps
        assert conv.bias.shape == (512,)
        # equalised lr with lr multiplier 0.01, gain over the authors' 11 stored taps
        assert conv.weight_gain == pytest.approx(0.01 / math.sqrt(512 * 11))
        assert conv.bias_gain == pytest.approx(0.01)
    assert style.receptive_context == 10
    encoder = style.time_encoder
    assert encoder.freqs.shape == (256,)
    assert encoder.period_predictor.weight.shape == (256, 512) and encoder.period_predictor.bias is None
    assert encoder.phase_predictor.weight.shape == (256, 512) and encoder.phase_predictor.bias is None
    assert encoder.aligner.weight.shape == (512, 512) and encoder.aligner.bias is None
    assert len(style.fuse) == 2  # two fuse layers: [v_t (512), w0 (512)] -> 512 -> 512
    assert style.fuse[0].weight.shape == (512, 1024)
    assert style.fuse[1].weight.shape == (512, 512)
    assert all(layer.activation == "lrelu" and layer.bias_gain == pytest.approx(0.01) for layer in style.fuse)
    s = style(torch.randn(2, 512), torch.tensor([[0.0, 7.5, 40.0], [3.0, 16.0, 100.25]]))
    assert s.shape == (2, 3, 512)


def test_periods_are_log2_spaced_from_anchor_distance_to_clip_length() -> None:
    freqs = log_spaced_frequencies(256, 16.0, 128.0)
    periods = (2 * math.pi / freqs).flip(0)
    assert periods[0].item() == pytest.approx(16.0) and periods[-1].item() == pytest.approx(128.0)
    steps = torch.diff(torch.log2(periods))
    assert torch.allclose(steps, torch.full_like(steps, 3.0 / 255), atol=1e-9)


def test_left_sided_conv_keeps_length_and_sees_six_taps() -> None:
    torch.manual_seed(0)
    conv = LeftSidedConv1d(3, 3, taps=6, activation="linear")
    x = torch.randn(1, 3, 20)
    y = conv(x)
    assert y.shape == x.shape
    for k in range(20):
        x2 = x.clone()
        x2[0, :, k] += 1.0
        changed = (conv(x2) - y).abs().amax(dim=1)[0] > 0
        expected = torch.zeros(20, dtype=torch.bool)
        expected[k : k + 6] = True  # input k reaches outputs k .. k+5 only
        assert torch.equal(changed, expected), k


def test_changing_an_anchor_never_changes_earlier_anchor_styles() -> None:
    style = _style()
    w0 = torch.randn(2, SMALL.w_dim)
    noise = torch.randn(2, 30, SMALL.motion_dim)
    t = (torch.arange(28, dtype=torch.float32) * SMALL.motion_z_distance).repeat(2, 1)  # anchor timestamps
    with torch.no_grad():
        base = style(w0, t, noise)
        for k in (1, 5, 17):
            perturbed = noise.clone()
            perturbed[:, k] += 3.0
            out = style(w0, t, perturbed)
            assert torch.equal(out[:, :k], base[:, :k]), f"anchor {k} changed an earlier style"
            assert (out[:, k] - base[:, k]).abs().max() > 1e-4  # and it does change its own


def test_anchor_code_depends_on_exactly_ten_earlier_anchors() -> None:
    style = _style()
    noise = torch.randn(1, 40, SMALL.motion_dim)
    with torch.no_grad():
        base = style.anchor_codes(noise)
        for k in (12, 25):
            perturbed = noise.clone()
            perturbed[:, k] += 3.0
            diff = (style.anchor_codes(perturbed) - base).abs().amax(dim=2)[0]
            assert torch.all(diff[:k] == 0)
            assert torch.all(diff[k : k + 11] > 0)  # two 6-tap layers: anchors k .. k+10
            assert torch.all(diff[k + 11 :] == 0)


def test_time_zero_does_not_depend_on_motion_noise() -> None:
    style = _style()
    w0 = torch.randn(3, SMALL.w_dim)
    t = torch.tensor([[0.0, 2.0, 9.0]] * 3)
    with torch.no_grad():
        a = style(w0, t, torch.randn(3, 5, SMALL.motion_dim))
        b = style(w0, t, 10 * torch.randn(3, 5, SMALL.motion_dim))
    assert torch.equal(a[:, 0], b[:, 0])
    assert (a[:, 1:] - b[:, 1:]).abs().max() > 1e-4


def test_time_code_at_an_anchor_is_the_aligner_projection_of_its_code() -> None:
    style = _style()
    noise = torch.randn(2, 8, SMALL.motion_dim)
    distance = SMALL.motion_z_distance
    with torch.no_grad():
        codes = style.anchor_codes(noise)
        anchors = torch.arange(6)
        t = (anchors.float() * distance).repeat(2, 1)
        v = style.time_codes(t, codes)
        expected = style.time_encoder.aligner(codes[:, :6])
        between = style.time_codes(t + 0.5 * distance, codes)
    torch.testing.assert_close(v, expected, atol=1e-6, rtol=0)
    assert (between - expected).abs().max() > 1e-3  # the sinusoids add detail between anchors


def test_time_code_interpolates_continuously_to_the_next_anchor() -> None:
    style = _style()
    noise = torch.randn(1, 6, SMALL.motion_dim)
    distance = SMALL.motion_z_distance
    with torch.no_grad():
        codes = style.anchor_codes(noise)
        near = style.time_codes(torch.tensor([[2 * distance - 1e-4]]), codes)
        at = style.time_codes(torch.tensor([[2.0 * distance]]), codes)
    torch.testing.assert_close(near, at, atol=1e-3, rtol=0)


def test_windowed_anchor_codes_equal_full_sequence_codes() -> None:
    style = _style()
    noise = torch.randn(2, 60, SMALL.motion_dim)
    with torch.no_grad():
        full = style.anchor_codes(noise)
        window = style.anchor_codes_range(noise[:, 20:45], window_start=20, first=30)
    torch.testing.assert_close(window, full[:, 30:45], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="needs noise from anchor"):
        style.anchor_codes_range(noise[:, 25:45], window_start=25, first=30)


def test_bad_inputs_give_clear_errors() -> None:
    style = _style()
    codes = style.anchor_codes(torch.randn(1, 3, SMALL.motion_dim))
    with pytest.raises(ValueError, match=">= 0"):
        style.time_codes(torch.tensor([[-1.0]]), codes)
    with pytest.raises(ValueError, match="timestamps need"):
        style.time_codes(torch.tensor([[50.0]]), codes)
    with pytest.raises(ValueError, match="motion noise must be"):
        style.anchor_codes(torch.randn(1, 3, 5))
    with pytest.raises(ValueError, match="min_period"):
        TemporalStyleConfig(min_period=64.0, max_period=16.0)
