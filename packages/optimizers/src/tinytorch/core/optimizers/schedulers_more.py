"""More schedules, as in ``torch.optim.lr_scheduler``: LambdaLR, LinearLR, SequentialLR and
ReduceLROnPlateau. Given, not exercises.

    LambdaLR           lr_t = base · f(t)                      (your function of the step)
    LinearLR           lr_t = base · (s + (e - s) · min(t, T) / T)
    SequentialLR       one schedule after another, each restarted at its milestone
    ReduceLROnPlateau  lr ← max(lr · factor, min_lr) when a measured value (the validation
                       loss, say) has not improved for more than ``patience`` steps

The first three are closed formulas of the step count t, like the lesson's schedules.
ReduceLROnPlateau is not: it follows a measurement, so ``step(metric)`` takes one.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Sequence

import numpy as np

from .optimizer import Optimizer, _plain
from .schedulers import LRScheduler

__all__ = ["LambdaLR", "LinearLR", "SequentialLR", "ReduceLROnPlateau"]


class LambdaLR(LRScheduler):
    """``lr_t = base · lr_lambda(t)``, one function for every group or one per group.

    The functions themselves are not saved in ``state_dict()`` (only the position is), as in
    PyTorch: construct the scheduler with the same functions before loading.

    Example:
        >>> from tinytorch.core.optimizers import SGD
        >>> from tinytorch.core.tensor import Tensor
        >>> opt = SGD([Tensor([1.0], requires_grad=True)], lr=0.1)
        >>> sched = LambdaLR(opt, lambda t: 0.5 ** t)
        >>> sched.step(); sched.step()
        >>> sched.get_last_lr()
        [0.025]
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable | Sequence[Callable],
                 last_epoch: int = -1) -> None:
        groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * groups
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != groups or not all(callable(f) for f in self.lr_lambdas):
                raise ValueError(f"LambdaLR: expected one function or {groups} (one per "
                                 f"parameter group), got {lr_lambda!r}")
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        return self.base_lrs[i] * float(self.lr_lambdas[i](t))


class LinearLR(LRScheduler):
    """Scale the rate linearly from ``start_factor`` to ``end_factor`` over ``total_iters``
    steps, then keep ``end_factor`` (a warm-up, or a linear decay).

    Args:
        optimizer: the optimizer to schedule.
        start_factor: the multiplier at step 0, in (0, 1].
        end_factor: the multiplier from step ``total_iters`` on, in [0, 1].
        total_iters: the steps the ramp takes.
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: invalid start_factor={start_factor} (must be in (0, 1])")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: invalid end_factor={end_factor} (must be in [0, 1])")
        if isinstance(total_iters, bool) or not isinstance(total_iters, (int, np.integer)) \
                or total_iters < 0:
            raise ValueError(f"LinearLR: total_iters must be an int >= 0, got {total_iters!r}")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        if self.total_iters == 0:
            return self.base_lrs[i] * self.end_factor
        done = min(t, self.total_iters) / self.total_iters
        return self.base_lrs[i] * (self.start_factor + (self.end_factor - self.start_factor) * done)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` restarted from its
    step 0, and so on (e.g. a LinearLR warm-up, then CosineAnnealingLR).

    Args:
        optimizer: the optimizer every scheduler was built on.
        schedulers: closed-form schedulers (LRScheduler subclasses), in order.
        milestones: the steps at which the next scheduler takes over (increasing,
            ``len(schedulers) - 1`` of them).
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if not schedulers:
            raise ValueError("SequentialLR: needs at least one scheduler")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: {len(schedulers)} schedulers need "
                             f"{len(schedulers) - 1} milestones, got {milestones}")
        if milestones != sorted(milestones) or any(m < 1 for m in milestones):
            raise ValueError(f"SequentialLR: milestones must increase from 1, got {milestones}")
        for s in schedulers:
            if not isinstance(s, LRScheduler) or isinstance(s, SequentialLR):
                raise TypeError(f"SequentialLR: expected closed-form schedulers, got "
                                f"{type(s).__name__}")
            if s.optimizer is not optimizer:
                raise ValueError("SequentialLR: every scheduler must belong to its optimizer")
        self.schedulers, self.milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def _current(self, t: int) -> tuple[LRScheduler, int]:
        k = bisect.bisect_right(self.milestones, t)
        return self.schedulers[k], t - (self.milestones[k - 1] if k else 0)

    def lr_at(self, i: int, t: int) -> float:
        scheduler, local = self._current(t)
        return scheduler.lr_at(i, local)

    def _apply(self, t: int) -> None:
        super()._apply(t)
        scheduler, local = self._current(t)
        scheduler.last_epoch, scheduler._last_lr = local, list(self._last_lr)

    def state_dict(self) -> dict:
        out = super().state_dict()
        out["milestones"] = np.asarray(self.milestones, dtype=np.int64)
        return out


class ReduceLROnPlateau:
    """Multiply the rates by ``factor`` once a measured value stops improving.

    Call ``step(value)`` after each evaluation (e.g. with the validation loss). A value counts
    as an improvement when it beats the best so far by more than ``threshold`` (relative:
    ``best · (1 ∓ threshold)``; absolute: ``best ∓ threshold``). After more than ``patience``
    steps without one, every group's rate becomes ``max(lr · factor, min_lr)`` (changes smaller
    than ``eps`` are skipped), and ``cooldown`` steps pass before bad steps count again.

    Args:
        optimizer: the optimizer whose rates to reduce.
        mode: "min" (lower is better, a loss) or "max" (an accuracy).
        factor: the multiplier, in (0, 1).
        patience: bad steps tolerated before reducing.
        threshold: how much better than the best a value must be to count as an improvement.
        threshold_mode: "rel" (a fraction of the best) or "abs" (an amount).
        cooldown: steps to wait after a reduction.
        min_lr: a floor, one for all groups or one per group.
        eps: reductions smaller than this are skipped.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: float | Sequence[float] = 0.0,
                 eps: float = 1e-8) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau needs an Optimizer, got {type(optimizer).__name__}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError("ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        n = len(optimizer.param_groups)
        # one value per group, each made a float (or refused) by float() below
        mins: list[Any] = (list(min_lr) if isinstance(min_lr, (list, tuple, np.ndarray))
                           else [min_lr] * n)
        if len(mins) != n:
            raise ValueError(f"ReduceLROnPlateau: expected {n} min_lr values (one per group), "
                             f"got {len(mins)}")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.patience, self.threshold = float(factor), int(patience), float(threshold)
        self.cooldown, self.min_lrs, self.eps = int(cooldown), [float(m) for m in mins], float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]

    def _better(self, value: float) -> bool:
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return value > bar

    def step(self, metrics: Any = None) -> None:
        """Record one measurement (a number, or a 0-d Tensor / array)."""
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step() needs the measured value, e.g. "
                            "scheduler.step(val_loss)")
        value = float(_plain(getattr(metrics, "data", metrics)))
        self.last_epoch += 1
        if self._better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The rates after the last ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """The position (best value, counters) and settings: a flat dict of numbers."""
        return {"best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "cooldown_counter": self.cooldown_counter, "last_epoch": self.last_epoch,
                "factor": self.factor, "patience": self.patience, "threshold": self.threshold,
                "cooldown": self.cooldown, "eps": self.eps,
                "min_lrs": np.asarray(self.min_lrs, dtype=np.float64),
                "last_lr": np.asarray(self._last_lr, dtype=np.float64)}

    def load_state_dict(self, state_dict: Any) -> None:
        """Resume from :meth:`state_dict` (or an ``np.load`` of it)."""
        sd = {str(k): state_dict[k] for k in state_dict.keys()}
        self.best = float(_plain(sd["best"]))
        for name in ("num_bad_epochs", "cooldown_counter", "last_epoch", "patience", "cooldown"):
            setattr(self, name, int(_plain(sd[name])))
        for name in ("factor", "threshold", "eps"):
            setattr(self, name, float(_plain(sd[name])))
        self.min_lrs = [float(v) for v in np.atleast_1d(sd["min_lrs"])]
        self._last_lr = [float(v) for v in np.atleast_1d(sd["last_lr"])]
