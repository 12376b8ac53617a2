"""A/B comparisons: two models, or two versions of one, timed in alternated rounds.

"Is B slower than A?" is a statistical question on a shared machine: any two runs differ.
:func:`ab_compare` answers it the way a careful engineer would:

1. time A and B in *alternated rounds* (A B, B A, A B, …) with module 13's harness
   (:func:`tinytorch.core.kernels.compare`), so a drift of the machine hits both alike;
2. take the per-round ratio B/A (the two runs of a round are seconds apart), and a
   t confidence interval of its logarithm across rounds (:func:`.stats.relative_change`);
3. give a verdict: a **regression** or an **improvement** only when the interval excludes
   zero and the change is at least ``threshold``; otherwise "no significant difference" or
   "negligible".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from tinytorch.core.kernels import Comparison, compare, format_seconds

from .format import format_rate, markdown_table
from .stats import Change, relative_change

__all__ = ["ABResult", "ab_compare"]


@dataclass(frozen=True)
class ABResult:
    """Two contenders timed in alternated rounds, and what the difference means.

    Attributes:
        title: what was compared (e.g. "training step, batch 64").
        comparison: module 13's :class:`~tinytorch.core.kernels.Comparison` (every run).
        change: B against A (time per call), with its CI and verdict.
        work: samples per call (for samples/s), or None.
    """

    title: str
    comparison: Comparison
    change: Change
    work: int | None = None

    @property
    def a(self) -> str:
        """The baseline's label."""
        return self.change.a

    @property
    def b(self) -> str:
        """The contender's label."""
        return self.change.b

    def median(self, name: str) -> float:
        """Median seconds per call of ``name``."""
        return self.comparison.timings[name].median

    def rate(self, name: str) -> float | None:
        """Samples per second of ``name`` at its median (None without ``work``)."""
        return None if self.work is None else self.work / self.median(name)

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "ab", "title": self.title, "work": self.work,
                "change": self.change.to_dict(),
                "contenders": {name: {**t.to_dict(), "rate": self.rate(name)}
                               for name, t in self.comparison.timings.items()}}

    def row(self) -> list:
        """``[title, A median, B median, B/A, CI, verdict]`` for a table."""
        c = self.change
        return [self.title, format_seconds(self.median(c.a)), format_seconds(self.median(c.b)),
                f"{c.ratio:.2f}x", f"[{c.low:+.1%}, {c.high:+.1%}]", c.verdict]

    def to_markdown(self) -> str:
        """A table of both contenders and the verdict sentence."""
        rows = []
        for name, t in self.comparison.timings.items():
            rate = self.rate(name)
            rows.append([name, format_seconds(t.median), format_seconds(t.iqr), str(t.runs),
                         "--" if rate is None else format_rate(rate)])
        return (f"**{self.title}**\n\n"
                + markdown_table(["contender", "median", "IQR", "rounds", "throughput"], rows,
                                 "lrrrr")
                + f"\n\n{self.change.message()}.\n")


def ab_compare(contenders: Mapping[str, Callable[[], Any]], title: str = "A/B",
               rounds: int = 9, warmup: int = 1, min_time: float = 0.02,
               level: float = 0.95, threshold: float = 0.02, work: int | None = None,
               timer: Callable[[], float] | None = None, metric: str = "time") -> ABResult:
    """Time two zero-argument callables in alternated rounds and compare B with A.

    Args:
        contenders: exactly two, ``{"A label": fn, "B label": fn}``; the first is the baseline.
        title: what is compared, for the report.
        rounds: alternated rounds (each times one run of each contender).
        warmup: untimed calls of each first.
        min_time: seconds one run lasts at least (calls per run double until it does).
        level: confidence level of the interval.
        threshold: the smallest relative change worth calling a regression or improvement.
        work: samples per call, to report samples/s.
        timer: the clock (default ``time.perf_counter``).
        metric: the name of what is timed, for the verdict sentence.
    """
    names = list(contenders)
    if len(names) != 2:
        raise ValueError(f"ab_compare: give exactly two contenders (A, B), got {names}")
    if rounds < 2:
        raise ValueError(f"ab_compare: need at least 2 rounds for an interval, got {rounds}")
    cmp = compare(dict(contenders), repeat=rounds, warmup=warmup, min_time=min_time,
                  timer=timer, baseline=names[0])
    a, b = (cmp.timings[n].times for n in names)
    change = relative_change(a, b, level=level, paired=True, threshold=threshold,
                             labels=(names[0], names[1]), metric=metric)
    return ABResult(title, cmp, change, work)
