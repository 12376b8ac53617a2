"""``tito capstone``: list the tracks, run one, gather the reports.

    tito capstone list
    tito capstone run performance --recipe full          # each track has its own options
    tito capstone run systems --procs 1,2 --data cifar10
    tito capstone run extensions --check                 # a quick check of the harness
    tito capstone report                                 # every track's latest report, in one page
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "track_parser", "run_list", "run_track", "run_report", "gather_reports",
           "main"]


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``capstone`` (entry point ``capstone``) with ``list``, ``run`` and ``report``."""
    from .tracks import TRACKS

    parser = subparsers.add_parser("capstone", help="the five capstone tracks: list, run, report",
                                   description="The capstone's five tracks, each with a harness "
                                               "that measures the result.")
    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])
    sub = parser.add_subparsers(dest="capstone_command", metavar="COMMAND")
    listing = sub.add_parser("list", help="the tracks and what each measures")
    listing.set_defaults(func=run_list)
    run = sub.add_parser("run", help="run a track's harness",
                         description="Run one track's harness; results go to its --out folder "
                                     "(result.json, report.md). Each track has its own options: "
                                     "tito capstone run TRACK --help.",
                         epilog="tracks: " + "; ".join(f"{t.name}: {t.title}" for t in TRACKS.values()))
    run.add_argument("track", choices=list(TRACKS), metavar="TRACK",
                     help=f"one of: {', '.join(TRACKS)}")
    run.add_argument("options", nargs=argparse.REMAINDER,
                     help="the track's own options (--check: a quick check of the harness)")
    run.set_defaults(func=run_track)
    report = sub.add_parser("report", help="every track's latest report in one Markdown page")
    report.add_argument("--dir", default="runs/capstone", help="where the tracks wrote their results")
    report.add_argument("-o", "--output", help="write the page here (default: print it)")
    report.set_defaults(func=run_report)
    return parser


def run_list(args: argparse.Namespace) -> int:
    """Print the tracks."""
    from .tracks import TRACKS

    for t in TRACKS.values():
        print(f"{t.name:<12} {t.title}")
        print(f"{'':<12} builds:   {t.summary}")
        print(f"{'':<12} measures: {t.measures}")
        print(f"{'':<12} project:  capstone/{t.folder}/   run: tito capstone run {t.name}")
    return 0


def track_parser(name: str) -> argparse.ArgumentParser:
    """The parser of ``tito capstone run <name>`` (imports the track's module)."""
    from .tracks import get_track

    track = get_track(name)
    parser = argparse.ArgumentParser(prog=f"tito capstone run {name}",
                                     description=f"{track.title}: {track.summary}. "
                                                 f"Measures {track.measures}.")
    track.load().add_arguments(parser)
    parser.add_argument("--check", action="store_true",
                        help="a quick check of the harness on a tiny configuration"
                             + (f" ({' '.join(track.check)})" if track.check else ""))
    return parser


def run_track(args: argparse.Namespace) -> int:
    """Run the chosen track with its own options (``--check``: its quick configuration)."""
    from .tracks import get_track

    track = get_track(args.track)
    parser = track_parser(track.name)
    options = parser.parse_args(args.options)
    if options.check and track.check:  # the quick configuration; options given still win
        options = parser.parse_args(list(track.check) + list(args.options))
    track.load().run_from_args(options)
    return 0


def gather_reports(folder: str) -> str:
    """Every ``<folder>/<track>/report.md`` under one heading per track, in track order."""
    from .tracks import TRACKS

    parts = ["# TinyTorch capstone — results", ""]
    found = 0
    for t in TRACKS.values():
        path = os.path.join(folder, t.name, "report.md")
        parts.append(f"## {t.title}")
        parts.append("")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                parts.append(f.read().strip())
            found += 1
        else:
            parts.append(f"(not run yet: `tito capstone run {t.name}`)")
        parts.append("")
    parts.append(f"{found} of {len(TRACKS)} tracks have results in `{folder}`.")
    return "\n".join(parts) + "\n"


def run_report(args: argparse.Namespace) -> int:
    """Print (or write) the gathered report."""
    text = gather_reports(args.dir)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0


def main(argv: list | None = None) -> int:
    """``python -m tinytorch.capstone``: the same as ``tito capstone``."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.capstone")
    sub = parser.add_subparsers(metavar="COMMAND")
    register(sub)
    args = parser.parse_args(["capstone", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)
