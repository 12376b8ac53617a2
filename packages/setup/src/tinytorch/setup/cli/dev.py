"""``tito dev``: commands for the course's authors (check-stubs, blocks, stub)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..process import TitoError, UsageError
from ..registry import MODULES, resolve_module
from ..repo import find_repo_root, package_dir
from . import ui
from .args import positive_float, positive_int

__all__ = ["register", "run_blocks", "run_check_hints", "run_check_stubs", "run_stub"]


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add the ``dev`` group; return it for plugins (``dev.<name>``)."""
    fmt = ui.formatter()
    group = top.add_parser("dev", help="tools for the course's authors (CI checks)",
                           description="Tools for the course's authors.", formatter_class=fmt)
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="subcommand", title="commands", metavar="COMMAND")
    check = sub.add_parser(
        "check-stubs", help="check that every solution block has a hint and is caught by a test",
        description="First (in a second, before any test runs): every solution block has at "
                    "least one `### HINT:` line right after `### BEGIN SOLUTION` — each one "
                    "without is listed as file:line function. Then, for each solution block of "
                    "a package, stub that block alone and run the package's own tests: at "
                    "least one must fail (and the reference must pass). Tests that execute the "
                    "block (mapped once by tracing the reference run) run first, with -x. "
                    "Exit code 1 if a block has no hint or is not caught.",
        epilog="examples: tito dev check-stubs tensor     tito dev check-stubs all --jobs 2     "
               "tito dev check-stubs --path some/package", formatter_class=fmt)
    check.add_argument("module", nargs="*", help="module names or numbers, or `all` "
                                                 "(packages of the repository checkout)")
    check.add_argument("--path", type=Path, action="append", default=[],
                       help="a package folder to check (repeatable), instead of a module")
    check.add_argument("--jobs", type=positive_int, default=2, help="parallel workers (default 2)")
    check.add_argument("--include-slow", action="store_true",
                       help="map and try tests marked `slow` from the start (by default they "
                            "only run when nothing else catches a block)")
    check.add_argument("--timeout", type=positive_float, default=600.0,
                       help="seconds allowed for one pytest run (default 600)")
    check.set_defaults(func=run_check_stubs)
    hints = sub.add_parser(
        "check-hints", help="check that every solution block has a `### HINT:` line",
        description="Only the first check of check-stubs, in a second: every solution block "
                    "has at least one `### HINT:` line right after `### BEGIN SOLUTION`. Lists "
                    "each block without one as file:line function; exit code 1 if any.",
        epilog="examples: tito dev check-hints tensor autograd     tito dev check-hints all",
        formatter_class=fmt)
    hints.add_argument("module", nargs="*", help="module names or numbers, or `all` "
                                                 "(packages of the repository checkout)")
    hints.add_argument("--path", type=Path, action="append", default=[],
                       help="a package folder to check (repeatable), instead of a module")
    hints.set_defaults(func=run_check_hints)
    blocks = sub.add_parser("blocks", help="list the solution blocks of a package",
                            description="List the solution blocks of a package: file, line, "
                                        "function and hints. Malformed markers are errors.",
                            formatter_class=fmt)
    blocks.add_argument("module", nargs="?", help="module name or number")
    blocks.add_argument("--path", type=Path, help="a package folder instead of a module")
    blocks.set_defaults(func=run_blocks)
    stub = sub.add_parser("stub", help="print the student version of one Python file",
                          description="Print FILE with every solution block stubbed.",
                          formatter_class=fmt)
    stub.add_argument("file", type=Path, help="a Python source file")
    stub.add_argument("--module-name", default="", help="dotted name used in the messages")
    stub.set_defaults(func=run_stub)
    return {"dev": sub}


def _folders(modules: list[str], paths: list[Path]) -> list[Path]:
    if paths:
        return [p.resolve() for p in paths]
    if not modules:
        raise TitoError("name a module, `all`, or pass --path DIR")
    root = find_repo_root()
    if root is None:
        raise TitoError("this command works on the repository's packages/ folders, and no "
                        "TinyTorch checkout was found above the current directory",
                        hint="run it inside the checkout, or pass --path <package folder>")
    if [m.lower() for m in modules] == ["all"]:
        found = [package_dir(m, root) for m in MODULES]
        return [f for f in found if f is not None and (f / "src").is_dir()]
    folders = []
    for name in modules:
        folder = package_dir(resolve_module(name), root)
        if folder is None:
            raise TitoError(f"no package folder for {name!r} in {root / 'packages'}")
        folders.append(folder)
    return folders


def _check_hints(folders: list[Path]) -> int:
    """Print every block without a hint (``file:line function``); return how many."""
    from ..checkstubs import blocks_without_hints
    from ..stubbing import HINT_PREFIX, StubError

    out = ui.console()
    missing, total_folders = 0, 0
    for folder in folders:
        total_folders += 1
        try:
            found = blocks_without_hints(folder)
        except StubError as exc:  # reported again (with the rest) by the stub check
            out.print(f"[red]✗ error[/] {ui.escape(str(exc))}")
            missing += 1
            continue
        for block in found:
            out.print(f"[red]✗ no hint:[/] {ui.escape(str(folder / block.filename))}:"
                      f"{block.begin} {ui.escape(block.qualname)}")
        missing += len(found)
    if missing:
        ui.error(f"{missing} solution block(s) without a `{HINT_PREFIX}` line right after "
                 f"`### BEGIN SOLUTION` (in {total_folders} package(s))",
                 "add at least one hint line to each block listed above")
    else:
        out.print(f"[green]✓[/] every solution block has a hint ({total_folders} package(s))")
    return missing


def run_check_hints(args: argparse.Namespace) -> int:
    """Check that every solution block of one or more packages has a hint."""
    return 1 if _check_hints(_folders(args.module, args.path)) else 0


def run_check_stubs(args: argparse.Namespace) -> int:
    """Check every block's hint, then that every block is caught by a test."""
    from ..checkstubs import BlockResult, check_package

    if args.jobs < 1:
        raise TitoError("--jobs must be at least 1")
    out = ui.console()
    start = time.monotonic()
    reports = []
    folders = _folders(args.module, args.path)
    out.rule("hints")
    no_hints = _check_hints(folders)
    for folder in folders:
        out.rule(f"check-stubs {folder.name}")

        def show(result: BlockResult) -> None:
            b = result.block
            where = f"{b.filename}:{b.begin} {b.qualname}"
            extra = f"by {result.test}" if result.test else result.detail
            out.print(f"{ui.STATUS_STYLE[result.status]}  {ui.escape(where)}  "
                      f"[dim]{ui.escape(extra)} ({result.runs} run(s), {result.seconds:.1f} s)[/]")

        report = check_package(folder, jobs=args.jobs, timeout=args.timeout,
                               include_slow=args.include_slow, on_result=show)
        reports.append(report)
        if report.error:
            ui.error(f"{report.name}: {report.error}")
        elif report.block_count == 0:
            out.print(f"{report.name}: no solution blocks (nothing to check)")
        else:
            out.print(f"reference: {ui.escape(report.reference_summary)}")
    summary = ui.table("check-stubs", "package", "blocks", "caught", "not caught", "errors",
                       "time")
    for r in reports:
        caught = sum(b.status == "caught" for b in r.blocks)
        missed = sum(b.status == "not caught" for b in r.blocks)
        errors = sum(b.status == "error" for b in r.blocks) + bool(r.error)
        summary.add_row(r.name, str(r.block_count), str(caught), str(missed), str(errors),
                        f"{r.seconds:.1f} s")
    out.print(summary)
    failed = [r for r in reports if not r.ok]
    for r in failed:
        for b in r.blocks:
            if b.status != "caught":
                out.print(f"[red]{b.status}:[/] {ui.escape(str(r.folder / b.block.filename))}:"
                          f"{b.block.begin} {ui.escape(b.block.qualname)}  {ui.escape(b.detail)}")
    if no_hints:
        out.print(f"[red]{no_hints} solution block(s) without a hint[/] (listed at the top)")
    out.print(f"total {time.monotonic() - start:.1f} s")
    return 1 if failed or no_hints else 0


def run_blocks(args: argparse.Namespace) -> int:
    """List the blocks of a package."""
    from ..checkstubs import collect_blocks
    from ..stubbing import StubError

    folder = _folders([args.module] if args.module else [], [args.path] if args.path else [])[0]
    try:
        blocks = collect_blocks(folder)
    except StubError as exc:
        raise TitoError(str(exc)) from None
    table = ui.table(f"{len(blocks)} solution block(s) in {folder}", "where", "function", "hints")
    for b in blocks:
        table.add_row(f"{b.filename}:{b.begin}", b.qualname, ui.escape(" / ".join(b.hints)))
    ui.console().print(table)
    return 0


def run_stub(args: argparse.Namespace) -> int:
    """Print a stubbed file."""
    from ..stubbing import StubError, stub_source

    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
    try:
        sys.stdout.write(stub_source(text, args.module_name, str(args.file)))
    except StubError as exc:
        raise TitoError(str(exc)) from None
    return 0
