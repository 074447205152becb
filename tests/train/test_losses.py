"""GAN losses: non-saturating formulas, R1 (closed form and double backward through the real video
discriminator with video-consistent augmentation), lazy regularisation, StyleInV Eq. 6 terms."""

from __future__ import annotations

import math

import pytest
import torch

from styleinv_model.ops import conv2d
from styleinv_model.styleinv.video_discriminator import VideoDiscriminator, VideoDiscriminatorConfig
from styleinv_model.train.augment import AugmentPipeline
from styleinv_model.train.losses import (LazyRegularization, StyleInVLossWeights, discriminator_ns_loss,
                                         discriminator_step_losses, generator_ns_loss, r1_loss, r1_penalty,
                                         styleinv_generator_losses)


def _log1p_exp(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 + torch.exp(x))


def test_non_saturating_losses_equal_softplus_formulas() -> None:
    fake = torch.tensor([-2.0, 0.0, 0.5, 3.0])
    real = torch.tensor([1.0, -1.5, 2.5, 0.2])
    g = generator_ns_loss(fake)
    assert math.isclose(float(g), float(_log1p_exp(-fake).mean()), rel_tol=1e-6)
    assert math.isclose(float(g), float(-torch.log(torch.sigmoid(fake)).mean()), rel_tol=1e-6)
    d = discriminator_ns_loss(real, fake)
    assert math.isclose(float(d["fake"]), float(_log1p_exp(fake).mean()), rel_tol=1e-6)
    assert math.isclose(float(d["real"]), float(_log1p_exp(-real).mean()), rel_tol=1e-6)
    assert math.isclose(float(d["total"]), float(d["fake"] + d["real"]), rel_tol=1e-6)
    # hand value at 0: log 2
    assert math.isclose(float(generator_ns_loss(torch.zeros(3))), math.log(2), rel_tol=1e-6)


def test_r1_of_a_quadratic_discriminator_equals_closed_form() -> None:
    a = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    x = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], requires_grad=True)
    logits = (a * x.square()).sum(dim=1)  # D(x) = sum_i a_i x_i^2, grad = 2 a x
    penalty = r1_penalty(logits, x)
    closed = (4 * a.detach().square() * x.detach().square()).sum(dim=1)
    assert torch.allclose(penalty, closed)  # [1+16+16, 0.25+0+144]
    assert torch.allclose(closed, torch.tensor([33.0, 144.25]))
    loss = r1_loss((a * x.square()).sum(dim=1), x, gamma=10.0, interval=16)
    assert math.isclose(float(loss.detach()), 10 / 2 * float(closed.mean()) * 16, rel_tol=1e-6)
    # double backward into D's parameters: d/da_i mean(4 sum a^2 x^2) = mean(8 a_i x_i^2)
    (grad_a,) = torch.autograd.grad(r1_penalty((a * x.square()).sum(dim=1), x).mean(), a)
    assert torch.allclose(grad_a, (8 * a.detach() * x.detach().square()).mean(dim=0))
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(logits, x.detach())


def test_r1_double_backward_through_augmentation_and_gradfix_convs_matches_finite_differences() -> None:
    """A smooth float64 D built from our double-backward convolutions, fed video-consistently
    augmented frames: d(R1)/d(weight) from autograd equals central finite differences."""
    gen = torch.Generator().manual_seed(0)
    w1 = torch.randn(4, 3, 3, 3, generator=gen, dtype=torch.float64).requires_grad_(True)
    w2 = torch.randn(1, 4, 3, 3, generator=gen, dtype=torch.float64) * 0.3
    videos = torch.randn(2, 3, 3, 16, 16, generator=gen, dtype=torch.float64)
    pipe = AugmentPipeline("bgc", p=1.0)

    def penalty() -> torch.Tensor:
        real = videos.clone().requires_grad_(True)
        frames = pipe(real, generator=torch.Generator().manual_seed(3)).flatten(0, 1)
        hidden = torch.nn.functional.softplus(conv2d(frames, w1, padding=1))
        logits = conv2d(hidden, w2, stride=2).flatten(1).sum(1).reshape(2, 3).sum(1)
        return r1_loss(logits, real, gamma=1.0)

    (grad,) = torch.autograd.grad(penalty(), w1)
    direction = torch.randn(w1.shape, generator=gen, dtype=torch.float64)
    eps = 1e-6
    with torch.no_grad():
        w1.add_(eps * direction)
    plus = penalty().detach()
    with torch.no_grad():
        w1.sub_(2 * eps * direction)
    minus = penalty().detach()
    numeric = float((plus - minus) / (2 * eps))
    assert abs(numeric) > 1e-3
    assert math.isclose(float((grad * direction).sum()), numeric, rel_tol=1e-6)


def test_r1_through_the_video_discriminator_with_augmentation() -> None:
    torch.manual_seed(0)
    config = VideoDiscriminatorConfig(resolution=32, channel_base=256, channel_max=16, mapping_layers=1)
    discriminator = VideoDiscriminator(config)
    videos = torch.randn(2, 4, 3, 32, 32)
    times = torch.tensor([[0.0, 3.0, 5.0, 9.0], [0.0, 1.0, 2.0, 4.0]])
    pipe = AugmentPipeline("bgc", p=1.0)
    real = videos.clone().requires_grad_(True)
    augmented = pipe(real, generator=torch.Generator().manual_seed(3))
    loss = r1_loss(discriminator(augmented, times), real, gamma=1.0, interval=16)
    assert float(loss.detach()) > 0
    loss.backward()
    grads = [p.grad for p in discriminator.parameters() if p.grad is not None]
    assert len(grads) > 10 and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_discriminator_step_losses_with_a_toy_discriminator() -> None:
    scale = torch.tensor(0.3, requires_grad=True)

    def toy_d(images: torch.Tensor) -> torch.Tensor:
        return scale * images.square().flatten(1).sum(dim=1)

    real = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    fake = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    terms = discriminator_step_losses(toy_d, real, fake, r1_gamma=2.0, regularize=True, r1_interval=4)
    real_logits = 0.3 * real.square().flatten(1).sum(1)
    fake_logits = 0.3 * fake.square().flatten(1).sum(1)
    r1_expected = 2.0 / 2 * (4 * 0.09 * real.square().flatten(1).sum(1)).mean() * 4  # grad = 2 s x
    assert torch.allclose(terms["r1"], r1_expected)
    assert torch.allclose(terms["total"], _log1p_exp(fake_logits).mean() + _log1p_exp(-real_logits).mean()
                          + r1_expected)
    assert torch.allclose(terms["real_logits"], real_logits) and not terms["real_logits"].requires_grad
    terms["total"].backward()
    assert scale.grad is not None and torch.isfinite(scale.grad)
    plain = discriminator_step_losses(toy_d, real, fake, r1_gamma=2.0, regularize=False)
    assert float(plain["r1"]) == 0.0


def test_lazy_regularization_adam_settings() -> None:
    lazy = LazyRegularization(lr=0.002, betas=(0.0, 0.99), interval=16)
    assert math.isclose(lazy.ratio, 16 / 17)
    assert math.isclose(lazy.adjusted_lr, 0.002 * 16 / 17)
    assert lazy.adjusted_betas == (0.0, 0.99 ** (16 / 17))
    assert [s for s in range(40) if lazy.is_regularization_step(s)] == [0, 16, 32]
    none = LazyRegularization(lr=0.002, betas=(0.0, 0.99), interval=None)
    assert none.adjusted_lr == 0.002 and not none.is_regularization_step(0)


def test_styleinv_eq6_terms_match_hand_computation() -> None:
    logits = torch.tensor([0.0, 1.0])
    first = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])  # [2, 1, 2, 2]
    target = torch.tensor([[[[1.0, 0.0], [3.0, 2.0]]], [[[1.0, 1.0], [1.0, 1.0]]]])
    w0 = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    w_t = torch.tensor([[[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]],
                        [[1.0, 1.0], [1.0, 3.0], [4.0, 5.0]]])  # deltas: 0, 5, 1 | 0, 2, 5
    terms = styleinv_generator_losses(logits, first, target, w_t, w0)
    adversarial = (math.log(2) + math.log(1 + math.exp(-1))) / 2
    reconstruction = 10 * (0 + 4 + 0 + 4 + 1 + 1 + 1 + 1) / 8
    latent = 0.05 * (0 + 5 + 1 + 0 + 2 + 5) / 6
    assert math.isclose(float(terms["adversarial"]), adversarial, rel_tol=1e-6)
    assert math.isclose(float(terms["reconstruction"]), reconstruction, rel_tol=1e-6)
    assert math.isclose(float(terms["latent"]), latent, rel_tol=1e-6)
    assert math.isclose(float(terms["total"]), adversarial + reconstruction + latent, rel_tol=1e-6)
    custom = styleinv_generator_losses(logits, first, target, w_t, w0,
                                       StyleInVLossWeights(adversarial=0.1, reconstruction=1.0, latent=0.0))
    assert math.isclose(float(custom["adversarial"]), 0.1 * adversarial, rel_tol=1e-6)
    assert float(custom["latent"]) == 0.0
    with pytest.raises(ValueError, match="w_t"):
        styleinv_generator_losses(logits, first, target, w_t[:, 0], w0)


def test_eq6_gradients_reach_the_frame_and_latents_but_not_g_w0() -> None:
    first = torch.randn(2, 3, 4, 4, requires_grad=True)
    target = torch.randn(2, 3, 4, 4, requires_grad=True)
    w0 = torch.randn(2, 8)
    w_t = (w0[:, None] + torch.randn(2, 3, 8)).requires_grad_(True)
    terms = styleinv_generator_losses(torch.randn(2), first, target, w_t, w0)
    terms["total"].backward()
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert target.grad is None
    assert w_t.grad is not None and torch.isfinite(w_t.grad).all()
