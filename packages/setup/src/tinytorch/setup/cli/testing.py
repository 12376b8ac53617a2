"""``tito test <module>|all [pytest args]``."""

from __future__ import annotations

import argparse

from ..dists import get_installed
from ..process import TitoError
from ..registry import MODULES, Module, resolve_module
from ..testrun import NO_TESTS_COLLECTED, run_module_tests
from . import ui

__all__ = ["register", "run_test"]


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add ``tito test``."""
    parser = top.add_parser(
        "test", help="run a module's tests on whatever implementation is installed",
        description="Run the tests a module ships (installed inside the package, found through "
                    "the distribution's files) against whatever implementation is installed — "
                    "the reference or yours — with `python -m pytest --import-mode=importlib "
                    "-p no:cacheprovider <tests>`. Arguments after the module go to pytest. "
                    "Exit code: pytest's; 'no tests collected' (5) is a failure.",
        epilog="examples: tito test tensor      tito test 02 -k add -x      tito test all",
        formatter_class=ui.formatter())
    parser.add_argument("module", help="number, folder or distribution name, or `all`")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER,
                        help="passed to pytest (e.g. -k add -x)")
    parser.set_defaults(func=run_test)
    return {}


def _one(module: Module, extra: list[str]) -> int:
    outcome = run_module_tests(module, extra)
    if outcome.exit_code == NO_TESTS_COLLECTED:
        ui.error(f"pytest collected no tests for {module.distribution} (exit code 5)",
                 "check the -k/-m filters you passed, or reinstall the module so it ships "
                 "its tests")
    return outcome.exit_code


def _all(extra: list[str]) -> int:
    out = ui.console()
    results: list[tuple[Module, int | str]] = []
    for module in MODULES:
        if get_installed(module.distribution) is None:
            continue
        out.rule(f"{module.label}  {module.distribution}")
        try:
            results.append((module, _one(module, extra)))
        except TitoError as exc:
            ui.error(exc.message, exc.hint)
            results.append((module, exc.message))
    if not results:
        raise TitoError("no TinyTorch module is installed",
                        hint="python -m pip install tinytorch-framework   (or one module, e.g. "
                             "tinytorch-tensor)")
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
    if args.module.lower() == "all":
        return _all(extra)
    return _one(resolve_module(args.module), extra)
