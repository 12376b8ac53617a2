"""Lookahead: pull the weights towards a slow moving average of themselves, every few steps.

Every ``k`` optimizer steps the average ``a`` of each floating-point array ``w`` of the model's
state (weights *and* batch-norm running statistics) takes a step towards the weights, and then
the weights jump back to the average:

    a ← decay · a + (1 - decay) · w        w ← a

With ``decay`` near 1 the fast weights explore for ``k`` steps and are then pulled most of the
way back; with ``decay = 0`` the average simply follows the weights; a final ``update(1.0)``
sets the weights to the average itself. airbench94 (after hlb-CIFAR10) does this every 5 steps
with ``decay = 0.95⁵ · (step / total)³`` (:func:`lookahead_decay`): almost no averaging early,
when the weights must move, and strong averaging at the end, when they should settle.

It works on plain numpy arrays changed in place, so one implementation serves a TinyTorch
``Module`` (its ``state_dict(keep_vars=True)`` tensors) and, in the capstone's PyTorch twin,
a ``torch.nn.Module`` (whose CPU tensors' ``.numpy()`` share memory with them).
"""

from __future__ import annotations

from typing import Any, Callable


__all__ = ["Lookahead", "lookahead_decay"]


def lookahead_decay(step: int, total_steps: int, base: float = 0.95 ** 5, power: float = 3.0) -> float:
    """airbench94's decay schedule: ``base · (step / total_steps) ** power``.

    Args:
        step: optimizer steps taken so far.
        total_steps: steps of the whole run.
        base: the decay at the last step (0.95 per step over 5 steps).
        power: how late the averaging sets in.
    """
    if total_steps <= 0:
        raise ValueError(f"lookahead_decay: total_steps must be positive, got {total_steps}")
    return float(base * (step / total_steps) ** power)


def _module_arrays(model: Any) -> Callable[[], list]:
    def arrays() -> list:
        return [t.data for t in model.state_dict(keep_vars=True).values()]
    return arrays


class Lookahead:
    """A slow average of a model's floating-point state, and the pull back to it.

    Args:
        source: a TinyTorch ``Module``, or a function returning the list of numpy arrays to
            average (the same arrays, in the same order, at every call; changed in place).

    Example:
        >>> import numpy as np
        >>> w = np.zeros(3)                            # stands in for a model's weights
        >>> look = Lookahead(lambda: [w])              # (a Module works the same way)
        >>> total = 10
        >>> for step in range(1, total + 1):
        ...     w += 1.0                                # what an optimizer step would do
        ...     if step % 5 == 0:
        ...         look.update(lookahead_decay(step, total))
        >>> look.update(1.0)      # the weights become the average
        >>> w.round(3).tolist()
        [5.647, 5.647, 5.647]
    """

    def __init__(self, source: Any) -> None:
        if callable(source) and not hasattr(source, "state_dict"):
            self._arrays = source
        elif hasattr(source, "state_dict"):
            self._arrays = _module_arrays(source)
        else:
            raise TypeError(f"Lookahead: source must be a Module or a function returning arrays, "
                            f"got {type(source).__name__}")
        self.average = [a.copy() for a in self._float_arrays()]

    def _float_arrays(self) -> list:
        return [a for a in self._arrays() if a.dtype.kind == "f"]  # not the batch counters

    def update(self, decay: float) -> None:
        """``a ← decay·a + (1 - decay)·w``, then ``w ← a``, for every array (in place)."""
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"Lookahead.update: decay must be in [0, 1], got {decay}")
        arrays = self._float_arrays()
        if len(arrays) != len(self.average):
            raise ValueError(f"Lookahead.update: the model now has {len(arrays)} floating-point "
                             f"arrays, the average {len(self.average)} (a different model?)")
        for avg, w in zip(self.average, arrays):
            # the average moves a fraction (1 - decay) of the way to the weights
            avg += (w - avg) * avg.dtype.type(1.0 - decay)
            w[...] = avg
