"""Running a module's shipped tests against whatever implementation is installed.

Every wheel ships its tests inside the package (``tinytorch/core/<name>/tests``), so
``tito test tensor`` works for a student who installed only ``tinytorch-setup`` and
``tinytorch-tensor``: it finds the tests through the distribution's recorded files and runs
``python -m pytest --import-mode=importlib -p no:cacheprovider <dir>`` in a subprocess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .dists import InstalledDist, get_installed, locate_tests
from .process import TitoError, python_command, run
from .registry import Module

__all__ = [
    "NO_TESTS_COLLECTED",
    "TestOutcome",
    "find_module_tests",
    "pytest_command",
    "run_module_tests",
    "summary_line",
]

#: pytest's exit code when it collected nothing; ``tito`` reports it as a failure.
NO_TESTS_COLLECTED = 5

_SUMMARY = re.compile(r"\b\d+ (passed|failed|error|errors|skipped|deselected)\b|no tests ran")


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
    """The command ``tito test`` runs for a tests folder."""
    return python_command("-m", "pytest", "--import-mode=importlib", "-p", "no:cacheprovider",
                          str(tests_dir), *(extra or []))


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
    result = run(pytest_command(tests, args), capture=quiet, timeout=timeout)
    output = result.stdout or ""
    summary = summary_line(output)
    if result.returncode == NO_TESTS_COLLECTED and not summary:
        summary = "no tests collected"
    return TestOutcome(result.returncode, summary, output)
