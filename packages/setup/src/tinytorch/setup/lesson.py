"""What a lesson notebook imports: ``setup_lesson`` and ``check``; and where lessons are.

Every lesson's first code cell is::

    from tinytorch.setup.lesson import check, setup_lesson

    setup_lesson("tensor")   # autoreload on; says whether YOUR version or the reference is installed

and each exercise ends with a cell such as ``check("tensor", "binary")``, which runs exactly
that exercise's tests (``pytest -k binary``) in a subprocess — so the student's edits in an
editable workspace are always what is tested — and prints one line, or raises
:class:`ExerciseFailed` with a short message (no traceback in Jupyter).

This module imports only the standard library (and ``tinytorch.setup``'s own standard-library
modules) when it is imported, so a notebook's first cell is quick.

From the command line, ``python -m tinytorch.setup.lesson run <module> [--student]`` executes
a module's lesson (see :mod:`tinytorch.setup.lessonrun`); where lessons are is
:mod:`tinytorch.setup.lessonfiles`. Imports run one way: ``lesson`` → ``lessonrun`` →
``lessonfiles``.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .lessonfiles import LAB_EXTRA, find_lesson, lesson_filename, resolve
from .lessonrun import run_lesson
from .notebook import percent_to_notebook, write_notebook
from .process import TitoError, python_command, run
from .registry import Module, UnknownModuleError, resolve_module

__all__ = [
    "LAB_EXTRA",
    "ExerciseFailed",
    "candidate_files",
    "check",
    "exception_line",
    "find_lesson",
    "installed_summary",
    "lesson_filename",
    "main",
    "percent_to_notebook",
    "read_junit",
    "setup_lesson",
    "write_notebook",
]

#: The longest exception line ``check`` quotes.
_MAX_LINE = 300


# --------------------------------------------------------------------------- setup_lesson


def _ipython_shell() -> object | None:
    """The running IPython shell, or ``None`` (a plain script never imports IPython)."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def _enable_autoreload() -> bool:
    """Turn on ``%autoreload 2`` under IPython; return whether it is on."""
    shell = _ipython_shell()
    if shell is None:
        return False
    try:
        shell.run_line_magic("load_ext", "autoreload")  # type: ignore[attr-defined]
        shell.run_line_magic("autoreload", "2")  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an IPython without the extension: lesson still runs
        return False
    return True


def installed_summary(module: Module, autoreload: bool = False) -> list[str]:
    """One or two lines saying which implementation of ``module`` is installed.

    Args:
        module: The module.
        autoreload: Whether autoreload is on (then the student's editable version's line
            says that a re-run cell uses the latest save).

    Returns:
        The lines ``setup_lesson`` prints: not installed, the reference, the student's
        editable workspace, or the student's installed copy (which needs ``tito export``).
    """
    from .dists import get_installed

    dist = module.distribution
    installed = get_installed(dist)
    if installed is None:
        return [f"{module.folder}: {dist} is not installed — pip install {dist}   "
                f"(or write yours: tito module start {module.folder})"]
    if not installed.is_student:
        where = f", editable from {installed.editable_dir}" if installed.editable_dir else ""
        return [f"{module.folder}: the reference {dist} {installed.version}{where} is installed, "
                f"not your version (write yours: tito module start {module.folder})"]
    if installed.editable_dir is not None:
        lines = [f"{module.folder}: YOUR version ({dist} {installed.version}) "
                 f"from {installed.editable_dir}"]
        if autoreload:
            lines.append("autoreload is on: save your file, re-run a cell, and your edit is used")
        return lines
    where = f" from {installed.source_dir}" if installed.source_dir else ""
    return [f"{module.folder}: YOUR version ({dist} {installed.version}){where}, an installed "
            "copy", f"after each edit: tito export {module.folder}, then restart the kernel"]


def setup_lesson(module: str) -> None:
    """Prepare a lesson notebook: autoreload on, and say what implementation it runs on.

    Under IPython (Jupyter, VS Code, Colab) it loads the ``autoreload`` extension in mode 2,
    so edits to the student's editable workspace take effect when a cell is re-run. Then it
    prints whether the student's version (and from where) or the reference is installed.
    In a plain Python script it only prints.

    Args:
        module: The module the lesson is about (``tensor``, ``02``…).

    Raises:
        UnknownModuleError: if ``module`` names no module.
    """
    found = resolve(module)
    for line in installed_summary(found, _enable_autoreload()):
        print(line)


# --------------------------------------------------------------------------- check


class ExerciseFailed(Exception):
    """An exercise's tests fail (or none match it); the message says what and what to run.

    In Jupyter it is shown as its message alone, without a traceback (IPython calls
    :meth:`_render_traceback_`).
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows instead of a traceback."""
        return str(self).splitlines()


@dataclass(frozen=True)
class TestReport:
    """What a JUnit XML report of one pytest run says.

    Attributes:
        total: Test cases reported (collection errors included).
        failed: Cases that failed or errored.
        skipped: Cases skipped.
        first_error: The exception line of the first failure (``""`` when none failed).
    """

    __test__ = False  # not a pytest test class, despite the name

    total: int
    failed: int
    skipped: int
    first_error: str

    @property
    def passed(self) -> int:
        """Cases that passed."""
        return self.total - self.failed - self.skipped


_EXCEPTION = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Failed|Exit|Warning|"
                        r"Interrupt|Group|Flaky)\b.*")
_GROUP = re.compile(r"^(?:\w+\.)*(?:Base)?ExceptionGroup\b")


def _shorten(line: str) -> str:
    line = line.strip()
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 1] + "…"


def exception_line(element: ET.Element) -> str:
    """The most telling exception line of a ``<failure>`` or ``<error>`` element.

    Candidates are the first line of its ``message`` and every ``E   Name: …`` line of its
    text; the first mentioning ``NotImplementedError`` (a stub) wins, else the first that is
    not an exception group, else the message.
    """
    message = (element.get("message") or "").strip()
    candidates = [message.splitlines()[0]] if message else []
    for line in (element.text or "").splitlines():
        if line.startswith("E "):
            body = line[1:].strip()
            if _EXCEPTION.match(body):
                candidates.append(body)
    for candidate in candidates:
        if "NotImplementedError" in candidate:
            return _shorten(candidate)
    for candidate in candidates:
        if _EXCEPTION.match(candidate) and not _GROUP.match(candidate):
            return _shorten(candidate)
    return _shorten(candidates[0]) if candidates else "failed"


def read_junit(path: Path) -> TestReport:
    """Count the cases of a pytest JUnit XML report and find its first failure."""
    root = ET.parse(path).getroot()
    total = failed = skipped = 0
    first = ""
    for case in root.iter("testcase"):
        total += 1
        problems = [child for child in case if child.tag in ("failure", "error")]
        if problems:
            failed += 1
            first = first or exception_line(problems[0])
        elif any(child.tag == "skipped" for child in case):
            skipped += 1
    return TestReport(total, failed, skipped, first)


_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def candidate_files(tests: Path, expression: str) -> list[Path]:
    """The test files of ``tests`` that can hold a test ``-k expression`` selects.

    pytest imports every test file to collect it, even those ``-k`` then deselects; for a
    lesson's ``check`` that import time is most of the wait. When ``expression`` is one word
    (an exercise name), a test it selects has the word (in any case) in its file's path or
    text: its function, class, parametrize id or marker is written there. For anything else
    — an expression, or a word that is part of the tests folder's own path (which would
    select every test) — the answer is ``[]``: run the whole folder.
    """
    word = expression.lower()
    if not _IDENTIFIER.match(expression) or word in str(tests).lower():
        return []
    found = []
    for path in sorted({*tests.rglob("test_*.py"), *tests.rglob("*_test.py")}):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(tests).as_posix().lower()
        if word in rel or word in path.read_text(encoding="utf-8", errors="replace").lower():
            found.append(path)
    return found


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def check(module: str, exercise: str, *, k: str | None = None, timeout: float = 300) -> None:
    """Run the tests of one exercise on the installed module; print one line or raise.

    The module's shipped tests run in a subprocess (``python -m pytest -k <exercise>``, or
    ``-k <k>``), so whatever is installed now — the student's editable workspace, as it is on
    disk — is what is tested. Only the test files that can hold a matching test are
    collected (:func:`candidate_files`), and hypothesis runs without shrinking or deadline,
    with at most 25 examples where a test does not set its own number: this is quick
    feedback, ``tito test`` the full run.

    Args:
        module: The module (``tensor``, ``02``…).
        exercise: The exercise's name; every test checking it carries it in its name.
        k: A full pytest ``-k`` expression to use instead of ``exercise``.
        timeout: Seconds the tests may take.

    Raises:
        ExerciseFailed: if a selected test fails (the message gives how many, the first
            error, and the command showing everything), if no test matches, if every
            matching test is skipped, or if the module is not installed.
    """
    from .testrun import find_module_tests

    try:
        found = resolve(module)
        _, tests = find_module_tests(found)
    except (TitoError, UnknownModuleError) as exc:
        hint = getattr(exc, "hint", None)
        raise ExerciseFailed(str(exc) + (f"\nhint: {hint}" if hint else "")) from None
    expression = k or exercise
    see = f"see all of it: tito test {found.folder} -k {shlex.quote(expression)}"
    with tempfile.TemporaryDirectory(prefix="tito-check-") as name:
        report = Path(name) / "report.xml"
        targets = [str(p) for p in candidate_files(tests, expression)] or [str(tests)]
        cmd = python_command("-m", "pytest", "--import-mode=importlib", "-p", "no:cacheprovider",
                             "-p", "tinytorch.setup.check_plugin", "-q", "--tb=line",
                             "-k", expression,
                             f"--junitxml={report}", "-o", "junit_family=xunit2", *targets)
        start = time.monotonic()
        try:
            result = run(cmd, cwd=Path(name), capture=True, timeout=timeout)
        except TitoError:
            raise ExerciseFailed(f"{exercise}: the tests did not finish within {timeout:.0f} s "
                                 f"(an endless loop?)\n{see}") from None
        seconds = time.monotonic() - start
        if not report.is_file():
            tail = "\n".join((result.stdout or "").strip().splitlines()[-5:])
            raise ExerciseFailed(f"{exercise}: pytest stopped before running the tests "
                                 f"(exit code {result.returncode}):\n{tail}")
        outcome = read_junit(report)
    if outcome.failed:
        raise ExerciseFailed(f"{exercise}: {outcome.failed} of {_plural(outcome.total, 'test')} "
                             f"fail — {outcome.first_error}\n{see}")
    if outcome.total == 0:
        raise ExerciseFailed(f"{exercise}: no test of {found.distribution} matches "
                             f"-k {shlex.quote(expression)}\nlist them: tito test {found.folder} "
                             f"--collect-only -q -k {shlex.quote(expression)}")
    if outcome.passed == 0:
        raise ExerciseFailed(f"{exercise}: nothing was checked ({_plural(outcome.total, 'test')} "
                             f"matched, all skipped)\n{see} -rs")
    skipped = f", {outcome.skipped} skipped" if outcome.skipped else ""
    print(f"✓ {found.folder} · {exercise}: {_plural(outcome.passed, 'test')} passed{skipped} "
          f"({seconds:.1f} s)")


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinytorch.setup.lesson",
        description="Run a module's lesson notebook, as CI and lesson writers do.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    runner = sub.add_parser(
        "run", help="convert a lesson to a notebook and execute it (nbclient, no browser)",
        description="Convert the module's lesson (lesson/<NN>_<folder>.py) to a notebook and "
                    "execute it cell by cell on a fresh kernel. By default on what is installed "
                    "(the reference): every cell must pass. With --student, on the student "
                    "version of the module (solutions stubbed, built in a temp dir): the first "
                    "cell that fails must be the first check(...) cell, with the stub's "
                    "NotImplementedError. Exit code 0 when that holds, 1 otherwise.")
    runner.add_argument("module", help="number (02 or 2), folder (tensor) or distribution")
    runner.add_argument("--student", action="store_true",
                        help="run on the student version; it must stop at the first check")
    runner.add_argument("--timeout", type=float, default=300.0,
                        help="seconds allowed per cell (default 300)")
    runner.add_argument("--out", type=Path, help="write the executed notebook to this .ipynb")
    runner.add_argument("--lesson", type=Path,
                        help="run this lesson source instead of the module's own")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.setup.lesson``; return the exit code."""
    parser = _parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.command != "run":
        parser.print_help()
        return 2
    try:
        ok = run_lesson(resolve_module(args.module), student=args.student,
                        timeout=args.timeout, out=args.out, source=args.lesson)
    except (TitoError, UnknownModuleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        hint = getattr(exc, "hint", None)  # TitoError has one, UnknownModuleError does not
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
