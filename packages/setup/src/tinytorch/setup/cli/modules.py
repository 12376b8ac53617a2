"""``tito module list|status|start|reset`` and ``tito export``."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from ..dists import get_installed, tinytorch_distributions
from ..process import TitoError, pip_install
from ..registry import MODULES, Module, resolve_module
from ..stubbing import SolutionBlock
from ..repo import find_repo_root, package_dir
from . import ui
from .args import check_out_folder, positive_float

__all__ = ["register", "run_export", "run_list", "run_reset", "run_start", "run_status"]

_MODULE_HELP = "number (02 or 2), folder (tensor) or distribution (tinytorch-tensor)"


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add the ``module`` group and ``export``; return the group for plugins."""
    fmt = ui.formatter()
    group = top.add_parser("module", help="list modules, start your version, reset",
                           description="The course's modules: list them, start your own "
                                       "version of one, or go back to the reference.",
                           formatter_class=fmt)
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="subcommand", title="commands", metavar="COMMAND")
    listing = sub.add_parser("list", help="the seventeen modules and what is installed",
                             description="The seventeen modules in course order, each with "
                                         "its installed version and whether it is the "
                                         "reference or your version.", formatter_class=fmt)
    listing.set_defaults(func=run_list)
    status = sub.add_parser("status", help="like list, and whether each module's tests pass",
                            description="Like `tito module list`, and runs each installed "
                                        "module's tests (quietly, in a subprocess) to show "
                                        "whether they pass. Exit code 1 if any fails.",
                            formatter_class=fmt)
    status.add_argument("--no-tests", action="store_true", help="do not run the tests")
    status.add_argument("--timeout", type=positive_float, default=900.0,
                        help="seconds allowed for one module's tests (default 900)")
    status.set_defaults(func=run_status)
    start = sub.add_parser(
        "start", help="write your version of a module (solutions stubbed) and install it",
        description="Write the student version of a module: the installed reference (or "
                    "packages/<folder> inside the repository) with every solution block "
                    "replaced by `raise NotImplementedError(...)`, as an installable package "
                    "versioned <reference>+student, plus the module's lesson notebook "
                    "(DIR/<NN>_<folder>.ipynb), then install it *editable* in place of the "
                    "reference: every later module, every test and the notebook run on the "
                    "files you edit, as soon as you save them. A copy of the reference is kept "
                    "in DIR/.reference for `tito module reset`.\n\n"
                    "`tito module start setup` stubs tito itself (the command you are running): "
                    "until its exercises pass, `tito module start` fails for every other module, "
                    "so it asks for --force.",
        epilog="example: tito module start tensor  →  tito lab tensor (the lesson), or edit "
               "./tinytorch-student/tensor/src/… and run tito test tensor", formatter_class=fmt)
    start.add_argument("module", help=_MODULE_HELP)
    start.add_argument("--dir", type=Path, help="workspace folder "
                                                "(default ./tinytorch-student/<folder>)")
    start.add_argument("--force", action="store_true",
                       help="replace an existing workspace; required to stub setup itself")
    start.add_argument("--no-install", action="store_true", help="write it but do not install")
    start.set_defaults(func=run_start)
    reset = sub.add_parser(
        "reset", help="reinstall the reference implementation of a module",
        description="Reinstall the reference of a module in place of your version: from "
                    "packages/<folder> inside the repository, otherwise from the copy saved "
                    "in your workspace. Your workspace is left as it is.",
        formatter_class=fmt)
    reset.add_argument("module", help=_MODULE_HELP)
    reset.add_argument("--dir", type=Path, help="your workspace (to find its saved reference)")
    reset.set_defaults(func=run_reset)
    export = top.add_parser(
        "export", help="install your version of a module as a regular (distributable) copy",
        description="Check that your workspace compiles, then install it as a regular copy "
                    "(pip install --no-deps --force-reinstall), as a wheel built from it would "
                    "be. `tito module start` already installs your workspace editable, so your "
                    "edits are live without this; after `tito export`, edits need another "
                    "export (or `tito export <m> --editable` to make them live again).",
        formatter_class=fmt)
    export.add_argument("module", help=_MODULE_HELP)
    export.add_argument("--dir", type=Path, help="your workspace "
                                                 "(default ./tinytorch-student/<folder>)")
    export.add_argument("--editable", action="store_true",
                        help="install it editable again (as tito module start does)")
    export.set_defaults(func=run_export)
    return {"module": sub}


def _rows(run_tests: bool, timeout: float) -> tuple[list[list[str]], int]:
    from .testing import progress_line, run_quietly

    rows, failures = [], 0
    out = ui.console()
    found = {dist.name: dist for dist in tinytorch_distributions()}
    for module in MODULES:
        installed = found.get(module.distribution)
        version = installed.version if installed else "—"
        kind = "not installed"
        if installed:
            kind = f"[yellow]{installed.kind}[/]" if installed.is_student else \
                f"[green]{installed.kind}[/]"
        row = [f"{module.number:02d}", module.folder, module.distribution, version, kind]
        if run_tests:
            result = "—"
            if installed:
                try:
                    with out.status(f"testing {module.label} …"):
                        outcome = run_quietly(module, timeout=timeout)
                    out.print(progress_line(module, outcome))  # progress as each one finishes
                    style = "green" if outcome.passed else "red"
                    summary = outcome.summary or f"exit {outcome.exit_code}"
                    result = f"[{style}]{ui.escape(summary)}[/]"
                    failures += not outcome.passed
                except TitoError as exc:
                    out.print(progress_line(module, None, exc.message))
                    result, failures = f"[red]{ui.escape(exc.message)}[/]", failures + 1
            row.append(result)
        else:
            row.append(module.title)
        rows.append(row)
    return rows, failures


def run_list(args: argparse.Namespace) -> int:
    """Print the module table."""
    rows, _ = _rows(False, 0)
    table = ui.table("TinyTorch modules", "#", "module", "distribution", "installed", "kind",
                     "what you build")
    for row in rows:
        table.add_row(*row)
    ui.console().print(table)
    return 0


def run_status(args: argparse.Namespace) -> int:
    """Print the module table with test results (a line per module as its tests finish).

    The tests run the way ``tito test <m>`` runs them by default (fast: a test file stops at
    a stub it keeps hitting), which changes the counts but never the pass/fail verdict.
    """
    rows, failures = _rows(not args.no_tests, args.timeout)
    last = "tests" if not args.no_tests else "what you build"
    table = ui.table("TinyTorch modules: status", "#", "module", "distribution", "installed",
                     "kind", last)
    for row in rows:
        table.add_row(*row)
    ui.console().print(table)
    return 1 if failures else 0


def _refuse_stubbing_setup(module: Module, args: argparse.Namespace) -> None:
    """``tito module start setup`` replaces tito itself; it needs ``--force``."""
    if module.folder != "setup" or args.no_install:
        return
    consequence = ("stubbing tinytorch-setup replaces tito itself: until your _innermost and "
                   "stub_source pass `tito test setup`, `tito module start` fails for every "
                   "other module")
    if not args.force:
        raise TitoError(consequence,
                        hint="do it anyway: tito module start setup --force   (undo: tito module "
                             "reset setup; or write without installing: --no-install)")
    ui.warning(consequence + "; `tito module reset setup` brings the reference back")


def _blocks_table(blocks: Sequence[SolutionBlock]) -> Table:
    """One row per function to write (a function may hold several blocks)."""
    functions: dict[tuple[str, str], list[SolutionBlock]] = {}
    for block in blocks:
        functions.setdefault((block.filename, block.qualname), []).append(block)
    count = len(functions)
    title = f"{count} function{'' if count == 1 else 's'} for you to write"
    if len(blocks) != count:
        title += f" ({len(blocks)} blocks)"
    table = ui.table(title, "where", "what")
    for (filename, qualname), found in functions.items():
        lines = ", ".join(str(b.begin) for b in found)
        extra = f"  ({len(found)} blocks)" if len(found) > 1 else ""
        table.add_row(f"{filename}:{lines}", qualname + extra)
    return table


def _write_lesson(module: Module, dest: Path) -> Path | None:
    """Write the module's lesson notebook into the workspace; return its path, or ``None``."""
    from ..lesson import find_lesson, lesson_filename
    from ..notebook import write_notebook

    name = lesson_filename(module)
    in_workspace = dest / "lesson" / name
    source = in_workspace if in_workspace.is_file() else find_lesson(module)
    if source is None:
        return None
    return write_notebook(source, dest / name.replace(".py", ".ipynb"))


def run_start(args: argparse.Namespace) -> int:
    """Write the student workspace and its lesson notebook; install it editable."""
    from ..sources import find_reference
    from ..workspace import create_workspace, default_workspace

    module = resolve_module(args.module)
    _refuse_stubbing_setup(module, args)
    if args.dir is not None:
        check_out_folder(args.dir, "--dir")
    reference = find_reference(module, find_repo_root())
    dest = (args.dir or default_workspace(module)).resolve()
    workspace = create_workspace(reference, dest, force=args.force)
    out = ui.console()
    out.print(f"Wrote your version of [bold]{module.distribution}[/] {workspace.version} to "
              f"{ui.escape(str(dest))}\n  (reference from {ui.escape(reference.description)}; "
              f"saved in {ui.escape(str(workspace.reference))})")
    out.print(_blocks_table(workspace.blocks))
    notebook = _write_lesson(module, dest)
    if notebook is not None:
        ui.success(f"wrote the lesson notebook {notebook}")
    else:
        ui.hint(f"{module.distribution} has no lesson notebook yet")
    if args.no_install:
        ui.hint(f"install it when ready: tito export {module.folder} --dir {dest} --editable")
        return 0
    pip_install(dest, editable=True)
    ui.success(f"installed {module.distribution} {workspace.version} from {dest} in place of the "
               "reference, editable: every save is live (tests, notebooks and later modules "
               "use your files; tracebacks point at them)")
    if notebook is not None:
        ui.hint(f"open it with: tito lab {module.folder}")
    ui.hint(f"edit {dest / 'src'} and run: tito test {module.folder}   "
            "(tito export is only needed to build a regular, distributable copy)")
    return 0


def _compile_all(folder: Path) -> None:
    for path in sorted((folder / "src").rglob("*.py")):
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise TitoError(f"{path}:{exc.lineno}: does not compile: {exc.msg}",
                            hint="fix the error, then run tito export again") from None


def run_export(args: argparse.Namespace) -> int:
    """Reinstall the student's workspace."""
    from ..workspace import find_workspace

    module = resolve_module(args.module)
    installed = get_installed(module.distribution)
    folder = find_workspace(module, args.dir, installed)
    _compile_all(folder)
    pip_install(folder, editable=args.editable)
    importlib.invalidate_caches()
    now = get_installed(module.distribution)
    how = "editable: your edits are live" if args.editable else \
        "as a regular copy: later edits need another tito export (or --editable)"
    ui.success(f"installed your {module.distribution} from {folder}"
               + (f" ({now.version})" if now else "") + f", {how}")
    ui.hint(f"run its tests: tito test {module.folder}")
    return 0


def run_reset(args: argparse.Namespace) -> int:
    """Reinstall the reference."""
    from ..workspace import find_workspace

    module = resolve_module(args.module)
    folder = package_dir(module, find_repo_root())
    in_checkout = folder is not None
    if folder is None:
        from ..workspace import saved_reference

        workspace = find_workspace(module, args.dir, get_installed(module.distribution))
        folder = Path(saved_reference(workspace).description)
    pip_install(folder)
    importlib.invalidate_caches()
    now = get_installed(module.distribution)
    ui.success(f"reinstalled the reference {module.distribution}"
               + (f" {now.version}" if now else "") + f" from {folder}")
    ui.hint("your workspace is untouched; `tito export` installs it again")
    if in_checkout:
        ui.hint(f"for an editable install instead: python -m pip install -e {folder}")
    return 0
