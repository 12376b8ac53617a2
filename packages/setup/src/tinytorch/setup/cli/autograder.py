"""``tito autograder``: grading on course platforms (Gradescope, GitHub Classroom)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..process import TitoError, UsageError
from ..registry import resolve_module
from . import ui
from .args import check_out_folder, positive_float, positive_int, read_json_object

__all__ = ["register", "run_classroom", "run_gradescope"]

_MODULE_HELP = "number (02 or 2), folder (tensor) or distribution (tinytorch-tensor)"


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add the ``autograder`` group (``gradescope``, ``classroom``); return it for plugins."""
    fmt = ui.formatter()
    group = top.add_parser(
        "autograder", help="autograders for Gradescope and GitHub Classroom",
        description="Write what a course platform needs to grade a module: the autograder zip "
                    "for Gradescope (grades with the reference tests, via tito grade), or the "
                    "GitHub Classroom workflow of a student repository made from tito release.",
        formatter_class=fmt)
    group.set_defaults(group_parser=group)
    sub = group.add_subparsers(dest="subcommand", title="commands", metavar="COMMAND")

    gradescope = sub.add_parser(
        "gradescope", help="write the Gradescope autograder zip of a module",
        description="Write DIR/tinytorch-<module>-gradescope.zip to upload as a Gradescope "
                    "programming assignment's autograder. Its setup.sh installs Python, "
                    "bubblewrap, tinytorch-setup and the module's reference (whose wheel ships "
                    "the tests used for grading); its run_autograder runs `tito grade` on the "
                    "submission with --gradescope, in the bubblewrap sandbox when the container "
                    "allows it (else the container is the isolation), and writes a score-0 "
                    "results.json with the error when grading fails.",
        epilog="example: tito autograder gradescope tensor --out dist/ --points points.json --timeout 300",
        formatter_class=fmt)
    gradescope.add_argument("module", help=_MODULE_HELP)
    gradescope.add_argument("--out", type=Path, required=True, help="folder for the zip")
    gradescope.add_argument("--points", type=Path,
                            help='points file of tito grade (e.g. {"exercise:binary_op": 10}); '
                                 "default 1 point per test")
    gradescope.add_argument("--timeout", type=positive_float, default=600.0,
                            help="seconds the submission's tests may take (default 600)")
    gradescope.add_argument("--pip", dest="extra_pip", action="append", default=[], metavar="SPEC",
                            help="one more thing for setup.sh to pip install (repeatable): a pin "
                                 "such as tinytorch-tensor==0.1.0, or a wheel file, put in the zip")
    gradescope.set_defaults(func=run_gradescope)

    classroom = sub.add_parser(
        "classroom", help="write the GitHub Classroom workflow of a student repository",
        description="Write DIR/.github/workflows/classroom.yml for a student repository made from "
                    "the unpacked archive of `tito release <module>`: GitHub Classroom's "
                    "autograding actions run the module's tests (one step, or one per exercise "
                    "of the lesson with --per-exercise) and report the points. These are the "
                    "tests in the student's repository, which the student can edit: for grades "
                    "that count, use tito grade.",
        epilog="example: tito autograder classroom tensor --out student-repo/ --per-exercise",
        formatter_class=fmt)
    classroom.add_argument("module", help=_MODULE_HELP)
    classroom.add_argument("--out", type=Path, default=Path("."),
                           help="the repository's folder (default .)")
    classroom.add_argument("--per-exercise", action="store_true",
                           help="one graded step per exercise of the lesson (its check cells)")
    classroom.add_argument("--points", type=positive_int,
                           help="points per step (default 10 per exercise, or 100 for one step)")
    classroom.add_argument("--timeout", type=positive_int, default=15,
                           help="minutes each step may take (default 15)")
    classroom.add_argument("--force", action="store_true",
                           help="replace an existing classroom.yml that differs")
    classroom.set_defaults(func=run_classroom)
    return {"autograder": sub}


def run_gradescope(args: argparse.Namespace) -> int:
    """Write the Gradescope autograder zip."""
    from ..grading.formats import build_gradescope_autograder

    module = resolve_module(args.module)
    if args.points is not None:
        read_json_object(args.points, "--points")
    for spec in args.extra_pip:
        if spec.endswith((".whl", ".tar.gz")) and not Path(spec).is_file():
            raise UsageError(f"{spec} does not exist", hint="--pip takes a requirement or an existing file")
    check_out_folder(args.out)
    path = build_gradescope_autograder(module, args.out.resolve(), points_file=args.points,
                                       timeout=args.timeout, extra_pip=list(args.extra_pip))
    ui.success(f"Gradescope autograder for {module.distribution}: {path}")
    ui.hint("upload it as the assignment's autograder (Configure Autograder → Zip file upload), "
            "then try it with a correct and a wrong submission (Test Autograder)")
    return 0


def run_classroom(args: argparse.Namespace) -> int:
    """Write ``.github/workflows/classroom.yml``."""
    from ..grading.formats import CLASSROOM_WORKFLOW_PATH, classroom_workflow, lesson_checks

    module = resolve_module(args.module)
    check_out_folder(args.out)
    exercises = lesson_checks(module) if args.per_exercise else None
    if args.per_exercise and not exercises:
        raise TitoError(f"the lesson of {module.distribution} has no check(...) cell",
                        hint="leave out --per-exercise to grade all tests in one step")
    text = classroom_workflow(module, exercises=exercises, timeout_minutes=args.timeout,
                              points=args.points)
    target = args.out / CLASSROOM_WORKFLOW_PATH
    if target.is_file() and target.read_text(encoding="utf-8") != text and not args.force:
        raise TitoError(f"{target} exists and differs", hint="pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    steps = f"{len(exercises)} exercise steps" if exercises else "one step for all tests"
    ui.success(f"GitHub Classroom workflow for {module.distribution} ({steps}): {target}")
    ui.hint("commit it to the template repository of the assignment; the tests run in the "
            "student's repository (editable by the student) — grade with `tito grade` for marks that count")
    return 0
