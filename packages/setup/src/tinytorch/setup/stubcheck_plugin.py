"""pytest plugin used by ``tito dev check-stubs`` (copied to a temp dir and loaded with ``-p``).

It imports nothing from ``tinytorch`` (the package under test is shadowed by a temp copy) and
does nothing unless one of these variables is set:

``TT_STUBCHECK_TARGETS`` (with ``TT_STUBCHECK_OUT``)
    A JSON file mapping source file → {line: block id}. A ``sys.settrace`` tracer records, for
    each block, which tests executed one of its lines, plus each test's duration; the map is
    written to ``TT_STUBCHECK_OUT`` at the end of the session. Only frames of the target files
    get a line tracer, so the rest of the run pays one dictionary lookup per call.

``TT_STUBCHECK_RESULT``
    A file to write ``{"exit": code, "failed": first failing test or null}`` to at the end.

Under either, hypothesis runs without a deadline (tracing is slow; a stub must be caught by an
assertion, not by a timer); the per-block runs also skip shrinking and the example database.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import defaultdict
from typing import Any

import pytest

_targets: dict[str, dict[int, int]] = {}
_resolved: dict[str, dict[int, int] | None] = {}
_hits: dict[int, set[str]] = defaultdict(set)
_durations: dict[str, float] = defaultdict(float)
_current: list[str | None] = [None]
_first_failure: list[str | None] = [None]


def _lines_for(filename: str) -> dict[int, int] | None:
    if filename not in _resolved:
        _resolved[filename] = _targets.get(os.path.realpath(filename))
    return _resolved[filename]


def _global_trace(frame: Any, event: str, arg: Any) -> Any:
    lines = _lines_for(frame.f_code.co_filename)
    if lines is None:
        return None

    def local_trace(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            block = lines.get(frame.f_lineno)
            if block is not None and _current[0] is not None:
                _hits[block].add(_current[0])
        return local_trace

    return local_trace


def _relax_hypothesis(fast: bool) -> None:
    try:
        from hypothesis import HealthCheck, Phase, settings
    except ImportError:
        return
    extra: dict[str, Any] = {"deadline": None, "suppress_health_check": list(HealthCheck)}
    if fast:
        extra.update(database=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
    settings.register_profile("tito-check-stubs", parent=settings.default, **extra)
    settings.load_profile("tito-check-stubs")


def pytest_configure(config: pytest.Config) -> None:
    """Load the targets and start tracing, or prepare to record the first failure."""
    targets = os.environ.get("TT_STUBCHECK_TARGETS")
    if targets:
        with open(targets, encoding="utf-8") as handle:
            raw = json.load(handle)
        for filename, lines in raw.items():
            _targets[os.path.realpath(filename)] = {int(k): int(v) for k, v in lines.items()}
        sys.settrace(_global_trace)
        threading.settrace(_global_trace)
    if targets or os.environ.get("TT_STUBCHECK_RESULT"):
        _relax_hypothesis(fast=not targets)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Remember which test is running while it runs."""
    _current[0] = item.nodeid
    yield
    _current[0] = None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up each test's duration and note the first failure."""
    _durations[report.nodeid] += report.duration
    if report.failed and _first_failure[0] is None:
        _first_failure[0] = report.nodeid


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A collection error (e.g. an import that fails) counts as a failure."""
    if report.failed and _first_failure[0] is None:
        _first_failure[0] = f"collecting {report.nodeid or '.'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the coverage map and/or the result."""
    out = os.environ.get("TT_STUBCHECK_OUT")
    if out and _targets:
        sys.settrace(None)
        threading.settrace(None)
        data = {"hits": {str(k): sorted(v) for k, v in _hits.items()},
                "durations": dict(_durations)}
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
    result = os.environ.get("TT_STUBCHECK_RESULT")
    if result:
        with open(result, "w", encoding="utf-8") as handle:
            json.dump({"exit": int(exitstatus), "failed": _first_failure[0]}, handle)
