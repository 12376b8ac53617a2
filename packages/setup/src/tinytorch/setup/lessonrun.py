"""Executing a lesson notebook without a browser: ``python -m tinytorch.setup.lesson run``.

(:mod:`.lesson` holds that command line and imports this module; this module never imports it.)

Two runs keep a lesson honest, and CI does both:

* against what is installed (the reference): every code cell must run without error;
* with ``--student``, against the student's version of the module — its solution blocks
  stubbed, built in a temp dir and put first on the kernel's ``PYTHONPATH`` with a small
  ``.dist-info`` (the same shadowing ``tito dev check-stubs`` uses) — the first cell that
  fails must be the first ``check(...)`` cell, failing with the stub's
  ``NotImplementedError: …: implement this``. A lesson that calls a stubbed function before
  its first check, or whose checks do not notice a stub, fails this run.

nbclient (and nbformat, ipykernel) come with ``pip install "tinytorch-setup[lab]"`` and are
imported only here, when a lesson runs.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .lessonfiles import LAB_EXTRA, find_lesson
from .notebook import percent_to_notebook
from .process import TitoError
from .registry import Module
from .repo import find_repo_root

__all__ = ["STUB_MARKERS", "first_check_cell", "run_lesson", "student_site"]

#: What the error of the first check must contain on the student's version.
STUB_MARKERS = ("NotImplementedError", "implement this")

_CHECK_CALL = "check("


def first_check_cell(cells: list[dict[str, Any]]) -> int | None:
    """The index of the first code cell whose source calls ``check(``, or ``None``."""
    for index, cell in enumerate(cells):
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code" and _CHECK_CALL in source:
            return index
    return None


def student_site(module: Module, tmp: Path) -> Path:
    """Build the student version of ``module`` under ``tmp``; return the folder to import from.

    The workspace is written exactly as ``tito module start`` writes it (from
    ``packages/<folder>`` in a checkout, else from the installed reference), and its ``src/``
    gets a ``.dist-info`` that makes it look like an editable install of that workspace, so
    ``tinytorch.setup.lesson.check`` finds its tests and ``setup_lesson`` reports it as the
    student's version.

    Raises:
        TitoError: if the reference cannot be found or holds a malformed block.
    """
    from .checkstubs import _project, _write_dist_info
    from .sources import find_reference
    from .workspace import create_workspace

    reference = find_reference(module, find_repo_root())
    workspace = create_workspace(reference, tmp / "workspace")
    _write_dist_info(_project(workspace.path), workspace.path / "src", workspace.path)
    return workspace.path / "src"


def _label(cell: dict[str, Any], width: int = 64) -> str:
    """A cell's title, else its first line of code (comments skipped), shortened."""
    title = cell.get("metadata", {}).get("title")
    if title:
        return str(title)
    for line in str(cell["source"]).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            text = line.strip()
            return text if len(text) <= width else text[:width - 1] + "…"
    return "(empty)"


def _import_nbclient() -> tuple[Any, Any, Any]:
    try:
        import ipykernel  # noqa: F401 - the kernel nbclient starts ("python3")
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as exc:
        raise TitoError(f"running a lesson needs nbclient, nbformat and ipykernel ({exc.name} "
                        "is not installed)", hint=LAB_EXTRA) from None
    return nbformat, NotebookClient, CellExecutionError


def _error_text(exc: BaseException) -> str:
    """``ename: evalue`` of a cell's error (nbclient's CellExecutionError), else its last line."""
    ename, evalue = getattr(exc, "ename", ""), getattr(exc, "evalue", "")
    if ename or evalue:
        return f"{ename}: {evalue}".strip()
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


def run_lesson(module: Module, *, student: bool = False, timeout: float = 300.0,
               out: Path | None = None, source: Path | None = None,
               echo: Callable[[str], None] | None = None) -> bool:
    """Execute the lesson notebook of ``module`` on a fresh kernel, printing each cell.

    Args:
        module: The module whose lesson to run.
        student: Run on the student version (see the module docstring): the first failing
            cell must be the first ``check(...)`` cell, with the stub's message.
        timeout: Seconds allowed per cell.
        out: Write the executed notebook (outputs included) there.
        source: A lesson source to run instead of the module's own.
        echo: Where progress lines go (default: ``print``, flushed).

    Returns:
        Whether the run went as it must: every cell green (reference), or stopped at the
        first check with the stub's message (``student``).

    Raises:
        TitoError: if the module has no lesson, nbclient is missing, or the student
            version cannot be built.
    """
    say = echo or (lambda line: print(line, flush=True))
    lesson = source or find_lesson(module)
    if lesson is None or not lesson.is_file():
        raise TitoError(f"{module.distribution} has no lesson "
                        f"(lesson/{module.number:02d}_{module.folder}.py)",
                        hint="inside the checkout it lives in packages/<folder>/lesson/")
    nbformat, NotebookClient, CellExecutionError = _import_nbclient()
    nb = nbformat.from_dict(percent_to_notebook(lesson.read_text(encoding="utf-8")))
    expected = first_check_cell(nb.cells) if student else None
    if student and expected is None:
        raise TitoError(f"{lesson} has no check(...) cell, so the student version has nothing "
                        "to stop at")
    code = [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    which = "the student version" if student else "what is installed"
    say(f"{lesson.name}: {len(code)} code cells on {which} (at most {timeout:.0f} s per cell)")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tito-lesson-") as name:
        tmp = Path(name)
        # the kernel's own matplotlib backend (inline): the executed notebook keeps its plots
        env = dict(os.environ)
        if student:
            site = student_site(module, tmp)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH"))
                                                if p)
        work = tmp / "run"
        work.mkdir()
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        failed_at, error = None, ""
        width = len(str(len(code)))
        with client.setup_kernel(env=env):
            for count, index in enumerate(code, 1):
                cell = nb.cells[index]
                began = time.monotonic()
                try:
                    client.execute_cell(cell, index,
                                        execution_count=client.code_cells_executed + 1)
                except (CellExecutionError, TimeoutError, RuntimeError) as exc:
                    failed_at, error = index, _error_text(exc)
                mark = "✗" if failed_at == index else "✓"
                say(f"  {mark} [{count:>{width}}/{len(code)}] {time.monotonic() - began:5.1f} s  "
                    f"{_label(cell)}")
                if failed_at is not None:
                    break
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(out))
    total = time.monotonic() - start
    return _verdict(say, student, expected, failed_at, error, nb.cells, total)


def _verdict(say: Callable[[str], None], student: bool, expected: int | None,
             failed_at: int | None, error: str, cells: list[Any], total: float) -> bool:
    """Print how the run ended; return whether it went as it must."""
    if not student:
        if failed_at is None:
            say(f"✓ every cell ran ({total:.1f} s)")
            return True
        say(f"✗ cell {failed_at} failed ({total:.1f} s): {error}")
        return False
    assert expected is not None, "run_lesson refuses a student lesson without a check cell"
    if failed_at is None:
        say(f"✗ the student version ran through without an error ({total:.1f} s): the first "
            f"check (cell {expected}) did not notice the stubs")
        return False
    if failed_at != expected:
        say(f"✗ cell {failed_at} ({_label(cells[failed_at])}) failed before the first check "
            f"(cell {expected}, {_label(cells[expected])}) ({total:.1f} s): {error}")
        return False
    missing = [marker for marker in STUB_MARKERS if marker not in error]
    if missing:
        say(f"✗ the first check failed, but not with the stub's message (no "
            f"{' / '.join(missing)}) ({total:.1f} s): {error}")
        return False
    say(f"✓ stopped at the first check (cell {expected}) with the stub's message "
        f"({total:.1f} s): {error}")
    return True
