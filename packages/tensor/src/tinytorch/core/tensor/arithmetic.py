"""Python operators on tensors: + - * / ** @, comparisons, with numpy broadcasting.

Each differentiable op hands its output to ``_make(data, op_name, inputs, saved)``, which
records a graph node when gradients are wanted. The op names are constants (``ADD``, ``MUL``,
... from ``opnames.py``): the autograd module (tinytorch-autograd) registers each op's derivative under
the same constant, so a misspelt name is an error at import, not at the first backward pass.

You write :meth:`ArithmeticOps._binary` once; ``+ - * /`` (and their reflected forms) are
given as one-line calls of it. Likewise :meth:`ArithmeticOps._binary_no_grad` serves every
comparison and ``// % & |``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .base import TensorBase

from .dtypes import DEFAULT_FLOAT, result_dtype
from .opnames import (
    ADD, AND, DIV, EQ, FLOORDIV, GE, GT, INVERT, LE, LT, MATMUL, MOD, MUL, NE, NEG, OR, POW, SUB,
)
from .validation import broadcast_error

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["ArithmeticOps"]


class ArithmeticOps(TensorBase):
    """Mixin: arithmetic and comparison operators. Operands broadcast like numpy's."""

    __slots__ = ()

    def _binary(self, other: Any, op: str, ufunc: np.ufunc) -> "Tensor":
        """Apply ``ufunc(self, other)`` elementwise, with numpy broadcasting, and record ``op``.

        Every differentiable two-operand operator (``+ - * /``) is one call of this method.

        Args:
            other: the second operand: a Tensor, a Python or numpy scalar, a list or an array.
                ``self._lift(other)`` turns it into a Tensor (scalars take this tensor's
                float dtype, so ``x * 0.5`` stays float32; an array keeps its own dtype).
            op: the op's name in the graph (``ADD``, ``SUB``, ``MUL``, ``DIV`` from
                ``opnames.py``); the autograd module looks up its derivative by this name.
            ufunc: the numpy function that computes it (``np.add``, ...).

        Returns:
            A new Tensor ``out`` with ``out.data == ufunc(self.data, other.data)`` and shape
            ``np.broadcast_shapes(self.shape, other.shape)``, recorded with
            ``self._make(data, op, (self, other))`` — inputs in that order, nothing saved.

        Rules:
            * shapes that cannot broadcast raise ``broadcast_error(op, self.shape,
              other.shape)`` (a ValueError naming both shapes), not numpy's message;
            * the dtype is the promotion rule's, not numpy's: ``dtype = result_dtype(
              self.dtype, other.dtype)`` (given, in ``dtypes.py``); cast both arrays to it
              (``.astype(dtype, copy=False)``) before calling ``ufunc`` — float32 with int64
              computes in float32, where numpy would silently widen to float64;
            * true division of two integer arrays gives float64 in numpy: make it
              ``DEFAULT_FLOAT`` (float32), as PyTorch does.

        Example: ``Tensor([[1.0], [2.0]]) + Tensor([10.0, 20.0, 30.0])`` has shape (2, 3).
        """
        ### BEGIN SOLUTION
        ### HINT: lift first (other = self._lift(other)), then dtype = result_dtype(...) of the
        ### HINT: two dtypes; call ufunc on the two .data arrays cast to it (astype, copy=False)
        ### HINT: numpy raises ValueError when shapes don't broadcast: catch it and
        ### HINT: `raise broadcast_error(op, ...) from None`
        ### HINT: a float result from integer operands (int / int) becomes DEFAULT_FLOAT
        other = self._lift(other)
        dtype = result_dtype(self.data.dtype, other.data.dtype)
        try:
            data = ufunc(self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False))
        except ValueError:
            raise broadcast_error(op, self.data.shape, other.data.shape) from None
        if data.dtype != dtype:
            data = data.astype(DEFAULT_FLOAT)  # int / int: numpy says float64, PyTorch float32
        return self._make(data, op, (self, other))
        ### END SOLUTION

    def _binary_no_grad(self, other: Any, op: str, ufunc: np.ufunc) -> "Tensor":
        """Elementwise op outside the graph: comparisons, ``//``, ``%``, ``&``, ``|``.

        Like :meth:`_binary` (lift ``other``, cast both arrays to ``result_dtype`` of the two
        dtypes, apply ``ufunc``, turn a broadcasting ValueError into ``broadcast_error(op,
        ...)``), but the result is never part of the graph: it is recorded with no inputs,
        ``self._make(data, op, ())``, so it never requires grad. A comparison's result is a
        bool tensor; ``x > 0`` is a step function whose derivative is zero almost everywhere,
        so there is nothing to send back. ``//`` and ``%`` keep the common dtype.
        """
        ### BEGIN SOLUTION
        ### HINT: the same steps as _binary without the int / int case;
        ### HINT: the inputs you record are an empty tuple
        other = self._lift(other)
        dtype = result_dtype(self.data.dtype, other.data.dtype)
        try:
            data = ufunc(self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False))
        except ValueError:
            raise broadcast_error(op, self.data.shape, other.data.shape) from None
        return self._make(data, op, ())
        ### END SOLUTION

    # ------------------------------------------------------------------ + - * /
    def __add__(self, other: Any) -> "Tensor":
        """``self + other``: given, one call of :meth:`_binary` (which you write)."""
        return self._binary(other, ADD, np.add)

    def __radd__(self, other: Any) -> "Tensor":
        return self._lift(other).__add__(self)

    def __sub__(self, other: Any) -> "Tensor":
        """``self - other``: given, one call of :meth:`_binary` (which you write)."""
        return self._binary(other, SUB, np.subtract)

    def __rsub__(self, other: Any) -> "Tensor":
        return self._lift(other).__sub__(self)

    def __mul__(self, other: Any) -> "Tensor":
        """``self * other``: given, one call of :meth:`_binary` (which you write)."""
        return self._binary(other, MUL, np.multiply)

    def __rmul__(self, other: Any) -> "Tensor":
        return self._lift(other).__mul__(self)

    def __truediv__(self, other: Any) -> "Tensor":
        """``self / other`` (true division; integer tensors give float).

        Given: one call of :meth:`_binary` (which you write).
        """
        return self._binary(other, DIV, np.true_divide)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return self._lift(other).__truediv__(self)

    def __floordiv__(self, other: Any) -> "Tensor":
        """``self // other`` (piecewise constant: not differentiable)."""
        return self._binary_no_grad(other, FLOORDIV, np.floor_divide)

    def __rfloordiv__(self, other: Any) -> "Tensor":
        return self._lift(other).__floordiv__(self)

    def __mod__(self, other: Any) -> "Tensor":
        """``self % other`` with numpy's (and PyTorch's) sign convention: the result takes the
        divisor's sign. Given. For floats it is differentiable as in PyTorch —
        ``a % b = a - b·floor(a / b)``, so d/da = 1 and d/db = -floor(a / b) (the autograd module) —
        so the node records both inputs; integer results stay outside the graph."""
        other = self._lift(other)
        out = self._binary_no_grad(other, MOD, np.remainder)
        if out.data.dtype.kind == "f":
            return self._make(out.data, MOD, (self, other))
        return out

    def __rmod__(self, other: Any) -> "Tensor":
        return self._lift(other).__mod__(self)

    def __pow__(self, exponent: Any) -> "Tensor":
        """``self ** exponent``, elementwise with broadcasting; the exponent may be a tensor.

        Like :meth:`_binary` (lift, cast both to ``result_dtype``, ``np.power``,
        ``broadcast_error("pow", ...)`` on shapes that don't broadcast, record inputs
        ``(self, exponent)``), but the node also saves the *output*: the autograd module needs it for
        both derivatives, d/dbase = exponent·out/base and d/dexponent = out·log(base), and
        saving it spares recomputing a power in backward. A Python exponent is weak
        (``x ** 2`` of float32 stays float32; an int tensor ** 0.5 is float32).
        """
        other = self._lift(exponent)
        dtype = result_dtype(self.data.dtype, other.data.dtype)
        base, power = self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False)
        if dtype.kind in "iu" and np.any(power < 0):
            raise ValueError(f"pow: integer tensors cannot be raised to negative integer powers "
                             f"(got {dtype} exponents < 0); use a float tensor")
        ### BEGIN SOLUTION
        ### HINT: np.power of the two cast arrays, wrapped in try/except for broadcasting
        ### HINT: the 4th argument of self._make is what the node saves: pass the result array
        try:
            data = np.power(base, power)
        except ValueError:
            raise broadcast_error("pow", self.data.shape, other.data.shape) from None
        return self._make(data, POW, (self, other), data)
        ### END SOLUTION

    def __rpow__(self, base: Any) -> "Tensor":
        return self._lift(base).__pow__(self)

    def __neg__(self) -> "Tensor":
        """``-self``: every element negated, same shape and dtype; recorded as op ``NEG``.

        The pattern of every one-input op: compute the new array from ``self.data`` with
        numpy, then ``self._make(array, op_name, (self,))``.
        """
        ### BEGIN SOLUTION
        ### HINT: np.negative (or -self.data); one input, nothing to save
        return self._make(np.negative(self.data), NEG, (self,))
        ### END SOLUTION

    def __pos__(self) -> "Tensor":
        return cast("Tensor", self)

    # ------------------------------------------------------------------ matmul
    def matmul(self, other: Any) -> "Tensor":
        """Matrix product with numpy's rules: 1-D operands are vectors; leading dims broadcast.

        Shape:
            (..., n, k) @ (..., k, m) -> (..., n, m)
            out[..., i, j] = sum over k of a[..., i, k] · b[..., k, j]
            A 1-D first operand acts as a (1, k) row, a 1-D second as a (k, 1) column, and
            that dimension is dropped from the result.

        Given: the dtype, the rule of ``+ - * /`` (``result_dtype``: float32 @ int64 is
        float32; both operands are cast to it), and the shape checks (inner dimensions, at
        least 1-D). What is left: the product itself, a clear error when the *batch*
        dimensions don't broadcast (numpy's ValueError → ``broadcast_error("matmul (batch
        dimensions)", a.shape[:-2], b.shape[:-2])``), and the record: inputs ``(self,
        other)``, nothing saved (the derivatives grad @ b.T and a.T @ grad only need the
        inputs).
        """
        other = self._lift(other)
        dtype = result_dtype(self.data.dtype, other.data.dtype)  # the rule of + - * /
        a, b = self.data.astype(dtype, copy=False), other.data.astype(dtype, copy=False)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(
                f"matmul: both operands need at least 1 dimension, got shapes {a.shape} and "
                f"{b.shape} (use * for scalars)"
            )
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            dim_b = 0 if b.ndim == 1 else b.ndim - 2
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: dimension "
                f"{a.ndim - 1} of the first ({a.shape[-1]}) != dimension {dim_b} of the "
                f"second ({k_b})"
            )
        ### BEGIN SOLUTION
        ### HINT: np.matmul does the arithmetic and the batch broadcasting; wrap it in try/except
        try:
            data = np.matmul(a, b)
        except ValueError:
            raise broadcast_error("matmul (batch dimensions)", a.shape[:-2], b.shape[:-2]) from None
        return self._make(data, MATMUL, (self, other))
        ### END SOLUTION

    def __matmul__(self, other: Any) -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return self._lift(other).matmul(self)

    # ------------------------------------------------------------------ comparisons
    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._binary_no_grad(other, EQ, np.equal)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._binary_no_grad(other, NE, np.not_equal)

    def __lt__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, LT, np.less)

    def __le__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, LE, np.less_equal)

    def __gt__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, GT, np.greater)

    def __ge__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, GE, np.greater_equal)

    def __invert__(self) -> "Tensor":
        """Logical not for bool tensors, bitwise not for integers."""
        return self._make(np.invert(self.data), INVERT, ())

    def __and__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, AND, np.bitwise_and)

    def __or__(self, other: Any) -> "Tensor":
        return self._binary_no_grad(other, OR, np.bitwise_or)
