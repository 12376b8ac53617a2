"""``tito grade``: run the reference tests of a module on every student's submission.

A *submission* is a student's version of one module: a package folder (a workspace from
``tito module start``, an unpacked ``tito release`` archive) or an archive of one (``.tar.gz``,
``.tgz``, ``.zip``). Each one is graded on its own, in a fresh *box* (a folder) that holds only

* ``src/``: the submission's code for that module (``src/<import path>/``, nothing else of it;
  the tests it may carry are ignored) with a ``.dist-info`` made from the *reference's*
  metadata (its entry points, e.g. autograd's engine, so later code finds the student's copy);
* ``tests/``: a private copy of the module's **reference** tests, written from memory (the
  reference is read once; no folder is shared between boxes);
* the grader's pytest plugin, a ``pytest.ini``, an empty ``home/``, ``tmp/`` and ``data/``;

and run by this Python as ``python -P -m pytest``, from that folder, with a clean environment
(``PATH``, ``HOME``/``TMPDIR`` inside the box, ``PYTHONPATH`` at its ``src/``, one BLAS
thread, nothing of the instructor's variables), under the sandbox of :mod:`.sandbox`
(bubblewrap) unless ``sandbox=False``. Limits: the wall time (``timeout``; everything the run
started is killed), a process count, and — set in the process before any submission code is
imported — address space, CPU time, file size and no core dumps.

After the run, the result is checked from outside (see :func:`_tamper_checks`): the grading
files must be byte for byte what was written, the tests collected must be the reference's, the
results stream must be complete and agree with pytest's own summary, and the plugin must not
have seen anything a fair submission never does. A run that fails a check is ``tampered``:
score 0, the reasons in its row and log.

The points of each test come from ``points`` (pytest node-id patterns, as in :mod:`fnmatch`,
to points; the first matching pattern wins; default 1) and from *exercises*: a key
``"exercise:<name>"`` gives the exercise ``<name>`` — every test whose node id holds the name,
as the lesson's ``check("<module>", "<name>")`` selects them — that many points, shared
equally by its tests. The reference implementation is graded first, as a sanity check: a test
it does not pass is worth nothing (shown as ``not graded``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..checkstubs import _write_dist_info
from ..metadata_toml import tomllib
from ..process import TitoError
from ..registry import Module, module_for_distribution
from ..sources import PackageLayout
from . import sandbox as _sandbox
from .gradebook import REFERENCE_NAME, Gradebook, SubmissionResult, TestResult
from .submissions import (code_folder, copy_code, package_root, remove_tree, safe_names,
                          submission_distribution, unpack)

__all__ = ["DEFAULT_LIMITS", "exercise_points", "grade"]

#: Resource limits inside each run (soft = hard): 4 GiB of address space, 256 MiB per file
#: written, no core files. RLIMIT_CPU is added per run (twice the wall time, plus 10 s).
DEFAULT_LIMITS = {"RLIMIT_AS": 4 << 30, "RLIMIT_FSIZE": 256 << 20, "RLIMIT_CORE": 0}
PLUGIN = "_tito_grade_plugin"
LOG_TAIL = 20000
#: At most this much of the results stream is kept (a flood is cut, and marked tampered).
MAX_STREAM = 32 << 20

_PYTEST_INI = """\
[pytest]
addopts = --import-mode=importlib -p no:cacheprovider
markers =
    slow: long-running tests
    torch: tests that compare with PyTorch
"""
_SUMMARY = re.compile(r"^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|deselected|xfailed|xpassed|"
                      r"warnings?)(?:, )?)+) in [\d.]+s")


@dataclass
class _Run:
    exit_code: int | None  # None: killed at the time limit
    seconds: float
    events: list[dict]
    log: str
    problems: list[str] = field(default_factory=list)  # found by the grader itself
    sandboxed: bool = False


@dataclass
class _Isolation:
    """How boxes run: under bwrap (``bwrap`` set) or not; the process limit."""

    bwrap: str | None
    description: str
    hide_module: str | None = None
    max_processes: int = _sandbox.DEFAULT_MAX_PROCESSES


# --------------------------------------------------------------------------------------------
# The box: files written from memory, hashed before and after
# --------------------------------------------------------------------------------------------

def _read_reference(reference: PackageLayout, module: Module) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The reference's tests and code, as ``{path: bytes}`` (read once, never shared on disk)."""
    tests: dict[str, bytes] = {}
    code: dict[str, bytes] = {}
    prefix = f"src/{module.import_dir}/"
    for rel in reference.paths():
        if "__pycache__" in rel or rel.endswith(".pyc"):
            continue
        data = (reference.generated[rel].encode("utf-8") if rel in reference.generated
                else reference.files[rel].read_bytes())
        if rel.startswith("tests/"):
            tests[rel[len("tests/"):]] = data
        elif rel.startswith(prefix):
            code[rel[len(prefix):]] = data
    return tests, code


def _write_tree(files: dict[str, bytes], dest: Path) -> None:
    for rel, data in sorted(files.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _manifest(box: Path) -> dict[str, str]:
    """sha256 of every grading file of a box: the tests, the plugin, the ini."""
    found = {}
    for top in ("tests", ".grader", "pytest.ini"):
        root = box / top
        paths = [root] if root.is_file() or root.is_symlink() else sorted(root.rglob("*"))
        for path in paths:
            rel = path.relative_to(box).as_posix()
            if path.is_symlink():
                found[rel] = "symlink"
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                found[rel] = "dir"
    return found


def _lock(box: Path) -> None:
    """Make the grading files read-only (outside a sandbox, a first line against accidents)."""
    for top in ("tests", ".grader"):
        for path in sorted((box / top).rglob("*"), reverse=True):
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        os.chmod(box / top, 0o555)
    os.chmod(box / "pytest.ini", 0o444)


def _prepare_box(box: Path, put_code: Callable[[Path], None] | None, module: Module,
                 tests: dict[str, bytes], project: dict, inner: Path) -> dict[str, str]:
    """Make the box; return the manifest of its grading files."""
    remove_tree(box)
    for sub in ("src", "home", "tmp", "data", ".grader"):
        (box / sub).mkdir(parents=True)
    if put_code is not None:
        put_code(box / "src" / module.import_dir)
    # a submission cannot ship the namespace packages' __init__ (it would break the namespace)
    for ns in ("tinytorch/__init__.py", "tinytorch/core/__init__.py"):
        (box / "src" / ns).unlink(missing_ok=True)
    _write_dist_info(project, box / "src", inner)
    _write_tree(tests, box / "tests")
    (box / ".grader" / f"{PLUGIN}.py").write_bytes(Path(__file__).with_name("plugin.py").read_bytes())
    (box / "pytest.ini").write_text(_PYTEST_INI, encoding="utf-8")
    _lock(box)
    return _manifest(box)


# --------------------------------------------------------------------------------------------
# One run
# --------------------------------------------------------------------------------------------

def _clean_env(inner: Path, extra: dict[str, str]) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": os.pathsep.join([bindir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": str(inner / "home"),
        "TMPDIR": str(inner / "tmp"), "TMP": str(inner / "tmp"), "TEMP": str(inner / "tmp"),
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(inner / "src"), str(inner / ".grader")]),
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "TINYTORCH_REPO": "",  # tito inside the run must not find the instructor's checkout
        "TINYTORCH_DATA": str(inner / "data"),
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


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    if not path.is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - limit))
        text = f.read().decode("utf-8", errors="replace")
    return ("[... earlier output cut ...]\n" if size > limit else "") + text


def _parse_events(data: bytes) -> list[dict]:
    events = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(record, dict) and isinstance(record.get("event"), str):
            events.append(record)
    return events


def _read_stream(proc: subprocess.Popen, fd: int, deadline: float) -> tuple[bytearray, bool, bool]:
    """Read the results pipe until every writer closed it or the time is up.

    Returns (data, timed_out, flooded). Once the process has exited, a pipe still held open (by
    a process that left its group, outside a sandbox) is read for one more second only.
    """
    data = bytearray()
    flooded = False
    exited_at: float | None = None
    while True:
        now = time.monotonic()
        if now >= deadline:
            return data, proc.poll() is None or exited_at is None, flooded
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > 1.0:
            return data, False, flooded
        ready, _, _ = select.select([fd], [], [], min(0.25, deadline - now))
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return data, False, flooded
        if len(data) + len(chunk) > MAX_STREAM:
            flooded = True
        else:
            data += chunk


def _run_box(box: Path, timeout: float, limits: dict[str, int], args: list[str],
             isolation: _Isolation, watch: Path) -> _Run:
    log = box.parent / f"{box.name}.log"  # outside the box: the run cannot rewrite it
    inner = _sandbox.INNER_BOX if isolation.bwrap else box
    all_limits = dict(limits)
    all_limits.setdefault("RLIMIT_CPU", int(2 * timeout + 10))
    group = _sandbox.pids_cgroup(isolation.max_processes)
    if group is None and os.name == "posix" and os.geteuid() != 0:
        all_limits.setdefault("RLIMIT_NPROC", _sandbox.user_process_count() + isolation.max_processes)
    read_fd, write_fd = os.pipe()
    extra = {"TT_GRADE_FD": str(write_fd), "TT_GRADE_LIMITS": json.dumps(all_limits)}
    if not isolation.bwrap:
        extra["TT_GRADE_WATCH"] = str(watch)
    # no pytest plugin of the grader's environment runs in the box, but hypothesis' own
    extra["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env = _clean_env(inner, extra)
    plugins = ["-p", "_hypothesis_pytestplugin"] if importlib.util.find_spec("_hypothesis_pytestplugin") else []
    flags = ["-P"] if sys.version_info >= (3, 11) else []
    cmd = [sys.executable, *flags, "-m", "pytest", *plugins, "-p", PLUGIN, "-c", str(inner / "pytest.ini"),
           "--rootdir", str(inner), "-q", "-rN", "--continue-on-collection-errors", *args, "tests"]
    if isolation.bwrap:
        cmd = _sandbox.bwrap_command(isolation.bwrap, box, cmd, hide_module=isolation.hide_module)
    if group is not None:
        cmd = ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group), *cmd]
    start = time.perf_counter()
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, cwd=box, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, pass_fds=(write_fd,),
                                    start_new_session=(os.name == "posix"))
            os.close(write_fd)
            write_fd = -1
            deadline = time.monotonic() + timeout
            try:
                data, timed_out, flooded = _read_stream(proc, read_fd, deadline)
                if not timed_out:  # the stream ended: the process is exiting; let it finish
                    try:
                        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                    except subprocess.TimeoutExpired:
                        timed_out = True
            finally:
                _kill_group(proc)  # also what the tests left running
                if group is not None:
                    _sandbox.remove_cgroup(group)
                proc.wait()
            code: int | None = None if timed_out else proc.returncode
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
    problems = [f"the results stream was flooded (more than {MAX_STREAM >> 20} MiB)"] if flooded else []
    if isolation.bwrap and code is not None and code > 128:
        code = -(code - 128)  # bwrap reports a child killed by signal N as 128 + N
    return _Run(code, time.perf_counter() - start, _parse_events(bytes(data)), _tail(log), problems,
                bool(isolation.bwrap))


# --------------------------------------------------------------------------------------------
# From events to results, and what a fair run never shows
# --------------------------------------------------------------------------------------------

def _points_for(nodeid: str, patterns: dict[str, float]) -> float:
    for pattern, points in patterns.items():
        if fnmatch.fnmatchcase(nodeid, pattern):
            return float(points)
    return 1.0


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def exercise_points(points: dict[str, float], universe: list[str], graded: set[str]
                    ) -> tuple[dict[str, float], list[str], dict[str, str]]:
    """Split a points file into per-test points, the exercises it names, and each test's exercise.

    An exercise's points are shared equally by its tests that the reference passes; a test
    belongs to the first exercise (in the file's order) whose name it holds (case-insensitive,
    as ``pytest -k <name>`` selects it). Other tests follow the patterns (default 1 point).

    Raises:
        TitoError: for an exercise no test holds.
    """
    patterns = {k: float(v) for k, v in points.items() if not k.startswith("exercise:")}
    exercises = {k[len("exercise:"):]: float(v) for k, v in points.items() if k.startswith("exercise:")}
    exercise_of: dict[str, str] = {}
    for nodeid in universe:
        for name in exercises:
            if name.lower() in nodeid.lower():
                exercise_of[nodeid] = name
                break
    weights = {n: _points_for(n, patterns) for n in universe if n not in exercise_of}
    for name, worth in exercises.items():
        members = [n for n in universe if exercise_of.get(n) == name]
        if not members:
            raise TitoError(f"the points file names exercise {name!r}, but no test of this module holds "
                            f"that name", hint="exercise names are those of the lesson's check() cells")
        counted = [n for n in members if n in graded] or members
        for n in members:
            weights[n] = worth / len(counted) if n in counted else 0.0
    return weights, list(exercises), exercise_of


def _summary_counts(log: str) -> dict[str, int] | None:
    """pytest's last summary line (``3 failed, 20 passed in 1.2s``) as counts, if any."""
    for line in reversed(log.splitlines()):
        match = _SUMMARY.match(line.strip())
        if match:
            counts: dict[str, int] = {}
            for part in match.group(1).split(", "):
                number, word = part.split(" ", 1)
                counts[word.rstrip("s") if word in ("errors", "warnings") else word] = int(number)
            return counts
    return None


def _tamper_checks(run: _Run, manifest: dict[str, str], box: Path, reference_collected: list[str]) -> list[str]:
    """Everything about a run that a fair submission never causes, in words."""
    problems = list(run.problems)
    after = _manifest(box)
    for rel in sorted(set(manifest) | set(after)):
        if rel not in after:
            problems.append(f"grading file removed: {rel}")
        elif rel not in manifest:
            problems.append(f"file added among the grading files: {rel}")
        elif after[rel] != manifest[rel]:
            problems.append(f"grading file changed: {rel}")
    problems += [str(e.get("message", "")) for e in run.events if e.get("event") == "tamper"]
    collected_events = [e for e in run.events if e.get("event") == "collected"]
    ends = [e for e in run.events if e.get("event") == "end"]
    results = [e for e in run.events if e.get("event") == "result"]
    collect_errors = {str(e.get("nodeid")) for e in run.events if e.get("event") == "collect_error"}
    if len(collected_events) > 1 or len(ends) > 1:
        problems.append("the results stream holds more than one session")
    finished_normally = run.exit_code in (0, 1)
    if finished_normally and (not collected_events or not ends):
        problems.append("the results stream stopped before the session ended (exit code "
                        f"{run.exit_code})")
    if collected_events:
        collected = collected_events[0].get("nodeids")
        collected = [str(n) for n in collected] if isinstance(collected, list) else []
        extra = sorted(set(collected) - set(reference_collected))
        if extra:
            problems.append(f"{len(extra)} test(s) collected that the reference tests do not have: "
                            f"{', '.join(extra[:3])}")
        files_ok = {_file_of(n) for n in reference_collected} - collect_errors
        missing = sorted(n for n in reference_collected if _file_of(n) in files_ok and n not in collected)
        if missing:
            problems.append(f"{len(missing)} reference test(s) not collected from files that collected: "
                            f"{', '.join(missing[:3])}")
        seen: set[str] = set()
        for event in results:
            nodeid = str(event.get("nodeid"))
            if nodeid in seen:
                problems.append(f"two results for {nodeid}")
                break
            seen.add(nodeid)
            if nodeid not in collected:
                problems.append(f"a result for a test that was not collected: {nodeid}")
                break
    if ends and finished_normally:
        stream = ends[0].get("counts") or {}
        own = {"passed": sum(1 for e in results if e.get("outcome") == "passed")}
        if isinstance(stream, dict) and stream.get("passed") != own["passed"]:
            problems.append(f"the results stream's end says {stream.get('passed')} passed, its results "
                            f"{own['passed']}")
        summary = _summary_counts(run.log)
        if summary is not None and summary.get("passed", 0) != own["passed"]:
            problems.append(f"pytest's summary says {summary.get('passed', 0)} passed, the plugin saw "
                            f"{own['passed']}")
    return list(dict.fromkeys(p for p in problems if p))


def _score(name: str, run: _Run, universe: list[str], points: dict[str, float], timeout: float,
           graded: set[str], tampered: list[str] | None = None) -> SubmissionResult:
    results: dict[str, dict] = {}
    started: list[str] = []
    collect_errors: dict[str, str] = {}
    for event in run.events:
        kind, nodeid = event.get("event"), event.get("nodeid")
        if not isinstance(nodeid, str):
            continue
        if kind == "result":
            results.setdefault(nodeid, event)
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
        result = results.get(nodeid)
        if result is not None:
            outcome = str(result.get("outcome"))
            message = str(result.get("message", ""))
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
    log = run.log
    if tampered:
        status, detail = "tampered", tampered[0]
        for test in tests:
            test.points = 0.0
        log = ("tito grade: this run is marked TAMPERED (score 0):\n"
               + "".join(f"  - {p}\n" for p in tampered) + "\n" + log)
    score = sum(t.points for t in tests)
    max_score = sum(t.max_points for t in tests)
    return SubmissionResult(name, status, score, max_score, round(run.seconds, 2), detail, tests, log,
                            list(tampered or []))


# --------------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------------

def _reference_project(reference: PackageLayout) -> dict:
    return tomllib.loads(reference.read_text("pyproject.toml")).get("project", {})


def _isolation(sandbox: bool, module: Module) -> _Isolation:
    if not sandbox:
        return _Isolation(None, "none (--no-sandbox): a clean environment, rlimits and a process group")
    status = _sandbox.probe()
    if not status.available:
        raise TitoError(f"sandboxed grading is not available here: {status.reason}",
                        hint="install bubblewrap, or pass --no-sandbox to grade with only a clean "
                             "environment and resource limits (see docs/instructors.md)")
    return _Isolation(_sandbox.find_bwrap(), f"{status.engine}; processes: {status.process_limit}",
                      hide_module=module.import_name)


def grade(submissions: list[tuple[str, Path]], module: Module, reference: PackageLayout, work: Path,
          *, timeout: float = 600.0, points: dict[str, float] | None = None, jobs: int = 1,
          limits: dict[str, int] | None = None, pytest_args: Iterable[str] = (),
          progress: Callable[[SubmissionResult], None] | None = None,
          sandbox: bool = True) -> Gradebook:
    """Grade every submission of ``module`` against the reference's tests.

    Args:
        submissions: (name, folder or archive) pairs, e.g. from :func:`find_submissions`.
        module: The module being graded.
        reference: The module's reference package (its tests are the ones that count).
        work: A scratch folder: one box per submission is made (and kept) there.
        timeout: Wall-clock seconds allowed for one submission's whole test run.
        points: Node-id patterns to points, and ``"exercise:<name>"`` keys (default 1 per test).
        jobs: Submissions graded at the same time.
        limits: Resource limits (default :data:`DEFAULT_LIMITS`).
        pytest_args: More pytest arguments (e.g. ``-m "not slow"``).
        progress: Called with each submission's result as it is graded.
        sandbox: Run every box under bubblewrap (refused with a TitoError where it cannot run);
            False: only a clean environment, rlimits and a process group.

    Raises:
        TitoError: if the sandbox is unavailable, or the reference cannot be laid out, fails to
            run at all, or itself looks tampered (a bug, not a student).
    """
    limits = dict(DEFAULT_LIMITS if limits is None else limits)
    args = list(pytest_args)
    isolation = _isolation(sandbox, module)
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    tests, ref_code = _read_reference(reference, module)
    if not tests:
        raise TitoError(f"the reference of {module.distribution} ({reference.description}) has no tests/")
    project = _reference_project(reference)
    inner = _sandbox.INNER_BOX if isolation.bwrap else None

    # the reference, graded first: which tests exist, and which of them it passes
    box = work / "_reference" / "box"
    manifest = _prepare_box(box, (lambda dest: _write_tree(ref_code, dest)) if ref_code else None,
                            module, tests, project, inner or box)
    ref_run = _run_box(box, timeout, limits, args, isolation, work)
    universe = list(dict.fromkeys(e["nodeid"] for e in ref_run.events
                                  if e.get("event") == "result" and isinstance(e.get("nodeid"), str)))
    if not universe:
        raise TitoError(f"the reference tests of {module.distribution} ran no test "
                        f"(exit code {ref_run.exit_code}):\n{ref_run.log[-3000:]}",
                        hint="are the modules it builds on installed in this environment?")
    collected = next((e.get("nodeids") for e in ref_run.events if e.get("event") == "collected"), None) or []
    reference_collected = [str(n) for n in collected]
    problems = _tamper_checks(ref_run, manifest, box, reference_collected)
    if problems:
        raise TitoError(f"the reference run of {module.distribution} fails tito's own checks: "
                        f"{'; '.join(problems)}", hint="this is a bug in tito grade or in the tests; "
                                                      "please report it with the log above")
    passed = {e["nodeid"] for e in ref_run.events
              if e.get("event") == "result" and e.get("outcome") == "passed"}
    weights, exercises, exercise_of = exercise_points(dict(points or {}), universe, passed)
    reference_result = _score(REFERENCE_NAME, ref_run, universe, weights, timeout, passed)
    reference_result.log_name = "_reference"

    names = safe_names(name for name, _ in submissions)

    def one(item: tuple[tuple[str, Path], str]) -> SubmissionResult:
        (name, path), safe = item
        root = work / f"submission-{safe}"
        box = root / "box"
        start = time.perf_counter()

        def fail(status: str, detail: str) -> SubmissionResult:
            tests_ = [TestResult(n, "not run" if n in passed else "not graded", 0.0,
                                 weights[n] if n in passed else 0.0, detail) for n in universe]
            return SubmissionResult(name, status, 0.0, sum(t.max_points for t in tests_),
                                    round(time.perf_counter() - start, 2), detail, tests_,
                                    log=f"tito grade: {status}: {detail}\n", log_name=safe)

        try:
            remove_tree(root)
            root.mkdir(parents=True)
            if path.is_symlink():
                return fail("invalid", f"{path.name}: refused symbolic link (submissions are copied, "
                                       "never followed)")
            if path.is_file():
                unpack(path, root / "unpacked")
                folder = package_root(root / "unpacked")
            else:
                folder = package_root(path)
            declared = submission_distribution(folder)
            if declared is not None and module_for_distribution(declared) not in (None, module):
                return fail("wrong module", f"the submission is {declared}, not {module.distribution}")
            code = code_folder(folder, module.import_dir)
            if code is None:
                return fail("no code", f"the submission has no src/{module.import_dir}/")
            manifest = _prepare_box(box, lambda dest: copy_code(code, dest, name), module, tests, project,
                                    inner or box)
        except (TitoError, OSError) as exc:
            return fail("invalid", getattr(exc, "message", None) or str(exc))
        run = _run_box(box, timeout, limits, args, isolation, work)
        result = _score(name, run, universe, weights, timeout, passed,
                        _tamper_checks(run, manifest, box, reference_collected))
        result.log_name = safe
        return result

    results: list[SubmissionResult] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(one, zip(submissions, names)):
            results.append(result)
            if progress is not None:
                progress(result)
    return Gradebook(module.folder, module.distribution, universe, weights, reference_result, results,
                     timeout, sandbox=isolation.description, exercises=exercises, exercise_of=exercise_of)
