"""pytest plugin used by ``tito grade`` (copied into each box and loaded with ``-p``).

It imports nothing from ``tinytorch`` (the submission under test may be any module, tito's
own included) and is loaded before any test module, so before any of the submission's code.
It writes one JSON line per event to the file descriptor ``TT_GRADE_FD`` — a pipe the grader
reads as the run goes, so it knows what ran even when the run is killed or crashes:

* ``{"event": "collected", "nodeids": [...]}`` once, after collection;
* ``{"event": "start", "nodeid": ...}`` when a test starts;
* ``{"event": "result", "nodeid": ..., "outcome": "passed|failed|skipped", "message": ...}``
  once per test (a failure in setup or teardown counts as the test's failure);
* ``{"event": "collect_error", "nodeid": <file>, "message": ...}`` for a file that could not
  be collected (for instance because the submission does not import);
* ``{"event": "tamper", "message": ...}`` for what a fair submission never does (below);
* ``{"event": "end", "counts": {...}}`` when the session finishes.

What it watches, from inside the process (so a submission written to cheat *can* defeat it;
the grader's checks from outside, and the sandbox, do not depend on it):

* writes, renames, deletions or permission changes of the grading files — the reference tests,
  this plugin, ``pytest.ini`` — and, outside a sandbox, of anything in the grader's work
  folder outside this box (``TT_GRADE_WATCH``), through an audit hook (``sys.addaudithook``:
  it cannot be removed once added);
* a test reported ``passed`` whose call raised (the plugin wraps every test call itself);
* pytest's, pluggy's and numpy.testing's machinery replaced (identities taken at start-up
  and compared at the end), and report hooks added by anything but the reference tests.

Before any test module is imported it also applies the limits in ``TT_GRADE_LIMITS``
(``{"RLIMIT_AS": bytes, ...}``, soft = hard: only a process with ``CAP_SYS_RESOURCE`` in the
machine's first user namespace could raise them again, which a sandboxed one never has) and
disables hypothesis' example database (nothing to keep between gradings).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import pytest

_HERE = os.path.dirname(os.path.abspath(__file__))
_BOX = os.path.dirname(_HERE)
_PROTECTED = tuple(os.path.join(_BOX, name) for name in ("tests", ".grader", "pytest.ini"))
_WATCH = os.environ.get("TT_GRADE_WATCH") or ""
_reported: set[str] = set()
_raised: dict[str, str] = {}  # nodeid -> the exception its call raised, seen by this plugin
_counts = {"passed": 0, "failed": 0, "skipped": 0}
_fd: int | None = None


def _open_stream() -> int | None:
    spec = os.environ.get("TT_GRADE_FD")
    if not spec:
        return None
    fd = int(spec)
    try:
        os.set_inheritable(fd, False)  # the tests' own subprocesses do not get it
    except OSError:
        return None
    return fd


_fd = _open_stream()


def _write(record: dict[str, Any]) -> None:
    if _fd is None:
        return
    data = (json.dumps(record) + "\n").encode("utf-8")
    try:
        while data:
            data = data[os.write(_fd, data):]
    except OSError:
        pass  # the grader has gone away (killed at the time limit)


def _apply_limits() -> None:
    spec = os.environ.get("TT_GRADE_LIMITS")
    if not spec:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    for name, value in json.loads(spec).items():
        limit = getattr(resource, name, None)
        if limit is not None:
            try:
                resource.setrlimit(limit, (int(value), int(value)))
            except (ValueError, OSError):
                pass  # a limit this system does not allow lowering stays as it was


_apply_limits()


# --------------------------------------------------------------------------------------------
# Writes to the grading files: an audit hook
# --------------------------------------------------------------------------------------------

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_PATH_EVENTS = {"os.remove": 1, "os.rmdir": 1, "os.chmod": 1, "os.chown": 1, "os.truncate": 1,
                "os.utime": 1, "os.rename": 2, "os.link": 2, "os.symlink": 2, "shutil.rmtree": 1,
                "shutil.move": 2, "shutil.copyfile": 2, "os.mkdir": 1}
_flagged: set[str] = set()


def _is_protected(path: Any) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        full = os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    for root in _PROTECTED:
        if full == root or full.startswith(root + os.sep):
            return full
    if _WATCH and (full == _WATCH or full.startswith(_WATCH + os.sep)) \
            and not (full == _BOX or full.startswith(_BOX + os.sep)):
        return full
    return None


def _audit(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = (tuple(args) + (None, None, None))[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                  (isinstance(flags, int) and flags & _WRITE_FLAGS)
        targets = [path] if writing else []
    elif event in _PATH_EVENTS:
        targets = list(args[:_PATH_EVENTS[event]])
    else:
        return
    for target in targets:
        hit = _is_protected(target)
        if hit and hit not in _flagged:
            _flagged.add(hit)
            _write({"event": "tamper", "message": f"{event} on a grading file: {hit}"})


sys.addaudithook(_audit)


# --------------------------------------------------------------------------------------------
# The machinery that reports results: identities taken now, compared at the end
# --------------------------------------------------------------------------------------------

_MACHINERY = (
    "_pytest.runner:call_and_report", "_pytest.runner:runtestprotocol",
    "_pytest.runner:CallInfo.from_call", "_pytest.runner:pytest_runtest_makereport",
    "_pytest.reports:TestReport.__init__", "_pytest.reports:TestReport.from_item_and_call",
    "_pytest.reports:BaseReport.passed", "_pytest.reports:BaseReport.failed",
    "_pytest.python:Function.runtest", "_pytest.python:pytest_pyfunc_call",
    "pytest:approx", "pytest:raises", "pluggy:HookCaller.__call__", "pluggy._callers:_multicall",
    "numpy.testing:assert_allclose", "numpy.testing:assert_array_equal",
    "numpy.testing:assert_array_almost_equal", "numpy.testing:assert_equal",
    "numpy.testing:assert_almost_equal",
)


def _lookup(spec: str) -> Any:
    """The object at ``module:attr.attr`` as stored (a class's ``__dict__`` entry, so that a
    classmethod or property compares by identity), or None where this version has none."""
    module_name, _, path = spec.partition(":")
    try:
        obj: Any = __import__(module_name, fromlist=["_"])
    except ImportError:
        return None
    for part in path.split("."):
        namespace = getattr(obj, "__dict__", {})
        obj = namespace[part] if part in namespace else getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _machinery() -> dict[str, Any]:
    return {spec: _lookup(spec) for spec in _MACHINERY}


_ORIGINAL = _machinery()
_REPORT_HOOKS = ("pytest_runtest_makereport", "pytest_runtest_logreport", "pytest_report_teststatus",
                 "pytest_runtest_protocol", "pytest_runtest_call", "pytest_pyfunc_call",
                 "pytest_collection_modifyitems", "pytest_terminal_summary")
_hooks_at_start: dict[str, set[int]] = {}


def _hook_impls(config: pytest.Config, name: str) -> list[Any]:
    caller = getattr(config.pluginmanager.hook, name, None)
    return list(caller.get_hookimpls()) if caller is not None else []


def _trusted_roots() -> tuple[str, ...]:
    """Folders whose code may add report hooks: pytest's, pluggy's, hypothesis', the tests'."""
    roots = [os.path.join(_BOX, "tests")]
    for name in ("_pytest", "pytest", "pluggy", "hypothesis"):
        path = getattr(sys.modules.get(name), "__file__", None)
        if path:
            roots.append(os.path.dirname(os.path.abspath(path)))
    return tuple(root + os.sep for root in roots)


def _trusted(impl: Any, roots: tuple[str, ...]) -> bool:
    code = getattr(getattr(impl, "function", None), "__code__", None)
    filename = os.path.abspath(code.co_filename) if code is not None else ""
    return filename.startswith(roots)


def _check_machinery(config: pytest.Config) -> list[str]:
    problems = []
    now = _machinery()
    for name, original in _ORIGINAL.items():
        if now.get(name) is not original:
            problems.append(f"{name} was replaced")
    roots = _trusted_roots()
    for name in _REPORT_HOOKS:
        for impl in _hook_impls(config, name):
            if id(impl.function) not in _hooks_at_start.get(name, set()) and not _trusted(impl, roots):
                where = getattr(impl.function, "__module__", "?")
                problems.append(f"a {name} hook was added by {where}")
    return problems


# --------------------------------------------------------------------------------------------
# pytest hooks
# --------------------------------------------------------------------------------------------

def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    text = getattr(report, "longreprtext", "") or str(report.longrepr or "")
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    head = getattr(crash, "message", "")
    if head:
        return head if len(text) <= len(head) else f"{head}\n\n{text[-2000:]}"
    return text[-2000:]


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    for name in _REPORT_HOOKS:
        _hooks_at_start[name] = {id(impl.function) for impl in _hook_impls(config, name)}
    try:
        from hypothesis import settings

        settings.register_profile("tito-grade", database=None)
        settings.load_profile("tito-grade")
    except ImportError:
        pass


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write({"event": "collect_error", "nodeid": report.nodeid, "message": _message(report)})


def pytest_collection_finish(session: pytest.Session) -> None:
    _write({"event": "collected", "nodeids": [item.nodeid for item in session.items]})


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _write({"event": "start", "nodeid": nodeid})


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item):
    outcome = yield
    if outcome.excinfo is not None:
        _raised[item.nodeid] = outcome.excinfo[0].__name__


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    nodeid = report.nodeid
    if nodeid in _reported:
        return
    if report.when == "call" or report.failed or report.skipped:
        outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
        _reported.add(nodeid)
        _counts[outcome] += 1
        raised = _raised.get(nodeid)
        if outcome == "passed" and raised and not hasattr(report, "wasxfail"):
            _write({"event": "tamper", "message": f"{nodeid} was reported passed, but its call "
                                                  f"raised {raised}"})
        _write({"event": "result", "nodeid": nodeid, "outcome": outcome,
                "message": "" if report.passed else _message(report)})


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for problem in _check_machinery(session.config):
        _write({"event": "tamper", "message": problem})
    _write({"event": "end", "counts": dict(_counts), "exitstatus": int(exitstatus)})
