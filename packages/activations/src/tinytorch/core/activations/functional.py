"""The activation functions, written with Tensor ops only.

Every function here is a composition of Tensor primitives (``relu``, ``exp``, ``tanh``,
``erf``, ``where``, the fused ``softmax`` / ``log_softmax``, arithmetic). Module 02 records
each primitive in the graph, and module 09 knows each primitive's derivative, so these
functions become differentiable the moment tinytorch-autograd is installed — nothing here
computes on raw numpy arrays.

Numerical stability is part of the job:

* ``sigmoid`` only ever exponentiates -|x|, so ``exp`` never overflows, however large |x|.
* ``softmax`` / ``log_softmax`` use the fused primitives, which subtract the row maximum first.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, where

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax"]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_SQRT_TWO_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715
GELU_APPROXIMATIONS = ("none", "tanh")


def _tensor(x: Any) -> Tensor:
    """``x`` as a Tensor (arrays and lists are converted; Tensors pass through)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _float_tensor(x: Any) -> Tensor:
    """``x`` as a floating-point Tensor (integer and bool tensors become float32)."""
    x = _tensor(x)
    return x if x.dtype.kind == "f" else x.astype(np.float32)


def _resolve_dim(dim: int | None, axis: int | None, op: str) -> int:
    """One axis from PyTorch's ``dim`` or numpy's ``axis`` (default: the last one)."""
    if dim is not None and axis is not None and dim != axis:
        raise ValueError(f"{op}: got dim={dim} and axis={axis}; pass only one of them")
    chosen = dim if dim is not None else axis
    if chosen is None:
        return -1
    if isinstance(chosen, bool) or not isinstance(chosen, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(chosen).__name__}")
    return int(chosen)


def _check_axis(x: Tensor, axis: int, op: str) -> None:
    nd = max(x.ndim, 1)  # a 0-d tensor is treated as one row of length 1, as in PyTorch
    if not -nd <= axis < nd:
        raise ValueError(
            f"{op}: dim {axis} is out of range for a tensor of shape {x.shape} "
            f"(valid: {-nd} to {nd - 1})"
        )


def relu(x: Any) -> Tensor:
    """Rectified linear unit: ``max(x, 0)`` elementwise.

    Example:
        >>> relu(Tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """
    x = _tensor(x)
    ### BEGIN SOLUTION
    ### HINT: Tensor has a primitive for exactly this.
    return x.relu()
    ### END SOLUTION


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where x > 0, else ``negative_slope * x``.

    The slope at exactly 0 is ``negative_slope`` (PyTorch's choice), which is why this uses
    ``where(x > 0, ...)`` rather than ``maximum(x, slope * x)`` (a tie there would split it).

    Example:
        >>> leaky_relu(Tensor([-2.0, 3.0]), 0.1).tolist()
        [-0.2, 3.0]
    """
    x = _float_tensor(x)
    ### BEGIN SOLUTION
    ### HINT: where(condition, value_if_true, value_if_false)
    return where(x > 0, x, x * negative_slope)
    ### END SOLUTION


def sigmoid(x: Any) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    ``exp(-x)`` overflows for x below about -89 in float32. Both halves of the real line can
    be written with ``e = exp(-|x|)``, which lies in (0, 1]:
    x >= 0 gives ``1 / (1 + e)`` and x < 0 gives ``e / (1 + e)``.

    Example:
        >>> sigmoid(Tensor([0.0])).item()
        0.5
    """
    x = _float_tensor(x)
    ### BEGIN SOLUTION
    ### HINT: build -|x| with where (so its slope is ±1 even at 0), exponentiate, then pick a branch
    positive = x >= 0
    neg_abs = where(positive, -x, x)
    e = neg_abs.exp()
    r = 1 / (1 + e)
    return where(positive, r, e * r)
    ### END SOLUTION


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise (output in (-1, 1)).

    Example:
        >>> tanh(Tensor([0.0])).item()
        0.0
    """
    x = _float_tensor(x)
    ### BEGIN SOLUTION
    return x.tanh()
    ### END SOLUTION


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: ``x · Φ(x)``, with Φ the standard normal CDF.

    Args:
        x: input tensor.
        approximate: ``"none"`` for the exact form ``x/2 · (1 + erf(x/√2))``, or ``"tanh"``
            for ``x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`` (as in BERT/GPT-2).

    Example:
        >>> round(gelu(Tensor([1.0])).item(), 4)
        0.8413
    """
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _float_tensor(x)
    if approximate == "tanh":
        ### BEGIN SOLUTION
        inner = x * (x * x * _GELU_CUBIC + 1) * _SQRT_TWO_OVER_PI
        return x * 0.5 * (inner.tanh() + 1)
        ### END SOLUTION
    ### BEGIN SOLUTION
    ### HINT: Φ(x) = (1 + erf(x / √2)) / 2, and Tensor has erf()
    return x * 0.5 * ((x * _SQRT_HALF).erf() + 1)
    ### END SOLUTION


def softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (default: the last axis); slices sum to 1.

    Args:
        x: input tensor.
        dim: the axis to normalise over (PyTorch's name).
        axis: the same, under numpy's name.

    Example:
        >>> softmax(Tensor([[0.0, 0.0]])).tolist()
        [[0.5, 0.5]]
    """
    x = _float_tensor(x)
    axis = _resolve_dim(dim, axis, "softmax")
    _check_axis(x, axis, "softmax")
    if x.ndim == 0:
        return softmax(x.reshape(1), 0).reshape(())
    ### BEGIN SOLUTION
    ### HINT: the fused Tensor primitive shifts by the maximum for you
    return x.softmax(axis)
    ### END SOLUTION


def log_softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably (finite for any finite input).

    Args:
        x: input tensor.
        dim: the axis to normalise over (PyTorch's name).
        axis: the same, under numpy's name.

    Example:
        >>> round(log_softmax(Tensor([0.0, 0.0])).tolist()[0], 4)
        -0.6931
    """
    x = _float_tensor(x)
    axis = _resolve_dim(dim, axis, "log_softmax")
    _check_axis(x, axis, "log_softmax")
    if x.ndim == 0:
        return log_softmax(x.reshape(1), 0).reshape(())
    ### BEGIN SOLUTION
    return x.log_softmax(axis)
    ### END SOLUTION
