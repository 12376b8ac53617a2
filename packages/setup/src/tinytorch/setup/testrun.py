"""Running a module's shipped tests against whatever implementation is installed.

Every wheel ships its tests inside the package (``tinytorch/core/<name>/tests``), so
``tito test tensor`` works for a student who installed only ``tinytorch-setup`` and
``tinytorch-tensor``: it finds the tests through the distribution's recorded files and runs
``python -P -m pytest --import-mode=importlib -p no:cacheprovider --rootdir <dir> <dir>`` in a
subprocess.

``--rootdir`` is the tests folder itself: under ``--import-mode=importlib`` pytest names a
test module after its path relative to the rootdir and puts empty stand-ins for the parent
names in ``sys.modules``. With the rootdir at the current directory and the tests in
``./venv/lib/…/site-packages`` (a virtual environment called ``venv``, the usual name),
``venv`` itself would be such a stand-in and shadow the standard library's ``venv``.
``-P`` (Python 3.11+) keeps the current directory off ``sys.path``.

By default (:func:`run_fast_tests`) pytest runs with :mod:`.testrun_plugin`, which records
every outcome so failures can be shown grouped by the exercise (stub) they stopped at, runs
hypothesis without shrinking, and cuts a test file short once its first tests all stopped at
the same stub. ``tito test <m> --all`` is the plain pytest run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .dists import InstalledDist, get_installed, locate_tests
from .process import TitoError, python_command, run
from .registry import Module

__all__ = [
    "NO_TESTS_COLLECTED",
    "PLUGIN",
    "FailureGroup",
    "FastReport",
    "TestOutcome",
    "find_module_tests",
    "pytest_command",
    "run_fast_tests",
    "run_module_tests",
    "summary_line",
]

#: The plugin of the default (fast, grouped) run.
PLUGIN = "tinytorch.setup.testrun_plugin"

#: pytest's exit code when it collected nothing; ``tito`` reports it as a failure.
NO_TESTS_COLLECTED = 5

_SUMMARY = re.compile(r"\b\d+ (passed|failed|error|errors|skipped|deselected|not run)\b"
                      r"|no tests ran")


@dataclass(frozen=True)
class TestOutcome:
    """The result of one pytest run.

    Attributes:
        exit_code: pytest's exit code (0 passed, 1 failed, 5 collected nothing…).
        summary: pytest's closing line, e.g. ``12 passed in 0.31s``.
        output: Everything pytest printed (empty when it printed to the terminal).
    """

    __test__ = False  # not a pytest test class, despite the name

    exit_code: int
    summary: str
    output: str
    report: FastReport | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether pytest exited with 0."""
        return self.exit_code == 0


def summary_line(output: str) -> str:
    """pytest's closing summary line (``3 passed, 1 failed in 0.2s``), or ``""``."""
    for line in reversed(output.strip().splitlines()):
        if _SUMMARY.search(line):
            return line.strip(" =")
    return ""


def pytest_command(tests_dir: Path, extra: list[str] | None = None) -> list[str]:
    """The command ``tito test --all`` runs for a tests folder (see the module's docstring)."""
    return python_command("-m", "pytest", "--import-mode=importlib", "-p", "no:cacheprovider",
                          "--rootdir", str(tests_dir), str(tests_dir), *(extra or []))


def find_module_tests(module: Module, path: list[str] | None = None) -> tuple[InstalledDist, Path]:
    """The installed distribution of ``module`` and the folder of its shipped tests.

    Raises:
        TitoError: if the module is not installed or ships no tests.
    """
    installed = get_installed(module.distribution, path)
    if installed is None:
        raise TitoError(f"{module.distribution} is not installed, so there is nothing to test",
                        hint=f"python -m pip install {module.distribution}   "
                             f"(or: tito module start {module.folder})")
    tests = locate_tests(installed, module)
    if tests is None:
        raise TitoError(
            f"{module.distribution} {installed.version} ships no tests "
            f"(nothing at {module.tests_dir} in its files)",
            hint=f"reinstall it: python -m pip install --force-reinstall {module.distribution}")
    return installed, tests


def run_module_tests(module: Module, extra: list[str] | None = None, *, quiet: bool = False,
                     timeout: float | None = None,
                     path: list[str] | None = None) -> TestOutcome:
    """Run the shipped tests of ``module`` in a subprocess.

    Args:
        module: The module whose tests to run.
        extra: More pytest arguments (``-k add``, ``-x``…).
        quiet: Capture pytest's output (returned in the outcome) instead of printing it.
        timeout: Give up after this many seconds.
        path: Search these folders for the distribution instead of ``sys.path``.

    Raises:
        TitoError: if the module is not installed, ships no tests, or times out.
    """
    _, tests = find_module_tests(module, path)
    args = list(extra or [])
    if quiet:
        args = ["-q", *args]
    start = time.monotonic()
    result = run(pytest_command(tests, args), capture=quiet, timeout=timeout)
    output = result.stdout or ""
    summary = summary_line(output)
    if result.returncode == NO_TESTS_COLLECTED and not summary:
        summary = "no tests collected"
    return TestOutcome(result.returncode, summary, output, seconds=time.monotonic() - start)


@dataclass
class FailureGroup:
    """Failures with one cause: a stub (an exercise still to write) or one kind of error.

    Attributes:
        title: The exercise (``ArithmeticOps._binary``) or ``<Type>: <first line>``.
        exercise: Whether it is a stub's ``NotImplementedError``.
        message: The exception's first line.
        where: ``file:line`` of the stub (or of the first crash) when known.
        tests: The node ids that failed this way, in the order they ran.
        not_run: How many tests were not run because their file stopped at this stub.
        detail: A short traceback of the first failure (errors other than stubs).
    """

    title: str
    exercise: bool
    message: str
    where: str = ""
    tests: list[str] = field(default_factory=list)
    not_run: int = 0
    detail: str = ""


@dataclass
class FastReport:
    """What :mod:`.testrun_plugin` recorded about one run."""

    exit_code: int
    seconds: float
    stop_after: int
    tests: list[dict] = field(default_factory=list)
    collect_errors: list[dict] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path, exit_code: int) -> FastReport | None:
        """Read the plugin's JSON record (``None`` if the run ended before writing it)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(exit_code, float(data.get("seconds", 0.0)), int(data.get("stop_after", 0)),
                   list(data.get("tests", [])), list(data.get("collect_errors", [])))

    @property
    def counts(self) -> Counter[str]:
        """Tests per outcome: ``passed``, ``failed``, ``error``, ``skipped``, ``not run``."""
        return Counter(t["outcome"] for t in self.tests)

    @property
    def summary(self) -> str:
        """``179 passed, 158 failed, 127 not run`` (in that order, zero counts left out)."""
        counts = self.counts
        parts = [f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped", "not run")
                 if counts[k]]
        if self.collect_errors:
            parts.append(f"{len(self.collect_errors)} file(s) not collected")
        return ", ".join(parts) or "no tests ran"

    @property
    def not_run(self) -> int:
        """How many tests were cut short (their file stopped at a stub)."""
        return self.counts["not run"]

    def exercises(self) -> list[FailureGroup]:
        """The stubs tests stopped at, in source order (file, line)."""
        groups: dict[str, FailureGroup] = {}
        for test in self.tests:
            name = test.get("exercise")
            if not name:
                continue
            group = groups.get(name)
            if group is None:
                short = name.rpartition(".<locals>.")[2]
                group = groups[name] = FailureGroup(
                    name, True, f"NotImplementedError: implement {short}")
            if test["outcome"] == "not run":
                group.not_run += 1
            else:
                group.tests.append(test["nodeid"])
                group.where = group.where or test.get("where", "")

        def order(group: FailureGroup) -> tuple[str, int]:
            file, _, line = group.where.rpartition(":")
            return (file, int(line)) if line.isdigit() else (group.where, 0)

        return sorted(groups.values(), key=order)

    def errors(self) -> list[FailureGroup]:
        """Every other failure, grouped by exception type and first line, most common first."""
        groups: dict[str, FailureGroup] = {}
        for test in self.tests:
            if test["outcome"] not in ("failed", "error") or test.get("exercise"):
                continue
            title = f"{test.get('type', 'Error')}: {test.get('message', '')}".rstrip(": ")
            group = groups.setdefault(title, FailureGroup(title, False, test.get("message", ""),
                                                          test.get("where", "")))
            group.tests.append(test["nodeid"])
            group.detail = group.detail or test.get("detail", "")
        for error in self.collect_errors:
            title = f"not collected: {error.get('message', '')}"
            group = groups.setdefault(title, FailureGroup(title, False, error.get("message", "")))
            group.tests.append(error.get("nodeid", "."))
            group.detail = group.detail or error.get("detail", "")
        return sorted(groups.values(), key=lambda g: -len(g.tests))


def run_fast_tests(module: Module, extra: list[str] | None = None, *, quiet: bool = False,
                   timeout: float | None = None, path: list[str] | None = None,
                   stop_after: int = 3) -> TestOutcome:
    """Run the shipped tests of ``module`` fast, recording outcomes grouped by exercise.

    Same as :func:`run_module_tests` (a test that would fail still fails: the verdict is the
    same), plus :mod:`.testrun_plugin`: hypothesis without shrinking, pytest's own traceback
    output off (``tito`` prints the grouped record, in ``outcome.report``), and a test file
    cut short once its first ``stop_after`` tests all stopped at the same stub (0: never).
    Without ``quiet`` pytest's progress line still goes to the terminal.
    """
    _, tests = find_module_tests(module, path)
    handle, name = tempfile.mkstemp(prefix="tito-test-", suffix=".json")
    os.close(handle)
    record = Path(name)
    args = ["-p", PLUGIN, "--tito-report", str(record), "--tito-stop-after", str(stop_after),
            "-q", "--tb=no", "-rN", "--no-header", "--continue-on-collection-errors",
            *(["-q"] if quiet else []), *(extra or [])]
    start = time.monotonic()
    try:
        result = run(pytest_command(tests, args), capture=quiet, timeout=timeout)
        report = FastReport.load(record, result.returncode)
    finally:
        record.unlink(missing_ok=True)
    seconds = time.monotonic() - start
    output = result.stdout or ""
    if report is not None:
        summary = f"{report.summary} in {seconds:.1f}s"
    else:
        summary = summary_line(output)
    if result.returncode == NO_TESTS_COLLECTED and (report is None or not report.tests):
        summary = "no tests collected"
    return TestOutcome(result.returncode, summary, output, report, seconds)
