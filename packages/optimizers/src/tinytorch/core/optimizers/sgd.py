"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay.

The update, for gradient g of parameter p (PyTorch's equations, step for step):

    g ← g + weight_decay · p                       (L2 penalty, if weight_decay ≠ 0)
    b ← g on the first step, else momentum · b + (1 - dampening) · g
    g ← g + momentum · b  (Nesterov)   or   g ← b  (classical momentum)
    p ← p - lr · g
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    Args:
        params: the tensors to optimize, or a list of parameter-group dicts.
        lr: learning rate.
        momentum: momentum factor (0 disables momentum).
        dampening: how much of each new gradient is *not* added to the momentum buffer.
        weight_decay: L2 penalty added to the gradient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: climb the objective instead of descending it (the gradient is negated).

    Example:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        self._check_nonnegative(group, "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        """One SGD step of the array ``p`` (in place) given its gradient ``g``.

        ``p`` and ``g`` are numpy arrays of the same shape and dtype; ``p`` must change in place
        (the Tensor keeps its array). ``state`` is this parameter's own dict, empty on the first
        step: keep the momentum buffer there as ``state["momentum_buffer"]``. With
        ``d = g + weight_decay · p``:

            b = d (first step)   or   b = momentum · b + (1 - dampening) · d
            d = d + momentum · b (nesterov)   or   d = b          (only when momentum ≠ 0)
            p = p - lr · d

        ``lr``, ``momentum`` ... are already cast to ``p``'s dtype, so float32 stays float32.
        """
        t = p.dtype.type  # hyper-parameters in the parameter's dtype: float32 stays float32
        lr, momentum = t(group["lr"]), t(group["momentum"])
        dampening, weight_decay = t(group["dampening"]), t(group["weight_decay"])
        ### BEGIN SOLUTION
        ### HINT: d = g (+ weight_decay·p); with momentum, b = d on the first step, else
        ### HINT: momentum·b + (1 - dampening)·d; use d + momentum·b (Nesterov) or b; p -= lr·d
        d = g
        if weight_decay != 0:
            d = g + weight_decay * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, dtype=p.dtype, copy=True)
            else:
                buf *= momentum
                buf += d if dampening == 0 else (1 - dampening) * d
            d = d + momentum * buf if group["nesterov"] else buf
        p -= lr * d
        ### END SOLUTION
