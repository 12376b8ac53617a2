"""A warm-up + cosine learning-rate schedule (as in most modern recipes).

    t < W:        lr_t = base · (t + 1) / W                       linear warm-up
    W ≤ t ≤ T:    lr_t = floor + (base - floor) · (1 + cos(π·(t - W)/(T - W))) / 2
    t > T:        lr_t = floor

with floor = base · ``min_ratio``. Call ``step()`` after every optimizer step; T is the total
number of steps of the run, so the rate reaches its floor exactly at the end.
"""

from __future__ import annotations

import math

from tinytorch.core.optimizers import LRScheduler, Optimizer

__all__ = ["WarmupCosine", "warmup_cosine_factor"]


def warmup_cosine_factor(t: int, total_steps: int, warmup_steps: int = 0,
                         min_ratio: float = 0.0) -> float:
    """lr_t / base of the schedule above (1 at the end of the warm-up, ``min_ratio`` at T).

    Args:
        t: the step, counted from 0.
        total_steps: T.
        warmup_steps: W (0: no warm-up, the cosine starts at 1 at t = 0).
        min_ratio: the floor, as a fraction of the base rate.

    Returns:
        ``(t + 1) / W`` while ``t < W``; the half cosine from 1 (at t = W) down to
        ``min_ratio`` (at t = T) for ``W <= t < T``; ``min_ratio`` from T on.
    """
    ### BEGIN SOLUTION
    ### HINT: three cases in order: warm-up, past the end, cosine; guard T - W against 0
    if warmup_steps and t < warmup_steps:
        return (t + 1) / warmup_steps
    if t >= total_steps:
        return min_ratio
    span = max(total_steps - warmup_steps, 1)
    cosine = (1 + math.cos(math.pi * (t - warmup_steps) / span)) / 2
    return min_ratio + (1 - min_ratio) * cosine
    ### END SOLUTION


class WarmupCosine(LRScheduler):
    """Linear warm-up for ``warmup_steps``, then a half cosine down to ``base · min_ratio``.

    Args:
        optimizer: the optimizer whose rates it sets.
        total_steps: T, the steps of the whole run.
        warmup_steps: W (0: no warm-up).
        min_ratio: the final rate as a fraction of the base rate.
        last_epoch: the step count to resume from (-1: start afresh).
    """

    _hyper = ("total_steps", "warmup_steps", "min_ratio")

    def __init__(self, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0,
                 min_ratio: float = 0.0, last_epoch: int = -1) -> None:
        if total_steps < 1 or not 0 <= warmup_steps < total_steps:
            raise ValueError(f"WarmupCosine: need 0 <= warmup_steps < total_steps, got "
                             f"{warmup_steps} and {total_steps}")
        if not 0.0 <= min_ratio <= 1.0:
            raise ValueError(f"WarmupCosine: min_ratio must be in [0, 1], got {min_ratio}")
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.min_ratio = float(min_ratio)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        return self.base_lrs[i] * warmup_cosine_factor(t, self.total_steps, self.warmup_steps,
                                                       self.min_ratio)
