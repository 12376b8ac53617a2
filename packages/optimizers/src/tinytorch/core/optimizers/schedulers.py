"""Learning-rate schedules: StepLR, CosineAnnealingLR, LinearWarmup and OneCycleLR.

A scheduler rewrites ``group["lr"]`` of its optimizer's parameter groups. Call
``scheduler.step()`` once per epoch (or per batch, for OneCycleLR) *after*
``optimizer.step()``. Each schedule is a closed formula of the step count t (PyTorch's
``last_epoch``) and the group's base learning rate, so it is easy to read and to test:

    StepLR             lr_t = base · γ^⌊t / step_size⌋
    CosineAnnealingLR  lr_t = η_min + (base - η_min) · (1 + cos(π t / T_max)) / 2
    LinearWarmup       lr_t = base · (s + (1 - s) · t / W) for t < W, then the wrapped schedule
    OneCycleLR         warm up from max_lr/div_factor to max_lr, then anneal down to
                       max_lr/(div_factor·final_div_factor), both halves as cosines

Constructing a scheduler applies step 0 at once (PyTorch does the same).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .optimizer import Optimizer, _plain

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR", "LinearWarmup", "OneCycleLR"]


class LRScheduler:
    """Base class: sets each group's lr to ``lr_at(i, t)`` at every ``step()``.

    Args:
        optimizer: the optimizer whose learning rates this scheduler sets.
        last_epoch: the step count to resume from (-1: start afresh).
    """

    _hyper: tuple = ()  # names of the attributes that go into state_dict besides the counter

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in g for g in optimizer.param_groups):
            raise KeyError(
                f"{type(self).__name__}: resuming at last_epoch={last_epoch} needs 'initial_lr' "
                "in every parameter group (load the optimizer's state dict first)"
            )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list = []
        self.step()

    def lr_at(self, i: int, t: int) -> float:
        """The learning rate of parameter group ``i`` after ``t`` steps."""
        raise NotImplementedError

    def get_last_lr(self) -> list:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance the schedule by one step and write the new rates into the optimizer."""
        self.last_epoch += 1
        self._apply(self.last_epoch)

    def _apply(self, t: int) -> None:
        lrs = [self.lr_at(i, t) for i in range(len(self.optimizer.param_groups))]
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def state_dict(self) -> dict:
        """The schedule's position and settings: a flat dict of numbers and arrays."""
        out: dict = {"last_epoch": self.last_epoch, "base_lrs": np.asarray(self.base_lrs, dtype=np.float64),
                     "last_lr": np.asarray(self._last_lr, dtype=np.float64)}
        for name in self._hyper:
            value = getattr(self, name)
            out[name] = np.asarray(value) if isinstance(value, (list, tuple)) else value
        return out

    def load_state_dict(self, state_dict: Any) -> None:
        """Resume from :meth:`state_dict` (or an ``np.load`` of it)."""
        sd = {str(k): state_dict[k] for k in state_dict.keys()}
        self.last_epoch = int(_plain(sd["last_epoch"]))
        self.base_lrs = [float(v) for v in np.atleast_1d(sd["base_lrs"])]
        self._last_lr = [float(v) for v in np.atleast_1d(sd.get("last_lr", []))]
        for name in self._hyper:
            if name in sd:
                value = sd[name]
                if isinstance(value, np.ndarray) and value.ndim == 1:
                    value = [v.item() for v in value]
                else:
                    value = _plain(value)
                setattr(self, name, value)
        if type(self).load_state_dict is LRScheduler.load_state_dict:
            self._apply(self.last_epoch)  # the optimizer's rates follow the restored position

    def _error(self, what: str, value: Any, rule: str) -> ValueError:
        return ValueError(f"{type(self).__name__}: invalid {what}={value} ({rule})")


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    Args:
        optimizer: the optimizer to schedule.
        step_size: steps between two decays.
        gamma: the decay factor.
        last_epoch: the step count to resume from (-1: start afresh).
    """

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        if gamma <= 0:
            raise ValueError(f"StepLR: invalid gamma={gamma} (must be > 0)")
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        """The rate of group ``i`` after ``t`` steps: ``base_lrs[i] · gamma^⌊t / step_size⌋``.

        ``t`` is an int >= 0; the result is a Python float. With step_size 3 and gamma 0.1 the
        rates of steps 0, 1, 2 are the base rate, steps 3, 4, 5 a tenth of it, and so on.
        """
        ### BEGIN SOLUTION
        ### HINT: integer division t // self.step_size counts the decays done so far
        return self.base_lrs[i] * self.gamma ** (t // self.step_size)
        ### END SOLUTION


class CosineAnnealingLR(LRScheduler):
    """Follow half a cosine from the base learning rate down to ``eta_min`` over ``T_max`` steps.

    Past ``T_max`` the cosine carries on (back up), as in PyTorch; usually you stop there.

    Args:
        optimizer: the optimizer to schedule.
        T_max: steps from the base rate down to ``eta_min``.
        eta_min: the lowest learning rate.
        last_epoch: the step count to resume from (-1: start afresh).
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        if eta_min < 0:
            raise ValueError(f"CosineAnnealingLR: invalid eta_min={eta_min} (must be >= 0)")
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        """The rate of group ``i`` after ``t`` steps, on half a cosine:

        ``eta_min + (base_lrs[i] - eta_min) · (1 + cos(π t / T_max)) / 2``

        so ``lr_at(i, 0)`` is the base rate and ``lr_at(i, T_max)`` is ``eta_min`` (a float).
        """
        ### BEGIN SOLUTION
        ### HINT: (1 + cos(π t / T_max)) / 2 falls from 1 to 0 as t goes from 0 to T_max;
        ### HINT: use it to blend between eta_min and the base rate (math.cos, math.pi)
        cosine = (1 + math.cos(math.pi * t / self.T_max)) / 2
        return self.eta_min + (self.base_lrs[i] - self.eta_min) * cosine
        ### END SOLUTION


class LinearWarmup(LRScheduler):
    """Ramp the learning rate up linearly for ``warmup_steps`` steps, then hand over.

    Starts at ``start_factor · base`` and reaches ``base`` after ``warmup_steps`` steps. With
    ``after`` (another scheduler built on the same optimizer) that schedule takes over from
    then on, starting from its own step 0 — PyTorch's
    ``SequentialLR([LinearLR(start_factor, total_iters=W), after], milestones=[W])``.
    Without it the rate stays at ``base`` — PyTorch's ``LinearLR(start_factor, 1.0, W)``.

    Args:
        optimizer: the optimizer to schedule.
        warmup_steps: length W of the ramp, in steps.
        start_factor: fraction of the base rate to start from (in (0, 1]).
        after: the scheduler to follow the warm-up with (optional).
        last_epoch: the step count to resume from (-1: start afresh).

    Example:
        >>> cosine = CosineAnnealingLR(opt, T_max=90)
        >>> sched = LinearWarmup(opt, warmup_steps=10, after=cosine)
    """

    _hyper = ("warmup_steps", "start_factor")

    def __init__(self, optimizer: Optimizer, warmup_steps: int, start_factor: float = 1.0 / 3,
                 after: LRScheduler | None = None, last_epoch: int = -1) -> None:
        self.warmup_steps = _positive_int("LinearWarmup", "warmup_steps", warmup_steps)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearWarmup: invalid start_factor={start_factor} (must be in (0, 1])")
        self.start_factor = start_factor
        if after is not None and after.optimizer is not optimizer:
            raise ValueError("LinearWarmup: 'after' must schedule the same optimizer")
        self.after = after
        super().__init__(optimizer, last_epoch)

    def lr_at(self, i: int, t: int) -> float:
        """The rate of group ``i`` after ``t`` steps.

        During the ramp (``t < W``): ``base_lrs[i] · (s + (1 - s) · t / W)`` with ``s`` the
        start factor and ``W`` the warm-up steps; from ``t = W`` on, the base rate (or, with
        ``after``, that schedule's rate at its own step ``t - W``, handled above for you).
        """
        if t >= self.warmup_steps and self.after is not None:
            return self.after.lr_at(i, t - self.warmup_steps)
        ### BEGIN SOLUTION
        ### HINT: progress = t / warmup_steps, capped at 1; the factor goes linearly from
        ### HINT: start_factor (progress 0) to 1 (progress 1); multiply the base rate by it
        progress = min(t, self.warmup_steps) / self.warmup_steps
        return self.base_lrs[i] * (self.start_factor + (1 - self.start_factor) * progress)
        ### END SOLUTION

    def _apply(self, t: int) -> None:
        if self.after is not None and t >= self.warmup_steps:
            # the wrapped schedule takes over, counting its own steps from 0
            self.after.last_epoch = t - self.warmup_steps
            self.after._apply(self.after.last_epoch)
            self._last_lr = self.after.get_last_lr()
        else:
            super()._apply(t)

    def state_dict(self) -> dict:
        out = super().state_dict()
        if self.after is not None:
            for key, value in self.after.state_dict().items():
                out[f"after.{key}"] = value
        return out

    def load_state_dict(self, state_dict: Any) -> None:
        sd = {str(k): state_dict[k] for k in state_dict.keys()}
        super().load_state_dict({k: v for k, v in sd.items() if not k.startswith("after.")})
        inner = {k[len("after."):]: v for k, v in sd.items() if k.startswith("after.")}
        if inner and self.after is not None:
            self.after.load_state_dict(inner)
        self._apply(self.last_epoch)


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): one warm-up to ``max_lr`` and one long anneal.

    Step it after every *batch*. Over ``total_steps`` steps the rate rises from
    ``max_lr / div_factor`` to ``max_lr`` during the first ``pct_start`` of the run, then
    falls to ``max_lr / (div_factor · final_div_factor)``. With ``cycle_momentum`` the
    momentum (SGD/RMSprop ``momentum``, Adam's β₁) moves the opposite way, between
    ``max_momentum`` and ``base_momentum``. Defaults are PyTorch's.

    Args:
        optimizer: the optimizer to schedule.
        max_lr: the peak learning rate (one number, or one per parameter group).
        total_steps: length of the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: batches per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing the rate.
        anneal_strategy: ``"cos"`` or ``"linear"`` interpolation.
        cycle_momentum: move the momentum inversely to the rate.
        base_momentum: momentum at the peak rate.
        max_momentum: momentum at the lowest rates.
        div_factor: initial rate = max_lr / div_factor.
        final_div_factor: final rate = initial rate / final_div_factor.
        three_phase: use a third phase that anneals to the final rate after a symmetric
            up-and-down (fast.ai's variant); default two phases.
        last_epoch: the step count to resume from (-1: start afresh).
    """

    _hyper = ("total_steps", "pct_start", "anneal_strategy", "cycle_momentum", "three_phase")

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        name = "OneCycleLR"
        if total_steps is not None:
            self.total_steps = _positive_int(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = (_positive_int(name, "epochs", epochs)
                                * _positive_int(name, "steps_per_epoch", steps_per_epoch))
        else:
            raise ValueError(f"{name}: give total_steps, or both epochs and steps_per_epoch")
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{name}: invalid pct_start={pct_start} (must be in [0, 1])")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.pct_start = pct_start
        self.anneal_strategy = anneal_strategy
        self.three_phase = bool(three_phase)
        self.cycle_momentum = bool(cycle_momentum)
        groups = optimizer.param_groups
        max_lrs = self._per_group(max_lr, len(groups), "max_lr")
        if last_epoch == -1:
            for group, peak in zip(groups, max_lrs):
                group["initial_lr"] = peak / div_factor
                group["max_lr"] = peak
                group["min_lr"] = group["initial_lr"] / final_div_factor
        if self.cycle_momentum:
            defaults = optimizer.defaults
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"{name}: cycle_momentum needs an optimizer with momentum or betas "
                                 f"({type(optimizer).__name__} has neither; pass cycle_momentum=False)")
            self._use_beta1 = "betas" in defaults
            highs = self._per_group(max_momentum, len(groups), "max_momentum")
            lows = self._per_group(base_momentum, len(groups), "base_momentum")
            if last_epoch == -1:
                for group, high, low in zip(groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _per_group(value: Any, n: int, what: str) -> list:
        if isinstance(value, (list, tuple, np.ndarray)):
            if len(value) != n:
                raise ValueError(f"OneCycleLR: {what} has {len(value)} values for {n} parameter groups")
            return [float(v) for v in value]
        return [float(value)] * n

    def _set_momentum(self, group: dict, value: float) -> None:
        if self._use_beta1:
            group["betas"] = (value, *tuple(group["betas"])[1:])
        else:
            group["momentum"] = value

    def _phases(self) -> list:
        """(last step of the phase, lr key at its start, at its end, momentum keys likewise)."""
        up = float(self.pct_start * self.total_steps) - 1
        if self.three_phase:
            return [
                (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * self.pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        return [
            (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
        ]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        """The value ``pct`` (0 → 1) of the way from ``start`` to ``end``.

        ``"linear"``: ``start + (end - start) · pct``. ``"cos"``: the same endpoints joined by
        half a cosine, ``end + (start - end) · (1 + cos(π pct)) / 2`` — flat at both ends, so the
        rate eases into the peak and out of it. Used for the rate and the momentum alike.
        """
        ### BEGIN SOLUTION
        ### HINT: check self.anneal_strategy; at pct = 0 both give start, at pct = 1 both give end
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)
        return start + (end - start) * pct
        ### END SOLUTION

    def _position(self, t: int) -> tuple:
        """The phase step ``t`` falls in and how far along it (0 → 1) it is."""
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: stepped {t} times, but the cycle has total_steps={self.total_steps}"
            )
        phases = self._phases()
        start = 0.0
        for k, phase in enumerate(phases):
            end = phase[0]
            if t <= end or k == len(phases) - 1:
                return phase, (t - start) / (end - start)
            start = end
        raise AssertionError("unreachable")

    def lr_at(self, i: int, t: int) -> float:
        group = self.optimizer.param_groups[i]
        (_, lr_from, lr_to, _, _), pct = self._position(t)
        return self._anneal(group[lr_from], group[lr_to], pct)

    def _apply(self, t: int) -> None:
        super()._apply(t)
        if self.cycle_momentum:
            (_, _, _, m_from, m_to), pct = self._position(t)
            for group in self.optimizer.param_groups:
                self._set_momentum(group, self._anneal(group[m_from], group[m_to], pct))
