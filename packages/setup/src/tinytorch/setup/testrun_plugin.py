"""pytest plugin behind ``tito test <module>`` (loaded with ``-p tinytorch.setup.testrun_plugin``).

It does nothing unless ``--tito-report FILE`` is given. Then:

* every test's outcome is recorded, with its exception's type, first line and — for a stub's
  ``NotImplementedError("<module>.<qualname>: implement this …")`` — the exercise it stopped
  at (``ArithmeticOps._binary``) and the file and line of the stub, found in the traceback;
  the first failure of any other kind keeps a short traceback. The record is written to FILE
  as JSON when the session ends, and ``tito`` prints it grouped by exercise;
* hypothesis runs without shrinking, deadline or example database: a stub fails on its first
  example, a wrong answer need not be minimised to be reported, a slow first try is not a
  wrong one, and nothing is written into the student's folders;
* a test file stops early on a stub: once its first ``--tito-stop-after`` tests (default 3)
  that ran all failed on the *same* stub, its remaining tests are not run; they are reported
  as ``not run`` (pytest's last line counts them, ``tito`` says which stub and that
  ``--all`` runs everything). A test that passes or fails any other way ends the streak for
  its file, so a file is only cut short while it has shown nothing but that one stub.

It imports nothing from ``tinytorch`` at module level beyond itself, so it works whichever
version of a module (the reference or the student's) is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import pytest

#: ``<dotted module>.<qualname>: implement this`` — the message of a stubbed block.
STUB_MESSAGE = re.compile(r"^(?P<where>[\w.<>]+): implement this\b")
#: The category pytest's closing line counts tests this plugin did not run under.
NOT_RUN = "not run"
_SKIP_PREFIX = "tito: not run"


@dataclass
class _FileStreak:
    """What the tests of one file have shown so far."""

    count: int = 0
    stub: str | None = None
    broken: bool = False


class _Recorder:
    def __init__(self, path: str, stop_after: int) -> None:
        self.path = path
        self.stop_after = stop_after
        self.tests: dict[str, dict[str, Any]] = {}
        self.collect_errors: list[dict[str, Any]] = []
        self.streaks: dict[str, _FileStreak] = {}
        self.not_run: dict[str, str] = {}
        self.detailed: set[tuple[str, str]] = set()
        self.start = time.monotonic()

    # -- deciding --------------------------------------------------------------------------
    def blocked_by(self, item: pytest.Item) -> str | None:
        streak = self.streaks.get(str(item.path))
        if streak is None or streak.broken or self.stop_after <= 0:
            return None
        return streak.stub if streak.count >= self.stop_after else None

    def _update_streak(self, file: str, record: dict[str, Any]) -> None:
        streak = self.streaks.setdefault(file, _FileStreak())
        if record["outcome"] == "skipped" or streak.broken:
            return  # a skip is no evidence either way
        exercise = record.get("exercise")
        if record["outcome"] in ("failed", "error") and exercise and \
                streak.stub in (None, exercise):
            streak.stub = exercise
            streak.count += 1
        else:
            streak.broken = True

    # -- recording -------------------------------------------------------------------------
    def record(self, item: pytest.Item, report: pytest.TestReport,
               excinfo: pytest.ExceptionInfo[BaseException] | None) -> None:
        nodeid = report.nodeid
        previous = self.tests.get(nodeid)
        if previous is not None and previous["outcome"] in ("failed", "error", NOT_RUN):
            return  # the first problem of a test is its outcome (e.g. setup before teardown)
        if report.when == "call" or report.failed or report.skipped:
            if report.skipped and nodeid in self.not_run:
                entry: dict[str, Any] = {"outcome": NOT_RUN, "exercise": self.not_run[nodeid]}
            elif report.skipped:
                entry = {"outcome": "skipped"}
            elif report.passed:
                entry = {"outcome": "passed"}
            else:
                entry = {"outcome": "failed" if report.when == "call" else "error",
                         "when": report.when, **self._describe(item, report, excinfo)}
            entry.update(nodeid=nodeid, file=str(item.path), duration=report.duration)
            if report.when == "teardown" and previous is not None and entry["outcome"] == "error":
                entry["outcome"] = "failed"  # passed, then its teardown failed
            self.tests[nodeid] = entry
            if entry["outcome"] != NOT_RUN and (report.when != "teardown" or report.failed):
                self._update_streak(str(item.path), entry)

    def _describe(self, item: pytest.Item, report: pytest.TestReport,
                  excinfo: pytest.ExceptionInfo[BaseException] | None) -> dict[str, Any]:
        if excinfo is None:
            text = getattr(report, "longreprtext", "") or str(report.longrepr or "")
            lines = [line for line in text.strip().splitlines() if line.strip()]
            return {"type": "Error", "message": lines[-1] if lines else "", "detail": text[-3000:]}
        value = excinfo.value
        kind = type(value).__name__
        message = str(value).strip().splitlines()[0] if str(value).strip() else ""
        found: dict[str, Any] = {"type": kind, "message": message}
        match = STUB_MESSAGE.match(message) if isinstance(value, NotImplementedError) else None
        if match:
            found.update(self._stub(match.group("where"), excinfo))
            return found
        crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
        if crash is not None:
            found["where"] = f"{crash.path}:{crash.lineno}"
        key = (kind, message)
        if key not in self.detailed:  # a short traceback for the first of each kind
            self.detailed.add(key)
            try:
                found["detail"] = str(item._repr_failure_py(excinfo, style="short"))  # noqa: SLF001
            except Exception:  # noqa: BLE001 - a detail is a nicety
                found["detail"] = getattr(report, "longreprtext", "")[-3000:]
        return found

    @staticmethod
    def _stub(where: str, excinfo: pytest.ExceptionInfo[BaseException]) -> dict[str, Any]:
        """The exercise (qualname without its module) and the stub's file and line."""
        exercise, location = where, ""
        try:
            entry = excinfo.traceback[-1]
            module = entry.frame.f_globals.get("__name__", "")
            if module and where.startswith(module + "."):
                exercise = where[len(module) + 1:]
            location = f"{entry.path}:{entry.lineno + 1}"
        except Exception:  # noqa: BLE001 - fall back to the message alone
            pass
        return {"exercise": exercise, "stub": where, "where": location}

    def collect_error(self, report: pytest.CollectReport) -> None:
        text = getattr(report, "longreprtext", "") or str(report.longrepr or "")
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        errors = [line[1:].strip() for line in lines if line.startswith("E ")]
        message = errors[-1] if errors else (lines[-1] if lines else "")
        self.collect_errors.append({"nodeid": report.nodeid or ".", "message": message,
                                    "detail": text[-3000:]})

    def write(self, exitstatus: int) -> None:
        data = {"exit": int(exitstatus), "seconds": time.monotonic() - self.start,
                "stop_after": self.stop_after, "tests": list(self.tests.values()),
                "collect_errors": self.collect_errors}
        with open(self.path, "w", encoding="utf-8") as handle:
            json.dump(data, handle)


_KEY = pytest.StashKey[_Recorder]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--tito-report FILE`` and ``--tito-stop-after N``."""
    group = parser.getgroup("tito", "tito test")
    group.addoption("--tito-report", default=None, metavar="FILE",
                    help="record every test's outcome in FILE (JSON) and run fast")
    group.addoption("--tito-stop-after", type=int, default=3, metavar="N",
                    help="stop a test file after its first N tests all failed on the same "
                         "stub (0: never; default 3)")


_HOME: list[str] = []


def _fast_hypothesis() -> None:
    try:
        from hypothesis import HealthCheck, Phase, settings
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:
        return
    # its caches (e.g. .hypothesis/constants) go to a temp dir, not the student's folder
    _HOME.append(tempfile.mkdtemp(prefix="tito-hypothesis-"))
    set_hypothesis_home_dir(_HOME[-1])
    settings.register_profile(
        "tito-test", parent=settings.default, deadline=None, database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate], print_blob=False,
        suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("tito-test")


def pytest_configure(config: pytest.Config) -> None:
    """Start recording when ``--tito-report`` is given."""
    path = config.getoption("tito_report", None)
    if not path:
        return
    config.stash[_KEY] = _Recorder(path, config.getoption("tito_stop_after"))
    _fast_hypothesis()


def _recorder(config: pytest.Config) -> _Recorder | None:
    return config.stash.get(_KEY, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the rest of a file whose tests so far all stopped at the same stub."""
    rec = _recorder(item.config)
    if rec is None:
        return
    stub = rec.blocked_by(item)
    if stub is not None:
        rec.not_run[item.nodeid] = stub
        pytest.skip(f"{_SKIP_PREFIX}: the first {rec.stop_after} tests of this file all "
                    f"stopped at the stub {stub} (tito test --all runs everything)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Record each phase's report together with its exception."""
    outcome = yield
    rec = _recorder(item.config)
    if rec is None:
        return
    report = outcome.get_result()
    rec.record(item, report, call.excinfo if report.failed else None)
    if report.skipped and item.nodeid in rec.not_run:
        report.tito_not_run = True


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """Show a test this plugin did not run as ``-`` and count it as ``not run``."""
    if getattr(report, "tito_not_run", False) and report.skipped:
        return NOT_RUN, "-", "NOT RUN"
    return None


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A file that cannot be collected (e.g. the student's code does not import)."""
    rec = _CURRENT[0]
    if rec is not None and report.failed:
        rec.collect_error(report)


_CURRENT: list[_Recorder | None] = [None]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remember the recorder for hooks that get no config."""
    _CURRENT[0] = _recorder(session.config)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the record."""
    rec = _recorder(session.config)
    if rec is not None:
        rec.write(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove hypothesis' temp dir."""
    while _HOME:
        shutil.rmtree(_HOME.pop(), ignore_errors=True)
