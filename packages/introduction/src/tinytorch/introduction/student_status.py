"""Your progress: which modules are your own version, and whether their tests pass.

``tito module start <m>`` installs your version of a module with the local version label
``+student`` (``0.1.0+student``), in place of the reference. So what is installed tells which
modules you have started; running each module's shipped tests against what is installed
(``tito test <m>``, in a subprocess) tells which ones are done.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from .graph import ModuleGraph, ModuleNode

__all__ = ["ModuleProgress", "test_command", "run_module_tests", "progress"]

_SUMMARY = re.compile(r"^=*\s*(.*\b(passed|failed|error|errors|skipped|no tests ran)\b.*?)\s*=*$")


@dataclass
class ModuleProgress:
    """One module's state for the student.

    Attributes:
        folder: the module's short name.
        label: ``02 tensor``.
        installed_version: what is installed (None: not installed).
        student: whether it is your version (``+student``).
        tests: ``"passed"``, ``"failed"``, ``"not run"`` or ``"not installed"``.
        summary: pytest's last line (``12 passed in 3.1s``) when the tests ran.
        seconds: how long the tests took.
    """

    folder: str
    label: str
    installed_version: str | None
    student: bool
    tests: str = "not run"
    summary: str = ""
    seconds: float | None = None

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)


def test_command(folder: str) -> list:
    """The command that runs a module's tests against what is installed: ``tito test <m>``
    (as ``python -m tinytorch.setup``, so it is this interpreter's), when the setup module is
    installed."""
    if importlib.util.find_spec("tinytorch.setup") is None:
        raise RuntimeError("running a module's tests needs tinytorch-setup (the tito command): "
                           "pip install tinytorch-setup")
    return [sys.executable, "-m", "tinytorch.setup", "test", folder, "-q"]


def _summary_line(output: str) -> str:
    for line in reversed(output.strip().splitlines()):
        m = _SUMMARY.match(line.strip())
        if m:
            return m.group(1)
    lines = output.strip().splitlines()
    return lines[-1].strip() if lines else ""


def run_module_tests(folder: str, timeout: float = 900.0) -> tuple:
    """Run one module's tests in a subprocess: ``(passed, summary line, seconds)``."""
    cmd = test_command(folder)
    start = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f}s", time.perf_counter() - start
    return res.returncode == 0, _summary_line(res.stdout + res.stderr), time.perf_counter() - start


def progress(graph: ModuleGraph, run_tests: str = "student", timeout: float = 900.0) -> list:
    """Every module's :class:`ModuleProgress`, in learning order.

    Args:
        graph: the modules (see :func:`~tinytorch.introduction.graph.discover`).
        run_tests: whose tests to run: ``"student"`` (your versions only), ``"all"`` (every
            installed module) or ``"none"``.
        timeout: seconds allowed per module's tests.
    """
    if run_tests not in ("student", "all", "none"):
        raise ValueError(f"run_tests must be 'student', 'all' or 'none', got {run_tests!r}")
    rows = []
    for node in graph.ordered_nodes():
        row = _row(node)
        wanted = run_tests == "all" or (run_tests == "student" and node.is_student)
        if node.installed and wanted:
            ok, row.summary, row.seconds = run_module_tests(node.folder, timeout)
            row.tests = "passed" if ok else "failed"
        rows.append(row)
    return rows


def _row(node: ModuleNode) -> ModuleProgress:
    state = "not run" if node.installed else "not installed"
    return ModuleProgress(node.folder, node.label, node.installed_version, node.is_student, state)
