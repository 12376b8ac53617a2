"""Every lesson notebook runs, and a student's first session works from the wheels.

This is the `lessons` tox env: every wheel installed (through tinytorch-framework) plus the
third-party part of ``tinytorch-setup[lab]`` (nbclient, ipykernel, jupytext, ...).

* Each module's lesson (``packages/<folder>/lesson/<NN>_<folder>.py``, jupytext percent format)
  executes green against the reference: ``python -m tinytorch.setup.lesson run <folder>``.
* Against the student's version of that module (its solution blocks stubbed) the same lesson
  stops at its first exercise, with the stub's message: ``... run <folder> --student``.
* A student's first session, as the README tells it, in a fresh virtual environment built from
  the wheels in dist/: install ``tinytorch-setup[lab]`` and ``tinytorch-tensor``, ``tito module
  start tensor``, execute the notebook (it stops at the first exercise), write that one function
  in the workspace, run the same cell again in the same kernel (no export, no restart: it
  passes), then ``tito module reset tensor`` (the reference is back).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = Path(os.environ.get("TINYTORCH_DIST", REPO / "dist"))
sys.path.insert(0, str(REPO / ".ci"))
from ttools import model  # noqa: E402  (the repository's one reader of packages/)

MODULES = [p for p in model.load_packages(REPO) if p.module is not None]


def _run(cmd: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kw)
    print(f"$ {' '.join(cmd)}   ({time.monotonic() - started:.1f} s)\n{proc.stdout[-4000:]}")
    return proc


def test_every_module_has_a_lesson():
    missing = [p.lesson_file for p in MODULES if not (p.path / p.lesson_file).is_file()]
    assert not missing, f"modules without a lesson: {missing}"
    assert len(MODULES) == 17


@pytest.mark.parametrize("folder", [p.folder for p in MODULES])
def test_lesson_runs_against_the_reference(folder, tmp_path):
    # the executed notebook (outputs included) is what the docs site shows, when it is newer
    pkg = next(p for p in MODULES if p.folder == folder)
    outputs = Path(os.environ.get("TINYTORCH_LESSON_OUTPUTS") or tmp_path)
    outputs.mkdir(parents=True, exist_ok=True)
    out = outputs / f"{Path(pkg.lesson_file).stem}.ipynb"
    out.unlink(missing_ok=True)
    proc = _run([sys.executable, "-m", "tinytorch.setup.lesson", "run", folder,
                 "--out", str(out)], timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    executed = json.loads(out.read_text(encoding="utf-8"))
    errors = [o for c in executed["cells"] if c["cell_type"] == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), "a code cell did not run"
    sources = ["".join(c["source"]) for c in executed["cells"]]
    assert any("check(" in s for s in sources), "the lesson has no exercise check"
    assert any(re.search(r"(?im)^#+\s*.*reflect", s) for s in sources), "no Reflect section"


@pytest.mark.parametrize("folder", [p.folder for p in MODULES])
def test_student_lesson_stops_at_its_first_exercise(folder, tmp_path):
    proc = _run([sys.executable, "-m", "tinytorch.setup.lesson", "run", folder, "--student"],
                timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "NotImplementedError" in proc.stdout


# ------------------------------------------------------------------ a student's first session

def _wheel(name: str) -> Path:
    hits = sorted(DIST.glob(f"{name.replace('-', '_')}-*-py3-none-any.whl"))
    if not hits:
        pytest.fail(f"no wheel of {name} in {DIST}: build them first (.ci/tox -e build)")
    return hits[-1]


def _third_party(wheel: Path, extras: set[str]) -> list[str]:
    """The wheel's Requires-Dist that are not ours, with the given extras' requirements."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    reqs = []
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        req, _, marker = line.split(":", 1)[1].strip().partition(";")
        extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
        if extra and extra.group(1) not in extras:
            continue
        if not re.match(r"tinytorch", req.strip()):
            reqs.append(req.strip())
    return reqs


START_HERE = REPO / "docs" / "start-here.md"
SHELL_MARKER = re.compile(r"<!--\s*docs-test:\s*(skip|expect-exit)\b\s*(.*?)\s*-->")


def start_here_commands() -> list[tuple[str, int | None]]:
    """The ``$ command`` lines of docs/start-here.md's console blocks, in order, each with the
    exit code it must give (0 unless its block says ``<!-- docs-test: expect-exit N -->``);
    blocks marked ``<!-- docs-test: skip REASON -->`` are left out."""
    lines = START_HERE.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```console":
            marker = SHELL_MARKER.search(lines[i - 1]) if i else None
            i += 1
            block = []
            while lines[i].strip() != "```":
                if lines[i].startswith("$ "):
                    block.append(lines[i][2:].strip())
                i += 1
            if marker and marker.group(1) == "skip":
                pass
            else:
                code = int(marker.group(2).split()[0]) if marker else 0
                out += [(cmd, code) for cmd in block]
        i += 1
    return out


def test_start_here_lists_the_commands_a_student_runs():
    commands = [c for c, _ in start_here_commands()]
    assert any(c.startswith("pip install") and "tinytorch-setup[lab]" in c for c in commands)
    assert "tito module start tensor" in commands and "tito test tensor" in commands


STUDENT_DRIVER = r'''
"""Runs in the student's venv: execute the lesson, stop at the first exercise, fix, re-run."""
import json, re, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

notebook, workspace = Path(sys.argv[1]), Path(sys.argv[2])
nb = nbformat.read(notebook, as_version=4)
client = NotebookClient(nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(workspace)}})
result = {}
with client.setup_kernel():
    failed = None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            client.execute_cell(cell, index)
        except CellExecutionError as exc:
            failed = (index, str(exc))
            break
    result["failed_index"] = failed[0] if failed else None
    result["first_check_index"] = next(i for i, c in enumerate(nb.cells)
                                       if c.cell_type == "code" and "check(" in c.source)
    result["error"] = failed[1][-2000:] if failed else ""
    print(json.dumps(result), flush=True)
    # the test now writes the function; wait for it, then run the same cell in the same kernel
    sys.stdin.readline()
    index = failed[0]
    cell = nb.cells[index]
    try:
        client.execute_cell(cell, index)
        result = {"rerun": "passed", "output": "".join(o.get("text", "") for o in cell.outputs)}
    except CellExecutionError as exc:
        result = {"rerun": "failed", "output": str(exc)[-2000:]}
    print(json.dumps(result), flush=True)
'''


def _write_one_function(workspace: Path, stub_message: str, python: Path) -> str:
    """Put the reference's solution of the function named in the stub message into the
    student's file — what a student who writes that function correctly ends up with."""
    code = textwrap.dedent(r'''
        import sys
        from pathlib import Path
        from tinytorch.setup.stubbing import find_blocks
        from tinytorch.setup.workspace import module_name_for
        workspace, full = Path(sys.argv[1]), sys.argv[2]
        for student in sorted((workspace / "src").rglob("*.py")):
            rel = student.relative_to(workspace)
            text = student.read_text(encoding="utf-8")
            module = module_name_for(rel.as_posix())
            if not full.startswith(module + ".") or f"{full}: implement this" not in text:
                continue
            qualname = full[len(module) + 1:]
            reference = (workspace / ".reference" / rel).read_text(encoding="utf-8")
            ref_lines = reference.splitlines(keepends=True)
            block = next(b for b in find_blocks(reference, str(rel)) if b.qualname == qualname)
            solution = "".join(ref_lines[block.begin - 1:block.end])
            lines = text.splitlines(keepends=True)
            at = next(i for i, line in enumerate(lines)
                      if f"{full}: implement this" in line and "raise NotImplementedError" in line)
            start = at
            while start > 0 and lines[start - 1].strip().startswith("### HINT"):
                start -= 1
            lines[start:at + 1] = [solution]
            student.write_text("".join(lines), encoding="utf-8")
            print(rel)
            break
        else:
            sys.exit(f"no stub of {full} in {workspace}")
    ''')
    full = re.search(r"NotImplementedError: ([\w.<>]+): implement this", stub_message)
    assert full, f"no stub message in: {stub_message}"
    proc = _run([str(python), "-c", code, str(workspace), full.group(1)], timeout=60)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout.strip()


@pytest.mark.skipif(shutil.which("uv") is None and os.environ.get("CI") != "true",
                    reason="needs uv (CI puts it on PATH) to build a venv quickly")
def test_a_students_first_session_from_the_wheels(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    setup_whl, tensor_whl = _wheel("tinytorch-setup"), _wheel("tinytorch-tensor")
    third = sorted(set(_third_party(setup_whl, {"lab"}) + _third_party(tensor_whl, set())))
    uv = shutil.which("uv")
    installer = [uv, "pip", "install", "--quiet", "--python", str(python)] if uv else \
        [str(python), "-m", "pip", "install", "--quiet"]
    # third-party from the index; ours only from dist/, so nothing but the wheels is tested
    assert _run([*installer, *third], timeout=900).returncode == 0
    # (uv's cache would serve a wheel of the same name and version built earlier: not ours now)
    fresh = ["--no-cache"] if uv else ["--no-cache-dir"]
    assert _run([*installer, *fresh, "--no-index", "--find-links", str(DIST),
                 "tinytorch-setup[lab]", "tinytorch-tensor"], timeout=300).returncode == 0
    # outside any checkout, as a student: the reference comes from the installed wheel
    home = tmp_path / "student"
    home.mkdir()
    env = {**os.environ, "TINYTORCH_REPO": "none", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    tito = str(venv / "bin" / "tito")

    # docs/start-here.md, command by command, in this venv: pip finds our wheels in dist/ (they
    # are on no index; the third-party packages are already installed; an editable install of
    # the workspace fetches its build backend, hatchling, from the index as a student's would)
    shell_env = {**env, "PIP_FIND_LINKS": str(DIST), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    start_seconds = None
    for command, expected in start_here_commands():
        began = time.monotonic()
        proc = _run(["bash", "-c", command], timeout=600, cwd=home, env=shell_env)
        assert proc.returncode == expected, f"{command!r} exited {proc.returncode}"
        assert "Traceback (most recent call last)" not in proc.stdout, command
        if command.startswith("tito module start"):
            start_seconds = time.monotonic() - began
    assert start_seconds is not None, "start-here.md no longer runs `tito module start tensor`"
    workspace = home / "tinytorch-student" / "tensor"
    notebook = workspace / "02_tensor.ipynb"
    assert notebook.is_file(), f"tito module start wrote no notebook: {sorted(workspace.iterdir())}"

    driver = tmp_path / "driver.py"
    driver.write_text(STUDENT_DRIVER, encoding="utf-8")
    started = time.monotonic() - start_seconds  # the student's clock: start, notebook, edit, re-run
    kernel = subprocess.Popen([str(python), str(driver), str(notebook), str(workspace)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              cwd=workspace, env=env)
    try:
        first = json.loads(kernel.stdout.readline())
        print(first)
        assert first["failed_index"] == first["first_check_index"], \
            "the student's notebook must stop at its first exercise check"
        assert "NotImplementedError" in first["error"] and "implement this" in first["error"]
        edited = _write_one_function(workspace, first["error"], python)
        kernel.stdin.write("go\n")
        kernel.stdin.flush()
        second = json.loads(kernel.stdout.readline())
        print(second)
        elapsed = time.monotonic() - started
        print(f"from `tito module start tensor` to the first green exercise: {elapsed:.1f} s "
              f"(`tito module start` {start_seconds:.1f} s; edited {edited}; load average "
              f"{os.getloadavg()[0]:.1f})")
        assert second["rerun"] == "passed", second["output"]
        assert "passed" in second["output"]
    finally:
        kernel.stdin.close()
        kernel.wait(timeout=120)

    proc = _run([tito, "module", "reset", "tensor"], timeout=300, cwd=home, env=env)
    assert proc.returncode == 0
    probe = _run([str(python), "-c", "import importlib.metadata as m; "
                  "print(m.version('tinytorch-tensor'))"], timeout=60, env=env)
    assert "+student" not in probe.stdout and probe.stdout.strip()
