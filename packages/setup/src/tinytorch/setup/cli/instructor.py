"""``tito release`` and ``tito grade``: for instructors (handing out and grading modules)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..process import UsageError
from ..registry import Module, module_for_distribution, resolve_module
from ..repo import find_repo_root
from . import ui
from .args import check_out_folder, positive_float, positive_int, read_json_object

__all__ = ["register", "run_grade", "run_release"]

_MODULE_HELP = "number (02 or 2), folder (tensor) or distribution (tinytorch-tensor)"


def register(top: argparse._SubParsersAction) -> dict[str, argparse._SubParsersAction]:
    """Add ``tito release`` and ``tito grade``."""
    fmt = ui.formatter()
    release = top.add_parser(
        "release", help="write a module's student version as an archive to hand out",
        description="Write the student version of a module (every solution block replaced by "
                    "`raise NotImplementedError`, the module's tests included, version "
                    "<reference>+student) as a source distribution: "
                    "DIR/tinytorch_<name>-<version>+student.tar.gz. It holds no solution and no "
                    "copy of the reference (checked before it is written). Students install it "
                    "with pip, or unpack it and run `tito export <module> --dir <folder>`.",
        epilog="example: tito release tensor --out handouts/", formatter_class=fmt)
    release.add_argument("module", help=_MODULE_HELP)
    release.add_argument("--out", type=Path, default=Path("student-release"),
                         help="folder for the archive (default ./student-release)")
    release.set_defaults(func=run_release)

    grade = top.add_parser(
        "grade", help="run the reference tests on every student submission; write a gradebook",
        description="Grade submissions of one module: each one (a package folder, or a .tar.gz/"
                    ".tgz/.zip of one) runs the module's REFERENCE tests on its own code, in a "
                    "fresh box of its own, under a bubblewrap sandbox (no network, no view of "
                    "your files or environment variables, its own processes), with a time limit "
                    "and resource limits. A submission that hangs, crashes or does not import gets "
                    "the tests it did not pass marked with why; one that tampers with the grading "
                    "is marked `tampered` (score 0) with the reason. Writes OUT/gradebook.json, "
                    "OUT/gradebook.csv (points and failure message per test), OUT/summary.csv and "
                    "OUT/logs/. `tito system sandbox` says whether the sandbox runs here; what it "
                    "stops and what it cannot is on the instructors' page of the docs.",
        epilog="example: tito grade submissions/ --module tensor --out grades/ --timeout 300",
        formatter_class=fmt)
    grade.add_argument("submissions", type=Path,
                       help="a folder of submissions (folders or archives), or one submission")
    grade.add_argument("--module", help=f"the module graded ({_MODULE_HELP}); default: read "
                                        "from the submissions' pyproject.toml")
    grade.add_argument("--out", type=Path, default=Path("grades"),
                       help="where the gradebook goes (default ./grades)")
    grade.add_argument("--timeout", type=positive_float, default=600.0,
                       help="seconds allowed for one submission's tests (default 600)")
    grade.add_argument("--jobs", type=positive_int, default=1, help="submissions graded at once (default 1)")
    grade.add_argument("--points", type=Path,
                       help='JSON file of test-id patterns or exercises to points, e.g. '
                            '{"*test_add*": 2, "exercise:matmul": 5}; default 1 point per test')
    grade.add_argument("--memory", type=positive_float, default=4.0,
                       help="address-space limit per submission, in GiB (default 4)")
    grade.add_argument("--pytest", dest="pytest_args", default="",
                       help="more pytest arguments, as one string (e.g. --pytest \"-m 'not slow'\")")
    grade.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                       help="grade without bubblewrap (only a clean environment, resource limits and "
                            "a process group): for trusted submissions, or inside a throw-away "
                            "container that is itself the isolation")
    grade.add_argument("--gradescope", type=Path, metavar="RESULTS_JSON",
                       help="also write Gradescope's results.json for the (one) submission graded")
    grade.set_defaults(func=run_grade)
    return {}


def run_release(args: argparse.Namespace) -> int:
    """Write the student archive of a module."""
    from ..release import release_module
    from ..sources import find_reference

    module = resolve_module(args.module)
    check_out_folder(args.out)
    reference = find_reference(module, find_repo_root())
    result = release_module(reference, args.out.resolve())
    out = ui.console()
    out.print(f"Wrote the student version of [bold]{result.distribution}[/] {result.version}:\n"
              f"  {ui.escape(str(result.archive))}\n"
              f"  ({len(result.files)} files; reference from {ui.escape(reference.description)}; "
              f"{len(result.blocks)} function(s) for students to write)")
    ui.hint(f"students: pip install --no-deps --force-reinstall {result.archive.name}   "
            f"(or unpack it, then: tito export {module.folder} --dir <folder>; tito test {module.folder})")
    return 0


def _module_from_submissions(found: list[tuple[str, Path]]) -> Module:
    from ..grading import package_root, submission_distribution

    for _, path in found:
        if path.is_dir():
            name = submission_distribution(package_root(path))
            module = module_for_distribution(name) if name else None
            if module is not None:
                return module
    raise UsageError("cannot tell which module the submissions are for",
                    hint="pass --module (e.g. --module tensor)")


def run_grade(args: argparse.Namespace) -> int:
    """Grade the submissions and write the gradebook."""
    from ..grading import DEFAULT_LIMITS, find_submissions, grade, write_gradebook
    from ..sources import find_reference

    if not args.submissions.exists():
        raise UsageError(f"{args.submissions} does not exist",
                         hint="give a folder of submissions (folders or archives), or one of them")
    check_out_folder(args.out)
    points = None
    if args.points:
        points = read_json_object(args.points, "--points")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                   for v in points.values()):
            raise UsageError(f"--points {args.points} must map patterns to numbers",
                             hint='e.g. {"*test_add*": 2, "exercise:matmul": 5}')
    try:
        extra = shlex.split(args.pytest_args)
    except ValueError as exc:
        raise UsageError(f"--pytest {args.pytest_args!r}: {exc}",
                         hint='quote it as one string, e.g. --pytest "-k \'add or mul\'"') from None
    if args.gradescope and args.gradescope.is_dir():
        raise UsageError(f"--gradescope {args.gradescope} is a folder; it names the results "
                         "file to write", hint="e.g. --gradescope results/results.json")
    found = find_submissions(args.submissions.resolve())
    if not found:
        raise UsageError(f"no submission in {args.submissions} (folders or .tar.gz/.tgz/.zip "
                         "archives)")
    module = resolve_module(args.module) if args.module else _module_from_submissions(found)
    reference = find_reference(module, find_repo_root())
    limits = dict(DEFAULT_LIMITS, RLIMIT_AS=int(args.memory * (1 << 30)))
    out = ui.console()
    out.print(f"Grading {len(found)} submission(s) of [bold]{module.distribution}[/] with the reference "
              f"tests from {ui.escape(reference.description)} (timeout {args.timeout:g} s each)")

    def progress(result) -> None:
        style = "green" if result.status == "graded" else "yellow"
        out.print(f"  {ui.escape(result.name):<30} [{style}]{result.status:<12}[/] "
                  f"{result.score:g}/{result.max_score:g}  {result.seconds:.1f}s  "
                  f"{ui.escape(result.detail)}")

    work = args.out.resolve() / "work"
    if args.gradescope and len(found) != 1:
        raise UsageError(f"--gradescope writes the results of one submission; {args.submissions} holds "
                        f"{len(found)}", hint="pass the submission's own folder or archive")
    book = grade(found, module, reference, work, timeout=args.timeout, points=points,
                 jobs=args.jobs, limits=limits, pytest_args=extra, progress=progress,
                 sandbox=args.sandbox)
    paths = write_gradebook(book, args.out.resolve())
    ref = book.reference
    out.print(f"reference: {ref.score:g}/{ref.max_score:g} ({len(book.tests)} tests; "
              f"{sum(1 for t in ref.tests if t.outcome == 'not graded')} not graded); "
              f"isolation: {ui.escape(book.sandbox)}")
    tampered = [r.name for r in book.submissions if r.status == "tampered"]
    if tampered:
        ui.warning(f"marked tampered (score 0; the reasons are in their logs): {', '.join(tampered)}")
    if args.gradescope:
        from ..grading.formats import write_gradescope_results

        write_gradescope_results(book, args.gradescope.resolve())
        out.print(f"Gradescope results: {ui.escape(str(args.gradescope))}")
    ui.success(f"gradebook: {paths['csv']}, {paths['summary']}, {paths['json']}")
    return 0
