"""Which implementation the layers run: the fused kernels (default) or the composite path.

Every op of this module exists twice:

* **composite** — written only with Tensor ops (pad, sliding_window, reshape, matmul, max,
  mean...). It is the version you write in the course, and module 09 differentiates it op by
  op, with no extra code.
* **fused** — one op whose forward and backward are hand-written numpy kernels (im2col into a
  reused buffer, channels-last memory, a batched-matmul col2im...), registered with
  ``register_derivative`` beside the forward. Same numbers, several times faster.

    >>> with fused_kernels(False):      # run the model on the composite path
    ...     y = model(x)

The tests check that both agree, forward and backward.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

__all__ = ["fused_kernels", "fused_kernels_enabled", "set_fused_kernels"]

_FUSED = [True]


def fused_kernels_enabled() -> bool:
    """True when layers and functions use the fused kernels (the default)."""
    return _FUSED[0]


def set_fused_kernels(enabled: bool) -> bool:
    """Choose the fused kernels (True) or the composite Tensor-op path (False).

    Returns the previous setting, so it can be restored.
    """
    previous = _FUSED[0]
    _FUSED[0] = bool(enabled)
    return previous


@contextmanager
def fused_kernels(enabled: bool = True) -> Iterator[None]:
    """Context manager: use (or, with False, avoid) the fused kernels inside the block."""
    previous = set_fused_kernels(enabled)
    try:
        yield
    finally:
        set_fused_kernels(previous)


def resolve(fused: bool | None) -> bool:
    """An op's ``fused=`` argument, falling back to the global setting when it is None."""
    return _FUSED[0] if fused is None else bool(fused)
