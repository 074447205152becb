"""Exponential moving average of a network's weights (StyleGAN2-ADA's G_ema rule)."""

from __future__ import annotations

import torch
from torch import nn


def ema_beta(batch_size: int, ema_kimg: float, step_kimg: float, ema_rampup: float | None) -> float:
    """Per-step decay: half-life `ema_kimg` thousand images, shortened early by `ema_rampup`."""
    ema_nimg = ema_kimg * 1000.0
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, step_kimg * 1000.0 * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def update_ema(ema: nn.Module, source: nn.Module, beta: float) -> None:
    """ema <- lerp(source, ema, beta) for parameters; buffers copied."""
    for p_ema, p in zip(ema.parameters(), source.parameters()):
        p_ema.copy_(p.detach().lerp(p_ema, beta))
    for b_ema, b in zip(ema.buffers(), source.buffers()):
        b_ema.copy_(b.detach())
