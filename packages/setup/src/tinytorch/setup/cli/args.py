"""Checks of command-line values, shared by every ``tito`` command.

The ``type=`` functions make ``argparse`` refuse a bad number the way it refuses a word where
a number belongs: ``tito grade: error: argument --jobs: 0 is not a whole number of at least
1``, exit status 2. :func:`check_out_folder` and :func:`read_json_object` check paths before
a command starts its work, raising :class:`~tinytorch.setup.process.UsageError` (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from ..process import UsageError

__all__ = ["check_out_folder", "positive_float", "positive_int", "read_json_object", "whole"]


def whole(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: a whole number of at least ``minimum``."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is not a whole number of at least "
                                             f"{minimum}")
        return value

    convert.__name__ = "whole number"
    return convert


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of at least 1."""
    return whole(1)(text)


def positive_float(text: str) -> float:
    """An ``argparse`` type: a number greater than 0 (not nan, not infinite)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a number greater than 0")
    return value


def check_out_folder(path: Path, flag: str = "--out") -> None:
    """``path`` is a folder, or can be made one, and can be written to; else :class:`UsageError`
    naming it. Leaves nothing behind: folders made to check are removed again."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder",
                         hint=f"give {flag} a folder (it is created if missing)")
    made: list[Path] = []
    folder = path.absolute()
    while not folder.exists() and folder.parent != folder:
        made.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: {folder} is a file, so no folder can be made under it",
                         hint=f"give {flag} a folder (it is created if missing)")
    probe = path / f".tito-write-test-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write there ({exc.strerror or exc})",
                         hint=f"give {flag} a folder you can write to") from None
    finally:
        for created in made:
            try:
                created.rmdir()
            except OSError:
                pass


def read_json_object(path: Path, flag: str) -> dict:
    """The JSON object in the file ``path`` (given as ``flag``); :class:`UsageError` naming the
    file when it is missing, a folder, unreadable, not JSON, or not an object."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder, not a JSON file")
    if not path.exists():
        raise UsageError(f"{flag} {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{flag} {path} is not a text (JSON) file") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{flag} {path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{flag} {path} must hold a JSON object, not a {type(data).__name__}")
    return data
