"""The ``tito`` command line: ``argparse`` for the commands, ``rich`` for the output.

Built-in commands live in the sibling modules (``system``, ``module``/``export``, ``test``,
``dev``); each adds its parsers through a ``register(groups)`` function. Plugins from other
distributions add theirs through the ``tinytorch.tito`` entry point group
(:mod:`tinytorch.setup.plugins`). Every handler takes the parsed arguments and returns the
exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..process import TitoError
from ..registry import UnknownModuleError
from . import dev, instructor, lab, modules, system, testing, ui

__all__ = ["build_parser", "main"]

_DESCRIPTION = """\
tito: the TinyTorch course's command line.

  tito system info               what this machine and environment are
  tito system doctor             check that everything the course needs works
  tito module list               the seventeen modules and what is installed
  tito module start tensor       write your version of a module and install it
  tito test tensor               run a module's tests on what is installed
  tito export tensor             reinstall your version after editing it
  tito module reset tensor       go back to the reference implementation

for instructors:
  tito release tensor --out DIR  the student version of a module as an archive to hand out
  tito grade SUBMISSIONS/        run the reference tests on each submission; write a gradebook
"""


def _version() -> str:
    from .. import __version__

    return __version__


def build_parser(path: list[str] | None = None) -> tuple[argparse.ArgumentParser, list[str]]:
    """The full parser, plugins included, and the problems plugins had registering.

    Args:
        path: Search these folders for plugins instead of ``sys.path``.
    """
    parser = argparse.ArgumentParser(prog="tito", description=_DESCRIPTION,
                                     formatter_class=ui.formatter())
    parser.add_argument("--version", action="version", version=f"tito {_version()}")
    top = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {"": top}
    for part in (system, modules, testing, lab, dev, instructor):
        groups.update(part.register(top))
    from ..plugins import register_plugins

    problems = register_plugins(groups, path)
    return parser, problems


def _show_group_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    target = getattr(args, "group_parser", None) or parser
    target.print_help()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tito`` with ``argv`` (default: the command line); return the exit code."""
    parser, problems = build_parser()
    for problem in problems:
        ui.warning(f"skipped a tito plugin: {problem}")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    func = getattr(args, "func", None)
    if func is None:
        return _show_group_help(parser, args)
    try:
        return int(func(args) or 0)
    except TitoError as exc:
        ui.error(exc.message, exc.hint)
        return 1
    except UnknownModuleError as exc:
        ui.error(str(exc))
        return 2
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
