"""``tito benchmark`` / ``python -m tinytorch.core.benchmarking``: measure a built-in model.

    tito benchmark profile   --model cnn --quick           # per-layer table, forward + backward
    tito benchmark scenarios --model mlp --quick --plot s.png
    tito benchmark compare   --model cnn --against torch   # side by side with PyTorch
    tito benchmark compare   --model cnn --against composite   # fused vs composite kernels

Every sub-command prints Markdown (or, for ``profile``, the profiler's table) and can save the
whole report with ``--json PATH`` and ``--markdown PATH``. Every figure is measured by the run;
the machine's load average is part of the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # the commands import these when they run (keeps `tito --help` fast)
    from .compare import ABSuite
    from .torch_twin import TorchComparison

__all__ = ["register", "add_arguments", "run", "main", "MODEL_NAMES"]

QUICK = {"batch": 16, "steps": 1, "queries": 40, "runs": 3, "batches": 3, "rounds": 5,
         "min_time": 0.01}
FULL = {"batch": 64, "steps": 3, "queries": 300, "runs": 5, "batches": 5, "rounds": 9,
        "min_time": 0.05}


MAX_AUTO_QPS = 250  # a Python loop with time.sleep keeps a schedule to ~0.1 ms, not to 10 µs
MIN_AUTO_BOUND = 0.01  # seconds
MODEL_NAMES = ("mlp", "cnn", "cnn-bn")  # models.MODELS' keys (not imported: keeps `tito --help` fast)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="cnn", choices=MODEL_NAMES,
                        help="built-in model: mlp (784-128-10), cnn (the reference small CNN, "
                             "12.3 MFLOP/image), cnn-bn (the CIFAR-10 recipe's conv-BN-ReLU-pool "
                             "CNN) (default cnn)")
    parser.add_argument("--quick", action="store_true",
                        help="small batches, few queries and rounds: a smoke test (seconds)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 64, quick 16)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data, arrivals (0)")
    parser.add_argument("--blas-threads", type=int, default=0, metavar="N",
                        help="OpenBLAS threads for numpy (default 0: numpy's own setting; on a "
                             "busy machine 1 avoids stalls of multi-threaded small GEMMs)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also save the report as JSON")
    parser.add_argument("--markdown", metavar="PATH", default=None,
                        help="also save the report as Markdown")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-commands and options of ``tito benchmark``."""
    sub = parser.add_subparsers(dest="action", metavar="{profile,scenarios,compare}")
    sub.required = True

    p = sub.add_parser("profile", help="per-layer forward/backward time, FLOPs, params, memory",
                       description="Profile training steps (forward + backward) of a built-in "
                                   "model: a table with one row per layer.")
    _common(p)
    p.add_argument("--steps", type=int, default=None, help="measured steps (default 3, quick 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first (1)")
    p.add_argument("--inference", action="store_true",
                   help="forward only, without a graph (no backward column)")
    p.set_defaults(func=_profile)

    s = sub.add_parser("scenarios", help="MLPerf-style single-stream, offline and server runs",
                       description="Single-stream latency percentiles, offline throughput "
                                   "with a CI over repeated runs, and a server run with "
                                   "Poisson arrivals (open loop: queueing counts).")
    _common(s)
    s.add_argument("--queries", type=int, default=None,
                   help="queries of the single-stream and server runs (default 300, quick 40)")
    s.add_argument("--runs", type=int, default=None, help="offline runs (default 5, quick 3)")
    s.add_argument("--qps", type=float, default=None,
                   help="server arrival rate (default: half the single-stream rate measured "
                        "just before)")
    s.add_argument("--latency-bound-ms", type=float, default=None,
                   help="p99 latency bound of the server run (default: 5 x single-stream p50)")
    s.add_argument("--max-batch", type=int, default=1,
                   help="largest batch the server forms from queued queries (1)")
    s.add_argument("--plot", metavar="PATH", default=None,
                   help="save a plot (needs matplotlib: the `plot` extra)")
    s.set_defaults(func=_scenarios)

    c = sub.add_parser("compare", help="A/B with a regression verdict: vs PyTorch, or two "
                                       "TinyTorch versions",
                       description="Time two contenders in alternated rounds on latency (1 "
                                   "sample), throughput (batch) and a training step, and say "
                                   "whether the difference is significant.")
    _common(c)
    c.add_argument("--against", default="torch", choices=["torch", "composite", "same"],
                   help="torch: the same model in PyTorch (weights copied, outputs checked); "
                        "composite: fused kernels vs spatial's composite path; same: an A/A "
                        "test (default torch)")
    c.add_argument("--modes", nargs="+", default=["latency", "throughput", "train"],
                   choices=["latency", "throughput", "train"], help="what to time (all three)")
    c.add_argument("--rounds", type=int, default=None, help="alternated rounds (9, quick 5)")
    c.add_argument("--threads", type=int, default=None,
                   help="torch.set_num_threads during the comparison (default: torch's own)")
    c.add_argument("--plot", metavar="PATH", default=None, help="save a plot (needs matplotlib)")
    c.set_defaults(func=_compare)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito benchmark`` (entry point group ``tinytorch.tito``)."""
    parser = subparsers.add_parser(
        "benchmark", help="profile a model, run MLPerf-style scenarios, compare (vs PyTorch)",
        description="Measure a built-in model on this machine: per-layer profile, MLPerf-style "
                    "scenarios with confidence intervals, A/B comparisons with a verdict.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen sub-command; returns the exit code."""
    action = getattr(args, "action", None)
    handlers = {"profile": _profile, "scenarios": _scenarios, "compare": _compare}
    if action not in handlers:
        print("tito benchmark: choose profile, scenarios or compare (see --help)", file=sys.stderr)
        return 2
    return handlers[action](args)


def _with_blas(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run ``fn`` with ``--blas-threads`` applied (and numpy's setting restored afterwards)."""
    def wrapper(args: argparse.Namespace) -> int:
        n = getattr(args, "blas_threads", 0) or 0
        if n < 0:
            print("tito benchmark: --blas-threads must be >= 0", file=sys.stderr)
            return 2
        if not n:
            return fn(args)
        from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads

        previous = get_blas_threads()
        if not set_blas_threads(n):
            print("tito benchmark: numpy's BLAS does not let its threads be set; running with "
                  "its default", file=sys.stderr)
        try:
            return fn(args)
        finally:
            if previous:
                set_blas_threads(previous)
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _settings(args: argparse.Namespace) -> dict:
    base = dict(QUICK if args.quick else FULL)
    for key in ("batch", "steps", "queries", "runs", "rounds"):
        value = getattr(args, key, None)
        if value is not None:
            if value < 1:
                raise ValueError(f"--{key} must be >= 1, got {value}")
            base[key] = value
    return base


def _load_line() -> str:
    import os

    from tinytorch.core.tensor.runtime import get_blas_threads

    blas = get_blas_threads()
    threads = f", numpy BLAS threads: {blas}" if blas else ""
    try:
        load = os.getloadavg()
    except (AttributeError, OSError):
        return f"load average unknown{threads}"
    cpus = os.cpu_count() or 1
    busy = " -- busy machine: absolute times are noisy" if load[0] > 0.75 * cpus else ""
    hint = ""
    if busy and blas and blas > 1:
        hint = (" (multi-threaded BLAS can stall for milliseconds waiting for a descheduled "
                "thread; compare with --blas-threads 1)")
    return (f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on {cpus} CPUs"
            f"{threads}{busy}{hint}")


def _finish(report: Any, args: argparse.Namespace) -> int:
    if args.json:
        print(f"saved {report.save(args.json)}")
    if args.markdown:
        print(f"saved {report.save(args.markdown)}")
    if getattr(args, "plot", None):
        from .report import PlotUnavailable

        try:
            print(f"saved {report.plot(args.plot)}")
        except PlotUnavailable as err:
            print(f"tito benchmark: {err}", file=sys.stderr)
            return 1
    return 0


def _guarded(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ValueError as err:
            print(f"tito benchmark: {err}", file=sys.stderr)
            return 2
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@_with_blas
@_guarded
def _profile(args: argparse.Namespace) -> int:
    from .models import build_tinytorch, get_model_spec, sample_batch
    from .profiler import profile
    from .report import Report
    from tinytorch.core.training import CrossEntropyLoss

    cfg = _settings(args)
    spec = get_model_spec(args.model)
    model = build_tinytorch(spec, args.seed)
    x, y = sample_batch(spec, cfg["batch"], args.seed)
    what = "inference (forward, no graph)" if args.inference else "training steps (forward + backward)"
    print(f"Profiling {spec.name} ({spec.description}): {cfg['steps']} {what}, batch "
          f"{cfg['batch']}, after {args.warmup} warm-up step(s)")
    print(_load_line(), flush=True)
    prof = profile(model, x, CrossEntropyLoss(), y, steps=cfg["steps"], warmup=args.warmup,
                   backward=not args.inference)
    print(prof.summary())
    report = Report(f"Profile of {spec.name}, batch {cfg['batch']}")
    report.add(prof, f"Profile ({what})")
    return _finish(report, args)


@_with_blas
@_guarded
def _scenarios(args: argparse.Namespace) -> int:
    from .models import build_tinytorch, get_model_spec, sample_batch
    from .report import Report
    from .scenarios import offline, server, single_stream, tinytorch_predictor

    cfg = _settings(args)
    spec = get_model_spec(args.model)
    model = build_tinytorch(spec, args.seed)
    predict = tinytorch_predictor(model)
    samples, _ = sample_batch(spec, max(cfg["batch"], 64), args.seed)
    print(f"Scenarios for {spec.name} ({spec.description})")
    print(_load_line(), flush=True)
    report = Report(f"MLPerf-style scenarios: {spec.name}")
    started = time.perf_counter()

    single = single_stream(predict, samples, queries=cfg["queries"], warmup=5, name=spec.name,
                           seed=args.seed)
    report.add(single, "Single-stream")
    print("\n" + single.to_markdown(), flush=True)

    off = offline(predict, samples, batch_size=cfg["batch"], batches=cfg["batches"],
                  runs=cfg["runs"], name=spec.name)
    report.add(off, "Offline")
    print(off.to_markdown(), flush=True)

    p50 = single.percentiles["p50"]
    qps = args.qps if args.qps is not None else min(0.5 / p50, MAX_AUTO_QPS)
    bound = (args.latency_bound_ms / 1e3 if args.latency_bound_ms is not None
             else max(5 * p50, MIN_AUTO_BOUND))
    note = []
    if args.qps is None:
        note.append(f"target rate = half the single-stream rate (1 / p50 = {1 / p50:.1f}/s), "
                    f"at most {MAX_AUTO_QPS}/s")
    if args.latency_bound_ms is None:
        note.append(f"latency bound = 5 x single-stream p50, at least {MIN_AUTO_BOUND * 1e3:.0f} ms")
    srv = server(predict, samples, target_qps=qps, queries=cfg["queries"], latency_bound=bound,
                 max_batch=args.max_batch, seed=args.seed, name=spec.name)
    report.add(srv, "Server", note="; ".join(note))
    print(srv.to_markdown(), flush=True)
    print(f"{time.perf_counter() - started:.1f} s; {_load_line()}")
    return _finish(report, args)


@_with_blas
@_guarded
def _compare(args: argparse.Namespace) -> int:
    from .compare import compare_versions
    from .models import get_model_spec
    from .report import Report

    cfg = _settings(args)
    spec = get_model_spec(args.model)
    print(_load_line(), flush=True)
    report = Report(f"A/B comparison on {spec.name}")
    result: TorchComparison | ABSuite
    if args.against == "torch":
        from .torch_twin import TorchNotInstalled, compare_with_torch

        try:
            result = compare_with_torch(spec, batch=cfg["batch"], modes=tuple(args.modes),
                                        rounds=cfg["rounds"], min_time=cfg["min_time"],
                                        threads=args.threads, seed=args.seed)
        except TorchNotInstalled as err:
            print(f"tito benchmark compare: {err}\n(or compare two TinyTorch versions: "
                  "--against composite)", file=sys.stderr)
            return 2
        heading = "TinyTorch vs PyTorch"
    else:
        result = compare_versions(spec, against=args.against, batch=cfg["batch"],
                                  modes=tuple(args.modes), rounds=cfg["rounds"],
                                  min_time=cfg["min_time"], seed=args.seed)
        heading = "TinyTorch versions"
    report.add(result, heading)
    print(result.to_markdown())
    print(_load_line())
    return _finish(report, args)


def main(argv: list | None = None) -> int:
    """``python -m tinytorch.core.benchmarking {profile,scenarios,compare} ...``."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.benchmarking",
                                     description="Measure a built-in TinyTorch model.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return args.func(args)
