"""``tito system info``, ``tito system doctor`` and ``tito system sandbox``."""

from __future__ import annotations

import argparse
import json

from ..dists import tinytorch_distributions
from ..registry import META_DISTRIBUTION
from . import ui

__all__ = ["register", "run_doctor", "run_info", "run_sandbox"]


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add the ``system`` group; return it for plugins (``system.graph``…)."""
    group = top.add_parser("system", help="facts about this machine, and a health check",
                           description="Facts about this machine, and a health check.",
                           formatter_class=ui.formatter())
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="subcommand", title="commands", metavar="COMMAND")
    info = sub.add_parser(
        "info", help="Python, platform, cores, numpy and its BLAS, installed modules",
        description="Show Python, platform, cores, numpy and its BLAS (with its thread count), "
                    "and every installed tinytorch distribution: its version and whether it is "
                    "the reference or a student's version (local label +student).",
        formatter_class=ui.formatter())
    info.add_argument("--json", action="store_true", help="print machine-readable JSON")
    info.set_defaults(func=run_info)
    doctor = sub.add_parser(
        "doctor", help="check the environment; exit code 1 if anything fails",
        description="Check Python (>= 3.10), numpy, the BLAS thread setting, the data cache "
                    "($TINYTORCH_DATA or ~/.cache/tinytorch) and that every tinytorch "
                    "requirement of every installed module is installed and in range. Each "
                    "check prints pass/warn/fail and the command that fixes it. Exit code 1 "
                    "when a check fails, 0 otherwise.",
        formatter_class=ui.formatter())
    doctor.set_defaults(func=run_doctor)
    sandbox = sub.add_parser(
        "sandbox", help="whether tito grade can run submissions in a sandbox here; exit code 1 if not",
        description="Start a sandboxed Python as `tito grade` would (bubblewrap: new namespaces, "
                    "no network, read-only system) and say whether it worked, with the reason "
                    "when not (bwrap missing, user namespaces refused — as in most Docker "
                    "containers) and how the number of processes of a submission is limited. "
                    "Exit code 0 when the sandbox works, 1 otherwise.",
        epilog="example: tito system sandbox --quiet || echo 'grade with --no-sandbox'",
        formatter_class=ui.formatter())
    sandbox.add_argument("--quiet", action="store_true", help="print nothing; only the exit code")
    sandbox.set_defaults(func=run_sandbox)
    return {"system": sub}


def run_info(args: argparse.Namespace) -> int:
    """Print the facts of ``tito system info``."""
    from ..sysinfo import collect, data_dir

    info = collect()
    dists = tinytorch_distributions()
    if args.json:
        blas = info.blas
        payload = {
            "python": info.python, "executable": info.executable, "platform": info.platform,
            "cores": info.cores, "numpy": info.numpy_version, "numpy_error": info.numpy_error,
            "blas": None if blas is None else {"name": blas.name, "version": blas.version,
                                               "library": blas.library, "threads": blas.threads,
                                               "config": blas.config},
            "thread_env": info.thread_env, "data_dir": str(data_dir()),
            "distributions": [{"name": d.name, "version": d.version, "kind": d.kind}
                              for d in dists],
        }
        print(json.dumps(payload, indent=2))
        return 0
    out = ui.console()
    facts = ui.table("System", "", "")
    facts.show_header = False
    facts.add_row("Python", f"{info.python}  ({ui.escape(info.executable)})")
    facts.add_row("Platform", info.platform)
    facts.add_row("Cores", str(info.cores))
    if info.numpy_version is None:
        facts.add_row("numpy", f"[red]not importable[/] ({ui.escape(info.numpy_error)})")
    else:
        facts.add_row("numpy", info.numpy_version)
    if info.blas is not None:
        blas = info.blas
        threads = "unknown" if blas.threads is None else str(blas.threads)
        facts.add_row("BLAS", f"{blas.name} {blas.version}".strip())
        if blas.config:
            facts.add_row("BLAS build", ui.escape(blas.config))
        if blas.library:
            facts.add_row("BLAS library", ui.escape(blas.library))
        facts.add_row("BLAS threads", threads)
    env = ", ".join(f"{k}={v}" for k, v in info.thread_env.items()) or "none set"
    facts.add_row("Thread variables", env)
    facts.add_row("Data cache", ui.escape(str(data_dir())))
    out.print(facts)
    installed = ui.table("Installed TinyTorch distributions", "distribution", "version", "kind",
                         "module")
    for dist in dists:
        module = dist.module
        style = "yellow" if dist.is_student else "green"
        installed.add_row(dist.name, dist.version, f"[{style}]{dist.kind}[/]",
                          module.label if module else "meta-package" if dist.name == META_DISTRIBUTION
                          else "—")
    if not dists:
        installed.add_row("(none)", "", "", "")
    out.print(installed)
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    """Run every check; exit 1 when one fails."""
    from ..doctor import run_checks

    results = run_checks(plugin_problems=getattr(args, "plugin_problems", ()))
    out = ui.console()
    report = ui.table("tito system doctor", "check", "result", "found", "fix")
    for result in results:
        report.add_row(ui.escape(result.name), ui.STATUS_STYLE[result.status],
                       ui.escape(result.detail), ui.escape(result.fix) if result.status != "pass"
                       else "")
    out.print(report)
    failed = [r for r in results if r.failed]
    if failed:
        out.print(f"[red]{len(failed)} check(s) failed.[/] Run the fix shown for each, then "
                  "`tito system doctor` again.")
        return 1
    out.print("[green]All checks passed.[/]")
    return 0


def run_sandbox(args: argparse.Namespace) -> int:
    """Say whether submissions can be sandboxed; exit 0 if so, 1 if not."""
    from ..grading.sandbox import probe

    status = probe()
    if args.quiet:
        return 0 if status.available else 1
    out = ui.console()
    if status.available:
        out.print(f"[green]✓ sandbox available[/]: {ui.escape(status.engine)}")
    else:
        engine = f" ({ui.escape(status.engine)})" if status.engine else ""
        out.print(f"[red]✗ sandbox not available[/]{engine}: {ui.escape(status.reason)}")
    out.print(f"process limit: {ui.escape(status.process_limit)}")
    if not status.available:
        ui.hint("tito grade --no-sandbox still grades, with only the process's own limits: run it "
                "in a throw-away container or VM (see the instructors' page of the docs)")
    return 0 if status.available else 1
