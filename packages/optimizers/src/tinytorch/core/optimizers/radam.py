"""RAdam: Adam whose adaptive step is switched on only once its variance is trustworthy.

Early on, the second-moment estimate v rests on a handful of gradients and the adaptive rate
``1/√v`` swings wildly — the reason Adam is often run with a warm-up. RAdam (Liu et al., 2020)
computes how many gradients v effectively averages, ρ_t, and while ρ_t ≤ 5 takes a plain
momentum step; afterwards it takes Adam's step times a rectification factor r_t < 1 that
grows towards 1. At each step t = 1, 2, ... (PyTorch's equations):

    g ← -g (maximize);   g ← g + λ·p  or, decoupled,  p ← p · (1 - lr·λ)
    m ← β₁ m + (1 - β₁) g ;   v ← β₂ v + (1 - β₂) g² ;   m̂ = m / (1 - β₁^t)
    ρ_∞ = 2 / (1 - β₂) - 1 ;   ρ_t = ρ_∞ - 2 t β₂^t / (1 - β₂^t)
    ρ_t > 5:  r_t = √((ρ_t - 4)(ρ_t - 2) ρ_∞ / ((ρ_∞ - 4)(ρ_∞ - 2) ρ_t))
              p ← p - lr · m̂ · r_t · √(1 - β₂^t) / (√v + ε)
    else:     p ← p - lr · m̂

Given, not an exercise.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (rectified Adam).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        betas: decay rates (β₁, β₂) of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (added to the gradient, or decoupled).
        decoupled_weight_decay: decay the weights directly (as AdamW does).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One RAdam step of ``p`` (in place); ``state``: step, exp_avg, exp_avg_sq."""
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        t = p.dtype.type
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= t(1 - lr * wd)
            else:
                g = g + t(wd) * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += t(1 - beta1) * (g - m)
        v *= t(beta2)
        v += t(1 - beta2) * (g * g)
        bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
        m_hat = m / t(bias1)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias2
        if rho_t > 5:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p -= t(lr * rect * math.sqrt(bias2)) * (m_hat / (np.sqrt(v) + t(group["eps"])))
        else:
            p -= t(lr) * m_hat
