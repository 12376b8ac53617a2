"""Running Python, pytest and pip in subprocesses, and the error type the CLI prints.

Everything ``tito`` runs goes through here, so the interpreter (``sys.executable``), the
environment variables it honours and the shape of its error messages are decided once.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["TitoError", "UsageError", "pip_install", "python_command", "run"]


class TitoError(Exception):
    """An error ``tito`` reports as ``error: <message>`` (plus a hint) and exit status 1:
    the command ran and failed (a test run that broke, a build that did not succeed)."""

    #: The exit status ``tito`` ends with.
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(TitoError):
    """A mistake in the command line (a value out of range, a file that is missing or of the
    wrong kind, an unknown name): ``error: <message naming the value>``, exit status 2."""

    exit_code = 2


def python_command(*args: str) -> list[str]:
    """``[sys.executable, *args]``, with ``-P`` (do not put the cwd on sys.path) on 3.11+.

    The current directory could hold a ``tinytorch/`` folder that would otherwise join the
    namespace package and shadow the installed modules.
    """
    flags = ["-P"] if sys.version_info >= (3, 11) else []
    return [sys.executable, *flags, *args]


def run(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``capture`` its stdout and stderr are merged into ``.stdout``.

    Raises:
        TitoError: if the command cannot be started or runs past ``timeout`` seconds.
    """
    try:
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise TitoError(f"cannot run {cmd[0]!r}: {exc.strerror}") from None
    except subprocess.TimeoutExpired:
        raise TitoError(f"{' '.join(cmd[:4])} … did not finish within {timeout:.0f} s") from None


def pip_install(source: Path, *, python: str | None = None,
                env: Mapping[str, str] | None = None, editable: bool = False) -> None:
    """Install the package folder ``source`` with ``pip install --no-deps --force-reinstall``.

    It replaces whatever version of the same distribution is installed (reference or
    student) and leaves its dependencies alone. When hatchling is importable the build runs
    without isolation (no download of the build backend).

    Args:
        source: A folder with a ``pyproject.toml``.
        python: The interpreter whose environment to install into (default: this one).
        env: Environment variables for pip (default: this process's).
        editable: Install it in editable mode (``-e``): Python imports the code from
            ``source/src`` itself, so edits there take effect without reinstalling, and
            tracebacks point at those files.

    Raises:
        TitoError: with the tail of pip's output when the install fails.
    """
    cmd = [python or sys.executable, "-m", "pip", "install", "--no-deps", "--force-reinstall",
           "--disable-pip-version-check", "--no-input", "--quiet"]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-build-isolation")
    cmd.extend(["-e", str(source)] if editable else [str(source)])
    result = run(cmd, capture=True, env=env)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.strip().splitlines()[-15:])
        raise TitoError(
            f"pip could not install {source} (exit code {result.returncode}):\n{tail}",
            hint=f"try it by hand: {' '.join(cmd)}",
        )
