"""Functions of several tensors: cat, stack, where, plus function forms of common methods.

``cat`` and ``stack`` record the sizes they joined so the backward pass can split the
gradient again; ``where`` records its condition.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import more_ops
from .dtypes import result_dtype
from .opnames import CAT, LEAF, STACK, WHERE
from .tensor import Tensor, make_result

__all__ = ["cat", "concatenate", "stack", "where", "maximum", "minimum", "matmul", "pad",
           "tensor", "from_numpy", "as_tensor"]


def _tensors(items: Sequence, op: str) -> list:
    if isinstance(items, Tensor) or not isinstance(items, (list, tuple)) or not items:
        raise TypeError(f"{op} needs a non-empty list or tuple of tensors")
    return [t if isinstance(t, Tensor) else Tensor(t) for t in items]


def _strong(value: Any) -> Tensor | None:
    """A Tensor, or a numpy array as a Tensor of its own dtype; None for Python numbers."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value, dtype=value.dtype)
    return None


def _operand(value: Any) -> Tensor:
    """The first operand of a function form (``maximum(a, b)``): arrays keep their dtype."""
    t = _strong(value)
    return Tensor(value) if t is None else t


def cat(tensors: Sequence, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing dimension; all other dimensions must match; op "cat".

    Shapes (2, 3) and (2, 4) along axis 1 give (2, 7). The checks are given. Every tensor
    is an input of the node, which saves ``(axis, sizes)`` — each input's size along the
    axis — so the backward pass can split the gradient back into pieces.
    """
    ts = _tensors(tensors, "cat")
    axis = axis if dim is None else dim
    nd = ts[0].ndim
    if nd == 0 or not -nd <= axis < nd:
        raise ValueError(f"cat: axis {axis} is out of range for tensors with {nd} dimensions")
    axis %= nd
    for i, t in enumerate(ts[1:], 1):
        if t.ndim != nd or t.shape[:axis] + t.shape[axis + 1:] != ts[0].shape[:axis] + ts[0].shape[axis + 1:]:
            raise ValueError(
                f"cat along axis {axis}: tensor {i} has shape {t.shape}, which does not match "
                f"tensor 0's shape {ts[0].shape} outside that axis"
            )
    ### BEGIN SOLUTION
    ### HINT: np.concatenate of the .data arrays; make_result(data, CAT, tuple(ts), saved)
    data = np.concatenate([t.data for t in ts], axis=axis)
    sizes = [t.shape[axis] for t in ts]
    return make_result(data, CAT, tuple(ts), (axis, sizes))
    ### END SOLUTION


concatenate = cat


def stack(tensors: Sequence, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dimension; op "stack", saving ``axis``.

    k tensors of shape (2, 3) stacked at axis 0 give (k, 2, 3); at axis -1, (2, 3, k).
    """
    ts = _tensors(tensors, "stack")
    axis = axis if dim is None else dim
    for i, t in enumerate(ts[1:], 1):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has {ts[0].shape}")
    nd = ts[0].ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} is out of range for the result's {nd} dimensions")
    axis %= nd
    ### BEGIN SOLUTION
    ### HINT: np.stack of the .data arrays; all tensors are inputs
    data = np.stack([t.data for t in ts], axis=axis)
    return make_result(data, STACK, tuple(ts), axis)
    ### END SOLUTION


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elementwise ``x if condition else y`` (all three broadcast together); op "where".

    Lifting is given: ``cond`` is a bool array, ``a`` and ``b`` are tensors (a Python
    number takes the other operand's dtype, a numpy array keeps its own), and ``dtype`` is
    the promotion rule's (``result_dtype``, as for ``+``). Shapes that don't broadcast raise
    ValueError naming all three shapes. The inputs are ``(a, b)`` (the condition gets no
    gradient) and the node saves ``cond``: the gradient goes to a where it is True, to b
    where it is False.
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    a, b = _strong(x), _strong(y)
    if a is None:  # two Python numbers: the first decides (float32 for a float)
        a = Tensor(x) if b is None else b._lift(x)
    if b is None:
        b = a._lift(y)
    dtype = result_dtype(a.dtype, b.dtype)
    ### BEGIN SOLUTION
    ### HINT: np.where(cond, ...) of a's and b's data cast to dtype (astype, copy=False);
    ### HINT: catch ValueError for shapes that don't broadcast
    try:
        data = np.where(cond, a.data.astype(dtype, copy=False), b.data.astype(dtype, copy=False))
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, x {a.shape} and y {b.shape} cannot be broadcast "
            "together"
        ) from None
    return make_result(data, WHERE, (a, b), cond)
    ### END SOLUTION


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise larger of a and b."""
    return _operand(a).maximum(b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise smaller of a and b."""
    return _operand(a).minimum(b)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product (see :meth:`Tensor.matmul`)."""
    return _operand(a).matmul(b)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, ``einsum("ij,jk->ik", a, b)`` (explicit ``->`` form; no ``...``);
    differentiable in every operand. Beyond the lesson (``more_ops.py``).

    Example:
        >>> einsum("ij,j->i", Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([1.0, 1.0])).tolist()
        [3.0, 7.0]
    """
    return more_ops.einsum(equation, *[_operand(o) for o in operands])


def pad(x: Tensor, pad_width: Sequence, value: float = 0.0) -> Tensor:
    """Constant padding (see :meth:`Tensor.pad`)."""
    return x.pad(pad_width, value)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Build a Tensor (copies the data), like ``torch.tensor``."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a numpy array *without copying* (it keeps its dtype; changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy array, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy needs a numeric array, got dtype {array.dtype}")
    return make_result(array, LEAF, ())


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Return ``data`` unchanged if it is already a Tensor (of ``dtype``), else build one."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(data, dtype=dtype)
