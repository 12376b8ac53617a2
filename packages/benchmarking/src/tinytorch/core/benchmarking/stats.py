"""Statistics for measurements: percentiles, confidence intervals, and the regression verdict.

A benchmark produces *samples* — latencies of single queries, throughputs of repeated runs,
times of alternated rounds — never one true number. This file turns samples into claims you
can defend:

* :func:`percentile` — the tail of a latency distribution (p50, p90, p99), by linear
  interpolation between order statistics (numpy's default method);
* :func:`t_interval` — a confidence interval for a mean, from Student's t distribution
  (right for few runs, 3–30, of roughly normal noise); :func:`t_quantile` computes the
  quantile from the regularised incomplete beta function, so nothing beyond numpy is needed;
* :func:`bootstrap_interval` — a percentile-bootstrap interval for any statistic (a median,
  a p99), resampling the data with replacement;
* :func:`relative_change` and :func:`verdict` — "B is 12% slower than A, 95% CI [8%, 16%]:
  regression", or "no significant difference" when the interval contains zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "percentile", "percentiles", "t_cdf", "t_quantile", "Interval", "t_interval",
    "bootstrap_interval", "Change", "relative_change", "verdict", "VERDICTS",
]

# Samples as these functions take them: a list or tuple of numbers, or a numpy array.
Samples = Sequence[float] | np.ndarray


# --------------------------------------------------------------------------- percentiles
def _sorted_finite(values: Samples, what: str) -> np.ndarray:
    data = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if data.size == 0:
        raise ValueError(f"{what}: need at least one value")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"{what}: values must be finite, got {data[~np.isfinite(data)][:3]}")
    return data


def percentile(values: Samples, q: float) -> float:
    """The ``q``-th percentile (0 ≤ q ≤ 100) of ``values``, interpolating linearly.

    The sorted values ``v[0] ≤ … ≤ v[n-1]`` are placed at positions 0 … n-1; the percentile
    sits at position ``q/100 · (n - 1)`` and, between two values, on the line joining them.
    This is numpy's default ``np.percentile``: p0 is the minimum, p100 the maximum, p50 the
    median.

    Example:
        >>> percentile([10, 20, 30, 40], 50)
        25.0
        >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)
        9.1
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile: q must be in [0, 100], got {q}")
    data = _sorted_finite(values, "percentile")
    ### BEGIN SOLUTION
    ### HINT: position = q/100 · (n - 1); blend the values just below and just above it
    position = q / 100.0 * (data.size - 1)
    below = int(math.floor(position))
    above = min(below + 1, data.size - 1)
    fraction = position - below
    return float(data[below] + (data[above] - data[below]) * fraction)
    ### END SOLUTION


def percentiles(values: Samples, qs: Sequence[float] = (50, 90, 99)) -> dict:
    """``{"p50": …, "p90": …, "p99": …}`` (keys from ``qs``; ``p99.9`` for 99.9)."""
    return {f"p{q:g}": percentile(values, q) for q in qs}


# --------------------------------------------------------------------------- Student's t
def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), for 0 ≤ x ≤ 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t distribution with ``df`` degrees of freedom.

    Example:
        >>> round(t_cdf(2.0, 10), 4)
        0.9633
    """
    if df <= 0:
        raise ValueError(f"t_cdf: degrees of freedom must be positive, got {df}")
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p``-quantile of Student's t with ``df`` degrees of freedom (0 < p < 1).

    Found by bisection on :func:`t_cdf` (monotone, so bisection cannot miss).

    Example:
        >>> round(t_quantile(0.975, 4), 4)
        2.7764
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must be in (0, 1), got {p}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return 0.5 * (low + high)


# --------------------------------------------------------------------------- intervals
@dataclass(frozen=True)
class Interval:
    """An estimate with a confidence interval.

    Attributes:
        estimate: the point estimate (a mean, a median, a p99...).
        low: the interval's lower end.
        high: the interval's upper end.
        level: the confidence level, e.g. 0.95.
        method: how it was computed ("t", "bootstrap").
        n: how many samples it came from.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (the "±" of a symmetric interval)."""
        return (self.high - self.low) / 2.0

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies inside the interval (ends included)."""
        return self.low <= value <= self.high

    def to_dict(self) -> dict:
        """Plain numbers, for JSON."""
        return {"estimate": self.estimate, "low": self.low, "high": self.high,
                "level": self.level, "method": self.method, "n": self.n}

    def format(self, scale: float = 1.0, unit: str = "", digits: int = 3) -> str:
        """``'12.3 [11.8, 12.9] ms (95% CI)'`` with values multiplied by ``scale``."""
        sep = " " if unit else ""
        return (f"{self.estimate * scale:.{digits}g} [{self.low * scale:.{digits}g}, "
                f"{self.high * scale:.{digits}g}]{sep}{unit} ({self.level:.0%} CI)")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")


def t_interval(values: Samples, level: float = 0.95) -> Interval:
    """Confidence interval for the mean of ``values``: ``mean ± t · s / √n``.

    ``s`` is the sample standard deviation (divisor n - 1) and ``t`` the ``(1 + level)/2``
    quantile of Student's t with n - 1 degrees of freedom — wider than the normal's 1.96 when
    there are few samples, because ``s`` itself is uncertain then. Needs at least 2 values.

    Example:
        >>> ci = t_interval([10.0, 12.0, 11.0, 13.0, 9.0])
        >>> round(ci.low, 3), round(ci.high, 3)
        (9.037, 12.963)
    """
    _check_level(level)
    data = _sorted_finite(values, "t_interval")
    n = data.size
    if n < 2:
        raise ValueError("t_interval: need at least 2 values to estimate the spread")
    ### BEGIN SOLUTION
    ### HINT: the standard error is s / √n with s = data.std(ddof=1)
    mean = float(data.mean())
    standard_error = float(data.std(ddof=1)) / math.sqrt(n)
    t = t_quantile((1.0 + level) / 2.0, n - 1)
    low, high = mean - t * standard_error, mean + t * standard_error
    ### END SOLUTION
    return Interval(mean, low, high, level, "t", n)


def bootstrap_interval(values: Samples, statistic: Callable[[np.ndarray], Any] = np.median,
                       level: float = 0.95, resamples: int = 2000, seed: int = 0) -> Interval:
    """Percentile-bootstrap confidence interval for ``statistic(values)``.

    Draw ``resamples`` samples of the same size from ``values`` with replacement, compute the
    statistic on each, and take the ``(1 - level)/2`` and ``(1 + level)/2`` percentiles of
    those as the interval. ``statistic`` takes a 2-D array (one resample per row) and an
    ``axis=1`` keyword, like ``np.median`` or ``np.mean``, or a 1-D array (called per row).
    Seeded: the same values give the same interval.

    Example:
        >>> ci = bootstrap_interval([1.0, 2.0, 3.0, 4.0, 100.0])
        >>> ci.estimate, ci.low >= 1.0, ci.high <= 100.0
        (3.0, True, True)
    """
    _check_level(level)
    data = _sorted_finite(values, "bootstrap_interval")
    if resamples < 1:
        raise ValueError(f"bootstrap_interval: resamples must be >= 1, got {resamples}")
    rng = np.random.default_rng(seed)
    ### BEGIN SOLUTION
    ### HINT: rng.integers(0, n, size=(resamples, n)) indexes every resample at once
    index = rng.integers(0, data.size, size=(resamples, data.size))
    stats = _apply_rows(statistic, data[index])
    tail = (1.0 - level) / 2.0
    low = percentile(stats, 100.0 * tail)
    high = percentile(stats, 100.0 * (1.0 - tail))
    ### END SOLUTION
    estimate = float(np.asarray(statistic(data)))
    return Interval(estimate, low, high, level, "bootstrap", int(data.size))


def _apply_rows(statistic: Callable, rows: np.ndarray) -> np.ndarray:
    """``statistic`` of each row: one vectorised call when it takes ``axis=``, else a loop."""
    try:
        out = np.asarray(statistic(rows, axis=1), dtype=np.float64)
        if out.shape == (rows.shape[0],):
            return out
    except TypeError:
        pass
    return np.array([float(statistic(r)) for r in rows])


# --------------------------------------------------------------------------- A/B verdicts
VERDICTS = ("regression", "improvement", "no significant difference", "negligible")
"""The four outcomes of :func:`verdict`."""


@dataclass(frozen=True)
class Change:
    """How much B differs from A, with a confidence interval and a verdict.

    ``estimate``, ``low`` and ``high`` are relative changes of B against A: +0.12 means B's
    metric is 12% larger than A's. For a cost (time) a positive change is worse; for a benefit
    (throughput) ``higher_is_better`` says so and the verdict flips.

    Attributes:
        estimate: the relative change B/A - 1.
        low: lower end of its confidence interval.
        high: upper end.
        level: confidence level.
        verdict: one of :data:`VERDICTS`.
        a: label of the baseline.
        b: label of the contender.
        metric: what was compared ("time", "latency", "throughput", ...).
        higher_is_better: whether a larger metric is an improvement.
        threshold: the smallest relative change that counts as a real difference.
        method: how the interval was computed.
        n: samples (rounds) behind it.
    """

    estimate: float
    low: float
    high: float
    level: float
    verdict: str
    a: str = "A"
    b: str = "B"
    metric: str = "time"
    higher_is_better: bool = False
    threshold: float = 0.02
    method: str = "paired t on log ratios"
    n: int = 0

    @property
    def ratio(self) -> float:
        """B's metric over A's (1 + estimate)."""
        return 1.0 + self.estimate

    def message(self) -> str:
        """``'B is 12.0% slower than A, 95% CI [8.0%, 16.0%]: regression'``."""
        if self.metric in ("time", "latency", "step time"):
            words = ("slower", "faster")
        elif self.higher_is_better:
            words = ("higher", "lower")
        else:
            words = ("larger", "smaller")
        word = words[0] if self.estimate >= 0 else words[1]
        times = f" ({self.ratio:.2f}x)" if not 2 / 3 < self.ratio < 1.5 else ""
        return (f"{self.b} is {abs(self.estimate):.1%} {word}{times} than {self.a} "
                f"({self.metric}), {self.level:.0%} CI [{self.low:+.1%}, {self.high:+.1%}]: "
                f"{self.verdict}")

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"a": self.a, "b": self.b, "metric": self.metric, "estimate": self.estimate,
                "ratio": self.ratio, "low": self.low, "high": self.high, "level": self.level,
                "verdict": self.verdict, "higher_is_better": self.higher_is_better,
                "threshold": self.threshold, "method": self.method, "n": self.n,
                "message": self.message()}


def verdict(low: float, high: float, estimate: float, threshold: float = 0.02,
            higher_is_better: bool = False) -> str:
    """Classify a relative change B/A - 1 given its confidence interval ``[low, high]``.

    * the interval contains 0 → ``"no significant difference"`` (the data cannot tell);
    * it excludes 0 but ``|estimate| < threshold`` → ``"negligible"`` (real, but too small to
      care about — with enough runs any difference becomes significant);
    * otherwise the direction decides: a larger cost (``higher_is_better=False``, e.g. time)
      is a ``"regression"``, a smaller one an ``"improvement"``; for a benefit (throughput)
      the other way round.

    Example:
        >>> verdict(0.08, 0.16, 0.12)
        'regression'
        >>> verdict(-0.03, 0.05, 0.01)
        'no significant difference'
    """
    if low > high:
        raise ValueError(f"verdict: the interval [{low}, {high}] is reversed")
    ### BEGIN SOLUTION
    ### HINT: check "contains 0" first, then the size, then the direction
    if low <= 0.0 <= high:
        return "no significant difference"
    if abs(estimate) < threshold:
        return "negligible"
    worse = estimate > 0 if not higher_is_better else estimate < 0
    return "regression" if worse else "improvement"
    ### END SOLUTION


def relative_change(a: Samples, b: Samples, level: float = 0.95,
                    paired: bool = True, threshold: float = 0.02, higher_is_better: bool = False,
                    labels: tuple = ("A", "B"), metric: str = "time", resamples: int = 2000,
                    seed: int = 0) -> Change:
    """How much larger B's samples are than A's, as a relative change with a CI and a verdict.

    * ``paired=True`` (the samples come from alternated rounds, ``a[i]`` and ``b[i]`` taken
      seconds apart): the per-round log ratios ``ln(b[i] / a[i])`` get a t-interval, which is
      turned back into a relative change with ``exp(·) - 1``. Pairing cancels the machine's
      slow drifts; logs make "2× slower" and "2× faster" symmetric.
    * ``paired=False``: a bootstrap interval for the ratio of medians, resampling A and B
      independently.

    Example:
        >>> change = relative_change([10, 10.2, 9.9, 10.1], [11.2, 11.3, 11.0, 11.4])
        >>> change.verdict, round(change.estimate, 2)
        ('regression', 0.12)
    """
    _check_level(level)
    xa = np.asarray(a, dtype=np.float64).ravel()
    xb = np.asarray(b, dtype=np.float64).ravel()
    if xa.size < 2 or xb.size < 2:
        raise ValueError(f"relative_change: need at least 2 samples of each, got {xa.size} "
                         f"and {xb.size}")
    if np.any(xa <= 0) or np.any(xb <= 0):
        raise ValueError("relative_change: samples must be positive (times, rates)")
    if paired:
        if xa.size != xb.size:
            raise ValueError(f"relative_change: paired samples need equal lengths, got "
                             f"{xa.size} and {xb.size} (use paired=False)")
        logs = np.log(xb / xa)
        if np.ptp(logs) == 0.0:  # identical ratios every round: no spread to estimate
            low = high = mid = float(logs[0])
        else:
            ci = t_interval(logs, level)
            low, high, mid = ci.low, ci.high, ci.estimate
        estimate, lo, hi = math.expm1(mid), math.expm1(low), math.expm1(high)
        method, n = "paired t on log ratios", int(xa.size)
    else:
        rng = np.random.default_rng(seed)
        ia = rng.integers(0, xa.size, size=(resamples, xa.size))
        ib = rng.integers(0, xb.size, size=(resamples, xb.size))
        ratios = np.median(xb[ib], axis=1) / np.median(xa[ia], axis=1)
        tail = (1.0 - level) / 2.0
        estimate = float(np.median(xb) / np.median(xa)) - 1.0
        lo = percentile(ratios, 100 * tail) - 1.0
        hi = percentile(ratios, 100 * (1 - tail)) - 1.0
        method, n = "bootstrap ratio of medians", int(min(xa.size, xb.size))
    label_a, label_b = labels
    return Change(estimate, lo, hi, level,
                  verdict(lo, hi, estimate, threshold, higher_is_better),
                  label_a, label_b, metric, higher_is_better, threshold, method, n)
