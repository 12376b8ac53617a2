"""``tito milestone``: list the milestones, run one (or all), show the record.

    tito milestone list
    tito milestone run 1957                 # or: perceptron, 1957-perceptron
    tito milestone run all --quick          # every milestone on small data
    tito milestone run 1998 --kernels composite --data ~/data
    tito milestone status [--json]

Exit status: 0 when every milestone run passed, 1 when one did not (or failed once started),
2 for a mistake in the command line or missing data (one line, no traceback;
``TINYTORCH_DEBUG=1`` shows it), 130 when interrupted. ``run all`` goes on past a milestone
whose data is missing (saying so) and exits 2 if nothing failed but something could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["register", "main", "run_list", "run_run", "run_status"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``milestone`` (entry point ``milestone``) with ``list``, ``run`` and ``status``."""
    parser = subparsers.add_parser(
        "milestone", help="your framework retraces 1957 -> 2018: list, run, status",
        description="Six historical milestones, each run on the modules you installed (yours "
                    "where you started one), each ending with a measured result against its "
                    "threshold, recorded in milestones.json.")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])
    sub = parser.add_subparsers(dest="milestone_command", metavar="COMMAND")
    listing = sub.add_parser("list", help="the milestones, and your latest result of each")
    listing.add_argument("--record", help="the milestones.json to read (default: see status)")
    listing.set_defaults(func=run_list)
    run = sub.add_parser("run", help="run a milestone (or all)",
                         description="Run a milestone: 1957 perceptron, 1969 xor, 1986 backprop, "
                                     "1998 convolution, 2017 attention, 2018 benchmarking, or all.")
    run.add_argument("name", metavar="NAME", help="a year, a name, or all")
    run.add_argument("--quick", action="store_true", help="the small form (seconds each)")
    run.add_argument("--kernels", choices=["fused", "composite"], default=None,
                     help="spatial's path for the convolution milestones (default: composite "
                          "when your own tinytorch-spatial is installed, else fused)")
    run.add_argument("--data", default=None,
                     help="folder holding cifar-10-batches-py/ (default $TINYTORCH_DATA or "
                          "~/.cache/tinytorch)")
    run.add_argument("--record", default=None,
                     help="the milestones.json to append to (default: beside your workspaces, "
                          "else in the data folder)")
    run.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    run.add_argument("--progress", action="store_true", help="progress bars while training")
    run.set_defaults(func=run_run)
    status = sub.add_parser("status", help="what milestones.json holds: the latest run of each")
    status.add_argument("--record", help="the milestones.json to read")
    status.add_argument("--json", action="store_true", help="print the whole record as JSON")
    status.set_defaults(func=run_status)
    return parser


def _debug() -> bool:
    return os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0")


def _guarded(fn):
    """One line and status 2 for a usage mistake, 1 for a failure once started."""
    from .registry import MilestoneError

    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except KeyboardInterrupt:
            print("tito milestone: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader went away (`| head`): nothing left to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except (MilestoneError, ValueError) as err:
            if _debug():
                raise
            print(f"tito milestone: {err}", file=sys.stderr)
            return 2
        except Exception as err:  # noqa: BLE001 - one line, not a traceback
            if _debug():
                raise
            print(f"tito milestone: the run failed: {type(err).__name__}: {err} "
                  "(TINYTORCH_DEBUG=1 shows the traceback)", file=sys.stderr)
            return 1

    wrapper.__doc__ = fn.__doc__
    return wrapper


def _result_text(run: dict | None) -> str:
    if run is None:
        return "not run yet"
    first = run["checks"][0] if run.get("checks") else None
    value = ""
    if first is not None:
        v = first["value"]
        value = f"{v * 100:.1f}%" if "accura" in first["name"] or "sorted" in first["name"] else f"{v:.3g}"
    return f"{'passed' if run['passed'] else 'NOT passed'} ({value}, {run['started'][:16]})"


def run_list_impl(args: argparse.Namespace) -> int:
    """Print the milestones with the latest quick and full result of each."""
    from .record import default_record_path, latest_runs, load_runs
    from .registry import MILESTONES

    path = default_record_path(args.record)
    latest = latest_runs(load_runs(path))
    for m in MILESTONES.values():
        print(f"{m.year}  {m.name:<13} {m.title}")
        print(f"      measures: {m.measures}; full: {m.goal}; --quick: {m.quick_goal}")
        print(f"      modules:  {', '.join(m.modules)}")
        print(f"      yours:    full {_result_text(latest.get((m.key, False)))}; quick "
              f"{_result_text(latest.get((m.key, True)))}")
    print(f"record: {path}")
    return 0


def run_run_impl(args: argparse.Namespace) -> int:
    """Run the named milestone (or all of them, in order)."""
    from .base import run_milestone
    from .record import default_record_path
    from .registry import MILESTONES, MilestoneError, get_milestone

    if args.seed < 0:
        raise ValueError(f"--seed {args.seed}: a seed must be 0 or more")
    chosen = list(MILESTONES.values()) if args.name.strip().lower() == "all" else \
        [get_milestone(args.name)]
    record = default_record_path(args.record)
    if record.exists() and record.is_dir():
        raise ValueError(f"--record {record} is a folder: give a file name, e.g. {record}/milestones.json")
    if len(chosen) == 1:
        entry = run_milestone(chosen[0], quick=args.quick, record=record, seed=args.seed,
                              data=args.data, kernels=args.kernels, progress=args.progress)
        return 0 if entry["passed"] else 1
    results = []  # all: a milestone that cannot start (missing data) does not stop the others
    for m in chosen:
        try:
            entry = run_milestone(m, quick=args.quick, record=record, seed=args.seed,
                                  data=args.data, kernels=args.kernels, progress=args.progress)
            results.append((m, "passed" if entry["passed"] else "NOT passed"))
        except MilestoneError as err:
            print(f"tito milestone: {m.year} {m.name} not run: {err}", file=sys.stderr)
            results.append((m, "not run"))
        print(flush=True)
    passed = sum(status == "passed" for _, status in results)
    print(f"{passed} of {len(results)} milestones passed: "
          + ", ".join(f"{m.year} {status}" for m, status in results))
    statuses = {status for _, status in results}
    return 1 if "NOT passed" in statuses else 2 if "not run" in statuses else 0


def run_status_impl(args: argparse.Namespace) -> int:
    """Print the latest run of each milestone (or the whole record as JSON)."""
    from .record import default_record_path, latest_runs, load_runs
    from .registry import MILESTONES

    path = default_record_path(args.record)
    runs = load_runs(path)
    if args.json:
        print(json.dumps({"record": str(path), "runs": runs}, indent=1))
        return 0
    if not runs:
        print(f"no milestone has been run yet (record: {path}); start with: tito milestone run 1957")
        return 0
    latest = latest_runs(runs)
    print(f"{len(runs)} run(s) recorded in {path}")
    for m in MILESTONES.values():
        for quick in (False, True):
            run = latest.get((m.key, quick))
            if run is None:
                continue
            checks = "; ".join(f"{c['name']} {c['value']:.4g} {c['op']} {c['threshold']:.4g}"
                               for c in run["checks"])
            students = [f for f, i in run.get("implementations", {}).items() if i.get("kind") == "student"]
            whose = f"your {', '.join(students)}" if students else "all reference"
            kernels = f", conv {run['kernels']}" if run.get("kernels") else ""
            print(f"{m.year} {m.name:<13} {'quick' if quick else 'full ':<5} "
                  f"{'passed' if run['passed'] else 'NOT passed':<10} {run['seconds']:7.1f} s  "
                  f"{run['started']}  ({whose}{kernels})")
            print(f"     {checks}")
    return 0


run_list = _guarded(run_list_impl)
run_run = _guarded(run_run_impl)
run_status = _guarded(run_status_impl)


def main(argv: list | None = None) -> int:
    """``python -m tinytorch.capstone.milestones``: the same as ``tito milestone``."""
    parser = argparse.ArgumentParser(prog="tito")
    sub = parser.add_subparsers(metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["milestone", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)
