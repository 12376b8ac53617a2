"""``tito grade``: run the reference tests of a module on every student's submission.

A *submission* is a student's version of one module: a package folder (a workspace from
``tito module start``, an unpacked ``tito release`` archive) or an archive of one (``.tar.gz``,
``.tgz``, ``.zip``). Each one is graded on its own, in a fresh folder that holds only

* ``src/``: the submission's code for that module (``src/<import path>/``, nothing else of it;
  the tests it may carry are ignored) with a ``.dist-info`` made from the *reference's*
  metadata (its entry points, e.g. autograd's engine, so later code finds the student's copy);
* ``tests/``: the module's **reference** tests (from the checkout or the installed reference);
* the grader's pytest plugin, a ``pytest.ini``, an empty ``home/`` and ``tmp/``;

and run by this Python as ``python -P -m pytest`` in a new process group, from that folder, with
a clean environment — ``PATH``, ``HOME``/``TMPDIR`` inside the folder, ``PYTHONPATH`` pointing at
its ``src/``, one BLAS thread, and nothing of the instructor's other variables (tokens,
``TINYTORCH_*``, ``PIP_*``...). The submission's copy shadows the installed module (its folder
comes first on ``sys.path``); the modules it builds on come from this environment. Limits: the
wall time (``--timeout``; the whole process group is killed), and, set inside the process before
any submission code is imported, address space, CPU time, file size and no core dumps.

What this does **not** protect against — run ``tito grade`` on a throw-away machine, container
or user account, without network and without secrets, when submissions may be hostile:

* the submission runs as the grading user: it can read every file that user can read (other
  submissions, ``~/.ssh``), write wherever that user can write, open network connections, and
  start processes that leave the process group;
* the results are reported from inside the process the submission runs in: code written to
  cheat can forge them (read a suspicious 100 % with its log);
* as root, the limits can be raised again by the submission. Do not grade as root.

The points of each test come from ``--points`` (a JSON object of pytest node-id patterns, as
in :mod:`fnmatch`, to points; the first matching pattern wins) and default to 1. The reference
implementation is graded first, as a sanity check: a test it does not pass is worth nothing
(shown as ``not graded``).
"""

from __future__ import annotations

import csv
import datetime as _dt
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .checkstubs import _write_dist_info
from .metadata_toml import tomllib
from .process import TitoError
from .registry import Module, module_for_distribution
from .sources import PackageLayout

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DEFAULT_LIMITS",
    "Gradebook",
    "SubmissionResult",
    "TestResult",
    "find_submissions",
    "grade",
    "write_gradebook",
]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
#: Resource limits inside each run (soft = hard): 4 GiB of address space, 256 MiB per file
#: written, no core files. RLIMIT_CPU is added per run (twice the wall time, plus 10 s).
DEFAULT_LIMITS = {"RLIMIT_AS": 4 << 30, "RLIMIT_FSIZE": 256 << 20, "RLIMIT_CORE": 0}
#: At most this much is unpacked from one archive (bytes and members).
MAX_UNPACKED_BYTES = 200 << 20
MAX_MEMBERS = 20000
PLUGIN = "_tito_grade_plugin"
REFERENCE_NAME = "(reference)"
LOG_TAIL = 20000

_PYTEST_INI = """\
[pytest]
addopts = --import-mode=importlib -p no:cacheprovider
markers =
    slow: long-running tests
    torch: tests that compare with PyTorch
"""


@dataclass
class TestResult:
    """One test of one submission."""

    __test__ = False  # not a pytest test class, despite the name

    nodeid: str
    outcome: str  # passed, failed, skipped, error, timeout, not run, not graded
    points: float
    max_points: float
    message: str = ""


@dataclass
class SubmissionResult:
    """One graded submission."""

    name: str
    status: str  # graded, timeout, crashed, no code, wrong module, invalid
    score: float
    max_score: float
    seconds: float
    detail: str = ""
    tests: list[TestResult] = field(default_factory=list)
    log: str = ""


@dataclass
class Gradebook:
    """Everything ``tito grade`` found."""

    module: str
    distribution: str
    tests: list[str]
    points: dict[str, float]
    reference: SubmissionResult
    submissions: list[SubmissionResult]
    timeout: float
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc)
                         .isoformat(timespec="seconds"))


# --------------------------------------------------------------------------------------------
# Submissions: finding and unpacking them safely
# --------------------------------------------------------------------------------------------

def _stem(path: Path) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def find_submissions(path: Path) -> list[tuple[str, Path]]:
    """(name, path) of every submission in ``path``: its folders and archives, sorted by name.

    ``path`` may also be one package folder (it holds a ``pyproject.toml``) or one archive.
    Hidden entries are skipped.
    """
    if not path.exists():
        raise TitoError(f"{path} does not exist")
    if path.is_file() or (path / "pyproject.toml").is_file():
        return [(_stem(path), path)]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith((".", "_")):
            continue
        if child.is_dir() or child.name.endswith(ARCHIVE_SUFFIXES):
            found.append((_stem(child), child))
    return found


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not name.startswith(("/", "\\")) and ".." not in parts and ":" not in parts[0]


def unpack(archive: Path, dest: Path) -> None:
    """Unpack a submission archive into ``dest``, refusing links, devices, absolute or ``..``
    paths, and more than :data:`MAX_UNPACKED_BYTES` / :data:`MAX_MEMBERS`.

    Raises:
        TitoError: naming what was refused.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            # A zip symlink is a file whose mode bits (high 16 of external_attr) say S_IFLNK.
            members = [_Member(i.filename, i.file_size, i.is_dir(),
                               "refused symbolic link"
                               if (i.external_attr >> 16) & 0o170000 == 0o120000 else None,
                               lambda i=i: zf.open(i))
                       for i in zf.infolist()]
            _extract(archive.name, members, dest)
        return
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = [_Member(m.name, m.size, m.isdir(),
                               None if m.isfile() or m.isdir() else "refused member",
                               lambda m=m: tf.extractfile(m))
                       for m in tf.getmembers()]
            _extract(archive.name, members, dest)
    except tarfile.TarError as exc:
        raise TitoError(f"{archive.name} is not a readable archive: {exc}") from None


class _Member(NamedTuple):
    """One archive entry, whatever the archive format."""

    name: str
    size: int
    is_dir: bool
    refusal: str | None  # the error's wording for a refused kind (a link, a device), else None
    open: Callable[[], Any]  # opens the member's bytes for reading


def _extract(archive_name: str, members: list[_Member], dest: Path) -> None:
    """Check every member first (names, kinds, count, total size), then write them."""
    if len(members) > MAX_MEMBERS:
        raise TitoError(f"{archive_name}: more than {MAX_MEMBERS} files")
    total = 0
    for member in members:
        if not _safe_member(member.name):
            raise TitoError(f"{archive_name}: refused member {member.name!r}")
        if member.refusal:
            raise TitoError(f"{archive_name}: {member.refusal} {member.name!r}")
        total += member.size
        if total > MAX_UNPACKED_BYTES:
            raise TitoError(f"{archive_name}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
    for member in members:
        target = dest / member.name
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def package_root(folder: Path) -> Path:
    """The package folder inside a submission: ``folder`` itself when it holds ``pyproject.toml``
    or ``src/``, else its only sub-folder that does (an unpacked sdist has one)."""
    if (folder / "pyproject.toml").is_file() or (folder / "src").is_dir():
        return folder
    candidates = [c for c in folder.iterdir() if c.is_dir() and not c.name.startswith(".")
                  and ((c / "pyproject.toml").is_file() or (c / "src").is_dir())]
    return candidates[0] if len(candidates) == 1 else folder


def submission_distribution(root: Path) -> str | None:
    """The ``[project] name`` a submission declares, if its pyproject.toml is readable."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return name if isinstance(name, str) else None


# --------------------------------------------------------------------------------------------
# One run: a sandbox folder, a clean environment, a time limit
# --------------------------------------------------------------------------------------------

@dataclass
class _Run:
    exit_code: int | None  # None: killed at the time limit
    seconds: float
    events: list[dict]
    log: str


def _clean_env(box: Path, extra: dict[str, str]) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(box / "home"),
        "TMPDIR": str(box / "tmp"), "TMP": str(box / "tmp"), "TEMP": str(box / "tmp"),
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(box / "src"), str(box / ".grader")]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "TINYTORCH_REPO": "",  # tito inside the run must not find the instructor's checkout
        "TINYTORCH_DATA": str(box / "data"),
        "COLUMNS": "120",
    }
    if os.name == "nt":  # pragma: no cover - Windows needs these to start Python at all
        env.update({k: os.environ[k] for k in ("SYSTEMROOT", "COMSPEC") if k in os.environ})
    env.update(extra)
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def _read_events(path: Path) -> list[dict]:
    events = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a kill
            if isinstance(record, dict) and isinstance(record.get("nodeid"), str):
                events.append(record)
    return events


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        text = f.read().decode("utf-8", errors="replace")
    return ("[... earlier output cut ...]\n" if size > limit else "") + text


def _prepare_box(box: Path, code: Path | None, module: Module, tests: Path,
                 project: dict) -> None:
    """The sandbox folder: the code under test, the reference tests, the plugin, the ini."""
    if box.exists():
        shutil.rmtree(box)
    for sub in ("src", "home", "tmp", "data", ".grader"):
        (box / sub).mkdir(parents=True)
    if code is not None:
        shutil.copytree(code, box / "src" / module.import_dir,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"), symlinks=False)
    # a submission cannot ship the namespace packages' __init__ (it would break the namespace)
    for ns in ("tinytorch/__init__.py", "tinytorch/core/__init__.py"):
        (box / "src" / ns).unlink(missing_ok=True)
    _write_dist_info(project, box / "src", box)
    shutil.copytree(tests, box / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(Path(__file__).with_name("grade_plugin.py"), box / ".grader" / f"{PLUGIN}.py")
    (box / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")


def _run_box(box: Path, timeout: float, limits: dict[str, int], args: list[str]) -> _Run:
    results = box / ".grader" / "results.jsonl"
    log = box / ".grader" / "output.log"
    results.unlink(missing_ok=True)
    all_limits = dict(limits)
    all_limits.setdefault("RLIMIT_CPU", int(2 * timeout + 10))
    env = _clean_env(box, {"TT_GRADE_RESULTS": str(results), "TT_GRADE_LIMITS": json.dumps(all_limits)})
    flags = ["-P"] if sys.version_info >= (3, 11) else []
    cmd = [sys.executable, *flags, "-m", "pytest", "-p", PLUGIN, "-c", str(box / "pytest.ini"),
           "--rootdir", str(box), "-q", "-rN", "--continue-on-collection-errors", *args, "tests"]
    start = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=box, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=(os.name == "posix"))
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _kill_group(proc)  # also what the tests left running
            proc.wait()
    return _Run(code, time.perf_counter() - start, _read_events(results), _tail(log))


# --------------------------------------------------------------------------------------------
# From events to results
# --------------------------------------------------------------------------------------------

def _points_for(nodeid: str, patterns: dict[str, float]) -> float:
    for pattern, points in patterns.items():
        if fnmatch.fnmatchcase(nodeid, pattern):
            return float(points)
    return 1.0


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _score(name: str, run: _Run, universe: list[str], points: dict[str, float], timeout: float,
           graded: set[str]) -> SubmissionResult:
    results: dict[str, dict] = {}
    started: list[str] = []
    collect_errors: dict[str, str] = {}
    for event in run.events:
        kind, nodeid = event.get("event"), event["nodeid"]
        if kind == "result":
            results[nodeid] = event
        elif kind == "start":
            started.append(nodeid)
        elif kind == "collect_error":
            collect_errors[nodeid] = str(event.get("message", ""))
    running = next((n for n in reversed(started) if n not in results), None)
    if run.exit_code is None:
        status, detail = "timeout", f"stopped after {timeout:g} s"
        why_not_run = f"not run: the submission ran out of time ({timeout:g} s)"
    elif run.exit_code < 0 or run.exit_code not in (0, 1, 2, 5):
        how = (f"killed by signal {-run.exit_code}" if run.exit_code < 0
               else f"pytest exited with code {run.exit_code}")
        status, detail = "crashed", how
        why_not_run = f"not run: the test process died ({how})"
    else:
        status, detail = "graded", ""
        why_not_run = "not run"
    if status == "graded" and not results and not collect_errors:
        status, detail = "crashed", f"the test process ended (exit code {run.exit_code}) before any test ran"
        why_not_run = f"not run: {detail}"
    if collect_errors and status == "graded":
        detail = f"{len(collect_errors)} test file(s) could not be collected (does the code import?)"
    tests: list[TestResult] = []
    for nodeid in universe:
        worth = points[nodeid] if nodeid in graded else 0.0
        if nodeid not in graded:
            tests.append(TestResult(nodeid, "not graded", 0.0, 0.0,
                                    "the reference does not pass this test"))
            continue
        event = results.get(nodeid)
        if event is not None:
            outcome = str(event.get("outcome"))
            message = str(event.get("message", ""))
            tests.append(TestResult(nodeid, outcome, worth if outcome == "passed" else 0.0, worth, message))
        elif nodeid == running:
            outcome = "timeout" if run.exit_code is None else "error"
            message = (f"still running when the time limit ({timeout:g} s) was reached"
                       if run.exit_code is None else f"the test process died while running it ({detail})")
            tests.append(TestResult(nodeid, outcome, 0.0, worth, message))
        elif _file_of(nodeid) in collect_errors:
            tests.append(TestResult(nodeid, "error", 0.0, worth,
                                    "collection failed: " + collect_errors[_file_of(nodeid)]))
        else:
            tests.append(TestResult(nodeid, "not run", 0.0, worth, why_not_run))
    score = sum(t.points for t in tests)
    max_score = sum(t.max_points for t in tests)
    return SubmissionResult(name, status, score, max_score, round(run.seconds, 2), detail, tests, run.log)


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------

def _reference_project(reference: PackageLayout) -> dict:
    return tomllib.loads(reference.read_text("pyproject.toml")).get("project", {})


def grade(submissions: list[tuple[str, Path]], module: Module, reference: PackageLayout, work: Path,
          *, timeout: float = 600.0, points: dict[str, float] | None = None, jobs: int = 1,
          limits: dict[str, int] | None = None, pytest_args: Iterable[str] = (),
          progress: Callable[[SubmissionResult], None] | None = None) -> Gradebook:
    """Grade every submission of ``module`` against the reference's tests.

    Args:
        submissions: (name, folder or archive) pairs, e.g. from :func:`find_submissions`.
        module: The module being graded.
        reference: The module's reference package (its tests are the ones that count).
        work: A scratch folder: one sandbox per submission is made (and kept) there.
        timeout: Wall-clock seconds allowed for one submission's whole test run.
        points: Node-id patterns to points (default 1 point per test).
        jobs: Submissions graded at the same time.
        limits: Resource limits (default :data:`DEFAULT_LIMITS`).
        pytest_args: More pytest arguments (e.g. ``-m "not slow"``).
        progress: Called with each submission's result as it is graded.

    Raises:
        TitoError: if the reference cannot be laid out or fails to run at all.
    """
    patterns = dict(points or {})
    limits = dict(DEFAULT_LIMITS if limits is None else limits)
    args = list(pytest_args)
    work.mkdir(parents=True, exist_ok=True)
    ref_dir = work / "_reference"
    if ref_dir.exists():
        shutil.rmtree(ref_dir)
    reference.write(ref_dir)
    tests_dir = ref_dir / "tests"
    code_dir = ref_dir / "src" / module.import_dir
    if not tests_dir.is_dir():
        raise TitoError(f"the reference of {module.distribution} ({reference.description}) has no tests/")
    project = _reference_project(reference)

    # the reference, graded first: which tests exist, and which of them it passes
    box = work / "_box-reference"
    _prepare_box(box, code_dir if code_dir.is_dir() else None, module, tests_dir, project)
    ref_run = _run_box(box, timeout, limits, args)
    universe = list(dict.fromkeys(e["nodeid"] for e in ref_run.events if e.get("event") == "result"))
    if not universe:
        raise TitoError(f"the reference tests of {module.distribution} ran no test "
                        f"(exit code {ref_run.exit_code}):\n{ref_run.log[-3000:]}",
                        hint="are the modules it builds on installed in this environment?")
    passed = {e["nodeid"] for e in ref_run.events
              if e.get("event") == "result" and e.get("outcome") == "passed"}
    weights = {n: _points_for(n, patterns) for n in universe}
    reference_result = _score(REFERENCE_NAME, ref_run, universe, weights, timeout, passed)

    def one(item: tuple[str, Path]) -> SubmissionResult:
        name, path = item
        safe = re.sub(r"[^A-Za-z0-9._+-]", "_", name)
        root = work / f"submission-{safe}"
        box = root / "box"
        start = time.perf_counter()

        def fail(status: str, detail: str) -> SubmissionResult:
            tests = [TestResult(n, "not run" if n in passed else "not graded", 0.0,
                                weights[n] if n in passed else 0.0, detail) for n in universe]
            return SubmissionResult(name, status, 0.0, sum(t.max_points for t in tests),
                                    round(time.perf_counter() - start, 2), detail, tests)

        try:
            if root.exists():
                shutil.rmtree(root)
            if path.is_file():
                unpack(path, root / "unpacked")
                folder = package_root(root / "unpacked")
            else:
                folder = package_root(path)
            declared = submission_distribution(folder)
            if declared is not None and module_for_distribution(declared) not in (None, module):
                return fail("wrong module", f"the submission is {declared}, not {module.distribution}")
            code = folder / "src" / module.import_dir
            if not code.is_dir():
                return fail("no code", f"the submission has no src/{module.import_dir}/")
            _prepare_box(box, code, module, tests_dir, project)
        except (TitoError, OSError, shutil.Error) as exc:
            return fail("invalid", getattr(exc, "message", None) or str(exc))
        run = _run_box(box, timeout, limits, args)
        return _score(name, run, universe, weights, timeout, passed)

    results: list[SubmissionResult] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(one, submissions):
            results.append(result)
            if progress is not None:
                progress(result)
    return Gradebook(module.folder, module.distribution, universe, weights, reference_result, results,
                     timeout)


# --------------------------------------------------------------------------------------------
# Writing the gradebook
# --------------------------------------------------------------------------------------------

def write_gradebook(book: Gradebook, out: Path) -> dict[str, Path]:
    """Write ``gradebook.json``, ``gradebook.csv`` (one row per submission and test: outcome,
    points, failure message), ``summary.csv`` (one row per submission: status, score, and the
    points of every test in a column) and ``logs/<submission>.log``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    everyone = [book.reference, *book.submissions]
    for result in everyone:
        safe = re.sub(r"[^A-Za-z0-9._+-]", "_", result.name)
        (logs / f"{safe}.log").write_text(result.log, encoding="utf-8")
    data = {
        "module": book.module, "distribution": book.distribution, "created": book.created,
        "timeout_seconds": book.timeout,
        "max_score": book.reference.max_score,
        "tests": [{"nodeid": n, "points": book.points[n],
                   "graded": any(t.nodeid == n and t.outcome != "not graded" for t in book.reference.tests)}
                  for n in book.tests],
        "reference": _as_json(book.reference),
        "submissions": [_as_json(r) for r in book.submissions],
    }
    paths = {"json": out / "gradebook.json", "csv": out / "gradebook.csv", "summary": out / "summary.csv"}
    paths["json"].write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    with open(paths["csv"], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "test", "outcome", "points", "max_points", "message"])
        for result in everyone:
            for t in result.tests:
                writer.writerow([result.name, result.status, t.nodeid, t.outcome, _num(t.points),
                                 _num(t.max_points), t.message])
    with open(paths["summary"], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "status", "score", "max_score", "percent", "seconds", "detail",
                         *book.tests])
        for result in everyone:
            by_id = {t.nodeid: t for t in result.tests}
            percent = 100.0 * result.score / result.max_score if result.max_score else 0.0
            writer.writerow([result.name, result.status, _num(result.score), _num(result.max_score),
                             f"{percent:.1f}", f"{result.seconds:.1f}", result.detail,
                             *(_num(by_id[n].points) if n in by_id else "" for n in book.tests)])
    return paths


def _num(x: float) -> str:
    return f"{x:g}"


def _as_json(result: SubmissionResult) -> dict:
    data = asdict(result)
    data.pop("log")
    return data
