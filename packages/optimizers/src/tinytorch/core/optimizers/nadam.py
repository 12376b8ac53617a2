"""NAdam: Adam with Nesterov momentum (Dozat, 2016), PyTorch's form with momentum decay.

At each step t = 1, 2, ... with gradient g:

    g ← -g                                                   (maximize)
    g ← g + λ·p    or, decoupled,   p ← p · (1 - lr·λ)        (weight_decay λ ≠ 0)
    μ_t = β₁ · (1 - ½ · 0.96^(t·ψ))     μ_{t+1} likewise      (ψ = momentum_decay)
    Π_t = μ_1 · … · μ_t
    m ← β₁ m + (1 - β₁) g ;   v ← β₂ v + (1 - β₂) g²
    d = √(v / (1 - β₂^t)) + ε
    p ← p - lr · (1 - μ_t) / (1 - Π_t) · g / d - lr · μ_{t+1} / (1 - Π_t · μ_{t+1}) · m / d

The two terms look one step ahead along the momentum (Nesterov): the current gradient's share
now, and the momentum as it will be after this step. Given, not an exercise.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Adam with Nesterov momentum).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        betas: decay rates (β₁, β₂) of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (added to the gradient, or decoupled).
        momentum_decay: ψ, how fast the momentum schedule μ_t rises towards β₁.
        decoupled_weight_decay: decay the weights directly (as AdamW does).
        maximize: climb the objective instead of descending it.
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay", "momentum_decay")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One NAdam step of ``p`` (in place); ``state``: step, mu_product, exp_avg(_sq)."""
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
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
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        state["mu_product"] *= mu
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += t(1 - beta1) * (g - m)
        v *= t(beta2)
        v += t(1 - beta2) * (g * g)
        denom = np.sqrt(v / t(1 - beta2 ** step)) + t(group["eps"])
        p -= t(lr * (1 - mu) / (1 - state["mu_product"])) * (g / denom)
        p -= t(lr * mu_next / (1 - state["mu_product"] * mu_next)) * (m / denom)
