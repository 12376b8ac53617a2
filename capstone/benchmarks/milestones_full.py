"""The full 1998 and 2017 milestones: run them once, keep their record, render their figures.

    python capstone/benchmarks/milestones_full.py --run       # both full runs (about 35 min)
    python capstone/benchmarks/milestones_full.py --readme    # re-render the blocks only

``--run`` runs ``tito milestone run 1998 --kernels composite`` (the student's path: the
composite convolution, pooling and batch norm) and ``tito milestone run 2017`` with the record
``capstone/benchmarks/results/milestones_full.json`` (a milestones.json: hardware, load
average, versions, implementations, every check), then renders the ``milestones_full`` block of
the capstone README and of docs/milestones.md from it. Until the runs are made the block says
so. ``integration/test_milestones_figures.py`` renders it again and fails when a page and the
record disagree. Run it on a quiet machine: the 1998 check includes its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "capstone" / "benchmarks" / "results" / "milestones_full.json"
PAGES = (REPO / "packages" / "capstone" / "README.md", REPO / "docs" / "milestones.md")
BLOCK = "milestones_full"
COMMANDS = {"1998-convolution": ["milestone", "run", "1998", "--kernels", "composite"],
            "2017-attention": ["milestone", "run", "2017"]}


def _latest_full(runs: list) -> dict:
    latest = {}
    for run in runs:
        if not run.get("quick") and run.get("milestone") in COMMANDS:
            latest[run["milestone"]] = run
    return latest


def _value(check: dict) -> str:
    name, v, t = check["name"], check["value"], check["threshold"]
    if "accuracy" in name:
        return f"{v * 100:.2f}% (bar {check['op']} {t * 100:.0f}%)"
    return f"{v:.3f} (bar {check['op']} {t:g})"


def render(results: Path = RESULTS) -> str:
    """The Markdown of the block, from the record (or the sentence saying it is not run yet)."""
    if not results.is_file():
        return ("The full 1998 and 2017 runs have not been run yet on the course machine "
                "(`python capstone/benchmarks/milestones_full.py --run` runs both and writes "
                "their measured results here).\n")
    latest = _latest_full(json.loads(results.read_text())["runs"])
    rows = ["| milestone | command | measured | wall time | passed | load average (1, 5, 15 min) |",
            "|---|---|---|---|---|---|"]
    for key, argv in COMMANDS.items():
        run = latest.get(key)
        if run is None:
            rows.append(f"| {key} | `tito {' '.join(argv)}` | not run yet | | | |")
            continue
        measured = "; ".join(f"{c['name']}: {_value(c)}" for c in run["checks"])
        load = ", ".join(f"{x:.2f}" for x in run["hardware"].get("load_average", []))
        rows.append(f"| {key} | `tito {' '.join(argv)}` | {measured} | "
                    f"{run['seconds'] / 60:.1f} min | {'yes' if run['passed'] else 'no'} | {load} |")
    run = next(iter(latest.values()), None)
    machine = (f"\n\nMeasured on {run['hardware']['cpu']}, {run['hardware']['cores']} cores, "
               f"{run['started'][:10]}; the record is `capstone/benchmarks/results/"
               "milestones_full.json`.") if run else ""
    return "\n".join(rows) + machine + "\n"


def write_readmes() -> None:
    """Render the block into every page that has it."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from figures import write_block

    body = render()
    for page in PAGES:
        changed = write_block(page, BLOCK, body)
        print(f"{page.relative_to(REPO)}: {'updated' if changed else 'unchanged'}")


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="run both full milestones first")
    parser.add_argument("--readme", action="store_true", help="render the pages' blocks")
    args = parser.parse_args(argv)
    if args.run:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        for key, cmd in COMMANDS.items():
            print(f"{key}: load average {os.getloadavg()}", flush=True)
            subprocess.run([sys.executable, "-m", "tinytorch.setup", *cmd, "--record",
                            str(RESULTS)], check=False)
    if args.run or args.readme:
        write_readmes()
    else:
        print(render(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
