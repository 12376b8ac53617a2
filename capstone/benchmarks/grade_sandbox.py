"""What the bubblewrap sandbox costs ``tito grade`` per submission.

A small module (three functions, twelve tests) is graded again and again, one submission at a
time, alternating sandboxed and unsandboxed grading with a pause between them. Reported: the
median time of the submission's run (from starting bwrap — or Python directly — to the end of
its pytest process: what the sandbox adds to), the median wall and CPU time of a whole
``grade()`` call (the reference's box, the submission's box, and for the sandbox the check that
bwrap works), the machine's CPU time during that call (/proc/stat: it includes whatever else
runs), and the load average.

    python capstone/benchmarks/grade_sandbox.py [--boxes 20] [--out FILE]

Needs Linux with bubblewrap (``apt-get install bubblewrap``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tinytorch.setup.grading import find_submissions, grade
from tinytorch.setup.grading.sandbox import probe
from tinytorch.setup.registry import Module
from tinytorch.setup.sources import layout_from_folder

MODULE = Module(99, "bench", "tinytorch-bench", "tinytorch.bench", "grading benchmark")
CODE = '''\
def double(x):
    return 2 * x


def square(x):
    return x * x


def clip(x, lo, hi):
    return min(max(x, lo), hi)
'''
TESTS = "from tinytorch.bench.ops import clip, double, square\n\n" + "".join(
    f"\ndef test_{name}_{i}():\n    assert {expr}\n\n"
    for i in range(4)
    for name, expr in (("double", f"double({i}) == {2 * i}"), ("square", f"square({i}) == {i * i}"),
                       ("clip", f"clip({i}, 1, 2) == {min(max(i, 1), 2)}")))
PYPROJECT = '[project]\nname = "tinytorch-bench"\nversion = "0.1.0"\ndependencies = []\n'


def _package(root: Path, with_tests: bool) -> Path:
    (root / "src/tinytorch/bench").mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "src/tinytorch/bench/__init__.py").write_text("")
    (root / "src/tinytorch/bench/ops.py").write_text(CODE)
    if with_tests:
        (root / "tests").mkdir()
        (root / "tests/test_ops.py").write_text(TESTS)
    return root


def _cpu() -> float:
    """CPU seconds the whole machine has spent (user + system, /proc/stat): bwrap's sandboxed
    processes are not reaped by this process, so its RUSAGE_CHILDREN would miss them."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system = (int(x) for x in fields[:3])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=20, help="boxes of each kind (default 20)")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between boxes (default 0.3)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "grade_sandbox.json")
    args = parser.parse_args()
    status = probe()
    if not status.available:
        print(f"error: the sandbox is not available here: {status.reason}", file=sys.stderr)
        return 1
    runs: dict[str, list[float]] = {"sandbox": [], "no-sandbox": []}
    times: dict[str, list[float]] = {"sandbox": [], "no-sandbox": []}
    cpu: dict[str, list[float]] = {"sandbox": [], "no-sandbox": []}
    with tempfile.TemporaryDirectory(prefix="tt-grade-bench-") as tmp:
        root = Path(tmp)
        reference = layout_from_folder(_package(root / "reference", with_tests=True))
        _package(root / "submissions" / "student", with_tests=False)
        found = find_submissions(root / "submissions")
        for i in range(args.boxes):
            order = ("sandbox", "no-sandbox") if i % 2 == 0 else ("no-sandbox", "sandbox")
            for kind in order:
                time.sleep(args.pause)
                cpu0, t0 = _cpu(), time.perf_counter()
                book = grade(found, MODULE, reference, root / f"work-{kind}", timeout=120,
                             sandbox=kind == "sandbox")
                times[kind].append(time.perf_counter() - t0)
                cpu[kind].append(_cpu() - cpu0)
                result = book.submissions[0]
                runs[kind].append(result.seconds)
                if result.score != result.max_score or result.max_score != 12:
                    print(f"error: the submission scored {result.score}/{result.max_score} ({result.status})",
                          file=sys.stderr)
                    return 1
    load = os.getloadavg()
    medians = {k: statistics.median(v) for k, v in runs.items()}
    report = {
        "benchmark": "tito grade: seconds per submission run, sandboxed (bubblewrap) and not",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "boxes_each": args.boxes,
        "engine": status.engine,
        "process_limit": status.process_limit,
        "median_run_s": {k: round(v, 3) for k, v in medians.items()},
        "overhead_per_submission_s": round(medians["sandbox"] - medians["no-sandbox"], 3),
        "median_grade_call_wall_s": {k: round(statistics.median(v), 3) for k, v in times.items()},
        "median_grade_call_cpu_s_machine_wide": {k: round(statistics.median(v), 3) for k, v in cpu.items()},
        "all_run_s": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        "loadavg_after": [round(x, 2) for x in load],
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    calls = report["median_grade_call_wall_s"]
    print(f"submission run, median of {args.boxes}: sandboxed {medians['sandbox']:.3f} s, "
          f"unsandboxed {medians['no-sandbox']:.3f} s, overhead {report['overhead_per_submission_s']:+.3f} s; "
          f"whole grade() call {calls['sandbox']:.3f} vs {calls['no-sandbox']:.3f} s wall "
          f"(CPU {report['median_grade_call_cpu_s_machine_wide']['sandbox']:.3f} vs "
          f"{report['median_grade_call_cpu_s_machine_wide']['no-sandbox']:.3f} s); load average {load[0]:.2f}; "
          f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
