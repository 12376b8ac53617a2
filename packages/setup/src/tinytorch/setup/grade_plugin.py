"""pytest plugin used by ``tito grade`` (copied next to each submission and loaded with ``-p``).

It imports nothing from ``tinytorch`` (the submission under test may be any module, tito's
own included). With ``TT_GRADE_RESULTS`` set it appends one JSON line per event to that file,
flushed at once, so that the grader knows what ran even when the run is killed or crashes:

* ``{"event": "start", "nodeid": ...}`` when a test starts;
* ``{"event": "result", "nodeid": ..., "outcome": "passed|failed|skipped", "message": ...}``
  once per test (a failure in setup or teardown counts as the test's failure);
* ``{"event": "collect_error", "nodeid": <file>, "message": ...}`` for a file that could not
  be collected (for instance because the submission does not import).

Before any test module is imported it also applies the limits in ``TT_GRADE_LIMITS``
(``{"RLIMIT_AS": bytes, ...}``, soft = hard, so the submission cannot raise them again unless it
runs as root) and disables hypothesis' example database (nothing to keep between gradings).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_PATH = os.environ.get("TT_GRADE_RESULTS")
_reported: set[str] = set()


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


def _write(record: dict[str, Any]) -> None:
    if not _PATH:
        return
    with open(_PATH, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    text = getattr(report, "longreprtext", "") or str(report.longrepr or "")
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None and getattr(crash, "message", ""):
        head = crash.message
        return head if len(text) <= len(head) else f"{head}\n\n{text[-2000:]}"
    return text[-2000:]


def pytest_configure(config: pytest.Config) -> None:
    try:
        from hypothesis import settings

        settings.register_profile("tito-grade", database=None)
        settings.load_profile("tito-grade")
    except ImportError:
        pass


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _write({"event": "collect_error", "nodeid": report.nodeid, "message": _message(report)})


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _write({"event": "start", "nodeid": nodeid})


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    nodeid = report.nodeid
    if nodeid in _reported:
        return
    if report.when == "call" or report.failed or report.skipped:
        outcome = "passed" if report.passed else "skipped" if report.skipped else "failed"
        if report.when != "call" and report.failed:
            outcome = "failed"
        _reported.add(nodeid)
        _write({"event": "result", "nodeid": nodeid, "outcome": outcome,
                "message": "" if report.passed else _message(report)})
