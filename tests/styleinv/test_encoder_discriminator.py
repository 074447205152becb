"""Modulated IR-SE encoder and the video discriminator: structure, AdaIN maths, conditioning."""

from __future__ import annotations

import math

import pytest
import torch

from styleinv_model.styleinv.encoder import (
    AdaINResBlock,
    BottleneckIRSE,
    EncoderConfig,
    ModulatedInversionEncoder,
)
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator, VideoDiscriminatorConfig

SMALL_ENCODER = EncoderConfig(stage_channels=(8, 8, 16, 16), stage_units=(1, 2, 1, 1), se_reduction=4, style_dim=6, w_dim=10)
SMALL_D = VideoDiscriminatorConfig(resolution=32, channel_base=512, channel_max=32, mapping_layers=2)


def test_default_encoder_is_ir_se_50_with_four_adain_blocks() -> None:
    encoder = ModulatedInversionEncoder()
    units = [len(stage) for stage in encoder.stages]
    assert units == [3, 4, 14, 3]  # IR-SE-50
    assert all(isinstance(u, BottleneckIRSE) for stage in encoder.stages for u in stage)
    assert [stage[0].residual[1].out_channels for stage in encoder.stages] == [64, 128, 256, 512]
    assert len(encoder.adains) == 4
    for adain, channels in zip(encoder.adains, (64, 128, 256, 512)):
        assert adain.conv1.weight.shape == (channels, channels, 3, 3)  # no down-sampling, same width
        assert adain.norm1.affine.weight.shape == (2 * channels, 512)  # gamma and beta from s_t (512)
    assert encoder.output_fc.weight.shape == (512, 512)  # pooled 512 -> delta w (512)
    assert EncoderConfig.ir_se(100).stage_units == (3, 13, 30, 3)


def test_adain_block_is_residual_with_variance_normalisation() -> None:
    torch.manual_seed(0)
    block = AdaINResBlock(4, style_dim=3)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        block.conv2.weight.zero_()
        block.conv2.bias.zero_()
        torch.testing.assert_close(block(x, torch.randn(2, 3)), x / math.sqrt(2.0))
        # AdaIN: instance norm, then (1 + gamma) * x + beta with [gamma, beta] = affine(s)
        norm = block.norm1
        norm.affine.weight.zero_()
        norm.affine.bias.copy_(torch.tensor([1.0, 0, 0, 0, 0.5, 0, 0, 0]))
        y = norm(x, torch.randn(2, 3))
    expected = torch.nn.functional.instance_norm(x)
    expected[:, 0] *= 2.0
    expected[:, 0] += 0.5
    torch.testing.assert_close(y, expected)


def test_encoder_stem_split_matches_forward_and_style_matters() -> None:
    torch.manual_seed(0)
    encoder = ModulatedInversionEncoder(SMALL_ENCODER).eval()
    image = torch.rand(3, 3, 32, 32) * 2 - 1
    style = torch.randn(3, 6)
    with torch.no_grad():
        direct = encoder(image, style)
        split = encoder.forward_from_stem(encoder.encode_stem(image), style)
        other = encoder(image, style + 1.0)
    assert direct.shape == (3, 10) and direct.dtype == torch.float32
    torch.testing.assert_close(direct, split, atol=1e-6, rtol=0)
    assert (direct - other).abs().max() > 1e-4
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        encoder(torch.rand(3, 1, 32, 32), style)


def test_encoder_resizes_to_its_input_resolution() -> None:
    torch.manual_seed(0)
    encoder = ModulatedInversionEncoder(EncoderConfig(**{**SMALL_ENCODER.__dict__, "input_resolution": 32})).eval()
    with torch.no_grad():
        stem = encoder.encode_stem(torch.rand(1, 3, 64, 64))
    assert stem.shape == (1, 8, 16, 16)  # 64 -> 32, then stage 1 halves


def test_video_discriminator_shapes_and_frame_concatenation() -> None:
    torch.manual_seed(0)
    D = VideoDiscriminator(SMALL_D)
    assert list(D.blocks) == ["b32", "b16", "b8"]
    # 32 -> 16: channels at 16 are halved; the block at 16 sees the 4 frames' features concatenated
    assert D.blocks["b32"].conv1.weight.shape[0] == SMALL_D.channels(16) // 2
    assert D.blocks["b16"].conv0.weight.shape[1] == (SMALL_D.channels(16) // 2) * 4
    frames = torch.randn(2, 4, 3, 32, 32)
    t = torch.tensor([[0.0, 4.0, 6.0, 12.0], [0.0, 1.5, 2.0, 3.0]])
    logits = D(frames, t)
    assert logits.shape == (2,)
    with torch.no_grad():
        other_gaps = D(frames, torch.tensor([[0.0, 2.0, 6.0, 12.0], [0.0, 1.5, 2.0, 3.0]]))
        swapped = D(frames[:, [0, 2, 1, 3]], t)
    assert (other_gaps[0] - logits[0]).abs() > 1e-6  # time gaps condition the logits
    assert (swapped - logits).abs().max() > 1e-6  # frame order matters (channel concatenation)
    logits.sum().backward()
    assert D.blocks["b32"].from_rgb.weight.grad is not None


def test_video_discriminator_rejects_bad_inputs() -> None:
    D = VideoDiscriminator(SMALL_D)
    with pytest.raises(ValueError, match="frames must be"):
        D(torch.randn(2, 3, 3, 32, 32), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="non-decreasing"):
        D(torch.randn(1, 4, 3, 32, 32), torch.tensor([[0.0, 5.0, 3.0, 9.0]]))
    with pytest.raises(ValueError, match="concat_resolution"):
        VideoDiscriminatorConfig(resolution=16, concat_resolution=16)


@pytest.mark.gpu
def test_encoder_mixed_precision_on_cuda_float32_on_cpu() -> None:
    torch.manual_seed(0)
    encoder = ModulatedInversionEncoder(SMALL_ENCODER).eval()
    image, style = torch.rand(2, 3, 32, 32) * 2 - 1, torch.randn(2, 6)
    with torch.no_grad():
        assert encoder.encode_stem(image).dtype == torch.float32  # CPU: no autocast
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: the bf16 autocast path needs a GPU")
    encoder = encoder.cuda()
    with torch.no_grad():
        stem = encoder.encode_stem(image.cuda())
        delta = encoder.forward_from_stem(stem, style.cuda())
        reference = ModulatedInversionEncoder(EncoderConfig(**{**SMALL_ENCODER.__dict__, "mixed_precision": "off"}))
        reference.load_state_dict(encoder.state_dict())
        exact = reference.eval().cuda()(image.cuda(), style.cuda())
    assert stem.dtype == torch.bfloat16 and delta.dtype == torch.float32
    torch.testing.assert_close(delta, exact, atol=0.05, rtol=0.05)
