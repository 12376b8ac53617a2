"""Lessons: the percent-format converter, finding a lesson, ``setup_lesson``, ``check`` and
``python -m tinytorch.setup.lesson run`` on a stand-in module.

The stand-in is ``tinytorch-capstone`` (module 16) in a fake checkout (``TINYTORCH_REPO``),
"installed" by putting its ``src/`` first on ``sys.path``/``PYTHONPATH`` with a small
``.dist-info`` (what ``tito dev check-stubs`` does), so nothing is pip-installed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinytorch.setup.checkstubs import _project, _write_dist_info
from tinytorch.setup.lesson import (ExerciseFailed, check, find_lesson, lesson_filename,
                                    read_junit, setup_lesson)
from tinytorch.setup.notebook import percent_to_notebook, read_notebook, write_notebook
from tinytorch.setup.registry import resolve_module

HEADER = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""

LESSON = HEADER + '''
# %% [markdown]
# # Capstone
#
# Prose with *markdown*.
#    indented line

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("capstone")

# %% [markdown]
# ## Exercise 1: `add`

# %% Exercise 1
check("capstone", "add_op")


# %%
from tinytorch.capstone import add

print(add(2, 3))
'''

PACKAGE = {
    "pyproject.toml": textwrap.dedent("""\
        [build-system]
        requires = ["hatchling>=1.21"]
        build-backend = "hatchling.build"
        [project]
        name = "tinytorch-capstone"
        version = "0.1.0"
        requires-python = ">=3.10"
        [tool.hatch.build.targets.wheel]
        packages = ["src/tinytorch"]
        """),
    "src/tinytorch/capstone/__init__.py": textwrap.dedent('''\
        def add(a, b):
            """a + b."""
            ### BEGIN SOLUTION
            ### HINT: one operator
            return a + b
            ### END SOLUTION


        def mul(a, b):
            return a * b
        '''),
    "tests/test_capstone.py": textwrap.dedent("""\
        import pytest
        from hypothesis import given, strategies as st

        from tinytorch.capstone import add, mul


        @given(st.integers(), st.integers())
        def test_add_op_commutes(a, b):
            assert add(a, b) == add(b, a)


        def test_add_op_small():
            assert add(1, 2) == 3


        def test_mul_op():
            assert mul(2, 3) == 6


        def test_mul_op_wrong():
            assert mul(2, 3) == 7


        @pytest.mark.skip(reason="not today")
        def test_skipped_op():
            pass
        """),
    "lesson/16_capstone.py": LESSON,
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def fake_repo(tmp_path, monkeypatch):
    """A checkout holding only packages/capstone, used as the reference (TINYTORCH_REPO)."""
    root = tmp_path / "repo"
    write(root / "packages" / "capstone", PACKAGE)
    (root / "CONTRIBUTING.md").write_text("fake\n")
    monkeypatch.setenv("TINYTORCH_REPO", str(root))
    return root


def shadow(folder: Path, monkeypatch) -> Path:
    """Make ``folder``'s package the installed one (editable), here and in child processes."""
    site, meta = folder / "src", folder.parent / f"{folder.name}-meta"
    _write_dist_info(_project(folder), meta, folder)
    for path in (meta, site):
        monkeypatch.syspath_prepend(str(path))
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{meta}")
    importlib.invalidate_caches()
    for name in [n for n in sys.modules if n == "tinytorch.capstone" or
                 n.startswith("tinytorch.capstone.")]:
        monkeypatch.delitem(sys.modules, name)
    return site


@pytest.fixture
def student_capstone(tmp_path, monkeypatch):
    """A student's capstone (``add`` stubbed), installed "editable" from its folder."""
    files = dict(PACKAGE)
    files["pyproject.toml"] = files["pyproject.toml"].replace('"0.1.0"', '"0.1.0+student"')
    files["src/tinytorch/capstone/__init__.py"] = textwrap.dedent('''\
        def add(a, b):
            raise NotImplementedError("tinytorch.capstone.add: implement this (see the hint above)")


        def mul(a, b):
            return a * b
        ''')
    folder = write(tmp_path / "student", files)
    shadow(folder, monkeypatch)
    return folder


# --------------------------------------------------------------------------- the converter


def test_percent_to_notebook_reads_header_markdown_code_and_titles():
    nb = percent_to_notebook(LESSON)
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] == 5
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3", "language": "python",
                                            "name": "python3"}
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds == ["markdown", "code", "markdown", "code", "code"]
    first = nb["cells"][0]
    assert first["source"] == "# Capstone\n\nProse with *markdown*.\n   indented line"
    assert "outputs" not in first and "execution_count" not in first
    code = nb["cells"][1]
    assert code["source"] == ('from tinytorch.setup.lesson import check, setup_lesson\n\n'
                              'setup_lesson("capstone")')
    assert code["outputs"] == [] and code["execution_count"] is None
    assert nb["cells"][3]["metadata"] == {"title": "Exercise 1"}
    assert nb["cells"][3]["source"] == 'check("capstone", "add_op")'  # blank lines after: none
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids) and all(len(i) <= 64 for i in ids)


def test_percent_to_notebook_edge_cases():
    text = "import os\n\n# %%\n\n# %% [raw]\n# raw text\n# %% [md]\n#no space\n\n\n# %%\r\nx = 1\r\n"
    cells = percent_to_notebook(text)["cells"]
    assert [(c["cell_type"], c["source"]) for c in cells] == [
        ("code", "import os"), ("code", ""), ("raw", "raw text"), ("markdown", "no space"),
        ("code", "x = 1")]
    # without a header the kernel is python3 anyway; a "# ---" line without its end is code
    bare = percent_to_notebook("# ---\nx = 1\n")
    assert bare["metadata"]["kernelspec"]["name"] == "python3"
    assert bare["cells"][0]["source"] == "# ---\nx = 1"


def test_notebook_validates_with_nbformat(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    src = write(tmp_path, {"16_capstone.py": LESSON}) / "16_capstone.py"
    dest = write_notebook(src, tmp_path / "out" / "16_capstone.ipynb")
    on_disk = json.loads(dest.read_text())
    assert on_disk["cells"][1]["source"][0] == "from tinytorch.setup.lesson import check, setup_lesson\n"
    nbformat.validate(nbformat.read(str(dest), as_version=4))
    assert read_notebook(dest)["cells"][3]["metadata"]["title"] == "Exercise 1"
    assert read_notebook(src)["cells"][3]["source"] == 'check("capstone", "add_op")'


def _lessons_in_checkout() -> list[Path]:
    root = Path(__file__).resolve().parents[3]
    return sorted(root.glob("packages/*/lesson/[0-9][0-9]_*.py"))


def test_cells_match_jupytext(tmp_path):
    """Our reading of a lesson is jupytext's: types, sources and titles of every cell, on
    the stand-in lesson, an edge-case file and every lesson of the checkout."""
    texts = {
        "lesson.py": LESSON,
        "edges.py": HEADER + "\nimport os\n\n# %% [markdown]\n\n# leading blank\n#\n#    code\n"
                             "\n\n# %%\n\n# %% [raw]\n# raw\n# %%   Spaced title  \ny = 2\n"
                             "\n\n\ndef f():\n    pass\n# %% [md]\n#tight\n",
    }
    for path in _lessons_in_checkout():
        texts[path.name] = path.read_text(encoding="utf-8")
    ours = {name: percent_to_notebook(text) for name, text in texts.items()}
    assert all(nb["cells"] for nb in ours.values())
    jupytext = pytest.importorskip("jupytext")  # only the comparison needs it
    for name, text in texts.items():
        path = write(tmp_path, {name: text}) / name
        theirs = jupytext.read(str(path))
        assert ours[name]["metadata"]["kernelspec"] == dict(theirs.metadata["kernelspec"])
        assert [(c["cell_type"], c["source"], c["metadata"].get("title"))
                for c in ours[name]["cells"]] == [(c.cell_type, c.source, c.metadata.get("title"))
                                                  for c in theirs.cells], name


# --------------------------------------------------------------------------- finding lessons


def test_find_lesson_in_a_checkout(fake_repo):
    assert lesson_filename("16") == "16_capstone.py"
    assert find_lesson("capstone") == fake_repo / "packages/capstone/lesson/16_capstone.py"


def test_find_lesson_in_an_editable_workspace(student_capstone, monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_REPO", "")
    monkeypatch.chdir(tmp_path)
    assert find_lesson(resolve_module("capstone")) == student_capstone / "lesson/16_capstone.py"
    (student_capstone / "lesson/16_capstone.py").unlink()
    assert find_lesson("capstone") is None


def test_find_lesson_in_the_default_workspace(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_REPO", "")
    monkeypatch.setattr("tinytorch.setup.dists.get_installed", lambda *args, **kwargs: None)
    monkeypatch.chdir(tmp_path)
    assert find_lesson("introduction") is None
    saved = "tinytorch-student/introduction/.reference/lesson/00_introduction.py"
    write(tmp_path, {saved: LESSON})
    assert find_lesson("introduction") == tmp_path / saved
    write(tmp_path, {"tinytorch-student/introduction/lesson/00_introduction.py": LESSON})
    assert find_lesson("00") == tmp_path / "tinytorch-student/introduction/lesson/00_introduction.py"


# --------------------------------------------------------------------------- setup_lesson


def test_setup_lesson_outside_ipython_says_what_is_installed(student_capstone, capsys):
    setup_lesson("capstone")
    out = capsys.readouterr().out
    assert out.startswith("capstone: YOUR version (tinytorch-capstone 0.1.0+student) from "
                          f"{student_capstone}")
    assert "autoreload" not in out  # no IPython, no autoreload claim


def test_setup_lesson_turns_on_autoreload_under_ipython(student_capstone, capsys, monkeypatch):
    import types

    magics = []
    shell = types.SimpleNamespace(run_line_magic=lambda *args: magics.append(args))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake)
    setup_lesson("16")
    assert magics == [("load_ext", "autoreload"), ("autoreload", "2")]
    assert "autoreload is on" in capsys.readouterr().out


def test_setup_lesson_reference_and_missing(fake_repo, monkeypatch, capsys, tmp_path):
    shadow(fake_repo / "packages/capstone", monkeypatch)
    setup_lesson("capstone")
    out = capsys.readouterr().out
    assert "the reference tinytorch-capstone 0.1.0" in out and "tito module start capstone" in out


def test_setup_lesson_in_a_plain_script(student_capstone, tmp_path):
    script = tmp_path / "lesson.py"
    script.write_text("from tinytorch.setup.lesson import setup_lesson\nsetup_lesson('capstone')\n"
                      "import sys; print('IPython' in sys.modules)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "YOUR version" in result.stdout and result.stdout.splitlines()[-1] == "False"


# --------------------------------------------------------------------------- check


def test_check_passes_and_prints_one_line(student_capstone, capsys):
    check("capstone", "mul_op", k="mul_op and not wrong")
    out = capsys.readouterr().out.strip()
    assert out.startswith("✓ capstone · mul_op: 1 test passed (") and out.endswith(" s)")


def test_check_reports_the_stub(student_capstone):
    with pytest.raises(ExerciseFailed) as info:
        check("capstone", "add_op")
    assert str(info.value).splitlines() == [
        "add_op: 2 of 2 tests fail — NotImplementedError: tinytorch.capstone.add: implement "
        "this (see the hint above)",
        "see all of it: tito test capstone -k add_op"]
    assert info.value._render_traceback_() == str(info.value).splitlines()


def test_check_reports_a_wrong_answer(student_capstone):
    with pytest.raises(ExerciseFailed, match=r"^mul_op: 1 of 2 tests fail — .*6 == 7"):
        check("capstone", "mul_op")


def test_check_when_nothing_matches_or_everything_is_skipped(student_capstone):
    # (a name that is in no test and no folder name: older pytest matches -k against the
    # folders above the tests too, and this test's tmp_path holds the word "nothing")
    with pytest.raises(ExerciseFailed, match="no test of tinytorch-capstone matches -k qzx_unmatched"):
        check("capstone", "qzx_unmatched")
    with pytest.raises(ExerciseFailed, match=r"nothing was checked \(1 test matched, all skipped"):
        check("capstone", "skipped_op")


def test_check_when_the_module_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr("tinytorch.setup.dists.metadata.distributions", lambda **kw: iter(()))
    with pytest.raises(ExerciseFailed, match="tinytorch-capstone is not installed"):
        check("capstone", "anything")
    with pytest.raises(ExerciseFailed, match="unknown module"):
        check("no-such-module", "anything")


def test_check_reports_a_broken_file(student_capstone):
    (student_capstone / "src/tinytorch/capstone/__init__.py").write_text("def add(a, b:\n")
    with pytest.raises(ExerciseFailed, match=r"add_op: 1 of 1 test fail — SyntaxError"):
        check("capstone", "add_op")


def test_read_junit_counts_and_prefers_the_stub(tmp_path):
    xml = tmp_path / "r.xml"
    xml.write_text(textwrap.dedent("""\
        <testsuites><testsuite>
          <testcase name="a"/>
          <testcase name="b"><skipped message="x"/></testcase>
          <testcase name="c"><failure message="ExceptionGroup: 2 errors">
        E   ValueError: first
        E   NotImplementedError: f: implement this</failure></testcase>
          <testcase name="d"><error message="collection failure">E   ImportError: x</error></testcase>
        </testsuite></testsuites>"""))
    report = read_junit(xml)
    assert (report.total, report.failed, report.skipped, report.passed) == (4, 2, 1, 1)
    assert report.first_error == "NotImplementedError: f: implement this"


# --------------------------------------------------------------------------- running a lesson


def lesson_run(*args: str, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-m", "tinytorch.setup.lesson", "run", *args],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def test_run_the_reference_and_the_student_version(fake_repo, monkeypatch, tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    shadow(fake_repo / "packages/capstone", monkeypatch)
    out = tmp_path / "executed.ipynb"
    reference = lesson_run("capstone", "--out", str(out))
    assert reference.returncode == 0, reference.stdout + reference.stderr
    assert "✓ every cell ran" in reference.stdout
    assert "✓ [3/3]" in reference.stdout and "Exercise 1" in reference.stdout
    executed = json.loads(out.read_text())
    outputs = "".join("".join(o.get("text", "")) for c in executed["cells"]
                      for o in c.get("outputs", []))
    assert "the reference tinytorch-capstone 0.1.0" in outputs
    assert "✓ capstone · add_op: 2 tests passed" in outputs and "5\n" in outputs

    student = lesson_run("capstone", "--student")
    assert student.returncode == 0, student.stdout + student.stderr
    assert "✓ stopped at the first check (cell 3)" in student.stdout
    assert "NotImplementedError: tinytorch.capstone.add: implement this" in student.stdout


def test_run_fails_when_a_cell_before_the_first_check_uses_a_stub(fake_repo, monkeypatch):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    shadow(fake_repo / "packages/capstone", monkeypatch)
    early = LESSON.replace('# %% Exercise 1\n', '# %%\nfrom tinytorch.capstone import add\n'
                                                 'add(1, 1)\n\n# %% Exercise 1\n')
    (fake_repo / "packages/capstone/lesson/16_capstone.py").write_text(early)
    student = lesson_run("capstone", "--student", "--timeout", "120")
    assert student.returncode == 1
    assert ("✗ cell 3 (from tinytorch.capstone import add) failed before the first check "
            "(cell 4, Exercise 1)") in student.stdout


def test_run_explains_a_missing_lesson(fake_repo, monkeypatch, tmp_path):
    shadow(fake_repo / "packages/capstone", monkeypatch)  # not the real capstone's lesson
    (fake_repo / "packages/capstone/lesson/16_capstone.py").unlink()
    result = lesson_run("capstone", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: tinytorch-capstone has no lesson")
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- tito module start


def test_module_start_writes_the_lesson_notebook(fake_repo, tmp_path, capsys):
    from tinytorch.setup.cli import main

    dest = tmp_path / "ws"
    assert main(["module", "start", "capstone", "--dir", str(dest), "--no-install"]) == 0
    out = capsys.readouterr().out
    notebook = dest / "16_capstone.ipynb"
    assert f"wrote the lesson notebook {notebook}" in " ".join(out.split())
    cells = json.loads(notebook.read_text())["cells"]
    assert "".join(cells[3]["source"]) == 'check("capstone", "add_op")'
    assert "1 function for you to write" in out and "add" in out
    stubbed = (dest / "src/tinytorch/capstone/__init__.py").read_text()
    assert "NotImplementedError" in stubbed


def test_module_start_without_a_lesson_writes_no_notebook(fake_repo, tmp_path, monkeypatch):
    from tinytorch.setup.cli import main

    (fake_repo / "packages/capstone/lesson/16_capstone.py").unlink()
    monkeypatch.setattr("tinytorch.setup.dists.get_installed", lambda *args, **kwargs: None)
    monkeypatch.chdir(tmp_path)
    dest = tmp_path / "ws"
    assert main(["module", "start", "capstone", "--dir", str(dest), "--no-install"]) == 0
    assert not list(dest.glob("*.ipynb"))


# --------------------------------------------------------------------------- tito lab

#: JupyterLab refuses to run as root unless told to, so tito lab tells it.
ROOT = " --allow-root" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""


def test_lab_prints_its_command_for_a_workspace(fake_repo, tmp_path, capsys):
    from tinytorch.setup.cli import main

    dest = tmp_path / "ws"
    assert main(["module", "start", "capstone", "--dir", str(dest), "--no-install"]) == 0
    (dest / "16_capstone.ipynb").unlink()  # an older workspace: written again on demand
    capsys.readouterr()
    assert main(["lab", "16", "--dir", str(dest), "--print-command"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"cd {dest} && {sys.executable} -m jupyterlab{ROOT} 16_capstone.ipynb"
    assert (dest / "16_capstone.ipynb").is_file()


def test_lab_without_a_module_uses_the_current_folder(tmp_path, monkeypatch, capsys):
    from tinytorch.setup.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["lab", "--print-command"]) == 0
    assert capsys.readouterr().out.strip() == f"cd {tmp_path} && {sys.executable} -m jupyterlab{ROOT}"


def test_lab_explains_what_is_missing(tmp_path, monkeypatch, capsys):
    from tinytorch.setup.cli import lab, main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(lab.importlib.util, "find_spec", lambda name: None)
    assert main(["lab"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == 'error: JupyterLab is not installed: pip install "tinytorch-setup[lab]"'
    assert main(["lab", "capstone", "--dir", str(tmp_path / "nowhere")]) == 2  # usage mistake
    assert "tito module start capstone" in capsys.readouterr().err


def test_candidate_files_keep_every_file_a_word_can_select(tmp_path):
    from tinytorch.setup.lesson import candidate_files

    tests = write(tmp_path / "tests", {
        "test_a.py": "def test_add_op():\n    pass\n",
        "test_b.py": "import pytest\n\n@pytest.mark.parametrize('x', [1], ids=['ADD_OP'])\n"
                     "def test_other(x):\n    pass\n",
        "test_add_op_file.py": "def test_plain():\n    pass\n",
        "test_c.py": "def test_mul():\n    pass\n",
        "sub/test_d.py": "class TestAddOp:\n    def test_it(self):\n        pass\n",
    })
    assert [p.name for p in candidate_files(tests, "add_op")] == [
        "test_a.py", "test_add_op_file.py", "test_b.py"]
    assert [p.name for p in candidate_files(tests, "addop")] == ["test_d.py"]
    assert candidate_files(tests, "add_op or mul") == []  # an expression: the whole folder
    assert candidate_files(tests, "tests") == []  # the folder's own name selects everything
