"""Ranger: rectified Adam (RAdam) + gradient centralisation + Lookahead, the optimiser pSp trains
its encoders with (stage 2's default).

Per parameter and step t (gradient g, after weight decay):

* gradient centralisation: for tensors with more than one dimension, g minus its mean over every
  dimension but the first (one mean per output channel);
* RAdam: m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2; with rho_inf = 2 / (1 - b2) - 1 and
  rho_t = rho_inf - 2 t b2^t / (1 - b2^t), the step is
  lr * r_t * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps) when rho_t > ``rectify_threshold``
  (r_t the variance rectification term), else the un-adapted lr * m / (1 - b1^t);
* Lookahead: every ``k`` steps the slow weights move ``alpha`` of the way to the fast ones and the
  fast weights restart from them.

All state is tensors or numbers in ``optimizer.state`` (step, exp_avg, exp_avg_sq, slow), so the
training checkpoints save and restore it like Adam's and a resumed run continues bitwise.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import torch

DEFAULT_BETAS = (0.95, 0.999)


class Ranger(torch.optim.Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = 1e-4, betas: tuple[float, float] = DEFAULT_BETAS,
                 eps: float = 1e-5, weight_decay: float = 0.0, alpha: float = 0.5, k: int = 6,
                 rectify_threshold: float = 5.0, centralize: bool = True) -> None:
        if lr <= 0.0:
            raise ValueError(f"Ranger: lr must be > 0, got {lr}")
        if not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Ranger: betas must lie in [0, 1), got {list(betas)}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"Ranger: alpha must lie in (0, 1], got {alpha}")
        if k < 1:
            raise ValueError(f"Ranger: k must be >= 1, got {k}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, alpha=alpha, k=k,
                        rectify_threshold=rectify_threshold, centralize=centralize)
        super().__init__(params, defaults)

    @staticmethod
    def step_size(step: int, lr: float, betas: tuple[float, float], threshold: float) -> tuple[float, bool]:
        """(multiplier of m, whether to divide by sqrt(v) + eps) at step ``step`` (1-based)."""
        beta1, beta2 = betas
        bias1 = 1.0 - beta1**step
        beta2_t = beta2**step
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        rho_t = rho_inf - 2.0 * step * beta2_t / (1.0 - beta2_t)
        if rho_t <= threshold:
            return lr / bias1, False
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
        return lr * rect * math.sqrt(1.0 - beta2_t) / bias1, True

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("Ranger does not support sparse gradients")
                grad = p.grad.float()
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, dtype=torch.float32)
                    state["exp_avg_sq"] = torch.zeros_like(p, dtype=torch.float32)
                    state["slow"] = p.detach().float().clone()
                if group["weight_decay"]:
                    grad = grad.add(p.float(), alpha=group["weight_decay"])
                if group["centralize"] and grad.dim() > 1:
                    grad = grad - grad.mean(dim=tuple(range(1, grad.dim())), keepdim=True)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1.0 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
                size, adaptive = self.step_size(state["step"], group["lr"], group["betas"], group["rectify_threshold"])
                fast = p.detach().float()  # p itself for float32 parameters, a float32 copy otherwise
                if adaptive:
                    fast.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-size)
                else:
                    fast.add_(exp_avg, alpha=-size)
                if state["step"] % group["k"] == 0:
                    slow = state["slow"]
                    slow.add_(fast - slow, alpha=group["alpha"])
                    fast.copy_(slow)
                if fast.data_ptr() != p.data_ptr():
                    p.copy_(fast)
        return loss
