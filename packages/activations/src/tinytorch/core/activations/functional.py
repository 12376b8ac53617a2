"""The activation functions, written with Tensor ops only.

Every function here is a composition of Tensor primitives (``relu``, ``where``, ``exp``,
``erf``, ``tanh``, ``max``, ``sum``, ``log``, ``detach``, arithmetic). The tensor module records
each primitive in the graph, and the autograd module knows each primitive's derivative, so these
functions become differentiable the moment tinytorch-autograd is installed — nothing here computes
on raw numpy arrays.

Numerical stability is part of the job:

* ``sigmoid`` only ever exponentiates -|x|, so ``exp`` never overflows, however large |x|.
* ``softmax`` / ``log_softmax`` subtract the maximum of each slice first, so the largest
  exponent taken is e⁰ = 1.

``relu`` and ``tanh`` are taken whole from Tensor: ReLU's maths is the tensor module's exercise, and
it is the hottest activation (every hidden layer); ``tanh`` written from ``exp`` loses its
precision near 0 (``1 - e^(-2|x|)`` cancels), which Tensor's ``tanh`` (numpy's) does not.
Losses and attention use Tensor's fused ``softmax`` / ``log_softmax`` primitives (the same
maths in one op, with a compact derivative); the functions here spell that maths out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, where
from tinytorch.core.tensor.fused import relu as relu_fused

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
    """Rectified linear unit: ``max(x, 0)`` elementwise — the tensor module's ``Tensor.relu``.

    Given, not an exercise: you wrote ReLU's maths in the tensor module (``MathOps.relu``, one
    ``np.maximum``, with its own derivative), and every ReLU layer of every model runs through
    here, so it runs that same op — in its fast form, ``tinytorch.core.tensor.fused.relu``,
    which writes the result into a reused buffer (a CNN calls it on megabytes per step).

    Args:
        x: a Tensor (or array / list) of any shape and dtype.

    Returns:
        A Tensor of the same shape and dtype: ``x`` where x > 0, else 0. NaN stays NaN, and
        the slope at exactly 0 is 0 (PyTorch's choice), so ``relu'(x) = 1 if x > 0 else 0``.

    Example:
        >>> relu(Tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """
    return relu_fused(_tensor(x))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where x > 0, else ``negative_slope * x``.

    The slope at exactly 0 is ``negative_slope`` (PyTorch's choice), which is why this uses
    ``where(x > 0, ...)`` rather than ``maximum(x, slope * x)`` (a tie there would split it).

    Args:
        x: a Tensor (or array / list) of any shape; integers become float32.
        negative_slope: the factor applied to inputs <= 0.

    Returns:
        A float Tensor of the same shape: ``x`` where x > 0, else ``negative_slope · x``.

    Example:
        >>> leaky_relu(Tensor([-2.0, 3.0]), 0.1).tolist()
        [-0.2, 3.0]
    """
    x = _float_tensor(x)
    ### BEGIN SOLUTION
    ### HINT: where(condition, value_if_true, value_if_false); the scaled branch is x * negative_slope.
    return where(x > 0, x, x * negative_slope)
    ### END SOLUTION


def sigmoid(x: Any) -> Tensor:
    """The logistic function ``1 / (1 + exp(-x))``, computed without overflow.

    ``exp(-x)`` overflows for x below about -89 in float32. Both halves of the real line can
    be written with ``e = exp(-|x|)``, which lies in (0, 1]:
    x >= 0 gives ``1 / (1 + e)`` and x < 0 gives ``e / (1 + e)``.

    Args:
        x: a Tensor (or array / list) of any shape; integers become float32.

    Returns:
        A float Tensor of the same shape with values in [0, 1], finite for any finite x.

    Example:
        >>> sigmoid(Tensor([0.0])).item()
        0.5
    """
    x = _float_tensor(x)
    ### BEGIN SOLUTION
    ### HINT: build -|x| with where(x >= 0, -x, x), not -x.abs(): abs has slope 0 at 0, which would make sigmoid'(0) = 0 instead of 1/4.
    ### HINT: e = exp(-|x|) lies in (0, 1]; compute r = 1 / (1 + e) once and pick r or e * r with the same condition.
    positive = x >= 0
    neg_abs = where(positive, -x, x)
    e = neg_abs.exp()
    r = 1 / (1 + e)
    return where(positive, r, e * r)
    ### END SOLUTION


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise (output in (-1, 1)): Tensor's own ``tanh``.

    Given, not an exercise: ``tanh(x) = 2·sigmoid(2x) - 1`` is exact maths, but in floating
    point the subtraction cancels near 0 (tanh(1e-5) comes out with a relative error near
    1e-3 in float32), while numpy's tanh is accurate everywhere.

    Example:
        >>> tanh(Tensor([0.0])).item()
        0.0
    """
    return _float_tensor(x).tanh()


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit: ``x · Φ(x)``, with Φ the standard normal CDF.

    Args:
        x: input tensor (or array / list) of any shape; integers become float32.
        approximate: ``"none"`` for the exact form ``x/2 · (1 + erf(x/√2))``, or ``"tanh"``
            for ``x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`` (as in BERT/GPT-2).

    Returns:
        A float Tensor of the same shape (0 far left of 0, x far right, slightly negative
        just left of 0).

    Example:
        >>> round(gelu(Tensor([1.0])).item(), 4)
        0.8413
    """
    if approximate not in GELU_APPROXIMATIONS:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _float_tensor(x)
    if approximate == "tanh":
        ### BEGIN SOLUTION
        ### HINT: constants _SQRT_TWO_OVER_PI and _GELU_CUBIC are defined above; x³ as x * x * x stays finite at ±1e4.
        ### HINT: Tensor has tanh(); the result is x * 0.5 * (1 + tanh(inner)).
        inner = x * (x * x * _GELU_CUBIC + 1) * _SQRT_TWO_OVER_PI
        return x * 0.5 * (inner.tanh() + 1)
        ### END SOLUTION
    ### BEGIN SOLUTION
    ### HINT: Φ(x) = (1 + erf(x / √2)) / 2, and Tensor has erf(); 1/√2 is _SQRT_HALF above.
    return x * 0.5 * ((x * _SQRT_HALF).erf() + 1)
    ### END SOLUTION


def softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (default: the last axis); slices sum to 1.

    Computed stably: softmax(x) = softmax(x - c) for any constant c, so subtract each slice's
    maximum first; the largest exponent is then e⁰ = 1 and nothing overflows.

    Args:
        x: input tensor (or array / list) of any shape; integers become float32.
        dim: the axis to normalise over (PyTorch's name).
        axis: the same, under numpy's name.

    Returns:
        A float Tensor of ``x``'s shape whose slices along ``dim`` are non-negative and sum to 1.

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
    ### HINT: x.max(axis=axis, keepdims=True) keeps the reduced axis, so it broadcasts back against x.
    ### HINT: the shift is a constant (softmax does not depend on it): .detach() it so no gradient flows through the max.
    ### HINT: then exp, and divide by the sum along the same axis (keepdims=True again).
    shifted = x - x.max(axis=axis, keepdims=True).detach()
    e = shifted.exp()
    return e / e.sum(axis=axis, keepdims=True)
    ### END SOLUTION


def log_softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``log(softmax(x))`` along ``dim``, computed stably (finite for any finite input).

    With s = x - max(x) along ``dim``: ``log_softmax(x) = s - log(sum(exp(s)))``. Never the
    log of a softmax, which would give log(0) = -inf for a very unlikely class.

    Args:
        x: input tensor (or array / list) of any shape; integers become float32.
        dim: the axis to normalise over (PyTorch's name).
        axis: the same, under numpy's name.

    Returns:
        A float Tensor of ``x``'s shape, every value <= 0, finite for any finite input.

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
    ### HINT: shift by the detached maximum exactly as in softmax; every exp(shifted) is then in (0, 1].
    ### HINT: the sum of those exponentials is >= 1 (the maximum contributes e⁰), so its log is finite.
    shifted = x - x.max(axis=axis, keepdims=True).detach()
    return shifted - shifted.exp().sum(axis=axis, keepdims=True).log()
    ### END SOLUTION
