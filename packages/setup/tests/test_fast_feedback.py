"""``tito test``'s default run: outcomes grouped by exercise, files cut short on a stub, no
stdlib shadowing; module names, unknown commands and the hint check.

The runs use a stand-in ``tinytorch-capstone`` written as a bare site folder (a package, its
tests and a ``.dist-info`` whose ``RECORD`` lists them, which is how ``tito`` finds shipped
tests) and put first on ``PYTHONPATH`` — no pip install needed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinytorch.setup.cli import build_parser, main, unknown_command
from tinytorch.setup.cli.testing import print_report
from tinytorch.setup.registry import (
    PLUGIN_COMMANDS,
    UnknownModuleError,
    command_provider,
    resolve_module,
)
from tinytorch.setup.repo import find_repo_root
from tinytorch.setup.testrun import FastReport, TestOutcome, run_fast_tests, run_module_tests

CAPSTONE = resolve_module("capstone")

OPS = '''\
"""Stand-in exercises: two stubs and one written function."""


def add(a, b):
    """a + b"""
    ### HINT: one operator
    raise NotImplementedError("tinytorch.capstone.ops.add: implement this (see the hint above)")


class Ops:
    def mul(self, a, b):
        """a * b"""
        raise NotImplementedError("tinytorch.capstone.ops.Ops.mul: implement this (see the docstring)")


def neg(a):
    return -a
'''

# Five tests that all stop at the `add` stub: the first 3 fail, the other 2 are not run.
TEST_ADD = "from tinytorch.capstone.ops import add\n\n" + "".join(
    f"def test_add_{i}():\n    assert add({i}, 1) == {i + 1}\n\n" for i in range(5))

# A file whose tests hit different things: nothing in it may be cut short.
TEST_MIXED = '''\
import pytest
from hypothesis import given, strategies as st

from tinytorch.capstone.ops import Ops, add, neg


def test_neg_passes():
    assert neg(2) == -2


@pytest.mark.parametrize("x", [1, 2, 3, 4])
def test_mul(x):
    assert Ops().mul(x, 2) == 2 * x


def test_add_again():
    assert add(1, 1) == 2


@given(st.integers())
def test_add_property(x):
    assert add(x, 0) == x


def test_wrong_answer_1():
    assert neg(1) == 1, "neg keeps the sign"


def test_wrong_answer_2():
    assert neg(1) == 1, "neg keeps the sign"
'''

TEST_BROKEN = "import tinytorch.capstone.does_not_exist\n\n\ndef test_never():\n    pass\n"


def _record_line(site: Path, rel: str) -> str:
    data = (site / rel).read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def fake_site(site: Path, tests: dict[str, str], ops: str = OPS) -> Path:
    """A site folder holding a stand-in ``tinytorch-capstone`` with ``tests``."""
    files = {"tinytorch/capstone/__init__.py": "", "tinytorch/capstone/ops.py": ops}
    files.update({f"tinytorch/capstone/tests/{name}": text for name, text in tests.items()})
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")
    info = site / "tinytorch_capstone-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinytorch-capstone\n"
                                   "Version: 0.1.0\n", encoding="utf-8")
    record = [_record_line(site, rel) for rel in files]
    (info / "RECORD").write_text("\n".join(record) + "\n", encoding="utf-8")
    return site


@pytest.fixture
def on_path(monkeypatch):
    def put(site: Path) -> list[str]:
        parts = [str(site)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(parts))
        return [str(site)]

    return put


def test_fast_run_groups_by_exercise_and_cuts_stuck_files_short(tmp_path, on_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    site = fake_site(tmp_path / "site", {"test_add.py": TEST_ADD, "test_mixed.py": TEST_MIXED,
                                         "test_broken.py": TEST_BROKEN})
    path = on_path(site)
    outcome = run_fast_tests(CAPSTONE, ["-p", "no:randomly"], quiet=True, path=path)
    report = outcome.report
    assert outcome.exit_code == 1 and report is not None
    counts = report.counts
    # test_add.py: 3 failed + 2 not run; test_mixed.py: 1 passed and 8 failed, none cut short
    assert (counts["passed"], counts["failed"], counts["not run"]) == (1, 11, 2)
    assert "2 not run" in outcome.summary and "1 file(s) not collected" in outcome.summary
    assert "3 failed, 1 passed" not in outcome.summary  # our totals, not pytest's line

    add, mul = report.exercises()
    assert (add.title, add.message) == ("add", "NotImplementedError: implement add")
    assert len(add.tests) == 5 and add.not_run == 2  # 3 in test_add.py, 2 in test_mixed.py
    assert add.tests[0] == "test_add.py::test_add_0"  # node ids relative to the tests folder
    assert mul.title == "Ops.mul" and len(mul.tests) == 4
    ops = site / "tinytorch/capstone/ops.py"
    assert add.where == f"{ops}:7" and "raise" in ops.read_text().splitlines()[6]
    assert mul.where == f"{ops}:13"

    wrong, broken = report.errors()
    assert wrong.title == "AssertionError: neg keeps the sign" and len(wrong.tests) == 2
    assert "test_wrong_answer_1" in wrong.detail  # a short traceback of the first
    assert broken.title.startswith("not collected: ModuleNotFoundError")
    assert broken.tests == ["test_broken.py"]

    # the hypothesis test failed (without shrinking) and wrote nothing into the current folder
    assert not (tmp_path / ".hypothesis").exists()
    prop = [t for t in report.tests if "test_add_property" in t["nodeid"]]
    assert prop[0]["outcome"] == "failed" and prop[0]["exercise"] == "add"


def test_stop_after_zero_runs_everything(tmp_path, on_path):
    path = on_path(fake_site(tmp_path / "site", {"test_add.py": TEST_ADD}))
    outcome = run_fast_tests(CAPSTONE, ["-p", "no:randomly"], quiet=True, path=path,
                             stop_after=0)
    assert outcome.report.counts["failed"] == 5 and outcome.report.not_run == 0
    passing = fake_site(tmp_path / "ok", {"test_add.py": TEST_ADD},
                        ops="def add(a, b):\n    return a + b\n")
    outcome = run_fast_tests(CAPSTONE, [], quiet=True, path=on_path(passing))
    assert outcome.passed and outcome.summary.startswith("5 passed")
    assert outcome.report.exercises() == [] and outcome.report.errors() == []


def test_the_report_names_each_exercise_once_and_says_what_was_not_run(capsys):
    tests = [{"nodeid": f"test_a.py::test_{i}", "outcome": "failed", "type": "NotImplementedError",
              "message": "tinytorch.capstone.ops.add: implement this", "exercise": "add",
              "where": "/w/src/ops.py:7"} for i in range(3)]
    tests += [{"nodeid": "test_a.py::test_9", "outcome": "not run", "exercise": "add"},
              {"nodeid": "test_b.py::test_ok", "outcome": "passed"},
              {"nodeid": "test_b.py::test_bad", "outcome": "failed", "type": "ValueError",
               "message": "shapes (2,) and (3,)", "where": "/w/src/ops.py:20",
               "detail": "E   ValueError: shapes (2,) and (3,)"}]
    report = FastReport(1, 0.5, 3, tests, [])
    print_report(CAPSTONE, TestOutcome(1, report.summary + " in 0.5s", "", report, 0.5))
    out = capsys.readouterr().out
    assert "add: 3 tests fail — NotImplementedError: implement add" in out
    assert out.count("implement add") == 1
    assert "ops.py:7" in out and "1 more not run" in out
    assert "ValueError: shapes (2,) and (3,) — 1 test" in out
    assert "1 passed, 4 failed, 1 not run" in out
    assert "1 test(s) not run" in out and "tito test capstone --all" in out


def test_all_chooses_the_full_run_wherever_it_is_written(monkeypatch, capsys):
    from tinytorch.setup.cli import testing as cli_testing

    calls = []

    def fake(kind):
        def run(module, extra=None, **kwargs):
            calls.append((kind, module.folder, extra))
            return TestOutcome(0, "1 passed in 0.1s", "")
        return run

    monkeypatch.setattr(cli_testing, "run_module_tests", fake("full"))
    monkeypatch.setattr(cli_testing, "run_fast_tests", fake("fast"))
    assert main(["test", "capstone", "-k", "x"]) == 0
    assert main(["test", "16", "--all", "-k", "x"]) == 0
    assert main(["test", "--all", "capstone"]) == 0
    assert main(["test", "capstone", "--", "--full"]) == 0
    assert calls == [("fast", "capstone", ["-k", "x"]), ("full", "capstone", ["-k", "x"]),
                     ("full", "capstone", []), ("full", "capstone", [])]


VENV_TEST = '''\
import venv


def test_the_stdlib_venv_is_importable():
    assert hasattr(venv, "EnvBuilder"), venv
'''


def test_a_folder_called_venv_does_not_shadow_the_stdlib(tmp_path, on_path, monkeypatch):
    # the usual student layout: ./venv is the virtual environment, tito runs from its parent
    project = tmp_path / "project"
    site = fake_site(project / "venv" / "lib" / "site-packages", {"test_venv.py": VENV_TEST})
    path = on_path(site)
    monkeypatch.chdir(project)
    tests = site / "tinytorch/capstone/tests"
    plain = subprocess.run([sys.executable, "-P", "-m", "pytest", "--import-mode=importlib",
                            "-p", "no:cacheprovider", "-p", "no:randomly", "-q", str(tests)],
                           capture_output=True, text=True, timeout=300)
    # what happened before, with pytest 8 and 9: importlib mode puts a stand-in `venv` module in
    # place of the stdlib's (older pytest did not), and the test fails
    if plain.returncode != 0:
        assert "venv" in plain.stdout, plain.stdout
    full = run_module_tests(CAPSTONE, ["-p", "no:randomly"], quiet=True, path=path)
    assert full.passed, full.output
    fast = run_fast_tests(CAPSTONE, ["-p", "no:randomly"], quiet=True, path=path)
    assert fast.passed and fast.summary.startswith("1 passed"), fast.output


@pytest.mark.parametrize("text", ["01_setup", "01-setup", "01", "1", "setup", "tinytorch-setup",
                                  "tinytorch.setup", "Tinytorch_Setup", " 1 "])
def test_every_spelling_of_a_module(text):
    assert resolve_module(text).folder == "setup"


@pytest.mark.parametrize(("text", "guess"), [("tensr", "tensor"), ("tinytorch-tensr", "tensor"),
                                             ("02_tensr", "tensor"), ("atention", "attention"),
                                             ("02_setup", "setup")])
def test_a_typo_gets_did_you_mean(text, guess):
    with pytest.raises(UnknownModuleError) as info:
        resolve_module(text)
    message = str(info.value)
    assert f"did you mean {guess!r}?" in message and "\n" not in message
    assert info.value.suggestion == guess


def test_nothing_close_gets_no_guess():
    with pytest.raises(UnknownModuleError) as info:
        resolve_module("zzzz")
    assert "did you mean" not in str(info.value) and "02/tensor" in str(info.value)


def test_a_missing_plugin_command_names_its_distribution(capsys):
    parser, _ = build_parser(path=[])  # no plugin installed
    assert unknown_command(parser, ["train", "--epochs", "3"])[0] == \
        "tito train comes with tinytorch-training: pip install tinytorch-training"
    assert unknown_command(parser, ["system", "graph"])[0] == \
        "tito system graph comes with tinytorch-introduction: pip install tinytorch-introduction"
    assert "did you mean 'tito test'" in unknown_command(parser, ["tset", "tensor"])[0]
    assert "did you mean 'tito module start'" in unknown_command(parser, ["module", "strat"])[0]
    assert "unknown command 'tito qqqqq'" in unknown_command(parser, ["qqqqq"])[0]
    for fine in (["test", "tensor", "-k", "add"], ["module", "start", "tensor"], ["--version"],
                 [], ["dev", "check-hints", "all"]):
        assert unknown_command(parser, fine) is None, fine
    assert main(["tset", "tensor"]) == 2
    assert "did you mean 'tito test'?" in capsys.readouterr().err


def test_the_plugin_command_table_matches_the_pyprojects():
    from tinytorch.setup.metadata_toml import tomllib

    root = find_repo_root(Path(__file__).parent)
    if root is None:
        pytest.skip("not running inside the repository checkout")
    found = {}
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        for name in project.get("entry-points", {}).get("tinytorch.tito", {}):
            found[name] = project["name"]
    assert found == PLUGIN_COMMANDS
    assert command_provider("train") == "tinytorch-training"


LATE_HINT = '''

def quadruple(x):
    ### BEGIN SOLUTION
    return 4 * x
    ### HINT: too late: hints come right after BEGIN
    ### END SOLUTION
'''


def test_check_hints_lists_every_block_without_one(tito, make_toy):
    # the toy package (conftest's TOY_OPS) has two blocks without a hint, Scaler.__call__ and
    # triple; a hint after the block's first line of code does not count either
    toy = make_toy("toy")
    ops = (toy / "src/tinytorch/toy/ops.py").read_text(encoding="utf-8") + LATE_HINT
    folder = make_toy("late", **{"src/tinytorch/toy/ops.py": ops})
    result = tito("dev", "check-hints", "--path", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    listed = re.findall(r"no hint: (\S+):(\d+) (\S+)", result.stdout)
    lines = ops.splitlines()
    assert [q for _, _, q in listed] == ["Scaler.__call__", "triple", "quadruple"]
    assert all(Path(f).name == "ops.py" and lines[int(n) - 1].strip() == "### BEGIN SOLUTION"
               for f, n, _ in listed), listed
    assert "3 solution block(s) without a `### HINT:` line" in result.stderr
    hinted = re.sub(r"(?m)^( *)### BEGIN SOLUTION\n(?!\1### HINT)", r"\1### BEGIN SOLUTION\n\1### HINT: h\n",
                    ops)
    good = make_toy("good", **{"src/tinytorch/toy/ops.py": hinted})
    ok = tito("dev", "check-hints", "--path", str(good))
    assert ok.returncode == 0 and "every solution block has a hint" in ok.stdout


def test_plugins_failing_the_same_way_are_one_warning():
    from tinytorch.setup.cli import _grouped_problems

    problems = ["plugin 'serve' (m.cli:register, from tinytorch-mlops): SyntaxError: bad (w.py, line 3)",
                "plugin 'train' (t.cli:register, from tinytorch-training): SyntaxError: bad (w.py, line 3)",
                "plugin 'x' (x:register, from tinytorch-x): no command group 'nope'"]
    assert _grouped_problems(problems) == [
        "skipped 2 tito plugins (serve, train): SyntaxError: bad (w.py, line 3)",
        "skipped a tito plugin: " + problems[2]]
