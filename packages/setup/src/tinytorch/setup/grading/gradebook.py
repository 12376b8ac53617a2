"""What ``tito grade`` found, and the files it writes: ``gradebook.json``, ``gradebook.csv``,
``summary.csv`` and one log per submission."""

from __future__ import annotations

import csv
import datetime as _dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .submissions import safe_names

__all__ = ["Gradebook", "SubmissionResult", "TestResult", "write_gradebook"]

REFERENCE_NAME = "(reference)"


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
    status: str  # graded, tampered, timeout, crashed, no code, wrong module, invalid
    score: float
    max_score: float
    seconds: float
    detail: str = ""
    tests: list[TestResult] = field(default_factory=list)
    log: str = ""
    #: Why the run is marked ``tampered`` (empty otherwise); the score is then 0.
    tampered: list[str] = field(default_factory=list)
    #: The file name of its log (``logs/<log_name>.log``), distinct for every submission.
    log_name: str = ""

    def exercise_scores(self, book: Gradebook) -> dict[str, tuple[float, float]]:
        """(points, maximum) per exercise named in the points file, in the file's order."""
        scores: dict[str, list[float]] = {name: [0.0, 0.0] for name in book.exercises}
        for test in self.tests:
            exercise = book.exercise_of.get(test.nodeid)
            if exercise is not None:
                scores[exercise][0] += test.points
                scores[exercise][1] += test.max_points
        return {name: (got, worth) for name, (got, worth) in scores.items()}


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
    #: How the submissions were isolated, e.g. ``bubblewrap 0.8.0`` or ``none (--no-sandbox)``.
    sandbox: str = ""
    #: Exercises named in the points file (in its order), and the exercise of each test.
    exercises: list[str] = field(default_factory=list)
    exercise_of: dict[str, str] = field(default_factory=dict)


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
    for result, safe in zip(everyone, safe_names(r.log_name or r.name for r in everyone)):
        result.log_name = safe
        (logs / f"{safe}.log").write_text(result.log, encoding="utf-8")
    data = {
        "module": book.module, "distribution": book.distribution, "created": book.created,
        "timeout_seconds": book.timeout, "sandbox": book.sandbox,
        "max_score": book.reference.max_score,
        "exercises": [{"name": name, "points": sum(book.points[n] for n, e in book.exercise_of.items()
                                                   if e == name and n in book.points)}
                      for name in book.exercises],
        "tests": [{"nodeid": n, "points": book.points[n],
                   "graded": any(t.nodeid == n and t.outcome != "not graded" for t in book.reference.tests)}
                  for n in book.tests],
        "reference": _as_json(book.reference, book),
        "submissions": [_as_json(r, book) for r in book.submissions],
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
                         *(f"exercise:{name}" for name in book.exercises), *book.tests])
        for result in everyone:
            by_id = {t.nodeid: t for t in result.tests}
            percent = 100.0 * result.score / result.max_score if result.max_score else 0.0
            exercises = result.exercise_scores(book)
            writer.writerow([result.name, result.status, _num(result.score), _num(result.max_score),
                             f"{percent:.1f}", f"{result.seconds:.1f}", result.detail,
                             *(_num(exercises[name][0]) for name in book.exercises),
                             *(_num(by_id[n].points) if n in by_id else "" for n in book.tests)])
    return paths


def _num(x: float) -> str:
    return f"{x:g}"


def _as_json(result: SubmissionResult, book: Gradebook | None = None) -> dict:
    data = asdict(result)
    data.pop("log")
    if book is not None and book.exercises:
        data["exercises"] = {name: {"score": got, "max_score": worth}
                             for name, (got, worth) in result.exercise_scores(book).items()}
    return data
