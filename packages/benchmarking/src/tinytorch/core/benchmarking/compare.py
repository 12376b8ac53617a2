"""A/B comparisons: two models, or two versions of one, timed in alternated rounds.

"Is B slower than A?" is a statistical question on a shared machine: any two runs differ.
:func:`ab_compare` answers it the way a careful engineer would:

1. time A and B in *alternated rounds* (A B, B A, A B, …) with the kernels module's harness
   (:func:`tinytorch.core.kernels.compare`), so a drift of the machine hits both alike;
2. take the per-round ratio B/A (the two runs of a round are seconds apart), and a
   t confidence interval of its logarithm across rounds (:func:`.stats.relative_change`);
3. give a verdict: a **regression** or an **improvement** only when the interval excludes
   zero and the change is at least ``threshold``; otherwise "no significant difference" or
   "negligible".
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.kernels import Comparison, compare, format_seconds
from tinytorch.core.spatial import fused_kernels
from tinytorch.core.tensor import from_numpy

from .format import format_rate, markdown_table
from .models import ModelSpec, build_tinytorch, sample_batch, tinytorch_train_step
from .stats import Change, relative_change

__all__ = ["ABResult", "ab_compare", "ABSuite", "compare_versions", "VERSIONS"]


@dataclass(frozen=True)
class ABResult:
    """Two contenders timed in alternated rounds, and what the difference means.

    Attributes:
        title: what was compared (e.g. "training step, batch 64").
        comparison: the kernels module's :class:`~tinytorch.core.kernels.Comparison` (every run).
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


@dataclass(frozen=True)
class ABSuite:
    """Several A/B results on one model (one per mode), as one report section.

    Attributes:
        title: what was compared.
        results: mode -> :class:`ABResult`.
    """

    title: str
    results: dict

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"kind": "ab_suite", "title": self.title,
                "results": {mode: r.to_dict() for mode, r in self.results.items()}}

    def to_markdown(self) -> str:
        """One row per mode: both medians, B/A, CI, verdict; then each verdict sentence."""
        first = next(iter(self.results.values()))
        head = ["mode", f"{first.a} median", f"{first.b} median", "B/A time", "95% CI of change",
                "verdict"]
        rows = [r.row() for r in self.results.values()]
        sentences = "\n".join(f"- {r.title}: {r.change.message()}" for r in self.results.values())
        return (f"**{self.title}**\n\n" + markdown_table(head, rows, "lrrrrl") + "\n\n"
                + sentences + "\n")


VERSIONS = {
    "composite": ("TinyTorch fused", "TinyTorch composite",
                  "fused kernels (default) vs the composite Tensor-op path of the spatial module"),
    "same": ("TinyTorch (A)", "TinyTorch (B)",
             "an A/A test: the same code twice (a fair comparison finds no difference)"),
}
"""What :func:`compare_versions` can put against the default TinyTorch model."""


def compare_versions(spec: ModelSpec, against: str = "composite", batch: int = 64,
                     modes: tuple = ("latency", "throughput", "train"), rounds: int = 9,
                     min_time: float = 0.05, seed: int = 0, level: float = 0.95,
                     threshold: float = 0.02) -> ABSuite:
    """Two versions of TinyTorch on the same model, per mode, with a regression verdict each.

    ``against="composite"`` runs B with ``fused_kernels(False)`` (tinytorch-spatial's composite
    path: convolution and pooling from Tensor ops), a real slower version to detect;
    ``against="same"`` runs A twice — an A/A test, which should find no difference.
    """
    if against not in VERSIONS:
        raise ValueError(f"compare_versions: against must be one of {list(VERSIONS)}, got {against!r}")
    label_a, label_b, what = VERSIONS[against]
    model = build_tinytorch(spec, seed)
    x, y = sample_batch(spec, batch, seed)
    results = {}
    for mode in modes:
        data = x[:1] if mode == "latency" else x
        if mode == "train":
            step = tinytorch_train_step(model, x, y)
            run = step
        elif mode in ("latency", "throughput"):
            inputs = from_numpy(np.ascontiguousarray(data))

            def run(inputs: Any = inputs) -> Any:
                with no_grad():
                    return model(inputs)
            model.eval()
        else:
            raise ValueError(f"compare_versions: unknown mode {mode!r}")

        def b(run: Callable = run) -> Any:
            with (fused_kernels(False) if against == "composite" else nullcontext()):
                return run()
        title = {"latency": "latency, 1 sample", "throughput": f"forward, batch {batch}",
                 "train": f"training step, batch {batch}"}[mode]
        results[mode] = ab_compare({label_a: run, label_b: b}, title=title, rounds=rounds,
                                   min_time=min_time, level=level, threshold=threshold,
                                   work=data.shape[0],
                                   metric="step time" if mode == "train" else "time")
    return ABSuite(f"{label_b} vs {label_a} on {spec.name}: {what}", results)
