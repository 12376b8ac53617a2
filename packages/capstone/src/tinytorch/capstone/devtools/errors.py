"""Errors that point at *your* line, not at the framework's.

A shape mistake in a training script surfaces deep inside the framework:

    File ".../tinytorch/core/layers/linear.py", line 97, in forward
    ValueError: Dense(4096 -> 128) expected input with 4096 features, got shape (64, 2048)

The message is right, but the line to fix is yours — the one that called the model. Wrap the
code in :func:`pinpoint` (a context manager and a decorator) and framework errors carry it:

    with pinpoint():
        out = model(x)

    ValueError: Dense(4096 -> 128) expected input with 4096 features, got shape (64, 2048)
      at your line train.py:42 in main: out = model(x)

Only errors *raised inside TinyTorch* are touched (the type and traceback stay the same, so
``except ValueError`` still works); an error raised by your own code passes unchanged.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

__all__ = ["framework_roots", "is_framework_file", "user_frame", "pinpoint", "locate"]

_MARK = "_tinytorch_user_frame"


def framework_roots() -> list:
    """The folders of the ``tinytorch`` namespace package (one per installed distribution)."""
    import tinytorch.core.tensor  # noqa: F401  (makes sure the namespace package is loaded)
    namespace = sys.modules["tinytorch"]
    return [os.path.realpath(p) for p in getattr(namespace, "__path__", [])]


def is_framework_file(filename: str, roots: Iterable[str] | None = None) -> bool:
    """Whether ``filename`` is framework code: inside a ``tinytorch`` folder, and not inside
    a ``tests`` folder there (tests shipped in a wheel are users of the framework)."""
    real = os.path.realpath(filename)
    for root in roots if roots is not None else framework_roots():
        try:
            rel = Path(real).relative_to(root)
        except ValueError:
            continue
        return "tests" not in rel.parts
    return False


def _stdlib_dirs() -> tuple:
    paths = sysconfig.get_paths()
    return tuple(os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if k in paths)


def _is_stdlib(filename: str, stdlib: tuple) -> bool:
    real = os.path.realpath(filename)
    return real.startswith(stdlib) and "site-packages" not in real and "dist-packages" not in real


def user_frame(tb: Any, roots: Iterable[str] | None = None) -> traceback.FrameSummary | None:
    """The line of user code that called into the framework where ``tb`` ends in an error.

    Walk the traceback from the outermost frame inward, remembering the last frame of user
    code (neither framework nor standard library); at the first framework frame that comes
    after one, that remembered frame is the answer. None when the error never went through
    user code into the framework (it was raised in user code, or only by the framework).

    Args:
        tb: a traceback (``exc.__traceback__``).
        roots: the framework's folders (default :func:`framework_roots`).
    """
    roots = list(roots) if roots is not None else framework_roots()
    stdlib = _stdlib_dirs()
    frames = traceback.extract_tb(tb)
    ### BEGIN SOLUTION
    ### HINT: is_framework_file(f.filename, roots) and _is_stdlib(f.filename, stdlib)
    seen_user = None
    for f in frames:
        if is_framework_file(f.filename, roots):
            if seen_user is not None:
                return seen_user
        elif not _is_stdlib(f.filename, stdlib):
            seen_user = f
    return None
    ### END SOLUTION


def locate(exc: BaseException, roots: Iterable[str] | None = None) -> str | None:
    """``"train.py:42 in main: out = model(x)"`` for a framework error, else None."""
    frame = user_frame(exc.__traceback__, roots)
    if frame is None:
        return None
    code = (frame.line or "").strip()
    return f"{frame.filename}:{frame.lineno} in {frame.name}" + (f": {code}" if code else "")


def _annotate(exc: BaseException, roots: Iterable[str] | None) -> None:
    if getattr(exc, _MARK, None) is not None:
        return  # an inner pinpoint already did
    where = locate(exc, roots)
    if where is None:
        return
    setattr(exc, _MARK, where)
    text = f"at your line {where}"
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"{exc.args[0]}\n  {text}",) + tuple(exc.args[1:])
    elif hasattr(exc, "add_note"):  # Python >= 3.11
        exc.add_note(text)


class pinpoint:
    """Make framework errors name your line: ``with pinpoint(): ...`` or ``@pinpoint()``.

    Args:
        types: the exception types to annotate (default ValueError, TypeError, IndexError and
            RuntimeError — what TinyTorch raises for wrong shapes, types and
            missing pieces).
        roots: the framework's folders (default: the ``tinytorch`` namespace's).

    The exception is re-raised as it was (same type, same traceback) with ``at your line
    file:line in function: code`` appended to its message; ``exc._tinytorch_user_frame``
    holds the location.
    """

    def __init__(self, types: tuple = (ValueError, TypeError, IndexError, RuntimeError),
                 roots: Iterable[str] | None = None) -> None:
        self.types = tuple(types)
        self.roots = list(roots) if roots is not None else None

    def __enter__(self) -> "pinpoint":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc is not None and isinstance(exc, self.types):
            _annotate(exc, self.roots)
        return False  # never swallow

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return wrapper
