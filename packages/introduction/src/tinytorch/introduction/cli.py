"""``tito system graph`` (and ``python -m tinytorch.introduction``): the course's map.

    tito system graph                        the modules by level, each with what it builds on
    tito system graph --roadmap              a learning order and what each step unlocks
    tito system graph --stats                lines of code, public API, tests, solution blocks
    tito system graph --progress             your versions (+student) and whether their tests pass
    tito system graph --format mermaid       the diagram for the docs
    tito system graph --format svg -o g.svg  a picture (png/pdf need matplotlib)
    tito system graph --format json          everything above as JSON
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

__all__ = ["register", "build_parser", "main", "run"]

FORMATS = ("text", "mermaid", "json", "svg", "png", "pdf", "markdown")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text (default), mermaid, json, markdown (the docs overview page), "
                             "or a picture: svg, png, pdf (png/pdf need matplotlib)")
    parser.add_argument("-o", "--output", help="write to this file (pictures default to "
                                               "tinytorch-graph.<format>)")
    parser.add_argument("--roadmap", action="store_true",
                        help="the learning order, prerequisites and what each module unlocks")
    parser.add_argument("--stats", action="store_true",
                        help="per module: lines of code, public functions and classes, tests, "
                             "solution blocks")
    parser.add_argument("--progress", action="store_true",
                        help="which modules are your version (+student) and whether their tests "
                             "pass (runs `tito test` for each of your modules)")
    parser.add_argument("--run-tests", choices=("student", "all", "none"), default="student",
                        help="with --progress: whose tests to run (default: your versions only)")
    parser.add_argument("--all-edges", action="store_true",
                        help="every declared dependency, not only those no other path implies")
    parser.add_argument("--source", choices=("auto", "repo", "installed"), default="auto",
                        help="read the repository checkout's pyproject.toml files, the installed "
                             "distributions' metadata, or the checkout when there is one (default)")
    parser.add_argument("--repo", help="the checkout to read (default: found from the working "
                                       "directory, or $TINYTORCH_REPO)")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``graph`` to the ``tito system`` group (entry point ``system.graph``)."""
    parser = subparsers.add_parser(
        "graph", help="the modules' dependency graph, roadmap, statistics and your progress",
        description="The course's map, computed from the packages: the dependency graph (by "
                    "level), a learning roadmap, per-module statistics and your progress.",
        epilog="examples: tito system graph --roadmap    tito system graph --format svg -o graph.svg"
               "    tito system graph --progress")
    _add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m tinytorch.introduction`` (same options as ``tito system graph``)."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.introduction",
                                     description="The TinyTorch course's map, computed from the packages.")
    _add_arguments(parser)
    return parser


def _table(head: list, rows: list, align: str) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    def fmt(row: list) -> str:
        cells = [str(c).rjust(w) if a == "r" else str(c).ljust(w) for c, w, a in zip(row, widths, align)]
        return "  ".join(cells).rstrip()
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def _roadmap_text(steps: list) -> str:
    lines = ["Roadmap (a learning order computed from the declared dependencies)"]
    for s in steps:
        needs = ", ".join(s.requires) if s.requires else "nothing"
        lines.append(f"{s.position:>3}. {s.label:<16} needs {needs}")
        lines.append(f"     after it: {s.ability}")
        if s.unlocks:
            lines.append(f"     unlocks:  {', '.join(s.unlocks)}")
    return "\n".join(lines)


def _stats_text(graph, stats: dict) -> str:
    head = ["module", "lines", "functions", "classes", "tests", "blocks"]
    rows = []
    for name, st in stats.items():
        label = graph.nodes[name].label
        rows.append([label, st.code_lines, st.public_functions, st.public_classes, st.tests,
                     st.solution_blocks] if st.found else [label, "-", "-", "-", "-", "-"])
    keys = ("code_lines", "public_functions", "public_classes", "tests", "solution_blocks")
    rows.append(["total"] + [sum(getattr(s, k) for s in stats.values()) for k in keys])
    return ("Statistics (lines of code, public top-level functions and classes, test functions, "
            "solution blocks)\n" + _table(head, rows, "lrrrrr"))


def _progress_text(rows: list) -> str:
    head = ["module", "installed", "yours", "tests", "summary"]
    body = [[r.label, r.installed_version or "-", "yes" if r.student else "", r.tests, r.summary]
            for r in rows]
    mine = [r for r in rows if r.student]
    done = [r for r in mine if r.tests == "passed"]
    foot = (f"your versions: {len(mine)}; their tests pass: {len(done)}" if mine else
            "no module is your version yet: `tito module start <module>` makes one")
    return "Progress\n" + _table(head, body, "lllll") + "\n" + foot


def _debug_reraise() -> None:
    """Under ``TINYTORCH_DEBUG=1`` (any value but empty or 0), let the exception being handled
    through with its traceback instead of the one-line message. Call it from an ``except``."""
    if os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0"):
        raise  # noqa: PLE0704 - re-raises the exception the caller is handling


def run(args: argparse.Namespace) -> int:
    """Carry out ``tito system graph`` with parsed arguments; returns the exit code."""
    from .docs import overview_markdown
    from .graph import CycleError, discover
    from .student_status import progress
    from .render import PlotUnavailable, save_figure, to_mermaid, to_text
    from .learning_path import roadmap
    from .stats import graph_stats

    if args.output and (os.path.isdir(args.output)
                        or not os.path.isdir(os.path.dirname(os.path.abspath(args.output)))):
        what = "is a folder" if os.path.isdir(args.output) else "is in a folder that does not exist"
        print(f"error: --output {args.output} {what}: give the path of the file to write",
              file=sys.stderr)
        return 2
    if args.repo and not os.path.isdir(args.repo):
        print(f"error: --repo {args.repo} is not a folder: give the TinyTorch checkout to read",
              file=sys.stderr)
        return 2
    try:
        graph = discover(args.source, args.repo)
        if not len(graph):
            print("no tinytorch-* module found (install one, or run inside the checkout)", file=sys.stderr)
            return 1
        graph.topological_order()  # a cycle is an error whatever is asked
    except (CycleError, FileNotFoundError, RuntimeError) as exc:
        _debug_reraise()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    fmt = args.format
    if fmt in ("svg", "png", "pdf"):
        target = args.output or f"tinytorch-graph.{fmt}"
        if not target.lower().endswith("." + fmt):
            print(f"error: --format {fmt} needs an output file ending in .{fmt}", file=sys.stderr)
            return 2
        try:
            print(f"wrote {save_figure(graph, target, args.all_edges)}")
        except PlotUnavailable as exc:
            _debug_reraise()
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return 0
    progress_rows = progress(graph, args.run_tests) if args.progress else None
    if fmt == "json":
        data = graph.to_dict()
        if args.roadmap:
            data["roadmap"] = [s.to_dict() for s in roadmap(graph)]
        if args.stats:
            data["stats"] = {n: s.to_dict() for n, s in graph_stats(graph).items()}
        if progress_rows is not None:
            data["progress"] = [r.to_dict() for r in progress_rows]
        text = json.dumps(data, indent=1)
    elif fmt == "mermaid":
        text = to_mermaid(graph, args.all_edges)
    elif fmt == "markdown":
        text = overview_markdown(graph, with_stats=True)
    else:
        parts = [to_text(graph, args.all_edges)]
        if args.roadmap:
            parts.append(_roadmap_text(roadmap(graph)))
        if args.stats:
            parts.append(_stats_text(graph, graph_stats(graph)))
        if progress_rows is not None:
            parts.append(_progress_text(progress_rows))
        text = "\n\n".join(parts)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"wrote {args.output}")
    else:
        print(text)
    if progress_rows is not None and any(r.tests == "failed" for r in progress_rows):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.introduction [options]``."""
    return run(build_parser().parse_args(argv))
