"""Python operators on tensors: + - * / ** @, comparisons, with numpy broadcasting.

Each differentiable op hands its output to ``_make(data, op_name, inputs, saved)``, which
records a graph node when gradients are wanted. The derivative of each op name lives in
module 09 (tinytorch-autograd).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import broadcast_error

__all__ = ["ArithmeticOps"]


class ArithmeticOps:
    """Mixin: arithmetic and comparison operators. Operands broadcast like numpy's."""

    __slots__ = ()

    def _binary(self, other: Any, op: str, ufunc: np.ufunc) -> Any:
        """Apply ``ufunc(self, other)`` elementwise and record ``op``."""
        other = self._lift(other)
        try:
            data = ufunc(self.data, other.data)
        except ValueError:
            raise broadcast_error(op, self.data.shape, other.data.shape) from None
        if data.dtype == np.float64 and np.float64 not in (self.data.dtype, other.data.dtype):
            # numpy gives float64 for int64 with float32 (and for int / int); keep float32
            data = data.astype(np.float32)
        return self._make(data, op, (self, other))

    def _compare(self, other: Any, op: str, ufunc: np.ufunc) -> Any:
        """Elementwise comparison: a bool tensor, never part of the graph."""
        other = self._lift(other)
        try:
            data = ufunc(self.data, other.data)
        except ValueError:
            raise broadcast_error(op, self.data.shape, other.data.shape) from None
        return self._make(data, op, ())

    # ------------------------------------------------------------------ + - * /
    def __add__(self, other: Any) -> Any:
        """``self + other``."""
        ### BEGIN SOLUTION
        return self._binary(other, "add", np.add)
        ### END SOLUTION

    def __radd__(self, other: Any) -> Any:
        return self._lift(other).__add__(self)

    def __sub__(self, other: Any) -> Any:
        """``self - other``."""
        ### BEGIN SOLUTION
        return self._binary(other, "sub", np.subtract)
        ### END SOLUTION

    def __rsub__(self, other: Any) -> Any:
        return self._lift(other).__sub__(self)

    def __mul__(self, other: Any) -> Any:
        """``self * other``."""
        ### BEGIN SOLUTION
        return self._binary(other, "mul", np.multiply)
        ### END SOLUTION

    def __rmul__(self, other: Any) -> Any:
        return self._lift(other).__mul__(self)

    def __truediv__(self, other: Any) -> Any:
        """``self / other`` (true division; integer tensors give float)."""
        ### BEGIN SOLUTION
        return self._binary(other, "div", np.true_divide)
        ### END SOLUTION

    def __rtruediv__(self, other: Any) -> Any:
        return self._lift(other).__truediv__(self)

    def __floordiv__(self, other: Any) -> Any:
        """``self // other`` (piecewise constant: not differentiable)."""
        return self._compare(other, "floordiv", np.floor_divide)

    def __rfloordiv__(self, other: Any) -> Any:
        return self._lift(other).__floordiv__(self)

    def __mod__(self, other: Any) -> Any:
        """``self % other`` with numpy's sign convention (not differentiable)."""
        return self._compare(other, "mod", np.remainder)

    def __rmod__(self, other: Any) -> Any:
        return self._lift(other).__mod__(self)

    def __pow__(self, exponent: Any) -> Any:
        """``self ** exponent``; the exponent may itself be a tensor that requires grad."""
        ### BEGIN SOLUTION
        other = self._lift(exponent)
        try:
            data = np.power(self.data, other.data)
        except ValueError:
            raise broadcast_error("pow", self.data.shape, other.data.shape) from None
        return self._make(data, "pow", (self, other), data)
        ### END SOLUTION

    def __rpow__(self, base: Any) -> Any:
        return self._lift(base).__pow__(self)

    def __neg__(self) -> Any:
        """``-self``."""
        ### BEGIN SOLUTION
        return self._make(np.negative(self.data), "neg", (self,))
        ### END SOLUTION

    def __pos__(self) -> Any:
        return self

    # ------------------------------------------------------------------ matmul
    def matmul(self, other: Any) -> Any:
        """Matrix product with numpy's rules: 1-D operands are vectors; leading dims broadcast.

        Shape:
            (..., n, k) @ (..., k, m) -> (..., n, m)
        """
        other = self._lift(other)
        a, b = self.data, other.data
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
        try:
            data = np.matmul(a, b)
        except ValueError:
            raise broadcast_error("matmul (batch dimensions)", a.shape[:-2], b.shape[:-2]) from None
        return self._make(data, "matmul", (self, other))
        ### END SOLUTION

    def __matmul__(self, other: Any) -> Any:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Any:
        return self._lift(other).matmul(self)

    # ------------------------------------------------------------------ comparisons
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self._compare(other, "eq", np.equal)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self._compare(other, "ne", np.not_equal)

    def __lt__(self, other: Any) -> Any:
        ### BEGIN SOLUTION
        return self._compare(other, "lt", np.less)
        ### END SOLUTION

    def __le__(self, other: Any) -> Any:
        return self._compare(other, "le", np.less_equal)

    def __gt__(self, other: Any) -> Any:
        ### BEGIN SOLUTION
        return self._compare(other, "gt", np.greater)
        ### END SOLUTION

    def __ge__(self, other: Any) -> Any:
        return self._compare(other, "ge", np.greater_equal)

    def __invert__(self) -> Any:
        """Logical not for bool tensors, bitwise not for integers."""
        return self._make(np.invert(self.data), "invert", ())

    def __and__(self, other: Any) -> Any:
        return self._compare(other, "and", np.bitwise_and)

    def __or__(self, other: Any) -> Any:
        return self._compare(other, "or", np.bitwise_or)
