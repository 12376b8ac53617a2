"""tito module start / export / reset and tito test, end to end in sandbox environments.

``tito module start setup`` is the real thing on a real module: it stubs tito's own solution
blocks, installs the student's tinytorch-setup into the sandbox, and ``tito module reset``
brings the reference back from the workspace's saved copy (outside a checkout).
"""

from __future__ import annotations

import io
import textwrap

import pytest

from tinytorch.setup.metadata_toml import tomllib
from tinytorch.setup.registry import resolve_module
from tinytorch.setup.stubbing import find_blocks
from tinytorch.setup.testrun import NO_TESTS_COLLECTED, find_module_tests, run_module_tests, summary_line

PROBE = ("import importlib.metadata as m, tinytorch.setup.stubbing as s; "
         "print(m.version('tinytorch-setup'));"
         "print(s.stub_source('def f():\\n    ### BEGIN SOLUTION\\n    return 1\\n    ### END SOLUTION\\n'))")


def test_start_without_install_writes_the_student_package(tito, tmp_path):
    dest = tmp_path / "ws"
    result = tito("module", "start", "01", "--dir", str(dest), "--no-install")
    assert result.returncode == 0, result.stderr
    assert "_innermost" in result.stdout and "stub_source" in result.stdout
    stubbing = (dest / "src/tinytorch/setup/stubbing.py").read_text()
    assert ('raise NotImplementedError("tinytorch.setup.stubbing.stub_source: implement this '
            '(see the hint above)")') in stubbing
    compile(stubbing, "stubbing.py", "exec")
    assert find_blocks(stubbing) == []  # every block is gone
    assert tomllib.loads((dest / "pyproject.toml").read_text())["project"]["version"].endswith("+student")
    assert (dest / ".reference/src/tinytorch/setup/stubbing.py").is_file()
    assert (dest / "tests/test_stubbing.py").is_file()
    again = tito("module", "start", "setup", "--dir", str(dest), "--no-install")
    assert again.returncode == 1 and "already exists" in again.stderr and "--force" in again.stderr
    forced = tito("module", "start", "tinytorch-setup", "--dir", str(dest), "--no-install", "--force")
    assert forced.returncode == 0, forced.stderr


@pytest.mark.slow  # pip-installs into sandbox environments
def test_start_export_reset_round_trip(sandbox, tmp_path):
    dest = tmp_path / "ws"
    tito = ("-m", "tinytorch.setup")
    refused = sandbox.run(*tito, "module", "start", "setup", "--dir", str(dest), cwd=tmp_path)
    assert refused.returncode == 1 and "replaces tito itself" in refused.stderr
    assert "--force" in refused.stderr and not dest.exists()
    started = sandbox.run(*tito, "module", "start", "setup", "--dir", str(dest), "--force",
                          cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "installed tinytorch-setup" in started.stdout and "editable" in started.stdout
    assert "replaces tito itself" in started.stderr  # still warned
    student = sandbox.run("-c", PROBE)
    assert student.stdout.splitlines()[0].endswith("+student")
    assert "NotImplementedError: tinytorch.setup.stubbing." in student.stderr
    assert "implement this (see the hint above)" in student.stderr
    assert str(dest / "src/tinytorch/setup/stubbing.py") in student.stderr  # the student's file

    # the student implements stub_source (here: by copying the reference back): live at once
    (dest / "src/tinytorch/setup/stubbing.py").write_text(
        (dest / ".reference/src/tinytorch/setup/stubbing.py").read_text())
    live = sandbox.run("-c", PROBE)
    assert live.returncode == 0 and 'raise NotImplementedError("f: implement this' in live.stdout
    tested = sandbox.run(*tito, "test", "setup", "-k", "hint_kept", "-q",
                         "-p", "no:randomly", cwd=tmp_path)
    assert tested.returncode == 0 and " passed" in tested.stdout, tested.stdout + tested.stderr

    # tito export still installs a regular copy
    exported = sandbox.run(*tito, "export", "setup", "--dir", str(dest), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "as a regular copy" in exported.stdout
    works = sandbox.run("-c", PROBE)
    assert works.returncode == 0 and works.stdout.splitlines()[0].endswith("+student")
    assert 'raise NotImplementedError("f: implement this' in works.stdout

    # a syntax error is reported before anything is installed
    (dest / "src/tinytorch/setup/oops.py").write_text("def broken(:\n")
    bad = sandbox.run(*tito, "export", "setup", "--dir", str(dest), cwd=tmp_path)
    assert bad.returncode == 1 and "oops.py:1: does not compile" in bad.stderr
    (dest / "src/tinytorch/setup/oops.py").unlink()

    # export finds the workspace by itself from the installed student's direct_url.json
    found = sandbox.run(*tito, "export", "setup", cwd=tmp_path / "..")
    assert found.returncode == 0, found.stderr

    reset = sandbox.run(*tito, "module", "reset", "setup", "--dir", str(dest), cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    back = sandbox.run("-c", PROBE)
    assert back.returncode == 0 and not back.stdout.splitlines()[0].endswith("+student")


def fake_capstone(make_toy, tests: str):
    """A stand-in tinytorch-capstone (module 16) with the given test file."""
    return make_toy(
        "capstone",
        **{
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
                [tool.hatch.build.targets.wheel.force-include]
                "tests" = "tinytorch/capstone/tests"
                """),
            "src/tinytorch/capstone/__init__.py": "ANSWER = 42\n",
            "tests/test_toy.py": tests,
        },
    )


@pytest.mark.slow  # pip-installs into sandbox environments
def test_tito_test_runs_the_shipped_tests(sandbox, make_toy, tmp_path):
    tests = ("from tinytorch.capstone import ANSWER\n\n"
             "def test_answer():\n    assert ANSWER == 42\n\n"
             "def test_wrong():\n    assert ANSWER == 41\n")
    sandbox.install(fake_capstone(make_toy, tests))
    tito = ("-m", "tinytorch.setup", "test")
    passed = sandbox.run(*tito, "capstone", "-k", "answer", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 passed" in passed.stdout
    failed = sandbox.run(*tito, "16", cwd=tmp_path)
    assert failed.returncode == 1 and "1 failed, 1 passed" in failed.stdout
    empty = sandbox.run(*tito, "tinytorch-capstone", "-k", "nothing_matches", cwd=tmp_path)
    assert empty.returncode == NO_TESTS_COLLECTED
    assert "collected no tests" in empty.stderr


@pytest.mark.slow  # pip-installs into sandbox environments
def test_run_module_tests_finds_tests_through_the_distribution(sandbox, make_toy, monkeypatch):
    sandbox.install(fake_capstone(make_toy, "def test_ok():\n    assert True\n"))
    module = resolve_module("capstone")
    installed, folder = find_module_tests(module, [str(sandbox.site)])
    assert folder == sandbox.site / "tinytorch/capstone/tests"
    assert installed.version == "0.1.0"
    monkeypatch.setenv("PYTHONPATH", str(sandbox.site))
    outcome = run_module_tests(module, ["-p", "no:randomly"], quiet=True, path=[str(sandbox.site)])
    assert outcome.passed and outcome.summary.startswith("1 passed")


def test_summary_line():
    assert summary_line("...\n==== 3 passed, 1 failed in 0.2s ====\n") == "3 passed, 1 failed in 0.2s"
    assert summary_line("no tests ran in 0.01s") == "no tests ran in 0.01s"
    assert summary_line("nothing useful") == ""


def test_find_module_tests_explains_missing_modules(tmp_path):
    from tinytorch.setup.process import TitoError

    with pytest.raises(TitoError, match="tinytorch-capstone is not installed") as info:
        find_module_tests(resolve_module("capstone"), [str(tmp_path)])
    assert "tito module start capstone" in info.value.hint


def test_tito_test_all_summarises_every_installed_module(monkeypatch, capsys):
    from tinytorch.setup.cli import main
    from tinytorch.setup.cli import testing as cli_testing
    from tinytorch.setup.testrun import TestOutcome

    installed = {"tinytorch-tensor", "tinytorch-layers", "tinytorch-capstone"}
    monkeypatch.setattr(cli_testing, "get_installed",
                        lambda name: object() if name in installed else None)
    ran = []

    def fake_run(module, extra, *, full=False, timeout=None):
        ran.append((module.folder, extra, full))
        code = {"tensor": 0, "layers": 1, "capstone": 5}[module.folder]
        summary = {0: "3 passed in 0.1s", 1: "1 failed in 0.1s", 5: "no tests collected"}[code]
        return TestOutcome(code, summary, "pytest said this\n", seconds=0.25)

    monkeypatch.setattr(cli_testing, "run_quietly", fake_run)
    assert main(["test", "all", "-k", "add"]) == 1
    assert ran == [("tensor", ["-k", "add"], False), ("layers", ["-k", "add"], False),
                   ("capstone", ["-k", "add"], False)]
    out = capsys.readouterr().out
    # one progress line per module as it finishes, then the failures, then the table
    assert "testing 02 tensor … 3 passed (0.2 s)" in out
    assert "testing 04 layers … 1 failed (0.2 s)" in out
    assert out.index("testing 16 capstone") < out.index("pytest said this")
    assert "failed (pytest exit code 1)" in out and "failed (pytest exit code 5)" in out
    ran.clear()
    assert main(["test", "all", "--all"]) == 1
    assert [full for _, _, full in ran] == [True, True, True]
    capsys.readouterr()
    installed.clear()
    assert main(["test", "all"]) == 1
    assert "no TinyTorch module is installed" in capsys.readouterr().err


def test_start_setup_needs_force_unless_not_installing(tmp_path, capsys):
    from tinytorch.setup.cli import main

    dest = tmp_path / "ws"
    assert main(["module", "start", "setup", "--dir", str(dest)]) == 1
    err = capsys.readouterr().err
    assert "replaces tito itself" in err and "tito module start setup --force" in err
    assert not dest.exists()  # refused before anything is written


def test_blocks_table_lists_each_function_once():
    from rich.console import Console

    from tinytorch.setup.cli.modules import _blocks_table
    from tinytorch.setup.stubbing import SolutionBlock

    def block(line, qualname):
        return SolutionBlock("src/f.py", line, line + 2, "    ", qualname, (), (line + 1,))

    def render(blocks):
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(_blocks_table(blocks))
        return " ".join(console.export_text().split())

    text = render([block(3, "relu"), block(9, "gelu"), block(15, "gelu")])
    assert "2 functions for you to write (3 blocks)" in text
    assert text.count("gelu") == 1 and "src/f.py:9, 15" in text and "gelu (2 blocks)" in text
    single = render([block(3, "relu")])
    assert "1 function for you to write" in single and "blocks)" not in single


def test_workspace_pyproject_installs_editable_without_editables():
    from tinytorch.setup.workspace import editable_without_editables

    text = ('[build-system]\nbuild-backend = "hatchling.build"\n[project]\nname = "x"\n'
            '[tool.hatch.build.targets.wheel]\npackages = ["src/tinytorch"]\n')
    data = tomllib.loads(editable_without_editables(text))
    assert data["tool"]["hatch"]["build"]["dev-mode-dirs"] == ["src"]
    assert data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/tinytorch"]
    already = text + '[tool.hatch.build]\nexclude = ["x"]\n'
    assert editable_without_editables(already) == already
    other = text.replace("hatchling.build", "setuptools.build_meta")
    assert editable_without_editables(other) == other
