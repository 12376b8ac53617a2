"""Grading, for instructors: ``tito grade`` and the formats course platforms read.

* :mod:`.submissions` — finding submissions, unpacking archives and copying folders under the
  same rules (no link followed, size limits);
* :mod:`.sandbox` — the bubblewrap sandbox each submission runs in, and the process limit;
* :mod:`.run` — one box per submission, the run, the scores and the tamper checks;
* :mod:`.plugin` — the pytest plugin copied into each box;
* :mod:`.gradebook` — the results and the files ``tito grade`` writes;
* :mod:`.formats` — Gradescope's ``results.json`` and autograder, GitHub Classroom's workflow.

The student-facing part of ``tito`` imports none of this.
"""

from __future__ import annotations

from .gradebook import REFERENCE_NAME, Gradebook, SubmissionResult, TestResult, write_gradebook
from .run import DEFAULT_LIMITS, exercise_points, grade
from .submissions import (ARCHIVE_SUFFIXES, MAX_MEMBERS, MAX_UNPACKED_BYTES, copy_code, find_submissions,
                          package_root, submission_distribution, unpack)

__all__ = [
    "ARCHIVE_SUFFIXES",
    "DEFAULT_LIMITS",
    "MAX_MEMBERS",
    "MAX_UNPACKED_BYTES",
    "REFERENCE_NAME",
    "Gradebook",
    "SubmissionResult",
    "TestResult",
    "copy_code",
    "exercise_points",
    "find_submissions",
    "grade",
    "package_root",
    "submission_distribution",
    "unpack",
    "write_gradebook",
]
