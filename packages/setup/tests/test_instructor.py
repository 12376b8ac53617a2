"""``tito release`` (the student archive) and ``tito grade`` (the gradebook), on the toy module.

The grading test feeds one run with every kind of submission an instructor meets: a correct
one, a partly wrong one, one that hangs, one that crashes the interpreter, one that does not
import, one without code, one for another module, a good one packed as an archive, and a
malicious archive. The reference tests used for grading also check, from inside the run, that
the instructor's environment variables do not reach the submission.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from tinytorch.setup.cli import main
from tinytorch.setup.grading import find_submissions, grade, unpack, write_gradebook
from tinytorch.setup.grading.sandbox import probe
from tinytorch.setup.process import TitoError
from tinytorch.setup.release import release_module
from tinytorch.setup.sources import layout_from_folder

# Reference tests for grading: quick, no subprocess; one checks the run's environment.
GRADE_TESTS = '''\
import os

from tinytorch.toy.ops import Scaler, double


def test_double():
    assert double(2) == 4


def test_double_negative():
    assert double(-3) == -6


def test_scaler():
    assert Scaler(3)(2) == 6


def test_environment_is_clean():
    assert "TT_GRADER_SECRET" not in os.environ
    assert os.environ["HOME"].startswith(os.getcwd())
'''

GOOD_OPS = '''\
def double(x):
    return 2 * x


class Scaler:
    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        return self.k * x


def triple(x):
    return 3 * x
'''


def _sandboxed() -> bool:
    """Grade under bubblewrap where it runs (always in CI, which requires it)."""
    return probe().available or os.environ.get("TINYTORCH_REQUIRE_SANDBOX") == "1"


def _submission(make_toy, name: str, ops: str, **more: str) -> Path:
    return make_toy(f"submissions/{name}", **{"src/tinytorch/toy/ops.py": ops, **more})


def _tar(folder: Path, archive: Path, prefix: str) -> Path:
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=prefix)
    return archive


# --------------------------------------------------------------------------------------------
# tito release
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_release_writes_an_installable_student_sdist(toy_package, tmp_path, sandbox):
    result = release_module(layout_from_folder(toy_package), tmp_path / "out")
    assert result.archive.name == "tinytorch_toy-0.1.0+student.tar.gz"
    assert result.version == "0.1.0+student" and len(result.blocks) == 3
    root = "tinytorch_toy-0.1.0+student"
    assert f"{root}/tests/test_toy.py" in result.files
    assert f"{root}/.tinytorch-workspace.json" in result.files
    assert f"{root}/PKG-INFO" in result.files
    assert not [f for f in result.files if ".reference" in f]
    with tarfile.open(result.archive) as tf:
        ops = tf.extractfile(f"{root}/src/tinytorch/toy/ops.py").read().decode()
        state = json.loads(tf.extractfile(f"{root}/.tinytorch-workspace.json").read())
    assert "NotImplementedError" in ops and "return 2 * x" not in ops
    assert "### HINT: multiply by two" in ops
    assert state["student_version"] == "0.1.0+student" and "reference_source" not in state

    # the sdist builds and installs; what it installs is the student's version
    sandbox.install(result.archive)
    probe = sandbox.run("-c", "import importlib.metadata as m; from tinytorch.toy.ops import double\n"
                              "print(m.version('tinytorch-toy'))\n"
                              "try:\n    double(2)\nexcept NotImplementedError as e:\n    print('stub:', e)")
    assert probe.returncode == 0, probe.stderr
    assert "0.1.0+student" in probe.stdout and "stub: tinytorch.toy.ops.double" in probe.stdout

    # unpacked, it is a workspace `tito export` accepts
    with tarfile.open(result.archive) as tf:
        tf.extractall(tmp_path / "unpacked")
    unpacked = tmp_path / "unpacked" / root
    assert (unpacked / ".tinytorch-workspace.json").is_file() and (unpacked / "pyproject.toml").is_file()


def test_release_refuses_a_malformed_reference(make_toy, tmp_path):
    bad = make_toy("bad", **{"src/tinytorch/toy/ops.py": "def f():\n    ### BEGIN SOLUTION\n    return 1\n"})
    with pytest.raises(TitoError, match="ops.py"):
        release_module(layout_from_folder(bad), tmp_path / "out")
    assert not list((tmp_path / "out").glob("*.tar.gz"))


# --------------------------------------------------------------------------------------------
# tito grade
# --------------------------------------------------------------------------------------------

def test_unpack_refuses_paths_outside_and_links(tmp_path):
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        data = b"x"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(TitoError, match="refused member"):
        unpack(evil, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
    link = tmp_path / "link.tar.gz"
    with tarfile.open(link, "w:gz") as tf:
        info = tarfile.TarInfo("pkg/src")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        tf.addfile(info)
    with pytest.raises(TitoError, match="refused symbolic link 'pkg/src'"):
        unpack(link, tmp_path / "dest2")
    zipped = tmp_path / "abs.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("/abs/path.py", "x")
    with pytest.raises(TitoError, match="refused member"):
        unpack(zipped, tmp_path / "dest3")


@pytest.mark.slow
def test_grade_every_kind_of_submission(make_toy, toy_module, tmp_path, monkeypatch):
    monkeypatch.setenv("TT_GRADER_SECRET", "do-not-leak")
    reference = make_toy("reference", **{"tests/test_toy.py": GRADE_TESTS})
    subs = tmp_path / "submissions"
    _submission(make_toy, "alice", GOOD_OPS)
    _submission(make_toy, "bob", GOOD_OPS.replace("return 2 * x", "return x + 2"))
    _submission(make_toy, "carol", "import time\n" + GOOD_OPS.replace("return 2 * x", "time.sleep(600)"))
    _submission(make_toy, "dave", "import ctypes\n" + GOOD_OPS.replace(
        "return 2 * x", "return ctypes.string_at(0)"))  # a segfault in the first test
    _submission(make_toy, "erin", GOOD_OPS.replace("def double(x):", "def double(x)"))  # does not import
    _submission(make_toy, "frank", GOOD_OPS, **{"pyproject.toml": '[project]\nname = "tinytorch-tensor"\n'})
    (subs / "grace").mkdir()
    (subs / "grace" / "notes.txt").write_text("I did not finish\n")
    heidi = _submission(make_toy, "heidi-folder", GOOD_OPS)
    _tar(heidi, subs / "heidi.tar.gz", "tinytorch_toy-0.1.0+student")
    shutil.rmtree(heidi)
    evil = subs / "mallory.tar.gz"
    with tarfile.open(evil, "w:gz") as tf:
        info = tarfile.TarInfo("../../escaped.py")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))

    found = find_submissions(subs)
    assert [name for name, _ in found] == ["alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                           "heidi", "mallory"]
    timeout = 40.0
    book = grade(found, toy_module, layout_from_folder(reference), tmp_path / "work", timeout=timeout,
                 points={"*test_scaler": 2}, jobs=2, sandbox=_sandboxed())
    assert book.tests == ["tests/test_toy.py::test_double", "tests/test_toy.py::test_double_negative",
                          "tests/test_toy.py::test_scaler", "tests/test_toy.py::test_environment_is_clean"]
    assert book.reference.score == book.reference.max_score == 5  # test_scaler is worth 2
    by = {r.name: r for r in book.submissions}

    def outcomes(name):
        return {t.nodeid.split("::")[1]: t.outcome for t in by[name].tests}

    assert by["alice"].status == "graded" and by["alice"].score == 5
    assert by["heidi"].status == "graded" and by["heidi"].score == 5  # from its archive
    assert by["bob"].score == 4 and outcomes("bob")["test_double"] == "passed"  # 2 + 2 == 4 by luck
    assert outcomes("bob")["test_double_negative"] == "failed"
    failure = next(t for t in by["bob"].tests if t.nodeid.endswith("test_double_negative"))
    assert "assert" in failure.message and "-1" in failure.message
    assert by["carol"].status == "timeout" and by["carol"].score == 0
    assert outcomes("carol")["test_double"] == "timeout"
    assert outcomes("carol")["test_scaler"] == "not run"
    assert by["carol"].seconds < timeout + 30  # killed, not waited for
    assert by["dave"].status == "crashed" and outcomes("dave")["test_double"] == "error"
    assert "signal" in by["dave"].detail
    assert by["erin"].status == "graded" and by["erin"].score == 0
    assert set(outcomes("erin").values()) == {"error"}
    assert "collection failed" in by["erin"].tests[0].message and "SyntaxError" in by["erin"].tests[0].message
    assert by["frank"].status == "wrong module"
    assert by["grace"].status == "no code" and by["grace"].score == 0
    assert by["mallory"].status == "invalid" and "refused member" in by["mallory"].detail
    assert not (tmp_path / "escaped.py").exists()

    paths = write_gradebook(book, tmp_path / "grades")
    rows = list(csv.DictReader(open(paths["csv"], encoding="utf-8")))
    assert {r["submission"] for r in rows} >= {"(reference)", "alice", "carol", "mallory"}
    bob_row = next(r for r in rows if r["submission"] == "bob" and r["test"].endswith("negative"))
    assert bob_row["outcome"] == "failed" and bob_row["points"] == "0" and bob_row["max_points"] == "1"
    summary = {r["submission"]: r for r in csv.DictReader(open(paths["summary"], encoding="utf-8"))}
    assert summary["alice"]["score"] == "5" and summary["alice"]["tests/test_toy.py::test_scaler"] == "2"
    data = json.loads(paths["json"].read_text())
    assert data["max_score"] == 5 and len(data["submissions"]) == 9
    assert (tmp_path / "grades" / "logs" / "carol.log").is_file()


@pytest.mark.slow
def test_tito_grade_command_writes_the_gradebook(make_toy, toy_module, tmp_path, monkeypatch, capsys):
    from tinytorch.setup.cli import instructor

    reference = make_toy("reference", **{"tests/test_toy.py": GRADE_TESTS})
    _submission(make_toy, "one", GOOD_OPS)
    monkeypatch.setattr(instructor, "resolve_module", lambda name: toy_module)
    monkeypatch.setattr("tinytorch.setup.sources.find_reference",
                        lambda module, repo, path=None: layout_from_folder(reference))
    points = tmp_path / "points.json"
    points.write_text('{"*": 3}')
    code = main(["grade", str(tmp_path / "submissions"), "--module", "toy", "--out", str(tmp_path / "g"),
                 "--timeout", "120", "--points", str(points), *([] if _sandboxed() else ["--no-sandbox"])])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out + captured.err
    assert "one" in out and "12/12" in out
    assert (tmp_path / "g" / "gradebook.csv").is_file() and (tmp_path / "g" / "summary.csv").is_file()
    assert os.path.isdir(tmp_path / "g" / "work")


def test_tito_grade_refuses_to_run_unsandboxed_unless_told(make_toy, toy_module, tmp_path, monkeypatch, capsys):
    from tinytorch.setup.cli import instructor

    reference = make_toy("reference", **{"tests/test_toy.py": GRADE_TESTS})
    _submission(make_toy, "one", GOOD_OPS)
    monkeypatch.setattr(instructor, "resolve_module", lambda name: toy_module)
    monkeypatch.setattr("tinytorch.setup.sources.find_reference",
                        lambda module, repo, path=None: layout_from_folder(reference))
    monkeypatch.setenv("TINYTORCH_BWRAP", str(tmp_path / "no-such-bwrap"))
    argv = ["grade", str(tmp_path / "submissions"), "--module", "toy", "--out", str(tmp_path / "g")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "sandboxed grading is not available here" in err and "--no-sandbox" in err
    assert "Traceback" not in err and not (tmp_path / "g" / "gradebook.csv").exists()
    assert main([*argv, "--no-sandbox", "--timeout", "60"]) == 0
    out = capsys.readouterr().out
    assert "isolation: none (--no-sandbox)" in out and "4/4" in out
