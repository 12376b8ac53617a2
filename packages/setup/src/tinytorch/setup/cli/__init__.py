"""The ``tito`` command line: ``argparse`` for the commands, ``rich`` for the output.

Built-in commands live in the sibling modules (``system``, ``module``/``export``, ``test``,
``dev``); each adds its parsers through a ``register(groups)`` function. Plugins from other
distributions add theirs through the ``tinytorch.tito`` entry point group
(:mod:`tinytorch.setup.plugins`). Every handler takes the parsed arguments and returns the
exit code.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence

from ..process import TitoError, UsageError
from ..plugins import register_plugins
from ..registry import UnknownModuleError, command_provider, suggest
from ..version import __version__
from . import autograder, dev, instructor, lab, modules, system, testing, ui

__all__ = ["TitoError", "UsageError", "build_parser", "debug_mode", "main", "plugin_problems"]

_DESCRIPTION = """\
tito: the TinyTorch course's command line.

  tito system info               what this machine and environment are
  tito system doctor             check that everything the course needs works
  tito module list               the seventeen modules and what is installed
  tito module start tensor       your version of a module (editable) and its lesson notebook
  tito lab tensor                open the lesson in JupyterLab (pip install "tinytorch-setup[lab]")
  tito test tensor               what is left to write, grouped by exercise (--all: every test)
  tito module status             every installed module's tests, with progress
  tito module reset tensor       go back to the reference implementation
  tito export tensor             build a regular (non-editable) copy of your version

for instructors:
  tito release tensor --out DIR  the student version of a module as an archive to hand out
  tito grade SUBMISSIONS/        run the reference tests on each submission; write a gradebook
  tito system sandbox            whether tito grade can run submissions in a sandbox here
  tito autograder gradescope tensor --out DIR   the autograder zip to upload to Gradescope
  tito autograder classroom tensor              a GitHub Classroom workflow (.github/workflows/)
"""


def build_parser(path: list[str] | None = None) -> tuple[argparse.ArgumentParser, list[str]]:
    """The full parser, plugins included, and the problems plugins had registering.

    Args:
        path: Search these folders for plugins instead of ``sys.path``.
    """
    parser = argparse.ArgumentParser(prog="tito", description=_DESCRIPTION,
                                     formatter_class=ui.formatter())
    parser.add_argument("--version", action="version", version=f"tito {__version__}")
    top = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {"": top}
    for part in (system, modules, testing, lab, dev, instructor, autograder):
        groups.update(part.register(top))
    problems = register_plugins(groups, path)
    return parser, problems


def plugin_problems(path: list[str] | None = None) -> list[str]:
    """Build ``tito``'s full parser with every plugin and return what went wrong."""
    return build_parser(path)[1]


def _show_group_help(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    target = getattr(args, "group_parser", None) or parser
    target.print_help()
    return 0


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    """The sub-parsers of ``parser`` by name, or ``None`` if it takes no sub-command."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps them nowhere public
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return None


def unknown_command(parser: argparse.ArgumentParser,
                    argv: Sequence[str]) -> tuple[str, str | None] | None:
    """(message, hint) when ``argv`` names a command this ``tito`` does not have, else ``None``.

    A command another distribution adds (``tito train`` comes with ``tinytorch-training``)
    says what to install; anything else gets the closest known command. Only the command
    words are checked (up to the first one that takes no sub-command); options and their
    values are left to ``argparse``.
    """
    words = [a for a in argv if not a.startswith("-")]
    if len(words) != len(argv) and argv and argv[0].startswith("-"):
        return None  # `tito --version`, `tito -h …`: argparse decides
    current = parser
    path: list[str] = []
    for word in words:
        choices = _subcommands(current)
        if choices is None:
            return None
        if word in choices:
            current, path = choices[word], [*path, word]
            continue
        name = ".".join([*path, word])
        shown = " ".join(["tito", *path, word])
        provider = command_provider(name)
        if provider:
            return (f"{shown} comes with {provider}: pip install {provider}",
                    f"python -m pip install {provider}   (then: {shown} --help)")
        guess = suggest(word, sorted(choices))
        where = " ".join(["tito", *path])
        if guess:
            return (f"unknown command {shown!r} — did you mean '{where} {guess}'?",
                    f"{where} --help lists the commands")
        return (f"unknown command {shown!r} (commands: {', '.join(sorted(choices))})",
                f"{where} --help lists the commands")
    return None


def _grouped_problems(problems: list[str]) -> list[str]:
    """One warning per error: five plugins failing on the same import error (a syntax error
    in a student's module they import) are one line naming the five."""
    by_error: dict[str, list[str]] = {}
    for problem in problems:
        match = re.match(r"^plugin '([^']+)' \(.*?\): (.*)$", problem, re.DOTALL)
        if match is None:
            by_error.setdefault(problem, [])
        else:
            by_error.setdefault(match.group(2), []).append(match.group(1))
    lines = []
    for error, names in by_error.items():
        if len(names) > 1:
            lines.append(f"skipped {len(names)} tito plugins ({', '.join(names)}): {error}")
        elif names:
            lines.append("skipped a tito plugin: "
                         + next(p for p in problems if p.startswith(f"plugin {names[0]!r}")))
        else:
            lines.append(f"skipped a tito plugin: {error}")
    return lines


def debug_mode() -> bool:
    """Whether ``TINYTORCH_DEBUG`` asks for tracebacks (any value but empty or ``0``)."""
    return os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0")


def _one_line(exc: BaseException) -> str:
    """An unexpected exception as one line: its type, its message, the file it concerns."""
    text = " ".join(str(exc).split()) or "(no message)"
    filename = getattr(exc, "filename", None) if isinstance(exc, OSError) else None
    if filename and str(filename) not in text:
        text += f" ({filename})"
    return f"{type(exc).__name__}: {text}"


def _command_name(args: argparse.Namespace) -> str:
    """``tito grade``, ``tito module start``: the command ``args`` ran."""
    words = [getattr(args, "command", None)]
    words += [v for k, v in vars(args).items()
              if k.endswith("command") and k != "command" and isinstance(v, str)]
    return " ".join(["tito", *[w for w in words if w]])


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tito`` with ``argv`` (default: the command line); return the exit code.

    Exit statuses, for every command: 0 done; 1 the command ran and failed (a
    :class:`~tinytorch.setup.process.TitoError`, or an unexpected exception: one line, never a
    traceback); 2 a usage mistake (``argparse``'s own errors, an unknown command or module, a
    :class:`~tinytorch.setup.process.UsageError`); 130 interrupted. ``TINYTORCH_DEBUG=1``
    lets the exception's traceback through instead.
    """
    parser, problems = build_parser()
    for problem in _grouped_problems(problems):
        ui.warning(problem)
    argv = list(sys.argv[1:] if argv is None else argv)
    missing = unknown_command(parser, argv)
    if missing is not None:
        ui.error(*missing)
        return 2
    args = parser.parse_args(argv)
    args.plugin_problems = problems  # `tito system doctor` reports them
    func = getattr(args, "func", None)
    if func is None:
        return _show_group_help(parser, args)
    try:
        return int(func(args) or 0)
    except TitoError as exc:
        if debug_mode():
            raise
        ui.error(exc.message, exc.hint)
        return int(getattr(exc, "exit_code", 1))
    except UnknownModuleError as exc:
        if debug_mode():
            raise
        ui.error(str(exc))
        return 2
    except KeyboardInterrupt:
        ui.error("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        if debug_mode():
            raise
        ui.error(f"{_command_name(args)} failed: {_one_line(exc)}",
                 "run with TINYTORCH_DEBUG=1 for the traceback")
        return 1
