"""Which implementation the layers run: the fused kernels (default) or the composite path.

Every op of this module exists twice:

* **composite** — written only with Tensor ops (pad, sliding_window, reshape, matmul, max,
  mean...). It is the version you write in the course, and the autograd module differentiates it op by
  op, with no extra code.
* **fused** — one op whose forward and backward are hand-written numpy kernels (im2col into a
  reused buffer, channels-last memory, a batched-matmul col2im...), registered with
  ``register_derivative`` beside the forward. Same numbers, several times faster.

    >>> with fused_kernels(False):      # run the model on the composite path
    ...     y = model(x)

The tests check that both agree, forward and backward.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from tinytorch.core.tensor.runtime import switch

__all__ = ["FUSED_KERNELS", "fused_kernels", "fused_kernels_enabled", "set_fused_kernels"]

FUSED_KERNELS = switch("spatial.fused_kernels", default=True)  # the runtime's switch idiom


def fused_kernels_enabled() -> bool:
    """True when layers and functions use the fused kernels (the default)."""
    return FUSED_KERNELS.enabled


def set_fused_kernels(enabled: bool) -> bool:
    """Choose the fused kernels (True) or the composite Tensor-op path (False).

    Returns the previous setting, so it can be restored.
    """
    return FUSED_KERNELS.set(enabled)


def fused_kernels(enabled: bool = True) -> AbstractContextManager:
    """Context manager: use (or, with False, avoid) the fused kernels inside the block."""
    return FUSED_KERNELS(enabled)


def resolve(fused: bool | None) -> bool:
    """An op's ``fused=`` argument, falling back to the global setting when it is None."""
    return FUSED_KERNELS.resolve(fused)
