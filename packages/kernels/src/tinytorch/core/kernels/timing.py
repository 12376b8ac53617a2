"""The timing harness: every number this module prints comes out of these two functions.

    >>> import numpy as np
    >>> a = np.ones((256, 256), np.float32)
    >>> t = benchmark(np.matmul, a, a, repeat=5)
    >>> t.runs, t.median > 0
    (5, True)

A timing is worth quoting only if it survives the machine it was taken on. On a laptop, and
even more on a shared server, the same call can take twice as long a minute later. So:

1. **Warm up first.** The first call pays for things later calls do not: page faults on new
   memory, BLAS starting its threads, caches being cold. ``warmup`` calls run untimed.
2. **Time enough work.** A clock has a resolution and a cost of its own; a run that lasts a few
   microseconds measures the clock. With ``min_time`` the harness doubles the number of calls
   per run until one run lasts that long, and reports the time *per call*.
3. **Repeat, and report the median and the interquartile range.** The mean is dragged by
   the one run that an other process interrupted; the minimum is a lucky run nobody will see
   again. The median of several runs is what a user typically gets; the IQR (the spread of
   the middle half) says how much to trust it.
4. **Alternate contenders** (:func:`compare`). Timing A seven times and then B seven times
   compares A on a quiet minute with B on a busy one. Instead each round times every contender
   once, in the order A B C, then C B A (so a steady drift hits everyone equally), and the
   verdict is a *ratio* of medians taken from the same minutes.

The clock is an argument (``timer=``, default :func:`time.perf_counter`), so the statistics
can be tested on a fake clock whose readings the test chooses. Python's garbage collector is
paused while runs are timed, as :mod:`timeit` does.
"""

from __future__ import annotations

import gc
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = ["Timing", "Comparison", "benchmark", "compare", "quartiles", "format_seconds"]

Timer = Callable[[], float]
MAX_NUMBER = 1 << 20  # calls per run never exceed this, whatever min_time asks for


def quartiles(values: Sequence[float]) -> tuple:
    """(first quartile, median, third quartile) of ``values``.

    Linear interpolation between order statistics: the p-quantile of n sorted values sits at
    position p·(n - 1). This is numpy's default ``percentile`` and ``statistics.quantiles``
    with ``method="inclusive"``; one value is its own three quartiles.
    """
    if len(values) == 0:
        raise ValueError("quartiles: need at least one value")
    ordered = sorted(float(v) for v in values)
    out = []
    for p in (0.25, 0.5, 0.75):
        ### BEGIN SOLUTION
        ### HINT: position = p * (n - 1); interpolate between the values either side of it
        position = p * (len(ordered) - 1)
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        fraction = position - below
        out.append(ordered[below] + (ordered[above] - ordered[below]) * fraction)
        ### END SOLUTION
    return tuple(out)


@dataclass(frozen=True)
class Timing:
    """What :func:`benchmark` measured for one function.

    Attributes:
        name: a label for tables.
        times: seconds per call, one entry per timed run.
        number: calls per run (each entry of ``times`` is a run's time divided by this).
        warmup: untimed calls made before the first run.
    """

    name: str
    times: tuple
    number: int = 1
    warmup: int = 0

    @property
    def runs(self) -> int:
        """How many runs were timed."""
        return len(self.times)

    @property
    def median(self) -> float:
        """Median seconds per call: the number to quote."""
        return quartiles(self.times)[1]

    @property
    def q1(self) -> float:
        """First quartile of the seconds per call."""
        return quartiles(self.times)[0]

    @property
    def q3(self) -> float:
        """Third quartile of the seconds per call."""
        return quartiles(self.times)[2]

    @property
    def iqr(self) -> float:
        """Interquartile range (q3 - q1): how far apart the middle half of the runs lie."""
        q1, _, q3 = quartiles(self.times)
        return q3 - q1

    @property
    def best(self) -> float:
        """The fastest run (optimistic; quote the median)."""
        return min(self.times)

    def rate(self, work: float) -> float:
        """``work`` per second at the median, e.g. FLOPs -> FLOP/s or bytes -> bytes/s."""
        return _ratio(work, self.median)

    def to_dict(self) -> dict:
        """Plain numbers, for JSON."""
        return {"name": self.name, "median": self.median, "q1": self.q1, "q3": self.q3,
                "iqr": self.iqr, "best": self.best, "runs": self.runs, "number": self.number,
                "warmup": self.warmup, "times": list(self.times)}

    def __str__(self) -> str:
        return (f"{self.name}: {format_seconds(self.median)} median, IQR "
                f"{format_seconds(self.iqr)} ({self.runs} runs of {self.number})")


def _ratio(numerator: float, denominator: float) -> float:
    if denominator > 0:
        return numerator / denominator
    return math.inf if numerator > 0 else math.nan


@dataclass(frozen=True)
class Comparison:
    """What :func:`compare` measured: one :class:`Timing` per contender, from alternated runs.

    Attributes:
        timings: contender name -> its Timing (in the order given).
        baseline: the contender every other is compared with.
        order: the names in the order they were actually timed, round after round.
    """

    timings: dict
    baseline: str
    order: tuple = field(default=())

    def speedup(self, name: str) -> float:
        """How many times faster ``name`` is than the baseline: baseline median / its median."""
        return _ratio(self.timings[self.baseline].median, self.timings[name].median)

    def paired_speedup(self, name: str) -> float:
        """The median over rounds of (baseline's run / this contender's run in the same round).

        Each round's two runs were taken seconds apart, so this ratio shrugs off slow drifts
        of the machine even better than the ratio of medians."""
        base, other = self.timings[self.baseline].times, self.timings[name].times
        return quartiles([_ratio(b, o) for b, o in zip(base, other)])[1]

    @property
    def speedups(self) -> dict:
        """name -> :meth:`speedup` for every contender (the baseline's is 1)."""
        return {name: self.speedup(name) for name in self.timings}

    @property
    def fastest(self) -> str:
        """The contender with the smallest median."""
        return min(self.timings, key=lambda name: self.timings[name].median)

    def to_dict(self) -> dict:
        """Plain numbers, for JSON."""
        return {"baseline": self.baseline,
                "contenders": {name: {**t.to_dict(), "speedup": self.speedup(name),
                                      "paired_speedup": self.paired_speedup(name)}
                               for name, t in self.timings.items()}}

    def __str__(self) -> str:
        width = max(len(name) for name in self.timings)
        lines = [f"{'contender':<{width}}  {'median':>10}  {'IQR':>10}  vs {self.baseline}"]
        for name, t in self.timings.items():
            lines.append(f"{name:<{width}}  {format_seconds(t.median):>10}  "
                         f"{format_seconds(t.iqr):>10}  {self.speedup(name):.2f}x")
        return "\n".join(lines)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _time_run(fn: Callable, args: tuple, number: int, timer: Timer) -> float:
    """Call ``fn(*args)`` ``number`` times between two readings of ``timer``; seconds per call."""
    ### BEGIN SOLUTION
    ### HINT: read the clock, call fn number times, read it again; divide by number
    start = timer()
    for _ in range(number):
        fn(*args)
    return (timer() - start) / number
    ### END SOLUTION


def _calibrate(fn: Callable, args: tuple, min_time: float, timer: Timer) -> int:
    """Calls per run so that one run lasts at least ``min_time`` seconds (1 if it is 0)."""
    number = 1
    while min_time > 0 and number < MAX_NUMBER:
        if _time_run(fn, args, number, timer) * number >= min_time:
            break
        number *= 2
    return number


def _check_options(repeat: int, warmup: int, min_time: float, number: int | None) -> None:
    if not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"repeat must be a positive int, got {repeat!r}")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    if not min_time >= 0:
        raise ValueError(f"min_time must be >= 0 seconds, got {min_time!r}")
    if number is not None and (not isinstance(number, int) or number < 1):
        raise ValueError(f"number must be a positive int or None, got {number!r}")


def benchmark(fn: Callable, *args: Any, repeat: int = 7, warmup: int = 1, min_time: float = 0.0,
              number: int | None = None, timer: Timer | None = None,
              name: str | None = None) -> Timing:
    """Time ``fn(*args)``: warm up, pick the calls per run, then time ``repeat`` runs.

    Args:
        fn: the function to time; its result is ignored.
        *args: passed to every call.
        repeat: timed runs (the median and IQR are over these).
        warmup: untimed calls first.
        min_time: seconds one run should last at least; the calls per run double until it
            does (those calibration runs are not reported). 0 means one call per run.
        number: calls per run, overriding ``min_time``.
        timer: the clock, a function returning seconds (default ``time.perf_counter``).
        name: the label of the result (default ``fn``'s name).

    Returns:
        A :class:`Timing` with the seconds per call of every run.
    """
    _check_options(repeat, warmup, min_time, number)
    timer = time.perf_counter if timer is None else timer
    label = name if name is not None else getattr(fn, "__name__", repr(fn))
    for _ in range(warmup):
        fn(*args)
    with _gc_paused():
        calls = number if number is not None else _calibrate(fn, args, min_time, timer)
        times = tuple(_time_run(fn, args, calls, timer) for _ in range(repeat))
    return Timing(label, times, calls, warmup)


def compare(contenders: Mapping[str, Callable], *args: Any, repeat: int = 7, warmup: int = 1,
            min_time: float = 0.0, number: int | None = None, timer: Timer | None = None,
            baseline: str | None = None) -> Comparison:
    """Time several functions on the same arguments, alternating them, and compare medians.

    Every contender is warmed up and calibrated on its own (a fast one gets more calls per
    run), then each of the ``repeat`` rounds times one run of every contender: in the given
    order on even rounds, reversed on odd rounds (A B C, C B A, ...).

    Args:
        contenders: name -> function; each is called as ``fn(*args)``.
        *args: passed to every call of every contender.
        repeat: rounds (so, timed runs per contender).
        warmup: untimed calls of each contender first.
        min_time: seconds one run should last at least (see :func:`benchmark`).
        number: calls per run for every contender, overriding ``min_time``.
        timer: the clock (default ``time.perf_counter``).
        baseline: the contender the others are compared with (default: the first).

    Returns:
        A :class:`Comparison`; ``speedup(name)`` is baseline median / that median.
    """
    _check_options(repeat, warmup, min_time, number)
    names = list(contenders)
    if not names:
        raise ValueError("compare: give at least one contender")
    baseline = names[0] if baseline is None else baseline
    if baseline not in contenders:
        raise ValueError(f"compare: baseline {baseline!r} is not one of the contenders {names}")
    timer = time.perf_counter if timer is None else timer
    for name in names:
        for _ in range(warmup):
            contenders[name](*args)
    samples: dict = {name: [] for name in names}
    order: list = []
    with _gc_paused():
        calls = {name: number if number is not None
                 else _calibrate(contenders[name], args, min_time, timer) for name in names}
        ### BEGIN SOLUTION
        ### HINT: round r times every contender once: names in order if r is even, reversed if odd
        ### HINT: append each run to samples[name] and each name to order (the tests read both)
        for r in range(repeat):
            for name in (names if r % 2 == 0 else names[::-1]):
                samples[name].append(_time_run(contenders[name], args, calls[name], timer))
                order.append(name)
        ### END SOLUTION
    timings = {name: Timing(name, tuple(samples[name]), calls[name], warmup) for name in names}
    return Comparison(timings, baseline, tuple(order))


def format_seconds(seconds: float) -> str:
    """A duration with three significant figures and a unit: ``'12.3 ms'``, ``'456 µs'``."""
    if not math.isfinite(seconds):
        return str(seconds)
    seconds = float(f"{seconds:.3g}")  # round first, so 0.9999996 s prints as 1.00 s
    magnitude = abs(seconds)
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if magnitude >= scale:
            return f"{_three_figures(seconds / scale)} {unit}"
    return f"{_three_figures(seconds / 1e-9)} ns" if magnitude > 0 else "0 s"


def _three_figures(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
