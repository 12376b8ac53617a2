"""Running one milestone: say whose code runs, train, measure, compare, record.

A milestone's module has ``run(ctx) -> Outcome``. :func:`run_milestone` does the rest, the same
for all six: the header with the implementation of every module it uses, the spatial path
(composite or fused) around the whole run, the clock, the verdict of each check against its
threshold, and the entry appended to ``milestones.json``.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tinytorch.core.training.provenance import choose_kernels, implementation, kernels_line

from .record import append_run, artifacts_dir, hardware, versions
from .registry import Milestone

__all__ = ["Check", "Outcome", "Context", "run_milestone", "implementations_table"]

_OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}


@dataclass(frozen=True)
class Check:
    """One measured value against its threshold, e.g. test accuracy >= 0.95.

    Attributes:
        name: what was measured.
        value: the measured value.
        op: ``">="`` or ``"<="``.
        threshold: the bar.
        percent: show value and threshold as percentages.
    """

    name: str
    value: float
    op: str
    threshold: float
    percent: bool = False

    @property
    def passed(self) -> bool:
        """Whether the value clears the bar (a nan never does)."""
        return bool(_OPS[self.op](self.value, self.threshold))

    def _fmt(self, x: float) -> str:
        return f"{x * 100:.2f}%" if self.percent else f"{x:.4g}"

    def line(self) -> str:
        """``test accuracy 96.94% >= 95.00%: passed``."""
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.name} {self._fmt(self.value)} {self.op} {self._fmt(self.threshold)}: {verdict}"

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return {"name": self.name, "value": float(self.value), "op": self.op,
                "threshold": float(self.threshold), "passed": self.passed}


@dataclass
class Outcome:
    """What a milestone measured: its checks (all must pass) and details worth keeping."""

    checks: list
    details: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)


@dataclass
class Context:
    """What a milestone's ``run`` gets.

    Attributes:
        quick: the small form (seconds).
        seed: the random seed.
        data: CIFAR-10's folder (None: ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``).
        artifacts: where to keep files a later milestone reuses.
        kernels: ``fused`` or ``composite`` (the spatial module's path, already switched on).
        progress: show progress bars.
        log: prints one line.
    """

    quick: bool
    seed: int = 0
    data: str | None = None
    artifacts: Path = Path(".")
    kernels: str = "fused"
    progress: bool = False
    log: Callable[[str], None] = print


def implementations_table(modules: tuple) -> list:
    """One line per module: ``spatial      student   0.1.0+student  /home/me/tinytorch-student/spatial``."""
    lines = []
    for folder in modules:
        impl = implementation(folder)
        where = impl.workspace or impl.location or ""
        lines.append(f"  {folder:<13} {impl.kind:<10} {impl.version or '-':<16} {where}")
    return lines


def run_milestone(milestone: Milestone, *, quick: bool, record: Path, seed: int = 0,
                  data: str | None = None, kernels: str | None = None, progress: bool = False,
                  log: Callable[[str], None] = print) -> dict:
    """Run one milestone and append its entry to ``record``; returns the entry.

    Raises:
        MilestoneError: missing data or a bad option (nothing is recorded then).
    """
    from tinytorch.core.spatial import fused_kernels

    kernels = choose_kernels(kernels)
    form = "quick" if quick else "full"
    log(f"== {milestone.year} {milestone.title} ({form}) ==")
    log(milestone.story)
    log(f"goal: {milestone.measures}, {milestone.quick_goal if quick else milestone.goal}")
    log("your code or the reference, module by module:")
    for line in implementations_table(milestone.modules):
        log(line)
    if milestone.convolution:
        log(kernels_line(kernels))
    impls = {f: implementation(f).to_dict() for f in milestone.modules}
    ctx = Context(quick=quick, seed=seed, data=data, artifacts=artifacts_dir(record),
                  kernels=kernels, progress=progress, log=log)
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    with fused_kernels(kernels == "fused"):
        outcome = milestone.load().run(ctx)
    seconds = time.perf_counter() - clock
    for check in outcome.checks:
        log(check.line())
    verdict = "PASSED" if outcome.passed else "NOT PASSED"
    log(f"{milestone.year} {milestone.name}: {verdict} in {seconds:.2f} s")
    entry = {
        "milestone": milestone.key, "year": milestone.year, "name": milestone.name,
        "quick": quick, "passed": outcome.passed, "checks": [c.to_dict() for c in outcome.checks],
        "details": outcome.details, "seconds": round(seconds, 3), "started": started,
        "seed": seed, "kernels": kernels if milestone.convolution else None,
        "implementations": impls, "hardware": hardware(), "versions": versions(),
    }
    append_run(record, entry)
    log(f"recorded in {record}")
    return entry
