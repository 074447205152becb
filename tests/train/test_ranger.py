"""Ranger (stage 2's optimiser): the RAdam rule, gradient centralisation, Lookahead, checkpoint resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from styleinv_model.train.config import ConfigError, load_stage_config
from styleinv_model.train.ranger import Ranger
from styleinv_model.train.state import _optimizer_payload, _restore_optimizer


def _quadratic_grads(p: torch.Tensor, target: torch.Tensor) -> None:
    p.grad = 2.0 * (p.detach() - target)


def test_first_steps_are_unadapted_momentum_sgd() -> None:
    """While rho_t <= 5 (the first steps for b2 = 0.999) the step is lr * m / (1 - b1^t)."""
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))  # 1-D: no centralisation
    opt = Ranger([p], lr=0.1, betas=(0.9, 0.999), k=100)
    g = torch.tensor([0.3, -0.7, 2.0])
    p.grad = g.clone()
    opt.step()
    torch.testing.assert_close(p.detach(), torch.tensor([1.0, -2.0, 0.5]) - 0.1 * g, rtol=0, atol=1e-7)


def test_rectified_step_matches_the_radam_formula() -> None:
    beta1, beta2, lr, eps = 0.9, 0.99, 0.01, 1e-5
    p = torch.nn.Parameter(torch.tensor([0.4]))
    opt = Ranger([p], lr=lr, betas=(beta1, beta2), eps=eps, k=1000)
    grads = [0.5, -0.2, 0.9, 0.1, 0.3, -0.4, 0.8]
    m = v = 0.0
    x = 0.4
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    adapted = 0
    for t, g in enumerate(grads, start=1):
        p.grad = torch.tensor([g])
        opt.step()
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        rho_t = rho_inf - 2.0 * t * beta2**t / (1.0 - beta2**t)
        if rho_t > 5.0:
            adapted += 1
            r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            x -= lr * r * math.sqrt(1 - beta2**t) / (1 - beta1**t) * m / (math.sqrt(v) + eps)
        else:
            x -= lr * m / (1 - beta1**t)
        assert p.item() == pytest.approx(x, rel=1e-5, abs=1e-7), t
    assert adapted >= 2  # both branches were exercised


def test_gradient_centralisation_removes_the_per_channel_mean() -> None:
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(4, 3, 2, 2))
    before = p.detach().clone()
    opt = Ranger([p], lr=0.1, k=100)
    p.grad = torch.randn(4, 3, 2, 2) + 5.0  # a large shared offset
    opt.step()
    update = (p.detach() - before).flatten(1)
    torch.testing.assert_close(update.mean(dim=1), torch.zeros(4), rtol=0, atol=1e-6)
    assert update.abs().max() > 0.01
    q = torch.nn.Parameter(torch.zeros(4))
    opt_q = Ranger([q], lr=0.1, centralize=True)
    q.grad = torch.ones(4)
    opt_q.step()
    torch.testing.assert_close(q.detach(), torch.full((4,), -0.1))  # 1-D tensors are left alone


def test_lookahead_pulls_the_weights_alpha_of_the_way_every_k_steps() -> None:
    target = torch.tensor([3.0, -1.0])
    start = torch.tensor([0.0, 0.0])

    def run(alpha: float, steps: int) -> torch.Tensor:
        p = torch.nn.Parameter(start.clone())
        opt = Ranger([p], lr=0.05, alpha=alpha, k=5)
        for _ in range(steps):
            _quadratic_grads(p, target)
            opt.step()
        return p.detach().clone()

    fast = run(1.0, 5)  # alpha 1: Lookahead is the identity
    torch.testing.assert_close(run(0.5, 5), start + 0.5 * (fast - start))
    torch.testing.assert_close(run(0.5, 4), run(1.0, 4))  # before the first sync the paths agree
    assert not torch.allclose(run(0.5, 6), run(1.0, 6))


def test_minimises_a_regression() -> None:
    """(Centralisation off: it keeps each weight row's mean fixed, so this optimum is out of its reach.)"""
    torch.manual_seed(1)
    x = torch.randn(256, 8)
    y = x @ torch.randn(8, 1) + 0.5
    model = torch.nn.Linear(8, 1)
    opt = Ranger(model.parameters(), lr=0.05, centralize=False)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 * first


def test_resume_through_the_checkpoint_payload_is_bitwise(tmp_path: Path) -> None:
    torch.manual_seed(2)
    x, y = torch.randn(64, 5), torch.randn(64, 2)

    def steps(model: torch.nn.Module, opt: torch.optim.Optimizer, first: int, last: int) -> None:
        for step in range(first, last):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x * (1 + step)), y).backward()
            opt.step()

    whole = torch.nn.Linear(5, 2)
    half = torch.nn.Linear(5, 2)
    half.load_state_dict(whole.state_dict())
    opt_whole = Ranger(whole.parameters(), lr=0.01, k=3)
    steps(whole, opt_whole, 0, 8)

    opt_half = Ranger(half.parameters(), lr=0.01, k=3)
    steps(half, opt_half, 0, 4)  # stops between two Lookahead syncs
    tensors, meta = _optimizer_payload("encoder", opt_half)
    resumed = torch.nn.Linear(5, 2)
    resumed.load_state_dict(half.state_dict())
    opt_resumed = Ranger(resumed.parameters(), lr=0.01, k=3)
    _restore_optimizer("encoder", opt_resumed, meta, tensors, tmp_path / "ckpt.safetensors")
    steps(resumed, opt_resumed, 4, 8)
    for a, b in zip(whole.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_bad_settings_are_one_line_errors() -> None:
    p = torch.nn.Parameter(torch.zeros(2))
    for kwargs, needle in (({"lr": 0.0}, "lr"), ({"betas": (0.9, 1.0)}, "betas"), ({"alpha": 0.0}, "alpha"),
                           ({"k": 0}, "k must")):
        with pytest.raises(ValueError, match=needle):
            Ranger([p], **kwargs)


def test_stage2_config_picks_the_optimiser() -> None:
    from styleinv_model.train.stage2 import build_optimizer

    params = [torch.nn.Parameter(torch.zeros(2))]
    default = load_stage_config("stage2", "faceforensics")
    assert default.settings.optimizer == "ranger" and default.settings.betas is None
    opt = build_optimizer(default.settings, params)
    assert isinstance(opt, Ranger) and opt.defaults["betas"] == (0.95, 0.999) and opt.defaults["lr"] == 1e-4
    adam = load_stage_config("stage2", "faceforensics", ["stage2.optimizer=adam", "stage2.betas=[0.5, 0.9]"])
    opt = build_optimizer(adam.settings, params)
    assert type(opt) is torch.optim.Adam and opt.defaults["betas"] == (0.5, 0.9)
    with pytest.raises(ConfigError, match="optimizer must be 'ranger' or 'adam'"):
        load_stage_config("stage2", "faceforensics", ["stage2.optimizer=sgd"])


def test_non_float32_parameters_are_updated_through_a_float32_copy() -> None:
    grads = [torch.tensor([0.5, -1.0]), torch.tensor([0.2, 0.3])]
    results = []
    for dtype in (torch.float32, torch.float64):
        p = torch.nn.Parameter(torch.tensor([1.0, 2.0], dtype=dtype))
        opt = Ranger([p], lr=0.1, k=100)
        for g in grads:
            p.grad = g.to(dtype)
            opt.step()
        assert p.dtype == dtype
        results.append(p.detach().float())
    assert not torch.equal(results[0], torch.tensor([1.0, 2.0]))  # it moved
    torch.testing.assert_close(results[1], results[0])
