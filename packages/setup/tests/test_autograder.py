"""Course platforms: Gradescope's results.json and autograder zip, the GitHub Classroom workflow,
the exercises of a lesson, and the ``tito autograder`` / ``tito system sandbox`` commands.

The results are checked against the fields and types of Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/) by a small validator below;
``run_autograder`` is run with bash on a fake ``/autograder`` tree, with a fake ``tito``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

from tinytorch.setup.cli import main
from tinytorch.setup.grading.formats import (
    build_gradescope_autograder,
    classroom_workflow,
    gradescope_results,
    lesson_checks,
    lesson_exercises,
    write_gradescope_results,
)
from tinytorch.setup.grading.gradebook import Gradebook, SubmissionResult, TestResult
from tinytorch.setup.grading.sandbox import SandboxStatus
from tinytorch.setup.process import TitoError

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")

# --------------------------------------------------------------------------------------------
# A validator for Gradescope's results.json
# --------------------------------------------------------------------------------------------

_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
_FORMATS = {"text", "simple_format", "html", "md", "ansi"}
_TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format",
             "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
_TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output",
              "output_format", "tags", "visibility", "extra_data"}


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate_gradescope(data: dict) -> list[str]:
    """Every way ``data`` breaks the results.json specification (empty when it does not)."""
    problems = []
    try:
        json.loads(json.dumps(data, allow_nan=False))
    except (TypeError, ValueError) as exc:
        return [f"not JSON: {exc}"]
    if not isinstance(data, dict):
        return ["not an object"]
    problems += [f"unknown top-level key {k!r}" for k in data if k not in _TOP_KEYS]
    if "score" in data and not _is_number(data["score"]):
        problems.append("score is not a number")
    if "execution_time" in data and not (isinstance(data["execution_time"], int)
                                         and not isinstance(data["execution_time"], bool)
                                         and data["execution_time"] >= 0):
        problems.append("execution_time is not a whole number of seconds")
    for key in ("output",):
        if key in data and not isinstance(data[key], str):
            problems.append(f"{key} is not a string")
    for key in ("output_format", "test_output_format", "test_name_format"):
        if key in data and data[key] not in _FORMATS:
            problems.append(f"{key} is {data[key]!r}")
    for key in ("visibility", "stdout_visibility"):
        if key in data and data[key] not in _VISIBILITY:
            problems.append(f"{key} is {data[key]!r}")
    if "extra_data" in data and not isinstance(data["extra_data"], dict):
        problems.append("extra_data is not an object")
    tests = data.get("tests", [])
    if not isinstance(tests, list):
        return [*problems, "tests is not a list"]
    if "score" not in data and (not tests or any("score" not in t for t in tests)):
        problems.append("no top-level score, and not every test has one")
    for i, test in enumerate(tests):
        where = f"tests[{i}]"
        if not isinstance(test, dict):
            problems.append(f"{where} is not an object")
            continue
        problems += [f"{where}: unknown key {k!r}" for k in test if k not in _TEST_KEYS]
        for key in ("score", "max_score"):
            if key in test and not _is_number(test[key]):
                problems.append(f"{where}.{key} is not a number")
        if (_is_number(test.get("score")) and _is_number(test.get("max_score"))
                and not 0 <= test["score"] <= test["max_score"]):
            problems.append(f"{where}: score {test['score']} not within 0..{test['max_score']}")
        if "status" in test and test["status"] not in ("passed", "failed"):
            problems.append(f"{where}.status is {test['status']!r}")
        for key in ("name", "output", "number"):
            if key in test and not isinstance(test[key], str):
                problems.append(f"{where}.{key} is not a string")
        if "visibility" in test and test["visibility"] not in _VISIBILITY:
            problems.append(f"{where}.visibility is {test['visibility']!r}")
        tags = test.get("tags", [])
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            problems.append(f"{where}.tags is not a list of strings")
    for i, entry in enumerate(data.get("leaderboard", [])):
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and (_is_number(entry.get("value")) or isinstance(entry.get("value"), str))
                and entry.get("order", "desc") in ("asc", "desc")):
            problems.append(f"leaderboard[{i}] is malformed: {entry!r}")
    return problems


def test_the_validator_catches_what_the_spec_forbids():
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1.0, "max_score": 1.0, "status": "passed"}]}
    assert validate_gradescope(good) == []
    assert validate_gradescope({**good, "score": float("nan")})
    assert validate_gradescope({"tests": [{"name": "a", "score": 3, "max_score": 2}], "score": 3})
    assert validate_gradescope({**good, "visibility": "sometimes"})
    assert validate_gradescope({"tests": [{"name": "a", "status": "ok", "score": 0}]})
    assert validate_gradescope({"tests": [{"name": "a"}]})  # no score anywhere
    assert validate_gradescope({**good, "execution_time": 1.5})


# --------------------------------------------------------------------------------------------
# Hand-built gradebooks
# --------------------------------------------------------------------------------------------

DOUBLE = "tests/test_toy.py::test_double"
NEGATIVE = "tests/test_toy.py::test_double_negative"
SCALER = "tests/test_toy.py::test_scaler"
BROKEN = "tests/test_toy.py::test_broken_in_reference"
POINTS = {DOUBLE: 1.0, NEGATIVE: 1.0, SCALER: 2.0, BROKEN: 1.0}


def _reference() -> SubmissionResult:
    tests = [TestResult(DOUBLE, "passed", 1, 1), TestResult(NEGATIVE, "passed", 1, 1),
             TestResult(SCALER, "passed", 2, 2), TestResult(BROKEN, "not graded", 0, 0, "reference fails")]
    return SubmissionResult("(reference)", "graded", 4, 4, 1.2, tests=tests)


def _submission(status: str = "graded", **kw) -> SubmissionResult:
    tests = kw.pop("tests", None)
    if tests is None:
        tests = [TestResult(DOUBLE, "passed", 1, 1),
                 TestResult(NEGATIVE, "failed", 0, 1,
                            "AssertionError: assert -1 == -6\n  where -1 = double(-3)"),
                 TestResult(SCALER, "passed", 2, 2),
                 TestResult(BROKEN, "not graded", 0, 0, "")]
    score = kw.pop("score", sum(t.points for t in tests))
    return SubmissionResult("alice", status, score, 4, kw.pop("seconds", 3.6), tests=tests, **kw)


def _book(result: SubmissionResult, exercises: bool) -> Gradebook:
    book = Gradebook("toy", "tinytorch-toy", [DOUBLE, NEGATIVE, SCALER, BROKEN], dict(POINTS), _reference(),
                     [result], timeout=40.0, sandbox="bubblewrap 0.8.0")
    if exercises:
        book.exercises = ["double"]
        book.exercise_of = {DOUBLE: "double", NEGATIVE: "double"}
    return book


def test_results_with_exercises_have_one_test_per_exercise():
    result = _submission()
    book = _book(result, exercises=True)
    data = gradescope_results(book)
    assert validate_gradescope(data) == []
    assert [t["name"] for t in data["tests"]] == ["double", SCALER]  # the loose test after the exercise
    double, scaler = data["tests"]
    assert (double["score"], double["max_score"]) == result.exercise_scores(book)["double"] == (1, 2)
    assert double["status"] == "failed" and scaler["status"] == "passed"
    assert NEGATIVE in double["output"] and "assert -1 == -6" in double["output"]
    assert "where -1" not in double["output"]  # only the first line of the message
    assert DOUBLE + ":" not in double["output"]  # passing tests are not listed
    assert data["score"] == 3 and sum(t["score"] for t in data["tests"]) == 3
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert data["execution_time"] == 4 and isinstance(data["execution_time"], int)
    assert "3/4" in data["output"]


def test_results_without_exercises_have_one_test_per_graded_test():
    data = gradescope_results(_book(_submission(), exercises=False))
    assert validate_gradescope(data) == []
    assert [t["name"] for t in data["tests"]] == [DOUBLE, NEGATIVE, SCALER]  # BROKEN is not graded
    by = {t["name"]: t for t in data["tests"]}
    assert by[NEGATIVE]["status"] == "failed" and by[NEGATIVE]["score"] == 0
    assert "where -1 = double(-3)" in by[NEGATIVE]["output"]  # the whole message of a single test
    assert by[SCALER] == {**by[SCALER], "score": 2.0, "max_score": 2.0, "status": "passed"}


def test_tampered_results_score_nothing_and_say_why():
    reasons = ["the results were not written by the reference tests", "tests/ was modified"]
    result = _submission("tampered", score=0, tampered=reasons)
    data = gradescope_results(_book(result, exercises=True))
    assert validate_gradescope(data) == []
    assert data["score"] == 0 and all(t["score"] == 0 for t in data["tests"])
    assert all(t["status"] == "failed" for t in data["tests"])
    assert all(reason in data["output"] for reason in reasons) and "tampered" in data["output"]
    assert "0/4 points" in data["output"] and "tests passed" not in data["output"]


def test_timeout_results_keep_what_finished_and_say_so():
    tests = [TestResult(DOUBLE, "passed", 1, 1), TestResult(NEGATIVE, "timeout", 0, 1, "killed after 40 s"),
             TestResult(SCALER, "not run", 0, 2), TestResult(BROKEN, "not graded", 0, 0)]
    result = _submission("timeout", tests=tests, detail="killed after 40 s", seconds=41.0)
    data = gradescope_results(_book(result, exercises=False))
    assert validate_gradescope(data) == []
    assert data["score"] == 1 and "did not finish" in data["output"] and "40 s" in data["output"]
    assert [t["status"] for t in data["tests"]] == ["passed", "failed", "failed"]
    assert "timeout" in data["tests"][1]["output"] and "not run" in data["tests"][2]["output"]


def test_a_submission_stopped_before_its_tests_still_lists_them():
    result = _submission("no code", tests=[], score=0, detail="no Python code found")
    data = gradescope_results(_book(result, exercises=False))
    assert validate_gradescope(data) == []
    assert [t["name"] for t in data["tests"]] == [DOUBLE, NEGATIVE, SCALER]
    assert [t["max_score"] for t in data["tests"]] == [1, 1, 2] and data["score"] == 0
    assert "no code" in data["output"] and "no Python code found" in data["output"]


def test_shared_exercise_points_are_rounded_as_gradescope_shows_them():
    tests = [TestResult(DOUBLE, "passed", 0.1, 0.1), TestResult(NEGATIVE, "passed", 0.1, 0.1),
             TestResult(SCALER, "passed", 0.1, 0.1)]
    assert sum(t.points for t in tests) != 0.3  # floating point
    result = SubmissionResult("alice", "graded", sum(t.points for t in tests), 0.3, 1.0, tests=tests)
    book = _book(result, exercises=True)
    book.exercise_of = {DOUBLE: "double", NEGATIVE: "double", SCALER: "double"}
    data = gradescope_results(book)
    assert validate_gradescope(data) == []
    assert data["tests"] == [{**data["tests"][0], "score": 0.3, "max_score": 0.3, "status": "passed"}]
    assert data["score"] == 0.3


def test_results_refuse_several_submissions_and_nan():
    book = _book(_submission(), exercises=False)
    book.submissions.append(_submission())
    with pytest.raises(TitoError, match="one submission"):
        gradescope_results(book)
    assert gradescope_results(book, book.submissions[1])["score"] == 3  # naming one is fine
    with pytest.raises(TitoError, match=r"nan|NaN"):
        gradescope_results(_book(_submission(score=float("nan")), exercises=False))


def test_leaderboard_is_checked_and_kept():
    book = _book(_submission(), exercises=False)
    board = [{"name": "Accuracy", "value": 0.93}, {"name": "Time", "value": 15.1, "order": "asc"}]
    data = gradescope_results(book, leaderboard=board)
    assert data["leaderboard"] == board and validate_gradescope(data) == []
    with pytest.raises(TitoError, match="order"):
        gradescope_results(book, leaderboard=[{"name": "Time", "value": 1, "order": "up"}])


def test_write_gradescope_results_is_atomic_and_makes_folders(tmp_path):
    book = _book(_submission(), exercises=True)
    path = write_gradescope_results(book, tmp_path / "results" / "deep" / "results.json")
    assert json.loads(path.read_text(encoding="utf-8")) == gradescope_results(book)
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]  # no temp file left
    bad = _book(_submission(score=float("inf")), exercises=False)
    with pytest.raises(TitoError):
        write_gradescope_results(bad, path)
    assert json.loads(path.read_text(encoding="utf-8"))["score"] == 3  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.json"]


# --------------------------------------------------------------------------------------------
# The Gradescope autograder zip
# --------------------------------------------------------------------------------------------

def _points_file(tmp_path: Path) -> Path:
    path = tmp_path / "points.json"
    path.write_text(json.dumps({"exercise:double": 4, "*": 1}), encoding="utf-8")
    return path


def _unzip(archive: Path, dest: Path) -> Path:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
        for info in zf.infolist():
            os.chmod(dest / info.filename, (info.external_attr >> 16) & 0o777)
    return dest


def test_autograder_zip_members_and_scripts(toy_module, tmp_path):
    archive = build_gradescope_autograder(toy_module, tmp_path / "dist", points_file=_points_file(tmp_path),
                                          timeout=120)
    assert archive == tmp_path / "dist" / "tinytorch-toy-gradescope.zip"
    with zipfile.ZipFile(archive) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert set(infos) == {"setup.sh", "run_autograder", "points.json"}
        mode = infos["run_autograder"].external_attr >> 16
        assert stat.S_ISREG(mode) and mode & 0o111 == 0o111
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        assert json.loads(zf.read("points.json")) == {"exercise:double": 4, "*": 1}
    assert run.startswith("#!/usr/bin/env bash") and setup.startswith("#!/usr/bin/env bash")
    for needed in ("apt-get install", "python3-venv", "python3-pip", "bubblewrap", '"$ROOT/venv"',
                   "tinytorch-setup", "tinytorch-toy", "pytest", "hypothesis"):
        assert needed in setup
    assert "--module toy" in run and "--timeout 120" in run and '"$ROOT/source/points.json"' in run
    if BASH:
        for name, text in (("setup.sh", setup), ("run_autograder", run)):
            script = tmp_path / name
            script.write_text(text)
            check = subprocess.run([BASH, "-n", str(script)], capture_output=True, text=True, check=False)
            assert check.returncode == 0, f"{name}: {check.stderr}"


def test_autograder_zip_without_points_and_with_a_wheel(toy_module, tmp_path):
    wheel = tmp_path / "tinytorch_toy-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK fake wheel")
    archive = build_gradescope_autograder(toy_module, tmp_path, points_file=None, timeout=60,
                                          extra_pip=[str(wheel), "numpy<3"])
    with zipfile.ZipFile(archive) as zf:
        assert set(zf.namelist()) == {"setup.sh", "run_autograder", f"wheels/{wheel.name}"}
        assert zf.read(f"wheels/{wheel.name}") == b"PK fake wheel"
        setup, run = zf.read("setup.sh").decode(), zf.read("run_autograder").decode()
    assert f'"$SOURCE/wheels/{wheel.name}"' in setup and "'numpy<3'" in setup
    assert "--points" not in run


def test_autograder_zip_refuses_a_bad_points_file(toy_module, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"*": "three"}')
    with pytest.raises(TitoError, match=r"bad\.json"):
        build_gradescope_autograder(toy_module, tmp_path / "out", points_file=bad, timeout=60)
    with pytest.raises(TitoError, match="timeout"):
        build_gradescope_autograder(toy_module, tmp_path / "out", points_file=None, timeout=float("nan"))
    assert not (tmp_path / "out").exists()  # nothing written


FAKE_TITO = r"""#!/usr/bin/env bash
# records each call (one argument a line, then ---) and acts as tito would
for arg in "$@"; do printf '%s\n' "$arg" >> "$FAKE_LOG"; done
echo --- >> "$FAKE_LOG"
if [ "$1" = system ]; then exit "${FAKE_SANDBOX:-1}"; fi
if [ -n "$FAKE_FAIL" ]; then
    echo 'error: no submission in /autograder/submission (folders or "archives")'
    printf 'hint:\tsubmit a \\ folder \001 \xc3\x28 or else\n' >&2
    exit 3
fi
while [ $# -gt 0 ]; do
    if [ "$1" = --gradescope ]; then out=$2; fi
    shift
done
printf '{"score": 3.0, "tests": []}\n' > "$out"
"""


def _fake_tree(tmp_path: Path, toy_module, points: bool = True) -> tuple[Path, Path]:
    archive = build_gradescope_autograder(toy_module, tmp_path / "dist",
                                          points_file=_points_file(tmp_path) if points else None, timeout=120)
    root = tmp_path / "autograder"
    _unzip(archive, root / "source")
    (root / "submission").mkdir(parents=True)
    tito = tmp_path / "fake-tito"
    tito.write_text(FAKE_TITO)
    tito.chmod(0o755)
    return root, tito


def _run(root: Path, tito: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[list[str]]]:
    log = root.parent / "calls.log"
    log.unlink(missing_ok=True)
    full = dict(os.environ, AUTOGRADER_ROOT=str(root), TITO=str(tito), FAKE_LOG=str(log), **env)
    done = subprocess.run([BASH, str(root / "source" / "run_autograder")], cwd=root, env=full,
                          capture_output=True, text=True, errors="replace", timeout=60, check=False)
    calls, current = [], []
    for line in log.read_text().splitlines() if log.exists() else []:
        if line == "---":
            calls.append(current)
            current = []
        else:
            current.append(line)
    return done, calls


@needs_bash
def test_run_autograder_calls_tito_grade(toy_module, tmp_path):
    root, tito = _fake_tree(tmp_path, toy_module)
    done, calls = _run(root, tito, FAKE_SANDBOX="1")
    assert done.returncode == 0, done.stderr
    assert calls[0] == ["system", "sandbox", "--quiet"]
    assert calls[1] == ["grade", f"{root}/submission", "--module", "toy", "--out", f"{root}/work",
                        "--timeout", "120", "--gradescope", f"{root}/results/results.json",
                        "--points", f"{root}/source/points.json", "--no-sandbox"]
    assert json.loads((root / "results" / "results.json").read_text()) == {"score": 3.0, "tests": []}

    # where the sandbox works, no --no-sandbox
    done, calls = _run(root, tito, FAKE_SANDBOX="0")
    assert done.returncode == 0 and calls[1][-1] == f"{root}/source/points.json"
    assert "--no-sandbox" not in calls[1]


@needs_bash
def test_run_autograder_without_points_file(toy_module, tmp_path):
    root, tito = _fake_tree(tmp_path, toy_module, points=False)
    _, calls = _run(root, tito, FAKE_SANDBOX="0")
    assert "--points" not in calls[1] and calls[1][-2:] == ["--gradescope", f"{root}/results/results.json"]


@needs_bash
def test_run_autograder_writes_results_when_tito_fails(toy_module, tmp_path):
    root, tito = _fake_tree(tmp_path, toy_module)
    (root / "results").mkdir()
    (root / "results" / "results.json").write_text('{"score": 99}')  # stale: must not survive
    done, _ = _run(root, tito, FAKE_FAIL="1")
    assert done.returncode == 0, done.stderr
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert validate_gradescope(data) == []
    assert data["score"] == 0 and data["tests"] == []
    assert "exited with code 3" in data["output"]
    assert 'no submission in /autograder/submission (folders or "archives")' in data["output"]
    assert "hint:\tsubmit a \\ folder" in data["output"]  # tab and backslash kept, \001 dropped
    assert "\x01" not in data["output"]

    # tito missing altogether (a broken image): still a results file
    done, _ = _run(root, tmp_path / "no-such-tito")
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert validate_gradescope(data) == [] and data["score"] == 0 and "code 127" in data["output"]


# --------------------------------------------------------------------------------------------
# GitHub Classroom
# --------------------------------------------------------------------------------------------

def _yaml():
    try:
        import yaml
    except ImportError:
        return None
    return yaml


def test_classroom_workflow_per_exercise(toy_module):
    text = classroom_workflow(toy_module, exercises=["double", ("scaler", "Scaler or scaler")],
                              timeout_minutes=7)
    # textual checks (hold with or without pyyaml)
    assert "name: Autograding Tests" in text and "  run-autograding-tests:" in text
    assert "student can edit" in text and "tito grade" in text
    assert "uses: actions/setup-python@" in text and "pip install -e ." in text
    assert "tinytorch-setup" in text and "pytest" in text and "hypothesis" in text
    assert text.count("uses: classroom-resources/autograding-command-grader@v1") == 2
    assert "uses: classroom-resources/autograding-grading-reporter@v1" in text
    assert "-k double" in text and "-k 'Scaler or scaler'" in text
    assert "runners: exercise-double,exercise-scaler" in text
    yaml = _yaml()
    if yaml is None:
        return
    doc = yaml.safe_load(text)
    assert doc["name"] == "Autograding Tests" and "push" in doc["on"]
    steps = doc["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps
               if s.get("uses", "").startswith("classroom-resources/autograding-command-grader")]
    assert [g["with"]["test-name"] for g in graders] == ["double", "scaler"]
    for grader in graders:
        assert grader["with"]["command"].startswith("python -m pytest tests")
        assert grader["with"]["timeout"] == 7 and grader["with"]["max-score"] == 10
    install = next(s for s in steps if "run" in s)
    assert "python -m pip install -e ." in install["run"]
    assert steps.index(install) < steps.index(graders[0])
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter")
    ids = [g["id"] for g in graders]
    assert reporter["with"]["runners"].split(",") == ids
    assert reporter["env"] == {f"{i.upper()}_RESULTS": f"${{{{steps.{i}.outputs.result}}}}" for i in ids}


def test_classroom_workflow_single_step(toy_module):
    text = classroom_workflow(toy_module, points=50)
    assert " -k " not in text and "max-score: 50" in text
    assert text.count("autograding-command-grader@v1") == 1
    yaml = _yaml()
    if yaml is not None:
        steps = yaml.safe_load(text)["jobs"]["run-autograding-tests"]["steps"]
        grader = next(s for s in steps if "id" in s)
        assert grader["with"]["command"].endswith("python -m pytest tests -q -p no:cacheprovider "
                                                  "--import-mode=importlib")
        assert steps[-1]["with"]["runners"] == grader["id"]


# --------------------------------------------------------------------------------------------
# Exercises of a lesson
# --------------------------------------------------------------------------------------------

TOY_LESSON = '''\
# %% [markdown]
# # The toy lesson

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("toy")

# %%
check("toy", "double")

# %%
check("tensor", "binary_op")  # another module's check
check("toy", "scaler", k="Scaler or scaler")

# %%
check("toy", "double")
check("tinytorch-toy", "triple")
'''


def test_lesson_exercises_in_order_and_unique(toy_module, tmp_path):
    lesson = tmp_path / "99_toy.py"
    lesson.write_text(TOY_LESSON)
    assert lesson_exercises(toy_module, lesson) == ["double", "scaler", "triple"]
    assert lesson_checks(toy_module, lesson) == [("double", "double"), ("scaler", "Scaler or scaler"),
                                                 ("triple", "triple")]
    # a lesson that is not plain Python (an IPython magic) is read line by line
    lesson.write_text(TOY_LESSON.replace("# %%\nfrom", "# %%\n%matplotlib inline\nfrom"))
    assert lesson_checks(toy_module, lesson) == [("double", "double"), ("scaler", "Scaler or scaler"),
                                                 ("triple", "triple")]


def test_lesson_exercises_of_a_real_module():
    from tinytorch.setup.lesson import find_lesson
    from tinytorch.setup.registry import resolve_module

    tensor = resolve_module("tensor")
    if find_lesson(tensor) is None:
        pytest.skip("the tensor lesson is not available here")
    found = lesson_exercises(tensor)
    assert found[0] == "binary_op" and len(found) == len(set(found)) > 3
    assert lesson_exercises("tensor") == found  # what a user types works too


# --------------------------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------------------------

def _words(text: str) -> str:
    """``text`` with rich's line wrapping undone (every run of white space one space)."""
    return " ".join(text.split())


@pytest.fixture
def toy_cli(monkeypatch, toy_module, tmp_path):
    """``tito autograder`` resolving ``toy`` to the toy module, whose lesson is TOY_LESSON."""
    from tinytorch.setup.cli import autograder

    lesson = tmp_path / "lesson" / "99_toy.py"
    lesson.parent.mkdir()
    lesson.write_text(TOY_LESSON)
    monkeypatch.setattr(autograder, "resolve_module", lambda name: toy_module)
    monkeypatch.setattr("tinytorch.setup.lesson.find_lesson", lambda module: lesson)
    return lesson


def test_tito_autograder_gradescope(toy_cli, tmp_path, capsys):
    code = main(["autograder", "gradescope", "toy", "--out", str(tmp_path / "dist"),
                 "--points", str(_points_file(tmp_path)), "--timeout", "90"])
    out = capsys.readouterr().out
    assert code == 0, out
    archive = tmp_path / "dist" / "tinytorch-toy-gradescope.zip"
    assert archive.name in out.replace("\n", "")
    with zipfile.ZipFile(archive) as zf:
        assert "--timeout 90" in zf.read("run_autograder").decode() and "points.json" in zf.namelist()
    assert main(["autograder", "gradescope", "toy", "--out", str(tmp_path / "d2"),
                 "--points", str(tmp_path / "missing.json")]) == 2  # a usage mistake
    assert "does not exist" in _words(capsys.readouterr().err)


def test_tito_autograder_classroom(toy_cli, tmp_path, capsys):
    repo = tmp_path / "repo"
    assert main(["autograder", "classroom", "toy", "--out", str(repo), "--per-exercise"]) == 0
    workflow = repo / ".github" / "workflows" / "classroom.yml"
    text = workflow.read_text()
    assert "runners: exercise-double,exercise-scaler,exercise-triple" in text
    assert "3 exercise steps" in _words(capsys.readouterr().out)
    # the same file again is fine; a changed one is kept unless --force
    assert main(["autograder", "classroom", "toy", "--out", str(repo), "--per-exercise"]) == 0
    workflow.write_text(text + "# my edit\n")
    assert main(["autograder", "classroom", "toy", "--out", str(repo)]) == 1
    assert "exists and differs" in _words(capsys.readouterr().err)
    assert workflow.read_text().endswith("# my edit\n")
    assert main(["autograder", "classroom", "toy", "--out", str(repo), "--force"]) == 0
    assert "runners: all-tests" in workflow.read_text()


def test_tito_autograder_classroom_per_exercise_needs_checks(toy_cli, tmp_path, capsys):
    toy_cli.write_text("print('no checks here')\n")
    assert main(["autograder", "classroom", "toy", "--out", str(tmp_path), "--per-exercise"]) == 1
    assert "no check(...) cell" in _words(capsys.readouterr().err)


def test_tito_autograder_unknown_module(capsys):
    assert main(["autograder", "gradescope", "nonsense", "--out", "x"]) == 2
    assert "unknown module" in _words(capsys.readouterr().err)


@pytest.mark.parametrize("available", [True, False])
def test_tito_system_sandbox(monkeypatch, capsys, available):
    status = SandboxStatus(available, "bubblewrap 0.8.0" if available else "",
                           "" if available else "bwrap is not installed", "RLIMIT_NPROC")
    monkeypatch.setattr("tinytorch.setup.grading.sandbox.probe", lambda *a, **k: status)
    assert main(["system", "sandbox", "--quiet"]) == (0 if available else 1)
    assert capsys.readouterr().out == ""
    assert main(["system", "sandbox"]) == (0 if available else 1)
    out = capsys.readouterr().out
    if available:
        assert "sandbox available" in out and "bubblewrap 0.8.0" in out
    else:
        assert "not available" in out and "bwrap is not installed" in out
    assert "RLIMIT_NPROC" in out


# --------------------------------------------------------------------------------------------
# The whole path: run_autograder -> the real `tito grade` -> results.json
# --------------------------------------------------------------------------------------------

REAL_TITO = '''\
import sys
from pathlib import Path

from tinytorch.setup import sources
from tinytorch.setup.cli import instructor, main
from tinytorch.setup.registry import Module

# The toy module is not in the registry: this wrapper is `tito` with the toy wired in.
TOY = Module(99, "toy", "tinytorch-toy", "tinytorch.toy", "toy")
instructor.resolve_module = lambda name: TOY
sources.find_reference = lambda module, repo, path=None: sources.layout_from_folder(Path({reference!r}))
sys.exit(main(sys.argv[1:]))
'''

TOY_GRADED_TESTS = '''\
from tinytorch.toy.ops import Scaler, double


def test_double():
    assert double(2) == 4


def test_double_negative():
    assert double(-3) == -6


def test_scaler():
    assert Scaler(3)(2) == 6
'''


@needs_bash
@pytest.mark.slow
def test_run_autograder_grades_for_real_and_writes_valid_results(toy_module, make_toy, tmp_path):
    import sys

    reference = make_toy("reference", **{"tests/test_toy.py": TOY_GRADED_TESTS})
    archive = build_gradescope_autograder(toy_module, tmp_path / "dist", points_file=_points_file(tmp_path),
                                          timeout=120)
    root = tmp_path / "autograder"
    _unzip(archive, root / "source")
    # the student's submission: double is wrong for negatives (x + 2), the rest right
    student = make_toy("student")
    ops = student / "src/tinytorch/toy/ops.py"
    assert "return 2 * x" in ops.read_text()
    ops.write_text(ops.read_text().replace("return 2 * x", "return x + 2"))
    shutil.copytree(student, root / "submission")
    wrapper = tmp_path / "tito.py"
    wrapper.write_text(REAL_TITO.format(reference=str(reference)))
    tito = tmp_path / "tito"
    tito.write_text(f'#!/usr/bin/env bash\nexec {sys.executable} {wrapper} "$@"\n')
    tito.chmod(0o755)
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), TITO=str(tito))
    done = subprocess.run([BASH, str(root / "source" / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    assert validate_gradescope(data) == [], data
    by_name = {t["name"]: t for t in data["tests"]}
    assert by_name["double"]["max_score"] == 4 and by_name["double"]["score"] == 2  # one of its two tests
    assert by_name["double"]["status"] == "failed" and "test_double_negative" in by_name["double"]["output"]
    scaler = next(t for name, t in by_name.items() if "scaler" in name)
    assert scaler["score"] == scaler["max_score"] == 1
    assert data["score"] == 3
    book = json.loads((root / "work" / "gradebook.json").read_text(encoding="utf-8"))
    from tinytorch.setup.grading.sandbox import probe

    # sandboxed where bwrap runs (run_autograder asked `tito system sandbox`), else --no-sandbox
    assert book["sandbox"].startswith("bubblewrap" if probe().available else "none (--no-sandbox)")
