"""Reductions over axes: sum, mean, max, min, amax, amin, var, std, argmax, argmin, any, all.

Both spellings are accepted: numpy's ``axis=`` / ``keepdims=`` and PyTorch's ``dim=`` /
``keepdim=``. ``var`` follows numpy (``ddof=0``) unless told otherwise; PyTorch's ``var``
defaults to the unbiased estimate, so pass ``ddof=1`` (or ``unbiased=True``) for that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, overload

import numpy as np

from .base import TensorBase
from .opnames import ALL, ANY, ARGMAX, ARGMIN, MAX, MEAN, MIN, STD, SUM, VAR

from .validation import normalize_axis

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["ReductionOps", "ValuesIndices"]


class ValuesIndices(NamedTuple):
    """``(values, indices)`` — what ``x.max(dim)``, ``x.min(dim)``, ``sort`` and ``topk``
    return, as PyTorch's ``torch.return_types``: unpack it, or read ``.values`` and
    ``.indices``."""

    values: Tensor
    indices: Tensor


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "_node") and hasattr(x, "data")


def _torch_form(dim: Any, axis: Any, keepdims: Any) -> bool:
    """True for PyTorch's ``max(dim)``: one int dim, no numpy keyword (axis=/keepdims=)."""
    return (axis is None and keepdims is None and isinstance(dim, (int, np.integer))
            and not isinstance(dim, bool))


def _axes(self: Any, axis: Any, dim: Any, keepdims: bool, keepdim: Any, op: str) -> tuple:
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass axis= or dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return normalize_axis(axis, self.data.ndim, op), bool(keepdims)


def _index_axis(self: Any, axis: Any, dim: Any, keepdims: bool, keepdim: Any, op: str) -> tuple:
    """argmax/argmin's one axis (an int, None for the flattened tensor; () for a 0-d tensor)."""
    axes, keep = _axes(self, axis, dim, keepdims, keepdim, op)
    if axes is None or axes == ():
        return axes, keep
    if len(axes) != 1:
        raise TypeError(f"{op} takes a single axis, got {axis if dim is None else dim}")
    return axes[0], keep


def _ddof(ddof: int, unbiased: bool | None, correction: int | None, op: str) -> int:
    """One degrees-of-freedom correction from numpy's ``ddof`` or PyTorch's ``unbiased`` /
    ``correction`` (at most one of the PyTorch spellings)."""
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}: pass unbiased= or correction=, not both")
    if correction is not None:
        if isinstance(correction, bool) or not isinstance(correction, (int, np.integer)) \
                or correction < 0:
            raise ValueError(f"{op}: correction must be an int >= 0, got {correction!r}")
        return int(correction)
    if unbiased is not None:
        return 1 if unbiased else 0
    return ddof


class ReductionOps(TensorBase):
    """Mixin: reductions. ``axis`` may be None (all), an int or a tuple of ints."""

    __slots__ = ()

    def sum(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> "Tensor":
        """Sum of elements over ``axis``; op "sum".

        ``axis`` None sums everything (a 0-d result); an int or tuple sums those axes;
        ``keepdims`` keeps them as size 1. Parsing both spellings (numpy's axis/keepdims,
        PyTorch's dim/keepdim) is given: ``axes`` is None or a sorted tuple of non-negative
        ints, ``keep`` a bool. Integer tensors stay integer. The node saves ``(axes, keep)``:
        the backward pass broadcasts the gradient back over the summed axes.
        Example: ones((2, 3)).sum(axis=0) -> [2., 2., 2.], shape (3,).
        """
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "sum")
        ### BEGIN SOLUTION
        ### HINT: np.sum takes a tuple of axes; a full sum returns a numpy scalar, so wrap it
        ### HINT: in np.asarray (a Tensor always holds an ndarray, 0-d included)
        data = np.sum(self.data, axis=axes, keepdims=keep)
        return self._make(np.asarray(data), SUM, (self,), (axes, keep))
        ### END SOLUTION

    def mean(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: Any = None) -> "Tensor":
        """Arithmetic mean over ``axis``; op "mean".

        Same axes rules as :meth:`sum`; ``x`` (given) is the data as float. The result keeps
        x's dtype (np.mean of float32 may compute in float32 but returns a numpy scalar for a
        full reduction). Saves ``(axes, keep)``: the gradient is grad / n over those axes.

        Integer and bool tensors give float32: the mean is sum / n, a true division, and
        int / int is float32 (``dtypes.py``). PyTorch refuses ``mean`` of an integer tensor
        instead; here ``(pred == label).mean()`` is an accuracy.
        """
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "mean")
        x = self.data if self.data.dtype.kind == "f" else self.data.astype(np.float32)
        ### BEGIN SOLUTION
        ### HINT: np.mean, then np.asarray(..., dtype=x.dtype): an array of x's dtype
        data = np.mean(x, axis=axes, keepdims=keep)
        return self._make(np.asarray(data, dtype=x.dtype), MEAN, (self,), (axes, keep))
        ### END SOLUTION

    @overload
    def max(self, dim: int, keepdim: bool | None = None) -> ValuesIndices: ...

    @overload
    def max(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> "Tensor": ...

    def max(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> "Tensor | ValuesIndices":
        """Largest element over ``axis``; op "max" (the gradient is shared equally among ties).

        Three forms, as in PyTorch (the dispatch is given; the reduction is the exercise):

        * ``x.max()`` — the largest element, a 0-d tensor;
        * ``x.max(dim)`` / ``x.max(dim=1, keepdim=True)`` — one int dim, PyTorch's spelling:
          a named tuple ``(values, indices)`` (see :meth:`_max_along`);
        * ``x.max(axis=(0, 1), keepdims=True)`` — numpy's spelling (``axis=``/``keepdims=``,
          or a tuple of dims): the values only, like numpy and like :meth:`amax`.
        * ``x.max(other)`` with a Tensor — the elementwise maximum (:meth:`maximum`).

        Same axes rules as :meth:`sum`; integers stay integer. The node saves
        ``(axes, keep, out)`` — the result array — so the autograd module can find which inputs equal
        the maximum (and share the gradient among ties).
        """
        if _is_tensor(dim):
            return self.maximum(dim)
        if _torch_form(dim, axis, keepdims):
            return self._max_along(dim, bool(keepdim), MAX)
        axes, keep = _axes(self, axis, dim, bool(keepdims), keepdim, "max")
        if self.data.size == 0:
            raise ValueError("max of an empty tensor")
        ### BEGIN SOLUTION
        ### HINT: np.max, wrapped in np.asarray; the saved tuple has three parts
        data = np.asarray(np.max(self.data, axis=axes, keepdims=keep))
        return self._make(data, MAX, (self,), (axes, keep, data))
        ### END SOLUTION

    @overload
    def min(self, dim: int, keepdim: bool | None = None) -> ValuesIndices: ...

    @overload
    def min(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> "Tensor": ...

    def min(self, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
            keepdims: Any = None) -> "Tensor | ValuesIndices":
        """Smallest element over ``axis`` (the gradient is shared equally among ties).

        The forms of :meth:`max`: ``x.min()``, ``x.min(dim)`` → ``(values, indices)``,
        ``x.min(axis=...)`` → values, ``x.min(other)`` → :meth:`minimum`.
        """
        if _is_tensor(dim):
            return self.minimum(dim)
        if _torch_form(dim, axis, keepdims):
            return self._max_along(dim, bool(keepdim), MIN)
        axes, keep = _axes(self, axis, dim, bool(keepdims), keepdim, "min")
        if self.data.size == 0:
            raise ValueError("min of an empty tensor")
        data = np.asarray(np.min(self.data, axis=axes, keepdims=keep))
        return self._make(data, MIN, (self,), (axes, keep, data))

    def amax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """Largest value over ``dim`` (all axes by default, or a tuple of them); ties share the
        gradient equally — :meth:`max` with numpy's keywords, PyTorch's ``amax``."""
        return self.max(axis=dim, keepdims=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """Smallest value over ``dim``; ties share the gradient equally (PyTorch's ``amin``)."""
        return self.min(axis=dim, keepdims=keepdim)

    def _max_along(self, dim: Any, keepdim: bool, op: str) -> ValuesIndices:
        """PyTorch's ``x.max(dim)``: ``(values, indices)`` along one dim.

        The indices are numpy's ``argmax`` (the first of equal values; a NaN wins, as in
        PyTorch). The values are picked at those indices with :meth:`gather`, so the
        gradient goes to the picked element only — PyTorch's rule for this form, unlike the
        reduction, which shares it among ties.
        """
        arg_op = ARGMAX if op == MAX else ARGMIN  # the indices' op
        nd = self.data.ndim
        if not -max(nd, 1) <= dim < max(nd, 1):
            raise ValueError(f"{op}: dim {dim} is out of range for a tensor of shape "
                             f"{self.shape} (expected a dim from {-max(nd, 1)} to {max(nd, 1) - 1})")
        if nd == 0:  # one element: it is the max, at index 0
            values = self.reshape(())
            return ValuesIndices(values, self._make(np.zeros((), np.int64), arg_op, ()))
        axis = int(dim) % nd
        if self.data.shape[axis] == 0:
            raise ValueError(f"{op}: dim {dim} of shape {self.shape} is empty; "
                             f"there is no {op} to take")
        pick = np.argmax if op == MAX else np.argmin
        index = pick(self.data, axis=axis, keepdims=True)
        values = self.gather(axis, index)
        if not keepdim:
            values = values.squeeze(axis)
            index = index.squeeze(axis)
        return ValuesIndices(values, self._make(np.asarray(index), arg_op, ()))

    def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None,
            keepdim: Any = None, unbiased: bool | None = None,
            correction: int | None = None) -> "Tensor":
        """Variance over ``axis``: sum((x - mean)²) / (n - ddof); op "var".

        n is the number of elements reduced. ``ddof=0`` (numpy's default, and this method's) is
        the population variance, ``ddof=1`` the sample variance — **PyTorch's default**: pass
        ``unbiased=True`` or ``correction=1`` (PyTorch's names, both accepted) to get what
        ``torch.var(x)`` gives. Float result of x's dtype. Saves ``(axes, keep, ddof)``.
        """
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "var")
        ddof = _ddof(ddof, unbiased, correction, "var")
        x = self.data if self.data.dtype.kind == "f" else self.data.astype(np.float32)
        ### BEGIN SOLUTION
        ### HINT: np.var takes ddof; keep the dtype with np.asarray(..., dtype=x.dtype)
        data = np.asarray(np.var(x, axis=axes, keepdims=keep, ddof=ddof), dtype=x.dtype)
        return self._make(data, VAR, (self,), (axes, keep, ddof))
        ### END SOLUTION

    def std(self, axis: Any = None, keepdims: bool = False, ddof: int = 0, *, dim: Any = None,
            keepdim: Any = None, unbiased: bool | None = None,
            correction: int | None = None) -> "Tensor":
        """Standard deviation, sqrt(var) (same arguments as :meth:`var`); op "std".

        An op of its own rather than ``var().sqrt()``: where the deviation is 0 (a constant
        slice) sqrt's derivative 1/(2·0) is infinite and the chain rule would give 0·inf =
        nan; PyTorch's rule (and the autograd module's) gives such slices a gradient of 0. Saves
        ``(axes, keep, ddof, out)``.
        """
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "std")
        ddof = _ddof(ddof, unbiased, correction, "std")
        x = self.data if self.data.dtype.kind == "f" else self.data.astype(np.float32)
        data = np.asarray(np.std(x, axis=axes, keepdims=keep, ddof=ddof), dtype=x.dtype)
        return self._make(data, STD, (self,), (axes, keep, ddof, data))

    def argmax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> "Tensor":
        """Index of the largest element (of the flattened tensor when axis is None).

        An int64 tensor; ties: the first index wins (numpy's rule). Not differentiable (an
        index has no gradient): recorded with no inputs, ``self._make(data, ARGMAX, ())``.
        """
        axis, keepdims = _index_axis(self, axis, dim, keepdims, keepdim, "argmax")
        if axis == ():  # a 0-d tensor: its one element is at index 0
            return self._make(np.zeros((), dtype=np.int64), ARGMAX, ())
        ### BEGIN SOLUTION
        ### HINT: np.argmax takes axis and keepdims; np.asarray for the 0-d case; no inputs
        return self._make(np.asarray(np.argmax(self.data, axis=axis, keepdims=keepdims)),
                          ARGMAX, ())
        ### END SOLUTION

    def argmin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
               keepdim: Any = None) -> "Tensor":
        """Index of the smallest element."""
        axis, keepdims = _index_axis(self, axis, dim, keepdims, keepdim, "argmin")
        if axis == ():
            return self._make(np.zeros((), dtype=np.int64), ARGMIN, ())
        return self._make(np.asarray(np.argmin(self.data, axis=axis, keepdims=keepdims)),
                          ARGMIN, ())

    def any(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> "Tensor":
        """True where any element along ``axis`` is non-zero."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "any")
        return self._make(np.asarray(np.any(self.data, axis=axes, keepdims=keep)), ANY, ())

    def all(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: Any = None) -> "Tensor":
        """True where every element along ``axis`` is non-zero."""
        axes, keep = _axes(self, axis, dim, keepdims, keepdim, "all")
        return self._make(np.asarray(np.all(self.data, axis=axes, keepdims=keep)), ALL, ())
