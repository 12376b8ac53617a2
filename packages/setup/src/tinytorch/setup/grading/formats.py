"""Grades for course platforms: Gradescope's ``results.json`` and autograder zip, and a GitHub
Classroom workflow.

* :func:`gradescope_results` turns the :class:`~.gradebook.Gradebook` of one graded submission
  into the ``results.json`` Gradescope reads (`autograder specification
  <https://gradescope-autograders.readthedocs.io/en/latest/specs/>`_): one Gradescope test per
  exercise of the points file (or per graded test), the score, and a short summary for the
  student; :func:`write_gradescope_results` writes it (``tito grade --gradescope PATH``).
* :func:`build_gradescope_autograder` writes the zip uploaded to Gradescope: ``setup.sh``
  (installs Python, bubblewrap, ``tinytorch-setup`` and the module's reference, whose wheel
  ships its tests) and ``run_autograder`` (``tito grade`` on the submission, writing
  ``results.json``, and a results file with the error when grading itself fails).
* :func:`classroom_workflow` is the ``.github/workflows/classroom.yml`` of a student repository
  made from ``tito release``, using GitHub Classroom's autograding actions. Those run the tests
  *in the student's repository*, which the student can edit: fine for feedback, not for
  grades that matter (use ``tito grade``, or Gradescope, which grade with the reference tests).
* :func:`lesson_exercises` lists a module's exercises: the ``check("<module>", "<exercise>")``
  cells of its lesson.
"""

from __future__ import annotations

import ast
import json
import math
import os
import re
import shlex
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..process import TitoError
from ..registry import Module, UnknownModuleError, resolve_module
from ..version import __version__
from .gradebook import Gradebook, SubmissionResult, TestResult

__all__ = [
    "AUTOGRADER_ROOT",
    "CLASSROOM_WORKFLOW_PATH",
    "build_gradescope_autograder",
    "classroom_workflow",
    "gradescope_results",
    "lesson_checks",
    "lesson_exercises",
    "write_gradescope_results",
]

#: Where Gradescope puts everything (``run_autograder`` honours ``$AUTOGRADER_ROOT`` instead).
AUTOGRADER_ROOT = "/autograder"
#: Where :func:`classroom_workflow` belongs in the student's repository.
CLASSROOM_WORKFLOW_PATH = ".github/workflows/classroom.yml"

#: Longest failure message quoted for one test, and longest Gradescope test output.
_MAX_MESSAGE = 2000
_MAX_OUTPUT = 20000
#: Names of files put in the autograder zip (they appear unquoted in setup.sh).
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


# --------------------------------------------------------------------------------------------
# Gradescope: results.json
# --------------------------------------------------------------------------------------------

def _num(x: float) -> str:
    return f"{x:g}"


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:_MAX_MESSAGE]
    return ""


def _merged_tests(book: Gradebook, result: SubmissionResult) -> list[TestResult]:
    """Every graded test (those the reference passes), as the submission got it.

    A submission stopped before its tests ran (no code, wrong module…) may list none; its
    graded tests then count as ``not run`` with no points, worth what the reference says.
    """
    own = {t.nodeid: t for t in result.tests}
    order = [t.nodeid for t in book.reference.tests] or list(book.tests)
    for nodeid in own:
        if nodeid not in order:
            order.append(nodeid)
    reference = {t.nodeid: t for t in book.reference.tests}
    merged = []
    for nodeid in order:
        test = own.get(nodeid)
        if test is None:
            ref = reference.get(nodeid)
            if ref is None or ref.outcome == "not graded":
                continue
            test = TestResult(nodeid, "not run", 0.0, ref.max_points, "")
        if test.outcome == "not graded":
            continue
        merged.append(test)
    return merged


def _failure_line(test: TestResult) -> str:
    message = _first_line(test.message)
    return f"{test.nodeid}: {test.outcome}" + (f" — {message}" if message else "")


def _summary(book: Gradebook, result: SubmissionResult, tests: list[TestResult]) -> str:
    passed = sum(1 for t in tests if t.outcome == "passed" and t.points >= t.max_points)
    if result.status == "tampered":
        lines = [f"{book.distribution}: 0/{_num(result.max_score)} points."]
    else:
        lines = [(f"{book.distribution}: {_num(result.score)}/{_num(result.max_score)} points "
                  f"({passed} of {len(tests)} graded tests passed).")]
    detail = result.detail.strip()
    if result.status == "tampered":
        lines.append("Score 0: this run was marked as tampered with, because:")
        lines += [f"  - {reason}" for reason in result.tampered] or ["  - (no reason recorded)"]
    elif result.status == "timeout":
        lines.append(f"The tests did not finish within the time limit ({_num(book.timeout)} s; an "
                     "endless loop?). Tests that finished before it count.")
    elif result.status == "crashed":
        lines.append("The test run crashed (the Python process running your code died). Tests "
                     "that finished before the crash count.")
    elif result.status != "graded":
        lines.append(f"Not graded: {result.status}.")
    if detail:
        lines.append(detail)
    failing = [t for t in tests if t.points < t.max_points]
    if failing and result.status != "tampered":
        lines.append(f"{len(failing)} test(s) did not pass; see each test below.")
    return "\n".join(lines)


def _points(x: float) -> float:
    """Points as Gradescope shows them: an exercise's points shared by three tests add up to
    9.999999999999998, which is 10."""
    return round(float(x), 4) + 0.0  # + 0.0: never -0.0


def _gs_test(name: str, score: float, max_score: float, output: str) -> dict[str, Any]:
    return {"name": name, "score": _points(score), "max_score": _points(max_score),
            "status": "passed" if score >= max_score - 1e-9 else "failed",
            "output": output[:_MAX_OUTPUT], "visibility": "visible"}


def _check_finite(value: Any, where: str = "results") -> None:
    """Raise if a number anywhere in ``value`` is NaN or infinite (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise TitoError(f"Gradescope results: {where} is {value!r}, which JSON cannot hold")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(item, f"{where}[{i}]")


def _check_leaderboard(entries: list[dict]) -> list[dict]:
    board = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "value" not in entry:
            raise TitoError(f"a leaderboard entry needs a name and a value: {entry!r}")
        value = entry["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TitoError(f"leaderboard value of {entry['name']!r} must be a number or a string")
        if entry.get("order", "desc") not in ("asc", "desc"):
            raise TitoError(f"leaderboard order of {entry['name']!r} must be 'asc' or 'desc'")
        board.append(dict(entry))
    return board


def gradescope_results(book: Gradebook, result: SubmissionResult | None = None,
                       leaderboard: list[dict] | None = None) -> dict[str, Any]:
    """The ``results.json`` Gradescope reads for one graded submission.

    With exercises in the points file (``book.exercises``) there is one Gradescope test per
    exercise — its points and maximum, and as output the tests of it that did not pass, each
    with the first line of its message — then one per graded test outside every exercise;
    without exercises, one per graded test. Tests the reference fails (``not graded``) are left
    out. A test is ``passed`` when it got all its points. The top level holds the score, the
    run's seconds and a summary that says why a run that timed out, crashed or was tampered
    with scored what it did. Everything is shown to the student (``visibility: visible``),
    except ``tito``'s own output (``stdout_visibility: hidden``); texts are plain
    (``output_format: text``), so ``<`` in an assertion message is not taken for HTML.

    Args:
        book: What ``tito grade`` found.
        result: The submission; default the only one in ``book.submissions``.
        leaderboard: Entries ``{"name": ..., "value": ..., "order": "asc"|"desc"}`` to add.

    Raises:
        TitoError: if ``result`` is not given and the book does not hold exactly one
            submission, or if a number is NaN or infinite.
    """
    if result is None:
        if len(book.submissions) != 1:
            raise TitoError(f"Gradescope results are for one submission, but {len(book.submissions)} "
                            "were graded", hint="grade one submission (one folder or archive) at a time")
        result = book.submissions[0]
    tests = _merged_tests(book, result)
    zero = result.status == "tampered"  # the run's results cannot be trusted: none count
    gs_tests: list[dict[str, Any]] = []
    if book.exercises:
        by_exercise: dict[str, list[TestResult]] = {name: [] for name in book.exercises}
        loose = []
        for test in tests:
            exercise = book.exercise_of.get(test.nodeid)
            if exercise in by_exercise:
                by_exercise[exercise].append(test)
            else:
                loose.append(test)
        for name, members in by_exercise.items():
            worth = sum(t.max_points for t in members)
            if worth <= 0:
                continue  # no test of it is graded
            got = 0.0 if zero else sum(t.points for t in members)
            failing = [t for t in members if t.points < t.max_points]
            output = "\n".join(_failure_line(t) for t in failing) or f"all {len(members)} test(s) passed"
            gs_tests.append(_gs_test(name, got, worth, output))
    else:
        loose = tests
    for test in loose:
        got = 0.0 if zero else test.points
        output = "passed" if test.points >= test.max_points else _failure_line(test)
        if test.points < test.max_points and test.message.strip():
            output += "\n\n" + test.message.strip()[:_MAX_MESSAGE]
        gs_tests.append(_gs_test(test.nodeid, got, test.max_points, output))
    if zero:
        for entry in gs_tests:
            entry["status"] = "failed" if entry["max_score"] > 0 else entry["status"]
            entry["output"] = "not counted: the run was marked as tampered with\n" + entry["output"]
    data: dict[str, Any] = {
        "score": 0.0 if zero else _points(result.score),
        "execution_time": round(result.seconds) if math.isfinite(result.seconds) else 0,
        "output": _summary(book, result, tests),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"module": book.module, "distribution": book.distribution,
                       "status": result.status, "max_score": _points(result.max_score),
                       "sandbox": book.sandbox, "tampered": list(result.tampered)},
        "tests": gs_tests,
    }
    if leaderboard:
        data["leaderboard"] = _check_leaderboard(leaderboard)
    if not math.isfinite(result.seconds):
        raise TitoError(f"Gradescope results: the run's seconds are {result.seconds!r}")
    _check_finite(data)
    return data


def write_gradescope_results(book: Gradebook, path: Path | str, **kw: Any) -> Path:
    """Write :func:`gradescope_results` (same keyword arguments) to ``path``, atomically.

    The folder is made if needed; the file appears complete or not at all (a temporary file in
    the same folder, then :func:`os.replace`), so a reader never sees half a results file.
    """
    path = Path(path)
    data = gradescope_results(book, **kw)
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# --------------------------------------------------------------------------------------------
# Gradescope: the autograder zip
# --------------------------------------------------------------------------------------------

_SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder's image (Ubuntu).
# Generated by `tito autograder gradescope {folder}` (tinytorch-setup {version}).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive

# bubblewrap: `tito grade` runs each submission in a bubblewrap sandbox where the container
# allows one (it often does not: then the container itself is the isolation).
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip bubblewrap ca-certificates

python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
# tito, the module's reference (the tests used for grading ship inside its wheel) and the
# test tools.
"$ROOT/venv/bin/python" -m pip install {packages}

"$ROOT/venv/bin/tito" --version
"$ROOT/venv/bin/tito" system sandbox || true
"""

_RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this once per submission, as root, in a fresh container made from the image
# setup.sh built. Generated by `tito autograder gradescope {folder}` (tinytorch-setup {version}).
#
# Every path is under $AUTOGRADER_ROOT (default /autograder), and tito is $TITO, so that the
# script can be tried on a fake tree:  AUTOGRADER_ROOT=/tmp/ag TITO=... bash run_autograder
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
TITO="${{TITO:-$ROOT/venv/bin/tito}}"
RESULTS="$ROOT/results/results.json"
WORK="$ROOT/work"
mkdir -p "$ROOT/results" "$WORK"
rm -f "$RESULTS"
LOG="$(mktemp)"

extra=()
if ! "$TITO" system sandbox --quiet >/dev/null 2>&1; then
    # bubblewrap cannot start a sandbox here: Gradescope's Docker container usually refuses
    # the user namespaces it needs. The container (one per submission, thrown away after it)
    # is then the isolation; the submission runs without the sandbox, as this script's user.
    extra+=(--no-sandbox)
fi

"$TITO" grade "$ROOT/submission" --module {folder} --out "$WORK" --timeout {timeout} \\
    --gradescope "$RESULTS"{points} "${{extra[@]}}" 2>&1 | tee "$LOG"
status=${{PIPESTATUS[0]}}

# A JSON string (with its quotes) of $1: control characters dropped, invalid UTF-8 dropped.
json_string() {{
    local s b='\\' q='"'
    s=$(printf '%s' "$1" | LC_ALL=C tr -d '\\000-\\010\\013\\014\\016-\\037')
    if command -v iconv >/dev/null 2>&1; then
        local clean
        clean=$(printf '%s' "$s" | iconv -f UTF-8 -t UTF-8 -c 2>/dev/null)
        if [ -n "$clean" ]; then s=$clean; fi
    fi
    s=${{s//"$b"/"$b$b"}}
    s=${{s//"$q"/"$b$q"}}
    s=${{s//$'\\t'/"${{b}}t"}}
    s=${{s//$'\\r'/"${{b}}r"}}
    s=${{s//$'\\n'/"${{b}}n"}}
    printf '"%s"' "$s"
}}

if [ ! -s "$RESULTS" ]; then
    # tito wrote no results (it could not grade at all): still give Gradescope a results file,
    # with score 0 and why, so that the student sees what went wrong.
    tail_text=$(tail -n 40 "$LOG")
    message="The autograder could not grade this submission (tito grade exited with code $status).
Check that you submitted your package folder (the one with pyproject.toml and src/) or an
archive of it. The end of the grader's output:

$tail_text"
    {{
        printf '{{\\n  "score": 0,\\n  "execution_time": 0,\\n'
        printf '  "output": %s,\\n' "$(json_string "$message")"
        printf '  "output_format": "text",\\n  "visibility": "visible",\\n'
        printf '  "stdout_visibility": "hidden",\\n  "tests": []\\n}}\\n'
    }} > "$RESULTS.tmp" && mv "$RESULTS.tmp" "$RESULTS"
    echo "run_autograder: tito grade wrote no results (exit code $status); wrote a score-0 results.json"
fi
rm -f "$LOG"
exit 0
"""


def _read_points(points_file: Path) -> dict[str, float]:
    try:
        points = json.loads(points_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TitoError(f"cannot read the points file {points_file}: {exc}") from None
    if not isinstance(points, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) for k, v in points.items()):
        raise TitoError(f"{points_file} must be a JSON object of test-id pattern (or "
                        '"exercise:<name>") -> number',
                        hint='e.g. {"*test_matmul*": 3, "exercise:binary_op": 10}')
    return points


def _zip_entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix: the permission bits below are read by unzip and Gradescope
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_gradescope_autograder(module: Module, out_dir: Path, *, points_file: Path | None,
                                timeout: float, extra_pip: list[str] | None = None) -> Path:
    """Write ``out_dir/tinytorch-<folder>-gradescope.zip``, the autograder to upload to Gradescope.

    It holds ``setup.sh`` (Python, bubblewrap, a virtual environment at ``/autograder/venv``
    with ``tinytorch-setup``, the module's reference distribution — its wheel ships the tests
    used for grading — pytest and hypothesis), ``run_autograder`` (executable: ``tito grade``
    on ``/autograder/submission`` with ``--gradescope``, the sandbox when the container allows
    it, and a score-0 ``results.json`` saying why when grading fails) and ``points.json`` when
    ``points_file`` is given (checked here).

    Args:
        module: The module graded.
        out_dir: Where the zip goes (made if needed).
        points_file: A ``tito grade --points`` file, or ``None`` (1 point per test).
        timeout: Seconds the submission's tests may take (``tito grade --timeout``).
        extra_pip: More ``pip install`` arguments for ``setup.sh`` (version pins such as
            ``tinytorch-tensor==0.1.0``); a path to an existing wheel or sdist is put in the
            zip (``wheels/``) and installed from there — e.g. your own build of the reference.

    Raises:
        TitoError: for an unreadable or malformed points file, or a bad timeout.
    """
    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise TitoError(f"the timeout must be a positive number of seconds, not {timeout!r}")
    version = __version__
    setup_pin = "tinytorch-setup" if version.startswith("0+") else f"tinytorch-setup>={version.split('+')[0]}"
    packages = [shlex.quote(p) for p in (setup_pin, module.distribution, "pytest>=7", "hypothesis>=6.50")]
    wheels: list[Path] = []
    for spec in extra_pip or []:
        candidate = Path(spec)
        if candidate.name.endswith((".whl", ".tar.gz", ".zip")) and candidate.is_file():
            if not _FILE_NAME.match(candidate.name) or candidate.name in {w.name for w in wheels}:
                raise TitoError(f"cannot put {candidate} in the autograder: its name must be unique "
                                "and made of letters, digits and . _ + -")
            wheels.append(candidate)
            packages.append(f'"$SOURCE/wheels/{candidate.name}"')
        else:
            packages.append(shlex.quote(spec))
    fmt = {"folder": module.folder, "version": version}
    setup = _SETUP_SH.format(packages=" ".join(packages), **fmt)
    points_arg = ' --points "$ROOT/source/points.json"' if points_file is not None else ""
    run_script = _RUN_AUTOGRADER.format(timeout=f"{float(timeout):g}", points=points_arg, **fmt)
    members: list[tuple[zipfile.ZipInfo, bytes]] = [
        (_zip_entry("setup.sh", 0o755), setup.encode()),
        (_zip_entry("run_autograder", 0o755), run_script.encode()),
    ]
    if points_file is not None:
        points = _read_points(Path(points_file))
        members.append((_zip_entry("points.json", 0o644), (json.dumps(points, indent=2) + "\n").encode()))
    for wheel in wheels:
        members.append((_zip_entry(f"wheels/{wheel.name}", 0o644), wheel.read_bytes()))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"tinytorch-{module.folder}-gradescope.zip"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w") as zf:
            for info, data in members:
                zf.writestr(info, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


# --------------------------------------------------------------------------------------------
# Exercises of a lesson
# --------------------------------------------------------------------------------------------

_CHECK_RE = re.compile(r"""^\s*check\(\s*(["'])([^"']+)\1\s*,\s*(["'])([^"']+)\3(.*)$""")
_K_RE = re.compile(r"""\bk\s*=\s*(["'])(.*?)\1""")


def _same_module(name: str, module: Module) -> bool:
    if name in (module.folder, module.distribution, module.import_name):
        return True
    try:
        return resolve_module(name) == module
    except UnknownModuleError:
        return False


def _checks_from_ast(tree: ast.AST) -> list[tuple[str, str, str]]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = (func.id if isinstance(func, ast.Name)
                  else func.attr if isinstance(func, ast.Attribute) else "")
        if called != "check" or len(node.args) < 2:
            continue
        first, second = node.args[0], node.args[1]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)
                and isinstance(second, ast.Constant) and isinstance(second.value, str)):
            continue
        expression = second.value
        for keyword in node.keywords:
            if keyword.arg == "k" and isinstance(keyword.value, ast.Constant) \
                    and isinstance(keyword.value.value, str):
                expression = keyword.value.value
        found.append((node.lineno, node.col_offset, first.value, second.value, expression))
    found.sort()
    return [(module, exercise, expression) for _, _, module, exercise, expression in found]


def _checks_from_lines(text: str) -> list[tuple[str, str, str]]:
    found = []
    for line in text.splitlines():
        match = _CHECK_RE.match(line)
        if match:
            k = _K_RE.search(match.group(5))
            found.append((match.group(2), match.group(4), k.group(2) if k else match.group(4)))
    return found


def lesson_checks(module: Module | str, lesson: Path | None = None) -> list[tuple[str, str]]:
    """``(exercise, -k expression)`` of every ``check("<module>", "<exercise>")`` in the lesson.

    In the lesson's order, each exercise once; the expression is the check's ``k=`` when it
    has one, else the exercise's name (what ``check`` passes to ``pytest -k``). Checks of other
    modules are left out.

    Args:
        module: The module (or what a user types: ``tensor``, ``02``).
        lesson: The lesson source to read; default :func:`tinytorch.setup.lesson.find_lesson`.

    Raises:
        TitoError: if the module has no lesson.
        UnknownModuleError: if ``module`` names no module.
    """
    if not isinstance(module, Module):
        module = resolve_module(module)
    if lesson is None:
        from ..lesson import find_lesson

        lesson = find_lesson(module)
        if lesson is None:
            raise TitoError(f"no lesson found for {module.distribution}",
                            hint=f"install it (pip install {module.distribution}) or work in a checkout")
    text = Path(lesson).read_text(encoding="utf-8")
    try:
        checks = _checks_from_ast(ast.parse(text))
    except SyntaxError:  # a cell with IPython syntax: read the lines instead
        checks = _checks_from_lines(text)
    seen: dict[str, str] = {}
    for name, exercise, expression in checks:
        if _same_module(name, module) and exercise not in seen:
            seen[exercise] = expression
    return list(seen.items())


def lesson_exercises(module: Module | str, lesson: Path | None = None) -> list[str]:
    """The exercises of a module's lesson (its ``check(...)`` cells), in order, each once."""
    return [name for name, _ in lesson_checks(module, lesson)]


# --------------------------------------------------------------------------------------------
# GitHub Classroom
# --------------------------------------------------------------------------------------------

_PYTEST = "python -m pytest tests -q -p no:cacheprovider --import-mode=importlib"


def _yaml_str(text: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _step_id(name: str) -> str:
    return "exercise-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def classroom_workflow(module: Module, *, exercises: Sequence[str | tuple[str, str]] | None = None,
                       timeout_minutes: int = 15, points: int | None = None,
                       python_version: str = "3.12") -> str:
    """The text of ``.github/workflows/classroom.yml`` for a student repository of ``module``.

    The repository is the unpacked student archive of ``tito release`` (``pyproject.toml``,
    ``src/``, ``tests/`` at its root). The workflow installs Python, ``tinytorch-setup``, pytest
    and hypothesis, then the repository itself (``pip install -e .``, which brings the module's
    dependencies, the earlier modules, from PyPI), and grades with
    ``classroom-resources/autograding-command-grader``: one step per exercise
    (``pytest -k <exercise>``, all or nothing) or, without exercises, one step for every test;
    ``classroom-resources/autograding-grading-reporter`` sends the steps' results to GitHub
    Classroom. The workflow and job names are the ones the reporter requires.

    These steps run the tests *in the student's repository*, which the student can edit: a
    comment in the file says so. For grades that count, grade with the reference tests
    (``tito grade``).

    Args:
        module: The module.
        exercises: Exercise names, or ``(name, -k expression)`` pairs (:func:`lesson_checks`);
            ``None`` for one step running all tests.
        timeout_minutes: Minutes each step may take.
        points: Points of each step (whole numbers: the action reads an integer); default 10
            per exercise, or 100 for the single step.
        python_version: The Python the job installs.
    """
    if timeout_minutes < 1:
        raise TitoError("the timeout must be at least one minute")
    steps: list[tuple[str, str, str]] = []  # (name, id, command)
    if exercises:
        seen = set()
        for item in exercises:
            name, expression = (item, item) if isinstance(item, str) else item
            step = _step_id(name)
            if step in seen:
                continue
            seen.add(step)
            steps.append((name, step, f"{_PYTEST} -k {shlex.quote(expression)}"))
        worth = 10 if points is None else int(points)
    else:
        steps.append((f"{module.folder}: all tests", "all-tests", _PYTEST))
        worth = 100 if points is None else int(points)
    lines = [
        f"# Autograding for {module.distribution} (TinyTorch module {module.number:02d}) with GitHub",
        f"# Classroom. Generated by `tito autograder classroom {module.folder}`; the repository is",
        "# the unpacked student archive of `tito release` (pyproject.toml, src/, tests/ at its root).",
        "#",
        "# NOTE: these steps run the tests IN THIS REPOSITORY, which the student can edit (tests",
        "# included, and this file): they are quick feedback, not trusted grading. For grades that",
        "# count, grade the submissions with the reference tests: `tito grade` (or Gradescope,",
        "# `tito autograder gradescope`).",
        "#",
        "# GitHub Classroom's reporter needs the workflow name and the job name below unchanged.",
        "name: Autograding Tests",
        "\"on\":",
        "  - push",
        "  - repository_dispatch",
        "  - workflow_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      - name: Set up Python",
        "        uses: actions/setup-python@v5",
        "        with:",
        f"          python-version: {_yaml_str(python_version)}",
        "      - name: Install tito, the test tools and this package",
        "        # `pip install -e .` also installs the module's dependencies (earlier modules) from PyPI",
        "        run: |",
        "          python -m pip install --upgrade pip",
        "          python -m pip install tinytorch-setup \"pytest>=7\" \"hypothesis>=6.50\"",
        "          python -m pip install -e .",
    ]
    for name, step, command in steps:
        lines += [
            f"      - name: {_yaml_str(name)}",
            f"        id: {step}",
            "        if: ${{ !cancelled() }}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {_yaml_str(name)}",
            f"          command: {_yaml_str(command)}",
            f"          timeout: {int(timeout_minutes)}",
            f"          max-score: {worth}",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        if: ${{ !cancelled() }}",
        "        uses: classroom-resources/autograding-grading-reporter@v1",
        "        env:",
    ]
    lines += [f"          {step.upper()}_RESULTS: \"${{{{steps.{step}.outputs.result}}}}\""
              for _, step, _ in steps]
    lines += [
        "        with:",
        f"          runners: {','.join(step for _, step, _ in steps)}",
    ]
    return "\n".join(lines) + "\n"
