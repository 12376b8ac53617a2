"""``no_grad``, ``enable_grad`` and ``set_grad_enabled``: switch graph recording off and on.

Each works as a context manager and as a decorator, and restores the previous mode on exit
(even after an exception), so they nest:

    with no_grad():
        y = model(x)          # no graph is built: less memory, faster inference
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from tinytorch.core.tensor import graph as _graph
from tinytorch.core.tensor import is_grad_enabled
# one set_grad_enabled for the framework: the tensor module's class (a call, a context manager and a
# decorator, like torch.set_grad_enabled), re-exported here beside no_grad and enable_grad
from tinytorch.core.tensor.graph import set_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


def _run_in_mode(fn: Callable, mode: bool) -> Callable:
    """``fn`` wrapped so that it always runs with grad mode ``mode`` (restored afterwards)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = _graph._set_mode(mode)
        try:
            return fn(*args, **kwargs)
        finally:
            _graph._set_mode(previous)

    return wrapper


class _ModeContext:
    mode = True

    def __new__(cls, fn: Callable | None = None) -> Any:
        self = super().__new__(cls)
        if fn is not None:  # used as a bare decorator: @no_grad instead of @no_grad()
            return self(fn)
        return self

    def __init__(self, fn: Callable | None = None) -> None:
        pass

    def __enter__(self) -> None:
        self.previous = _graph._set_mode(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _graph._set_mode(self.previous)

    def __call__(self, fn: Callable) -> Callable:
        return _run_in_mode(fn, self.mode)


class no_grad(_ModeContext):
    """Context manager / decorator: ops inside record no graph."""

    mode = False


class enable_grad(_ModeContext):
    """Context manager / decorator: record the graph again (e.g. inside a ``no_grad`` block)."""

    mode = True
