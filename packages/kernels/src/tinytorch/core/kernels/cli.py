"""``tito kernels`` / ``python -m tinytorch.core.kernels``: the lesson's measurements, here, now.

Runs every experiment of :mod:`tinytorch.core.kernels.suite` — each contender checked against
its baseline first, then timed in alternated rounds — and prints, per experiment, the median
time, IQR, speed-up over the baseline and rate (GFLOP/s, GB/s ...) of every contender, then a
summary of the speed-ups. Nothing printed is a constant: every figure is this run's
measurement on this machine, under whatever load it has (printed too).

    tito kernels --quick                 # a few seconds
    tito kernels --only matmul threads   # some sections
    tito kernels --json kernels.json     # also save every run's numbers
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Callable

from . import suite
from .timing import format_seconds

__all__ = ["register", "run", "main", "add_arguments", "format_result", "format_summary",
           "format_ratio"]

QUICK = {"repeat": 3, "min_time": 0.005}
FULL = {"repeat": 7, "min_time": 0.05}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``tito kernels`` and ``python -m tinytorch.core.kernels``."""
    parser.add_argument("--quick", action="store_true",
                        help="smaller sizes and fewer rounds (a few seconds)")
    parser.add_argument("--only", nargs="+", choices=list(suite.SECTIONS), metavar="SECTION",
                        help=f"run only these sections: {', '.join(suite.SECTIONS)}")
    parser.add_argument("--repeat", type=int, default=None,
                        help="alternated rounds per experiment (default 7, quick 3)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds one timed run lasts at least (default 0.05, quick 0.005)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls per contender (1)")
    parser.add_argument("--json", metavar="PATH", default=None,
                        help="also write every measurement (and the machine) to this JSON file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="BLAS threads for every section but 'threads' (default 1, so each "
                             "comparison changes one thing; 0 leaves numpy's default)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito kernels`` to the command line (entry point group ``tinytorch.tito``)."""
    parser = subparsers.add_parser(
        "kernels", help="measure the kernels lesson's speed-ups on this machine",
        description="Check and time naive vs vectorised vs BLAS kernels (conv, matmul, memory "
                    "layout, dtypes, threads, fused elementwise ops) on this machine, and print "
                    "the measured speed-ups.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def _rate(value: float | None) -> str:
    if value is None:
        return ""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def format_ratio(value: float) -> str:
    """A speed-up to three significant figures (two below 1): ``'965x'``, ``'27.4x'``,
    ``'1.07x'``, ``'0.40x'``, ``'0.0046x'``."""
    if not math.isfinite(value):
        return f"{value}x"
    if value < 0.1:
        return f"{value:.2g}x"
    if value >= 100:
        return f"{value:.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def format_result(result: suite.ExperimentResult) -> list:
    """The lines printed for one experiment: title, note, check, and a row per contender."""
    exp, cmp = result.experiment, result.comparison
    lines = [f"[{exp.section}] {exp.title}"]
    if exp.note:
        lines.append(f"    {exp.note}")
    lines.append(f"    check: {result.check}" + (
        f" (every result equals {exp.baseline!r}'s)" if result.passed else ""))
    names = list(cmp.timings)
    width = max(len("contender"), *(len(n) for n in names))
    unit = exp.unit or ""
    lines.append(f"  {'contender':<{width}}  {'median':>9}  {'IQR':>9}  {'runs':>7}  "
                 f"{'speed-up':>8}  {unit:>8}".rstrip())
    for name in names:
        t = cmp.timings[name]
        lines.append(f"  {name:<{width}}  {format_seconds(t.median):>9}  "
                     f"{format_seconds(t.iqr):>9}  {f'{t.runs}x{t.number}':>7}  "
                     f"{format_ratio(cmp.speedup(name)):>8}  {_rate(result.rate(name)):>8}".rstrip())
    return lines


def format_summary(results: list) -> list:
    """The closing table: per experiment, the best contender other than the baseline and its
    speed-up over the baseline (below 1x when the baseline was the fastest)."""
    rows = []
    for r in results:
        cmp = r.comparison
        others = [name for name in cmp.timings if name != cmp.baseline] or [cmp.baseline]
        best = min(others, key=lambda name: cmp.timings[name].median)
        rows.append((format_ratio(cmp.speedup(best)), best, cmp.baseline,
                     f"[{r.experiment.section}] {r.experiment.title}"))
    if not rows:
        return []
    head = ("speed-up", "best contender", "vs baseline", "experiment")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["Measured speed-ups (baseline median / contender median, alternated runs):"]
    for row in [head] + rows:
        lines.append(f"  {row[0]:>{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  "
                     f"{row[3]}")
    return lines


def _machine_lines(machine: dict, quick: bool, repeat: int, min_time: float,
                   blas: int | None) -> list:
    load = machine.get("loadavg")
    cpus = machine.get("cpus") or 1
    lines = [
        "TinyTorch kernels: every figure below was measured by this run, on this machine"
        + (" (quick mode)" if quick else ""),
        f"machine: {cpus} CPUs ({machine.get('machine')}), Python {machine.get('python')}, "
        f"numpy {machine.get('numpy')}, BLAS {machine.get('blas')} "
        f"({machine.get('blas_threads')} threads)",
    ]
    if load is not None:
        busy = load[0] > 0.75 * cpus
        lines.append(f"load average (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}"
                     + (" -- the machine is busy: absolute times are noisy, ratios of "
                        "alternated runs hold better" if busy else ""))
    lines.append(f"timing: each contender checked against the baseline, then {repeat} alternated "
                 f"rounds (runs of >= {format_seconds(min_time)}); median, IQR, "
                 "speed-up = baseline median / contender median")
    if blas:
        lines.append(f"BLAS pinned to {blas} thread{'s' if blas > 1 else ''} outside the "
                     "'threads' section (--blas-threads 0: numpy's default)")
    return lines


def run(args: argparse.Namespace, timer: Callable[[], float] | None = None) -> int:
    """Run the suite with parsed options; prints as it goes; returns 0, or 1 if a check failed."""
    defaults = QUICK if args.quick else FULL
    repeat = args.repeat if args.repeat is not None else int(defaults["repeat"])
    min_time = args.min_time if args.min_time is not None else defaults["min_time"]
    blas = args.blas_threads or None
    if repeat < 1 or min_time < 0 or args.warmup < 0 or args.blas_threads < 0:
        print("tito kernels: --repeat must be >= 1; --min-time, --warmup and --blas-threads "
              ">= 0", file=sys.stderr)
        return 2
    if args.json and (os.path.isdir(args.json)
                      or not os.path.isdir(os.path.dirname(os.path.abspath(args.json)))):
        what = "is a folder" if os.path.isdir(args.json) else "is in a folder that does not exist"
        print(f"tito kernels: --json {args.json} {what}: give the path of the JSON file to write",
              file=sys.stderr)
        return 2
    machine = suite.machine_info()
    for line in _machine_lines(machine, args.quick, repeat, min_time, blas):
        print(line)
    print(flush=True)
    experiments = suite.build_experiments(quick=args.quick, sections=args.only, seed=args.seed)
    report = suite.Report(machine, options={"quick": args.quick, "sections": args.only,
                                            "repeat": repeat, "min_time": min_time,
                                            "warmup": args.warmup, "seed": args.seed,
                                            "blas_threads": blas})
    started = time.perf_counter()
    for exp in experiments:
        result = suite.run_experiment(exp, repeat=repeat, warmup=args.warmup,
                                      min_time=min_time, timer=timer, blas=blas)
        report.results.append(result)
        print("\n".join(format_result(result)) + "\n", flush=True)
    for line in format_summary(report.results):
        print(line)
    try:
        load_end = list(os.getloadavg())
    except (AttributeError, OSError):
        load_end = None
    report.machine["loadavg_end"] = load_end
    elapsed = time.perf_counter() - started
    report.options["elapsed_seconds"] = elapsed
    end = f"load average at the end: {load_end[0]:.2f}; " if load_end else ""
    print(f"\n{end}{len(report.results)} experiments in {elapsed:.1f} s")
    failed = [r for r in report.results if not r.passed]
    for r in failed:
        print(f"CHECK FAILED: [{r.experiment.section}] {r.experiment.title}: {r.check}",
              file=sys.stderr)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report.to_dict(), fh, indent=1, default=_jsonable)
        print(f"saved {args.json}")
    return 1 if failed else 0


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def main(argv: list | None = None, timer: Callable[[], float] | None = None) -> int:
    """``python -m tinytorch.core.kernels [--quick] [--only ...] [--json PATH]``."""
    parser = argparse.ArgumentParser(
        prog="python -m tinytorch.core.kernels",
        description="Check and time the kernels lesson's contenders on this machine.")
    add_arguments(parser)
    return run(parser.parse_args(argv), timer=timer)
