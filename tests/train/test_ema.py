"""The training EMA (StyleGAN2-ADA's G_ema rule): the decay per step and the direction of the update."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from styleinv_model.train.ema import ema_beta, update_ema


def test_beta_is_the_half_life_in_images() -> None:
    # no ramp-up: half of the old average is left after ema_kimg thousand images
    assert ema_beta(32, ema_kimg=10.0, step_kimg=500.0, ema_rampup=None) == pytest.approx(0.5 ** (32 / 10_000))
    beta = ema_beta(64, ema_kimg=20.0, step_kimg=1.0, ema_rampup=None)
    assert beta ** (20_000 / 64) == pytest.approx(0.5)
    # ramp-up: the half-life is capped at ema_rampup x the images seen so far
    assert ema_beta(32, ema_kimg=10.0, step_kimg=1.0, ema_rampup=0.05) == pytest.approx(0.5 ** (32 / 50))
    # ... and stops mattering once rampup x images exceeds ema_kimg
    assert ema_beta(32, ema_kimg=10.0, step_kimg=1000.0, ema_rampup=0.05) == pytest.approx(0.5 ** (32 / 10_000))
    # bigger batches decay more per step, longer half-lives less
    assert ema_beta(64, 10.0, 500.0, None) < ema_beta(32, 10.0, 500.0, None) < ema_beta(32, 20.0, 500.0, None) < 1.0


def test_update_moves_the_average_towards_the_source() -> None:
    source, average = nn.Linear(3, 2), nn.Linear(3, 2)
    average.register_buffer("counter", torch.zeros(2))
    source.register_buffer("counter", torch.tensor([5.0, 6.0]))
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(1.0)
        for p in average.parameters():
            p.fill_(0.0)
    update_ema(average, source, beta=0.9)
    # ema <- source + beta * (ema - source): 0.9 of the old average stays, 0.1 of the source comes in
    for p in average.parameters():
        assert torch.allclose(p, torch.full_like(p, 0.1), rtol=0, atol=1e-7), p
    assert torch.equal(average.counter, source.counter)  # buffers are copied, not averaged
    update_ema(average, source, beta=0.0)  # beta 0: a copy
    assert all(torch.equal(p, torch.ones_like(p)) for p in average.parameters())
