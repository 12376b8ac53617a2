"""Adagrad: a learning rate per weight that shrinks with the sum of its squared gradients.

At each step t = 1, 2, ... with gradient g (PyTorch's equations):

    g ← -g                                   (maximize)
    g ← g + weight_decay · p                 (if weight_decay ≠ 0)
    η ← lr / (1 + (t - 1) · lr_decay)
    s ← s + g²                               (s starts at initial_accumulator_value)
    p ← p - η · g / (√s + ε)

Weights whose gradients are large or frequent slow down; rare features keep a large step.
Given, not an exercise (the optimizers module's exercises are SGD, Adam and RMSprop).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        lr_decay: the rate is ``lr / (1 + (t - 1) · lr_decay)`` at step t.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: the starting value of the sum of squared gradients.
        eps: added to the denominator for numerical stability.
        maximize: climb the objective instead of descending it.

    Example:
        >>> from tinytorch.core.tensor import Tensor
        >>> w = Tensor([1.0, -2.0], requires_grad=True)
        >>> w.grad = Tensor([0.5, 0.5])
        >>> Adagrad([w], lr=0.1).step()   # a first step moves each weight by lr
        >>> w.tolist()
        [0.8999999761581421, -2.0999999046325684]
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_nonnegative(group, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One Adagrad step of ``p`` (in place); ``state`` keeps ``step`` and ``sum``."""
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        t = p.dtype.type
        if group["weight_decay"] != 0:
            g = g + t(group["weight_decay"]) * p
        clr = t(group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"]))
        s = state["sum"]
        s += g * g
        p -= clr * (g / (np.sqrt(s) + t(group["eps"])))
