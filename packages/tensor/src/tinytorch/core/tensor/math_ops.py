"""Elementwise math (exp, log, sqrt, tanh, erf, ...), min/max/clip, and the fused softmaxes.

Ops whose derivative is cheapest from their own output (exp, sqrt, tanh, softmax) save that
output in their Node, so the backward pass does not recompute it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .base import TensorBase

from .dtypes import result_dtype
from .opnames import (
    ABS, CLIP, COS, ERF, EXP, LOG, LOG1P, LOG_SOFTMAX, MAXIMUM, MINIMUM, RELU, SIGN, SIN, SOFTMAX,
    SQRT, TANH,
)
from .validation import broadcast_error, normalize_axis

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["MathOps", "erf_array"]


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise (numpy has none; scipy is not a dependency).

    Abramowitz & Stegun formula 7.1.26: a rational approximation in t = 1/(1 + p|x|) times
    exp(-x²), with absolute error below 1.5e-7 — under float32's resolution near 1. It is
    evaluated in float64 (float32 arithmetic would add its own rounding on top) and returned
    in the input's dtype.
    """
    p = 0.3275911
    a1, a2, a3, a4, a5 = 0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429
    ax = np.abs(x.astype(np.float64))
    t = 1.0 / (1.0 + p * ax)
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    y = 1.0 - poly * np.exp(-ax * ax)
    return (np.sign(x) * y).astype(x.dtype, copy=False)


def _one_axis(axis: int, ndim: int, op: str) -> Any:
    """Check ``axis`` for a softmax; a 0-d tensor (axis 0 or -1, as in PyTorch) gives ``()``."""
    normalize_axis(axis, ndim, op)  # raises for an axis out of range
    return () if ndim == 0 else axis


class MathOps(TensorBase):
    """Mixin: elementwise functions, elementwise min/max, clip, softmax and log-softmax."""

    __slots__ = ()

    def _float_data(self, op: str) -> np.ndarray:
        """The data as floating point (integer tensors are promoted to float32 first)."""
        if self.data.dtype.kind == "f":
            return self.data
        if self.data.dtype.kind in "biu":
            return self.data.astype(np.float32)
        raise TypeError(f"{op} needs a numeric tensor, got dtype {self.data.dtype}")

    def exp(self) -> "Tensor":
        """e ** self, elementwise; integer tensors give float32. Saves its output.

        Recorded as op "exp" with inputs ``(self,)``; the node saves the output array because
        the derivative of exp is exp itself (the autograd module multiplies the gradient by it).
        """
        ### BEGIN SOLUTION
        ### HINT: self._float_data("exp") gives float data (ints promoted); np.exp of it
        ### HINT: the 4th argument of self._make is what the node saves
        out = np.exp(self._float_data("exp"))
        return self._make(out, EXP, (self,), out)
        ### END SOLUTION

    def log(self) -> "Tensor":
        """Natural logarithm, elementwise (-inf at 0, nan below, like numpy); op "log".

        Integer tensors give float32. Nothing saved: the derivative 1/x needs only the input.
        """
        ### BEGIN SOLUTION
        ### HINT: np.log of self._float_data("log"); record with self._make(..., LOG, (self,))
        return self._make(np.log(self._float_data("log")), LOG, (self,))
        ### END SOLUTION

    def log1p(self) -> "Tensor":
        """log(1 + self), accurate for small values."""
        return self._make(np.log1p(self._float_data("log1p")), LOG1P, (self,))

    def sqrt(self) -> "Tensor":
        """Square root, elementwise; integer tensors give float32; op "sqrt".

        Saves its output: the derivative 1/(2·sqrt(x)) is cheapest from sqrt(x) itself.
        """
        ### BEGIN SOLUTION
        ### HINT: same shape as exp: float data, numpy function, save the output
        out = np.sqrt(self._float_data("sqrt"))
        return self._make(out, SQRT, (self,), out)
        ### END SOLUTION

    def abs(self) -> "Tensor":
        """|x| elementwise, op "abs" (derivative sign(x); 0 at 0, as in PyTorch).

        Unlike exp/log, abs keeps integer tensors integer (|−3| is an int): use ``self.data``
        as it is. Nothing saved.
        """
        ### BEGIN SOLUTION
        ### HINT: np.abs on self.data (not _float_data: ints stay ints)
        return self._make(np.abs(self.data), ABS, (self,))
        ### END SOLUTION

    __abs__ = abs

    def sign(self) -> "Tensor":
        """-1, 0 or 1 elementwise (not differentiable)."""
        return self._make(np.sign(self.data), SIGN, ())

    def tanh(self) -> "Tensor":
        """Hyperbolic tangent, elementwise; integer tensors give float32; op "tanh".

        Saves its output: the derivative is 1 - tanh(x)².
        """
        ### BEGIN SOLUTION
        ### HINT: like exp: float data, np.tanh, save the output for the autograd module
        out = np.tanh(self._float_data("tanh"))
        return self._make(out, TANH, (self,), out)
        ### END SOLUTION

    def sin(self) -> "Tensor":
        """Sine."""
        return self._make(np.sin(self._float_data("sin")), SIN, (self,))

    def cos(self) -> "Tensor":
        """Cosine."""
        return self._make(np.cos(self._float_data("cos")), COS, (self,))

    def erf(self) -> "Tensor":
        """Error function (see :func:`erf_array` for its accuracy)."""
        return self._make(erf_array(self._float_data("erf")), ERF, (self,))

    def relu(self) -> "Tensor":
        """max(x, 0) elementwise, op "relu"; same dtype as the input (ints stay ints).

        Its derivative is 0 at 0, as in PyTorch. Nothing saved (the autograd module reads the sign of the
        input). The result must be +0.0 for every non-positive input, -0.0 included, and is
        laid out in memory like the input (``np.maximum`` does both).

        This is the maths. The ReLU layers of the activations module run the same op through
        ``tinytorch.core.tensor.fused.relu``, which writes it into a reused buffer (speed, not
        lesson material).
        """
        ### BEGIN SOLUTION
        ### HINT: np.maximum compares elementwise; what is the other argument?
        ### HINT: compare with a zero of the tensor's own dtype: self.data.dtype.type(0)
        # 0 in the tensor's own dtype: numpy 1.x promotes a 0-d float32 with a Python 0 to float64
        return self._make(np.maximum(self.data, self.data.dtype.type(0)), RELU, (self,))
        ### END SOLUTION

    # ------------------------------------------------------------------ min / max / clip
    def maximum(self, other: Any) -> "Tensor":
        """Elementwise larger of self and other (ties share the gradient, as in PyTorch).

        Given: the same pattern as the ``_binary`` you wrote (same dtype rule).
        """
        other = self._lift(other)
        dtype = result_dtype(self.data.dtype, other.data.dtype)
        try:
            data = np.maximum(self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False))
        except ValueError:
            raise broadcast_error("maximum", self.shape, other.shape) from None
        return self._make(data, MAXIMUM, (self, other))

    def minimum(self, other: Any) -> "Tensor":
        """Elementwise smaller of self and other (ties share the gradient)."""
        other = self._lift(other)
        dtype = result_dtype(self.data.dtype, other.data.dtype)
        try:
            data = np.minimum(self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False))
        except ValueError:
            raise broadcast_error("minimum", self.shape, other.shape) from None
        return self._make(data, MINIMUM, (self, other))

    def clip(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002 - numpy's names
        """Limit values to [min, max] elementwise; op "clip"; the gradient passes where
        min <= x <= max.

        ``min`` or ``max`` may be None (no limit on that side), not both. The bounds are
        converted to the tensor's dtype (given, as ``lo`` and ``hi``); the node saves the pair
        ``(lo, hi)`` so the autograd module can tell which elements were clipped.
        """
        if min is None and max is None:
            raise ValueError("clip needs at least one of min and max")
        lo = None if min is None else np.asarray(min, dtype=self.data.dtype)
        hi = None if max is None else np.asarray(max, dtype=self.data.dtype)
        ### BEGIN SOLUTION
        ### HINT: np.clip accepts None for a missing bound; save the tuple (lo, hi)
        data = np.clip(self.data, lo, hi)
        return self._make(data, CLIP, (self,), (lo, hi))
        ### END SOLUTION

    clamp = clip

    # ------------------------------------------------------------------ softmax family
    def log_softmax(self, axis: int = -1) -> "Tensor":
        """log(softmax(self)) along ``axis``, computed stably as x - max - log(sum(exp(x - max))).

        Same shape as the input, float32 for float32 input. Finite for any finite input,
        however large: the largest exponent taken is 0 (log(sum) >= 0, never log(0)). The
        node saves ``(out, axis)``: the derivative is grad - softmax·sum(grad), with
        softmax = exp(out).
        """
        x = self._float_data("log_softmax")
        axis = _one_axis(axis, x.ndim, "log_softmax")
        ### BEGIN SOLUTION
        ### HINT: keepdims=True keeps the reduced axis as size 1, so it broadcasts back over x
        ### HINT: never compute log(softmax): exp can underflow to 0, and log(0) = -inf
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self._make(out, LOG_SOFTMAX, (self,), (out, axis))
        ### END SOLUTION

    def softmax(self, axis: int = -1) -> "Tensor":
        """exp(x) / sum(exp(x)) along ``axis``, computed stably (shifted by the max).

        softmax(x) = softmax(x - c) for any c; with c = max along the axis every exponent is
        <= 0, so nothing overflows, and the largest term is exp(0) = 1, so the sum is >= 1.
        Same shape as the input; each slice along ``axis`` sums to 1. The node saves
        ``(out, axis)`` (the derivative is out·(grad - sum(grad·out))).
        """
        x = self._float_data("softmax")
        axis = _one_axis(axis, x.ndim, "softmax")
        ### BEGIN SOLUTION
        ### HINT: subtract x.max(axis=axis, keepdims=True) before np.exp
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        return self._make(out, SOFTMAX, (self,), (out, axis))
        ### END SOLUTION
