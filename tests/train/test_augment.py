"""ADA augmentation: identity at p=0, video consistency, exact blit, filtered geometry, colour,
determinism and the adaptive probability rule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from styleinv_model.train.affine_resample import SYM6_LOWPASS, resample_affine
from styleinv_model.train.augment import (AdaptiveConfig, AdaptiveProbability, AugmentConfig,
                                          AugmentPipeline, apply_blit, apply_colour, parse_pipeline)

SIZE = 16


def _images(n: int = 4, channels: int = 3, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, channels, size, size, generator=torch.Generator().manual_seed(seed))


def _smooth_images(n: int = 2, size: int = 24) -> torch.Tensor:
    """Band-limited content (low-frequency sinusoids) so resampling is near-exact away from borders."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    chans = [torch.sin(2 * math.pi * (x * 1.0 + y * 2.0) / size),
             torch.cos(2 * math.pi * (x * 2.0 - y * 1.0) / size),
             torch.sin(2 * math.pi * (x * 3.0) / size + 0.3)]
    image = torch.stack(chans)[None]
    return torch.cat([image, image.flip(-1)])[:n]


# --------------------------------------------------------------------------- pipeline specs

def test_pipeline_names() -> None:
    assert parse_pipeline("bgc") == "bgc"
    assert parse_pipeline("cgb") == "bgc"
    assert parse_pipeline("bg") == "bg"
    assert parse_pipeline("bgrc") == "bgc"
    assert parse_pipeline("blit") == "b"
    assert parse_pipeline("none") == ""
    with pytest.raises(ValueError, match="letters \\['x'\\]"):
        parse_pipeline("bgx")
    bg = AugmentConfig.from_pipeline("bg")
    assert bg.xflip == bg.scale == 1.0 and bg.brightness == 0.0
    assert AugmentConfig.from_pipeline("c", hue=0.5).hue == 0.5
    with pytest.raises(ValueError, match="unknown augmentation option"):
        AugmentConfig.from_pipeline("bgc", not_an_option=1.0)


# --------------------------------------------------------------------------- identity, determinism

@pytest.mark.parametrize("pipeline", ["bg", "bgc"])
def test_p_zero_is_exact_identity(pipeline: str) -> None:
    pipe = AugmentPipeline(pipeline, p=0.0)
    images = _images()
    assert torch.equal(pipe(images, generator=torch.Generator().manual_seed(3)), images)
    videos = images.reshape(2, 2, 3, SIZE, SIZE)
    assert torch.equal(pipe(videos), videos)


def test_same_generator_seed_same_output_and_different_seed_differs() -> None:
    pipe = AugmentPipeline("bgc", p=0.7)
    images = _images(6)
    first = pipe(images, generator=torch.Generator().manual_seed(11))
    again = pipe(images, generator=torch.Generator().manual_seed(11))
    other = pipe(images, generator=torch.Generator().manual_seed(12))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_generator_stream_does_not_depend_on_p() -> None:
    low = AugmentPipeline("bgc", p=0.1).sample_params(8, SIZE, SIZE, torch.Generator().manual_seed(5))
    high = AugmentPipeline("bgc", p=1.0).sample_params(8, SIZE, SIZE, torch.Generator().manual_seed(5))
    # at p=1 every xint draw is used; at p=0.1 the used ones equal the p=1 values
    used = low.shift_x != 0
    assert torch.equal(low.shift_x[used], high.shift_x[used])


# --------------------------------------------------------------------------- groups at p = 1

@pytest.mark.parametrize("pipeline", ["b", "g", "c"])
def test_each_group_changes_images_and_is_differentiable(pipeline: str) -> None:
    pipe = AugmentPipeline(pipeline, p=1.0)
    images = _images(4).requires_grad_(True)
    out = pipe(images, generator=torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    changed = (out - images).flatten(1).abs().amax(dim=1) > 1e-3
    assert int(changed.sum()) >= 3  # p=1: (almost) every image changes
    weights = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * weights).sum(), images)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_second_order_gradient_through_geometric_augmentation() -> None:
    """R1 through an augmented D input needs double backward through the resampler."""
    pipe = AugmentPipeline("bgc", p=1.0)
    images = _images(2).requires_grad_(True)
    scale = torch.tensor(1.5, requires_grad=True)
    out = pipe(images, generator=torch.Generator().manual_seed(2))
    logits = (scale * out.square()).flatten(1).sum(1)
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    (dscale,) = torch.autograd.grad(grad.square().sum(), scale)
    # ||grad||^2 is quadratic in `scale`: d/ds (s^2 K) = 2 K / s
    assert torch.allclose(dscale, 2 * grad.square().sum().detach() / scale.detach(), rtol=1e-4)


def test_float64_and_one_channel_images() -> None:
    pipe = AugmentPipeline("bgc", p=1.0)
    images = _images(3).double()
    out = pipe(images, generator=torch.Generator().manual_seed(4))
    assert out.dtype == torch.float64 and out.shape == images.shape
    gray = _images(3, channels=1)
    out_gray = pipe(gray, generator=torch.Generator().manual_seed(4))
    assert out_gray.shape == gray.shape and not torch.allclose(out_gray, gray)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        AugmentPipeline("c", p=1.0)(_images(2, channels=2))


# --------------------------------------------------------------------------- video mode

def test_video_mode_applies_one_transform_per_video() -> None:
    pipe = AugmentPipeline("bgc", p=1.0)
    frame = _images(1)
    videos = frame.expand(3, 4, 3, SIZE, SIZE).contiguous()  # every frame of every video equal
    out = pipe(videos, generator=torch.Generator().manual_seed(7))
    for video in out:
        for t in range(1, 4):
            assert torch.allclose(video[t], video[0], atol=1e-6)
    assert not torch.allclose(out[0, 0], out[1, 0], atol=1e-3)
    assert not torch.allclose(out[1, 0], out[2, 0], atol=1e-3)


def test_video_mode_equals_per_frame_application_of_the_video_params() -> None:
    pipe = AugmentPipeline("bgc", p=1.0)
    videos = _images(6).reshape(2, 3, 3, SIZE, SIZE)  # distinct frames
    out = pipe(videos, generator=torch.Generator().manual_seed(8))
    params = pipe.sample_params(2, SIZE, SIZE, torch.Generator().manual_seed(8))
    for b in range(2):
        video_params = type(params)(*(getattr(params, name)[b:b + 1] for name in params.__dataclass_fields__))
        for t in range(3):
            expected = pipe.apply(videos[b, t:t + 1], video_params)
            # the same ops; only float rounding differs with the batch's padding size
            assert torch.allclose(out[b, t:t + 1], expected, atol=1e-4)
    flat = pipe(videos.reshape(6, 3, SIZE, SIZE), frames_per_video=3,
                generator=torch.Generator().manual_seed(8))
    assert torch.equal(flat, out.reshape(6, 3, SIZE, SIZE))
    with pytest.raises(ValueError, match="not a whole number of videos"):
        pipe(videos.reshape(6, 3, SIZE, SIZE), frames_per_video=4)


# --------------------------------------------------------------------------- blit is exact

def test_blit_flip_rotate_translate_match_direct_results() -> None:
    images = _images(2)
    no = torch.zeros(2, dtype=torch.long)
    flipped = apply_blit(images, torch.tensor([True, False]), no, no, no)
    assert torch.equal(flipped[0], images[0].flip(-1)) and torch.equal(flipped[1], images[1])
    for turns in range(4):
        rotated = apply_blit(images, torch.tensor([False, False]), torch.full((2,), turns), no, no)
        assert torch.equal(rotated, torch.rot90(images, k=turns, dims=(2, 3)))
    shifted = apply_blit(images, torch.tensor([False, False]), no, torch.tensor([3, -2]), torch.tensor([-1, 0]))
    padded = F.pad(images, [4, 4, 4, 4], mode="reflect")
    assert torch.equal(shifted[0], padded[0, :, 4 + 1:4 + 1 + SIZE, 4 - 3:4 - 3 + SIZE])
    assert torch.equal(shifted[1], padded[1, :, 4:4 + SIZE, 4 + 2:4 + 2 + SIZE])


def test_blit_rotate90_refuses_non_square() -> None:
    images = torch.zeros(1, 3, 8, 12)
    with pytest.raises(ValueError, match="square"):
        apply_blit(images, torch.tensor([False]), torch.tensor([1]), torch.tensor([0]), torch.tensor([0]))


# --------------------------------------------------------------------------- geometric resampler

def test_wavelet_filter_is_orthonormal() -> None:
    taps = torch.tensor(SYM6_LOWPASS, dtype=torch.float64)
    assert abs(float(taps.sum()) - math.sqrt(2)) < 1e-12
    assert abs(float(taps.square().sum()) - 1) < 1e-12
    for lag in range(2, len(taps), 2):
        assert abs(float((taps[:-lag] * taps[lag:]).sum())) < 1e-11


def test_resample_identity_and_integer_translation() -> None:
    images = _images(2)
    eye = torch.eye(3).repeat(2, 1, 1)
    assert torch.allclose(resample_affine(images, eye), images, atol=2e-5)
    # reading from (x - 2, y + 1) moves the content by (+2, -1): the interior equals the exact shift
    matrix = eye.clone()
    matrix[:, 0, 2], matrix[:, 1, 2] = -2.0, 1.0
    out = resample_affine(images, matrix)
    exact = apply_blit(images, torch.tensor([False, False]), torch.zeros(2, dtype=torch.long),
                       torch.tensor([2, 2]), torch.tensor([-1, -1]))
    assert torch.allclose(out[..., 4:-4, 4:-4], exact[..., 4:-4, 4:-4], atol=2e-5)


def test_resample_quarter_rotation_and_flip_match_exact_results() -> None:
    """Reversing an axis through the (asymmetric) wavelet filter: the delay compensation keeps the
    content in place; band-limited content then matches the exact rotation/flip closely."""
    images = _smooth_images()
    cases = {"rot90": ([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], torch.rot90(images, 1, (2, 3))),
             "rot180": ([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]], images.flip(-1).flip(-2)),
             "xflip": ([[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], images.flip(-1))}
    for name, (matrix, exact) in cases.items():
        out = resample_affine(images, torch.tensor(matrix).repeat(2, 1, 1))
        error = float((out - exact)[..., 4:-4, 4:-4].abs().max())
        assert error < 0.05, (name, error)  # without the delay compensation: 0.34
    wrong_way = resample_affine(images, torch.tensor(cases["rot90"][0]).repeat(2, 1, 1))
    assert float((wrong_way - torch.rot90(images, 3, (2, 3))).abs().max()) > 1.0


@pytest.mark.parametrize("shift, tolerance", [(0.5, 1e-4), (0.3, 0.03), (1.7, 0.03)])
def test_resample_fractional_translation_of_smooth_image(shift: float, tolerance: float) -> None:
    """A half pixel lands on the 2x grid (exact); other shifts interpolate bilinearly on the 2x grid
    (error ~0.018 here, against ~0.2-1.2 for not shifting at all)."""
    images = _smooth_images()
    size = images.shape[-1]
    matrix = torch.eye(3).repeat(2, 1, 1)
    matrix[:, 0, 2] = shift  # out(x) = in(x + shift)
    out = resample_affine(images, matrix)
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                          indexing="ij")
    x = x + shift
    expected0 = torch.stack([torch.sin(2 * math.pi * (x * 1.0 + y * 2.0) / size),
                             torch.cos(2 * math.pi * (x * 2.0 - y * 1.0) / size),
                             torch.sin(2 * math.pi * (x * 3.0) / size + 0.3)])
    interior = (slice(None), slice(6, -6), slice(6, -6))
    assert float((out[0] - expected0)[interior].abs().max()) < tolerance
    assert float((images[0] - expected0)[interior].abs().max()) > 0.2


# --------------------------------------------------------------------------- colour

def test_brightness_only_adds_the_drawn_offset() -> None:
    pipe = AugmentPipeline(AugmentConfig(brightness=1.0), p=1.0)
    images = _images(3)
    params = pipe.sample_params(3, SIZE, SIZE, torch.Generator().manual_seed(9))
    out = pipe.apply(images, params)
    offsets = params.colour[:, 0, 3]
    assert torch.allclose(out, images + offsets[:, None, None, None], atol=1e-6)
    assert offsets.abs().min() > 0


def test_luma_flip_and_hue_on_known_colours() -> None:
    images = _images(8)
    pipe = AugmentPipeline(AugmentConfig(lumaflip=1.0), p=1.0)
    params = pipe.sample_params(8, SIZE, SIZE, torch.Generator().manual_seed(0))
    out = pipe.apply(images, params)
    reflected = images - 2 * images.mean(dim=1, keepdim=True)
    is_flipped = [torch.allclose(o, r, atol=1e-5) for o, r in zip(out, reflected)]
    is_same = [torch.equal(o, i) for o, i in zip(out, images)]
    assert all(a or b for a, b in zip(is_flipped, is_same)) and any(is_flipped) and any(is_same)
    # hue rotation keeps grey pixels and the per-pixel luma (channel mean) of any colour
    hue = AugmentPipeline(AugmentConfig(hue=1.0), p=1.0)
    grey = _images(4, channels=1).expand(4, 3, SIZE, SIZE)
    assert torch.allclose(hue(grey, generator=torch.Generator().manual_seed(1)), grey, atol=1e-5)
    rotated = hue(images, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(rotated.mean(dim=1), images.mean(dim=1), atol=1e-5)
    assert not torch.allclose(rotated, images, atol=1e-3)


def test_zero_saturation_gives_grey() -> None:
    images = _images(2)
    matrix = torch.eye(4).repeat(2, 1, 1)
    matrix[:, :3, :3] = torch.full((3, 3), 1 / 3)  # projection onto the luma axis
    out = apply_colour(images, matrix)
    assert torch.allclose(out, images.mean(dim=1, keepdim=True).expand_as(images), atol=1e-6)


# --------------------------------------------------------------------------- adaptive p

def test_adaptive_p_moves_up_when_overconfident_and_down_otherwise() -> None:
    pipe = AugmentPipeline("bgc", p=0.5)
    ada = AdaptiveProbability(pipe.p, AdaptiveConfig(target=0.6, speed_kimg=0.1, interval=2))
    batch = 10  # each update moves p by 2 * 10 / 100 = 0.2
    ada.observe(torch.ones(batch))
    assert not ada.step(batch) and float(pipe.p) == 0.5
    ada.observe(torch.full((batch,), 3.0))
    assert ada.step(batch)
    assert ada.last_rt == 1.0 and math.isclose(float(pipe.p), 0.7, abs_tol=1e-6)
    for _ in range(4):  # always overconfident: clamped at 1
        ada.observe(torch.ones(batch))
        ada.step(batch)
    assert float(pipe.p) == 1.0
    # r_t = (7 - 3) / 10 = 0.4 < 0.6: p goes down
    logits = torch.tensor([1.0] * 7 + [-1.0] * 3)
    ada.observe(logits)
    ada.step(batch)
    ada.observe(logits)
    ada.step(batch)
    assert math.isclose(ada.last_rt, 0.4) and math.isclose(float(pipe.p), 0.8, abs_tol=1e-6)
    for _ in range(10):
        ada.observe(-torch.ones(batch))
        ada.step(batch)
    assert float(pipe.p) == 0.0
    state = ada.state_dict()
    other = AdaptiveProbability(torch.tensor(0.3))
    other.load_state_dict(state)
    assert float(other.p) == 0.0 and other.state_dict() == state


def test_adaptive_rule_with_default_speed() -> None:
    p = torch.tensor(0.0)
    ada = AdaptiveProbability(p)  # target 0.6, 500 kimg, interval 4
    for _ in range(4):
        ada.observe(torch.ones(32))
        ada.step(32)
    assert math.isclose(float(p), 4 * 32 / 500_000, rel_tol=1e-5)
    with pytest.raises(ValueError, match="target"):
        AdaptiveConfig(target=1.5)


def test_augmentation_rates_follow_p() -> None:
    """Each augmentation fires with probability p (x-flip: p/2 visible flips; rotation: two draws of
    1 - sqrt(1 - p) so that some rotation happens with probability p)."""
    num = 4000
    params = AugmentPipeline("bgc", p=0.4).sample_params(num, SIZE, SIZE, torch.Generator().manual_seed(0))
    tolerance = 3 * math.sqrt(0.25 / num)
    assert abs(float(params.flip.float().mean()) - 0.2) < tolerance
    assert abs(float((params.quarter_turns != 0).float().mean()) - 0.4 * 3 / 4) < tolerance
    # shift = round(U(-1, 1) * 0.125 * 16): a quarter of the draws round to 0
    assert abs(float((params.shift_x != 0).float().mean()) - 0.4 * 0.75) < tolerance
    assert int(params.shift_x.abs().max()) == 2
    linear = params.geometric[:, :2, :2]
    rotated = (linear[:, 0, 1] - linear[:, 1, 0]).abs() > 1e-6  # antisymmetric part: some rotation
    assert abs(float(rotated.float().mean()) - 0.4) < tolerance
    brightness = params.colour[:, 0, 3] != 0
    assert abs(float(brightness.float().mean()) - 0.4) < tolerance


def test_images_without_any_draw_stay_bit_identical_in_an_augmented_batch() -> None:
    pipe = AugmentPipeline("bgc", p=0.15)
    images = _images(64)
    out = pipe(images, generator=torch.Generator().manual_seed(6))
    params = pipe.sample_params(64, SIZE, SIZE, torch.Generator().manual_seed(6))
    untouched = (~params.flip & (params.quarter_turns == 0) & (params.shift_x == 0) & (params.shift_y == 0)
                 & (params.geometric == torch.eye(3)).flatten(1).all(1)
                 & (params.colour == torch.eye(4)).flatten(1).all(1))
    assert 0 < int(untouched.sum()) < 64
    for index in range(64):
        same = torch.equal(out[index], images[index])
        assert same == bool(untouched[index]), index
