"""``tito test <module>|all [--all] [pytest args]``."""

from __future__ import annotations

import argparse
import os

from ..dists import get_installed
from ..process import TitoError
from ..registry import MODULES, Module, resolve_module
from ..testrun import NO_TESTS_COLLECTED, FailureGroup, FastReport, TestOutcome, \
    run_fast_tests, run_module_tests
from . import ui

__all__ = ["print_report", "register", "run_test"]

#: The flags that ask for the full pytest run (also accepted among the pytest arguments).
FULL_FLAGS = ("--all", "--full")
#: How many test ids a group lists, and how many error groups show a traceback.
_SHOW_TESTS = 3
_SHOW_DETAILS = 3
_SHOW_ERROR_GROUPS = 12


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add ``tito test``."""
    parser = top.add_parser(
        "test", help="run a module's tests on whatever implementation is installed",
        description="Run the tests a module ships (installed inside the package, found through "
                    "the distribution's files) against whatever implementation is installed — "
                    "the reference or yours.\n\n"
                    "By default the run is fast and its failures are grouped by exercise: each "
                    "stub's NotImplementedError names the function still to write, so you see "
                    "one line per exercise (with the file and line of the stub) instead of "
                    "hundreds of tracebacks; other failures are grouped by error, with a short "
                    "traceback of the first. Hypothesis does not shrink, and once the first 3 "
                    "tests of a test file all stopped at the same stub, the rest of that file "
                    "is not run (the summary says how many; the verdict is the same).\n\n"
                    "--all runs everything with pytest's own output: `python -m pytest "
                    "--import-mode=importlib -p no:cacheprovider --rootdir <tests> <tests>`.\n"
                    "Arguments after the module go to pytest. Exit code: pytest's; "
                    "'no tests collected' (5) is a failure.",
        epilog="examples: tito test tensor      tito test 02 -k binary -x      "
               "tito test tensor --all      tito test all",
        formatter_class=ui.formatter())
    parser.add_argument("module", help="number, folder or distribution name, or `all`")
    parser.add_argument("--all", "--full", dest="full", action="store_true",
                        help="run every test with pytest's own output (no grouping, no early "
                             "stop); also accepted after the module")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="passed to pytest (e.g. -k binary -x)")
    parser.set_defaults(func=run_test)
    return {}


def _short_path(where: str) -> str:
    """``file:line`` relative to the current directory when that is shorter."""
    file, sep, line = where.rpartition(":")
    if not sep or not file:
        return where
    try:
        rel = os.path.relpath(file)
    except ValueError:  # another drive (Windows)
        return where
    return f"{rel if len(rel) < len(file) else file}:{line}"


def _tests_text(group: FailureGroup) -> str:
    shown = ", ".join(group.tests[:_SHOW_TESTS])
    more = len(group.tests) - _SHOW_TESTS
    return shown + (f" and {more} more" if more > 0 else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def print_report(module: Module, outcome: TestOutcome) -> None:
    """Print a fast run's record: exercises still to write, other errors, the totals."""
    out = ui.console()
    report = outcome.report
    if report is None:
        return
    exercises, errors = report.exercises(), report.errors()
    if exercises:
        out.print(f"\n[bold]Exercises still to write[/] ({len(exercises)}: their tests stop at "
                  f"the stub's NotImplementedError)")
        for group in exercises:
            failing = len(group.tests)
            line = (f"  [red]✗[/] [bold]{ui.escape(group.title)}[/]: "
                    f"{_plural(failing, 'test')} {'fails' if failing == 1 else 'fail'} — "
                    f"{ui.escape(group.message)}")
            out.print(line)
            bits = [_short_path(group.where)] if group.where else []
            if group.not_run:
                bits.append(f"{group.not_run} more not run")
            bits.append(f"first: {group.tests[0]}" if group.tests else "")
            out.print(f"      [dim]{ui.escape(' · '.join(b for b in bits if b))}[/]")
    if errors:
        out.print(f"\n[bold]Other failures[/], grouped by error ({sum(len(g.tests) for g in errors)}"
                  f" test(s)):")
        for index, group in enumerate(errors[:_SHOW_ERROR_GROUPS]):
            where = f"  [dim]{ui.escape(_short_path(group.where))}[/]" if group.where else ""
            out.print(f"  [red]✗[/] {ui.escape(group.title)} — "
                      f"{_plural(len(group.tests), 'test')}{where}")
            out.print(f"      [dim]{ui.escape(_tests_text(group))}[/]")
            if index < _SHOW_DETAILS and group.detail:
                detail = "\n".join(group.detail.rstrip().splitlines()[-25:])
                out.print(ui.escape(_indent(detail, "      ")), style="dim")
        if len(errors) > _SHOW_ERROR_GROUPS:
            out.print(f"  … and {len(errors) - _SHOW_ERROR_GROUPS} more kinds of error")
    _print_totals(module, outcome, report)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _print_totals(module: Module, outcome: TestOutcome, report: FastReport) -> None:
    out = ui.console()
    style = "green" if outcome.passed else "red"
    out.print(f"\n[{style}]{module.label}: {ui.escape(outcome.summary)}[/]")
    if report.not_run:
        out.print(f"[yellow]{report.not_run} test(s) not run[/]: each was in a test file whose "
                  f"first {report.stop_after} tests all stopped at the same stub (the verdict "
                  f"would not change). `tito test {module.folder} --all` runs everything.")
    if report.exercises() or report.errors():
        out.print(f"[cyan]→[/] one exercise's tests: tito test {module.folder} -k <name>    "
                  f"every test, pytest's output: tito test {module.folder} --all")


def _split_full(extra: list[str]) -> tuple[bool, list[str]]:
    full = any(arg in FULL_FLAGS for arg in extra)
    return full, [arg for arg in extra if arg not in FULL_FLAGS]


def _one(module: Module, extra: list[str], full: bool = False) -> int:
    if full:
        outcome = run_module_tests(module, extra)
    else:
        outcome = run_fast_tests(module, extra)
        print_report(module, outcome)
        if outcome.report is None and outcome.exit_code not in (0, NO_TESTS_COLLECTED):
            ui.error(f"pytest stopped before running the tests of {module.distribution} "
                     f"(exit code {outcome.exit_code}); its message is above",
                     "an error in a file your module imports shows there with its file and line")
    if outcome.exit_code == NO_TESTS_COLLECTED:
        ui.error(f"pytest collected no tests for {module.distribution} (exit code 5)",
                 "check the -k/-m filters you passed, or reinstall the module so it ships "
                 "its tests")
    return outcome.exit_code


def run_quietly(module: Module, extra: list[str] | None = None, *, full: bool = False,
                timeout: float | None = None) -> TestOutcome:
    """One module's tests with the output captured (for ``test all`` and ``module status``)."""
    if full:
        return run_module_tests(module, extra, quiet=True, timeout=timeout)
    return run_fast_tests(module, extra, quiet=True, timeout=timeout)


def progress_line(module: Module, outcome: TestOutcome | None, error: str = "") -> str:
    """``testing 05 dense … 42 passed (3.1 s)`` for one finished module (rich markup)."""
    head = f"testing {module.label} …"
    if outcome is None:
        return f"{head} [red]{ui.escape(error)}[/]"
    style = "green" if outcome.passed else "red"
    summary = outcome.summary or f"pytest exit code {outcome.exit_code}"
    summary = summary.rsplit(" in ", 1)[0] if " in " in summary else summary
    return f"{head} [{style}]{ui.escape(summary)}[/] ({outcome.seconds:.1f} s)"


def _all(extra: list[str], full: bool) -> int:
    out = ui.console()
    results: list[tuple[Module, int | str]] = []
    outcomes: list[tuple[Module, TestOutcome]] = []
    for module in MODULES:
        if get_installed(module.distribution) is None:
            continue
        try:
            with out.status(f"testing {module.label} …"):
                outcome = run_quietly(module, extra, full=full)
        except TitoError as exc:
            out.print(progress_line(module, None, exc.message))
            results.append((module, exc.message))
            continue
        out.print(progress_line(module, outcome))
        results.append((module, outcome.exit_code))
        outcomes.append((module, outcome))
    if not results:
        raise TitoError("no TinyTorch module is installed",
                        hint="python -m pip install tinytorch-framework   (or one module, e.g. "
                             "tinytorch-tensor)")
    for module, outcome in outcomes:
        if outcome.passed:
            continue
        out.rule(f"{module.label}  {module.distribution}")
        if outcome.report is not None:
            print_report(module, outcome)
        else:
            out.print(ui.escape("\n".join(outcome.output.rstrip().splitlines()[-40:])))
    summary = ui.table("tito test all", "module", "result")
    for module, code in results:
        if code == 0:
            summary.add_row(module.label, "[green]passed[/]")
        else:
            text = code if isinstance(code, str) else f"failed (pytest exit code {code})"
            summary.add_row(module.label, f"[red]{ui.escape(text)}[/]")
    out.print(summary)
    return 0 if all(code == 0 for _, code in results) else 1


def run_test(args: argparse.Namespace) -> int:
    """Run one module's tests, or every installed module's."""
    extra = list(args.pytest_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    full, extra = _split_full(extra)
    full = full or bool(getattr(args, "full", False))
    if args.module.lower() == "all":
        return _all(extra, full)
    return _one(resolve_module(args.module), extra, full)
