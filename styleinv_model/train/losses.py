"""GAN losses of the three training stages: non-saturating adversarial losses, the R1 penalty
with lazy regularisation, and the StyleInV generator objective (paper Eq. 6).

All functions return per-term tensors so the trainer can log every term; reductions are means over
the batch (and over frames where there are frames) unless stated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from styleinv_model.ops import no_weight_gradients


def generator_ns_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss: mean softplus(-D(G(z))) = -log sigmoid(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def discriminator_ns_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, torch.Tensor]:
    """Discriminator logistic loss: mean softplus(D(fake)) + mean softplus(-D(real)).

    Returns {"fake": ..., "real": ..., "total": fake + real}."""
    fake = F.softplus(fake_logits).mean()
    real = F.softplus(-real_logits).mean()
    return {"fake": fake, "real": real, "total": fake + real}


def r1_penalty(real_logits: torch.Tensor, real_inputs: torch.Tensor) -> torch.Tensor:
    """Per-sample squared gradient norm ||dD(x)/dx||^2 [N] of D at the real inputs.

    `real_inputs` must require grad and `real_logits` must have been computed from it (any
    shape whose first axis is the sample: images [N, C, H, W] or videos [N, T, C, H, W]). The
    gradient keeps its graph, so the penalty back-propagates into D's weights (double backward;
    our convolutions in `styleinv_model.ops` support it)."""
    if not real_inputs.requires_grad:
        raise ValueError("r1_penalty needs real inputs with requires_grad=True "
                         "(call .detach().requires_grad_(True) before running D)")
    with no_weight_gradients():
        (grad,) = torch.autograd.grad(outputs=real_logits.sum(), inputs=real_inputs, create_graph=True)
    return grad.square().flatten(1).sum(dim=1)


def r1_loss(real_logits: torch.Tensor, real_inputs: torch.Tensor, gamma: float,
            interval: int = 1) -> torch.Tensor:
    """Lazy R1 loss: mean over samples of gamma / 2 * ||grad||^2, times `interval` (the penalty is
    applied once every `interval` D steps, so it is scaled up to keep the same strength)."""
    return r1_penalty(real_logits, real_inputs).mean() * (gamma / 2) * interval


@dataclass(frozen=True)
class LazyRegularization:
    """Adam settings of a network regularised every `interval` steps (StyleGAN2, appendix B):
    lr * c and betas ** c with c = interval / (interval + 1). `interval` 0 or None: no lazy."""

    lr: float
    betas: tuple[float, float]
    interval: int | None

    @property
    def ratio(self) -> float:
        if not self.interval:
            return 1.0
        return self.interval / (self.interval + 1)

    @property
    def adjusted_lr(self) -> float:
        return self.lr * self.ratio

    @property
    def adjusted_betas(self) -> tuple[float, float]:
        return (self.betas[0] ** self.ratio, self.betas[1] ** self.ratio)

    def is_regularization_step(self, step: int) -> bool:
        """True on the steps (0-based) that add the regulariser: 0, interval, 2*interval, ..."""
        return bool(self.interval) and step % int(self.interval) == 0


@dataclass(frozen=True)
class StyleInVLossWeights:
    """Weights of Eq. 6 (REFERENCE §1 item 3). `adversarial` is 1 in the paper's Eq. 6; the
    authors' code exposes it as `lambda_adv` (their default 0.1)."""

    adversarial: float = 1.0
    reconstruction: float = 10.0   # λ_L2
    latent: float = 0.05           # λ_reg


def styleinv_generator_losses(fake_logits: torch.Tensor, first_frame: torch.Tensor,
                              initial_image: torch.Tensor, w_t: torch.Tensor, w0: torch.Tensor,
                              weights: StyleInVLossWeights = StyleInVLossWeights()) -> dict[str, torch.Tensor]:
    """The StyleInV generator objective (Eq. 6) as named, already weighted terms.

    fake_logits:   D's logits for the generated videos [B] (or [B, 1]).
    first_frame:   the generated frame at t = 0, G(w0 + Δw_0) [B, C, H, W].
    initial_image: G(w0) [B, C, H, W] (the encoder input; its gradient is not needed).
    w_t:           predicted latents [B, T, w_dim] for every generated frame (t = 0 included).
    w0:            initial latents [B, w_dim].

    Returns {"adversarial": w_adv * mean softplus(-logits),
             "reconstruction": λ_L2 * mean squared error(first_frame, G(w0)) over all pixels,
             "latent": λ_reg * mean over batch and frames of ||w_t - w0||_2,
             "total": their sum}.
    """
    if w_t.ndim != 3 or w0.ndim != 2 or w_t.shape[0] != w0.shape[0] or w_t.shape[2] != w0.shape[1]:
        raise ValueError(f"expected w_t [B, T, D] and w0 [B, D], got {tuple(w_t.shape)} and {tuple(w0.shape)}")
    if first_frame.shape != initial_image.shape:
        raise ValueError(f"first frame {tuple(first_frame.shape)} and G(w0) {tuple(initial_image.shape)} "
                         f"differ in shape")
    adversarial = weights.adversarial * F.softplus(-fake_logits).mean()
    reconstruction = weights.reconstruction * F.mse_loss(first_frame, initial_image.detach())
    latent = weights.latent * (w_t - w0[:, None, :]).norm(dim=2).mean()
    return {"adversarial": adversarial, "reconstruction": reconstruction, "latent": latent,
            "total": adversarial + reconstruction + latent}


def discriminator_step_losses(discriminator: Callable[..., torch.Tensor], real: torch.Tensor,
                              fake: torch.Tensor, r1_gamma: float, regularize: bool,
                              r1_interval: int = 1,
                              augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
                              **d_kwargs: torch.Tensor) -> dict[str, torch.Tensor]:
    """One discriminator step's terms: logistic loss on (augmented) real and fake inputs and, when
    `regularize`, the lazy R1 loss at the real inputs (gradient taken w.r.t. the un-augmented
    reals, as ADA does). `d_kwargs` go to D (for example the time stamps of the video D).

    Returns the terms of `discriminator_ns_loss`, plus "r1" (0 when not regularising),
    "real_logits" (detached, for `AdaptiveProbability.observe`) and "total"."""
    aug = augment if augment is not None else (lambda x: x)
    fake_logits = discriminator(aug(fake.detach()), **d_kwargs)
    real_input = real.detach().requires_grad_(regularize)
    real_logits = discriminator(aug(real_input), **d_kwargs)
    terms = discriminator_ns_loss(real_logits, fake_logits)
    r1 = r1_loss(real_logits, real_input, r1_gamma, r1_interval) if regularize else real_logits.new_zeros(())
    terms["r1"] = r1
    terms["total"] = terms["total"] + r1
    terms["real_logits"] = real_logits.detach()
    return terms
