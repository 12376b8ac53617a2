"""RMSprop: divide each gradient by a running root-mean-square of its recent values.

At each step with gradient g (PyTorch's equations):

    g ← g + weight_decay · p                       (if weight_decay ≠ 0)
    s ← α · s + (1 - α) · g²                       running mean of g²
    a ← α · a + (1 - α) · g ;  d ← √(s - a²) + ε   (centered: subtract the mean's square)
                         or    d ← √s + ε          (plain)
    b ← momentum · b + g / d ;  p ← p - lr · b     (with momentum > 0)
                         or    p ← p - lr · g / d
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), optionally centered and with momentum.

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        alpha: smoothing constant of the running average of g².
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor (0 disables it).
        centered: normalise by an estimate of the gradient's variance instead of its
            second moment.
        maximize: climb the objective instead of descending it (the gradient is negated).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        if not 0.0 <= group["alpha"] <= 1.0:
            raise self._invalid("alpha", group["alpha"], "must be in [0, 1]")
        self._check_nonnegative(group, "eps", "momentum", "weight_decay")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One RMSprop step of the array ``p`` (in place) given its gradient ``g``.

        ``state`` already holds ``square_avg`` (s, zeros at first), ``grad_avg`` (a, when
        centered) and ``momentum_buffer`` (b, when momentum > 0), all shaped like ``p``; update
        them in place. The equations are in this file's docstring:
        ``s = α s + (1 - α) g²``, ``d = √s + ε`` (centered: ``√(s - a²) + ε`` with
        ``a = α a + (1 - α) g``), then ``p -= lr · g / d`` (or through ``b = momentum · b + g / d``).
        """
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = np.zeros_like(p)
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = np.zeros_like(p)
        state["step"] += 1
        t = p.dtype.type  # hyper-parameters in the parameter's dtype: float32 stays float32
        lr, alpha, eps = t(group["lr"]), t(group["alpha"]), t(group["eps"])
        momentum, weight_decay = t(group["momentum"]), t(group["weight_decay"])
        s = state["square_avg"]
        ### BEGIN SOLUTION
        ### HINT: s = alpha·s + (1 - alpha)·g²; denominator sqrt(s) + eps (centered: sqrt(s - a²)
        ### HINT: with a the running mean of g); then p -= lr·g/denominator, or via a buffer
        if weight_decay != 0:
            g = g + weight_decay * p
        s *= alpha
        s += (1 - alpha) * (g * g)
        if group["centered"]:
            a = state["grad_avg"]
            a *= alpha
            a += (1 - alpha) * g
            denom = np.sqrt(s - a * a)
        else:
            denom = np.sqrt(s)
        denom += eps
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / denom
            p -= lr * buf
        else:
            p -= lr * (g / denom)
        ### END SOLUTION
