"""Reductions over axes: sum, mean, max, min, var, std, argmax, argmin, any, all.

Both spellings are accepted: numpy's ``axis=`` / ``keepdims=`` and PyTorch's ``dim=`` /
``keepdim=``. ``var`` follows numpy (``ddof=0``) unless told otherwise; PyTorch's ``var``
defaults to the unbiased estimate, so pass ``ddof=1`` (or ``unbiased=True``) for that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .validation import normalize_axis

__all__ = ["ReductionOps"]


def _axes(self: Any, axis: Any, dim: Any, keepdims: bool, keepdim: Any, op: str) -> tuple:
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axis(axis, self.data.ndim, op), bool(keepdims)


class ReductionOps:
    """Mixin: reductions. ``axis`` may be None (all), an int or a tuple of ints."""

    __slots__ = ()

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Any:
        """Sum of elements over ``axis``."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "sum")
        ### BEGIN SOLUTION
        data = np.sum(self.data, axis=axes, keepdims=keep)
        return self._make(np.asarray(data), "sum", (self,), (axes, keep))
        ### END SOLUTION

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> Any:
        """Arithmetic mean over ``axis`` (integer tensors give float32)."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "mean")
        x = self.data if self.data.dtype.kind == "f" else self.data.astype(np.float32)
        ### BEGIN SOLUTION
        data = np.mean(x, axis=axes, keepdims=keep)
        return self._make(np.asarray(data, dtype=x.dtype), "mean", (self,), (axes, keep))
        ### END SOLUTION

    def max(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Any:
        """Largest element over ``axis`` (the gradient is shared equally among ties)."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "max")
        if self.data.size == 0:
            raise ValueError("max of an empty tensor")
        ### BEGIN SOLUTION
        data = np.asarray(np.max(self.data, axis=axes, keepdims=keep))
        return self._make(data, "max", (self,), (axes, keep, data))
        ### END SOLUTION

    def min(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> Any:
        """Smallest element over ``axis`` (the gradient is shared equally among ties)."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "min")
        if self.data.size == 0:
            raise ValueError("min of an empty tensor")
        data = np.asarray(np.min(self.data, axis=axes, keepdims=keep))
        return self._make(data, "min", (self,), (axes, keep, data))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None,
            keepdim: Any = None, unbiased: bool | None = None) -> Any:
        """Variance over ``axis``: mean((x - mean)²) · n / (n - ddof)."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "var")
        if unbiased is not None:
            ddof = 1 if unbiased else 0
        x = self.data if self.data.dtype.kind == "f" else self.data.astype(np.float32)
        ### BEGIN SOLUTION
        data = np.asarray(np.var(x, axis=axes, keepdims=keep, ddof=ddof), dtype=x.dtype)
        return self._make(data, "var", (self,), (axes, keep, ddof))
        ### END SOLUTION

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None,
            keepdim: Any = None, unbiased: bool | None = None) -> Any:
        """Standard deviation: sqrt(var)."""
        return self.var(axis, keepdims, ddof, dim=dim, keepdim=keepdim, unbiased=unbiased).sqrt()

    def argmax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> Any:
        """Index of the largest element (of the flattened tensor when axis is None)."""
        if dim is not None:
            axis = dim
        if keepdim is not None:
            keepdims = keepdim
        ### BEGIN SOLUTION
        return self._make(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdims)),
                          "argmax", ())
        ### END SOLUTION

    def argmin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> Any:
        """Index of the smallest element."""
        if dim is not None:
            axis = dim
        if keepdim is not None:
            keepdims = keepdim
        return self._make(np.asarray(np.argmin(self.data, axis=axis, keepdims=keepdims)),
                          "argmin", ())

    def any(self, axis: Any = None, keepdims: bool = False) -> Any:
        """True where any element along ``axis`` is non-zero."""
        return self._make(np.asarray(np.any(self.data, axis=axis, keepdims=keepdims)), "any", ())

    def all(self, axis: Any = None, keepdims: bool = False) -> Any:
        """True where every element along ``axis`` is non-zero."""
        return self._make(np.asarray(np.all(self.data, axis=axis, keepdims=keepdims)), "all", ())
