"""Adam and AdamW: per-parameter step sizes from moving averages of the gradient.

Adam (Kingma & Ba, 2015), at step t with gradient g (PyTorch's equations):

    g ← g + weight_decay · p                       (Adam: L2 penalty in the gradient)
    p ← p · (1 - lr · weight_decay)                (AdamW: decoupled decay, instead)
    m ← β₁ · m + (1 - β₁) · g                      first moment (mean)
    v ← β₂ · v + (1 - β₂) · g²                     second moment (uncentred variance)
    v̂ ← max(v̂, v)  and use v̂ for v below         (amsgrad only)
    p ← p - lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)

The divisions by 1 - βᵗ undo the bias of m and v towards their zero start.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam, optionally with the AMSGrad variant.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        betas: decay rates (β₁, β₂) of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty added to the gradient (see :class:`AdamW` for the
            decoupled kind, which is usually what you want).
        amsgrad: divide by the largest second moment seen so far, not the current one.
        maximize: climb the objective instead of descending it (the gradient is negated).
    """

    decoupled = False  # AdamW sets this: decay the weights directly, not through the gradient

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_betas(group)
        self._check_nonnegative(group, "eps", "weight_decay")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One Adam step of the array ``p`` (in place) given its gradient ``g``.

        ``state`` holds ``step`` (t, already incremented for this step), ``exp_avg`` (m) and
        ``exp_avg_sq`` (v), plus ``max_exp_avg_sq`` with amsgrad; update m, v and ``p`` in
        place. Two pieces to write: AdamW's decoupled decay ``p *= 1 - lr · weight_decay``,
        and the step itself (this file's docstring has the equations):
        ``m = β₁ m + (1 - β₁) g``, ``v = β₂ v + (1 - β₂) g²``,
        ``p -= lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)``.
        """
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        beta1, beta2 = group["betas"]
        t = p.dtype.type  # hyper-parameters in the parameter's dtype: float32 stays float32
        lr, eps, weight_decay = group["lr"], t(group["eps"]), t(group["weight_decay"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0:
            if self.decoupled:
                ### BEGIN SOLUTION
                ### HINT: shrink the weights themselves by the factor (1 - lr·weight_decay)
                p *= t(1 - lr * group["weight_decay"])
                ### END SOLUTION
            else:
                g = g + weight_decay * p
        ### BEGIN SOLUTION
        ### HINT: update m and v in place, correct their bias with 1 - beta**step, then
        ### HINT: p -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)
        m *= t(beta1)
        m += t(1 - beta1) * g
        g2 = np.multiply(g, g)
        g2 *= t(1 - beta2)
        v *= t(beta2)
        v += g2
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1 ** step)
        denom = np.sqrt(v)
        denom /= t(math.sqrt(1 - beta2 ** step))
        denom += eps
        update = np.divide(m, denom, out=denom)  # reuse the buffer: m / denom
        update *= t(step_size)
        p -= update
        ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Instead of adding ``weight_decay · p`` to the gradient — where Adam's per-parameter
    scaling would weaken it for parameters with large gradients — every step first shrinks
    the weights by the factor ``1 - lr · weight_decay``.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        betas: decay rates (β₁, β₂) of the first and second moment averages.
        eps: added to the denominator for numerical stability.
        weight_decay: the decoupled decay rate (PyTorch's default, 0.01).
        amsgrad: divide by the largest second moment seen so far.
        maximize: climb the objective instead of descending it.
    """

    decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize)
