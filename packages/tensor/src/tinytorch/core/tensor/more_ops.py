"""Ops beyond the lesson that need a derivative of their own: rounding, cumsum, prod, sort.

Given, not exercises. The autograd module teaches the derivatives of the lesson's primitives; these few
register theirs here, next to their forward (as a fused op in a later package does), through
the same registry — so they are differentiable as soon as the engine is installed:

    floor, ceil, round, trunc   gradient 0 everywhere (as PyTorch; the steps have no slope)
    cumsum                      dx = reversed cumulative sum of g along the axis
    prod                        dx_i = g · Π_{j≠i} x_j  (products of the others, exact with
                                zeros: no division by x_i)
    sort                        the gradient goes back to where each value came from
    einsum                      operand i's gradient is the einsum of g with the others,
                                written to operand i's subscripts
    scatter, scatter_add        dx = g (scatter: 0 where a value was written over);
                                dsrc = g gathered at the positions src was written to
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .graph import Node, register_derivative
from .opnames import (
    ARGSORT, CEIL, CUMSUM, EINSUM, FLOOR, PROD, ROUND, SCATTER, SCATTER_ADD, SORT, TRUNC,
)
from .reductions import ValuesIndices

__all__ = ["ROUNDING_OPS", "rounded", "cumsum", "prod", "sort", "einsum", "scatter"]

ROUNDING_OPS: dict[str, Callable[..., Any]] = {FLOOR: np.floor, CEIL: np.ceil, ROUND: np.round,
                                             TRUNC: np.trunc}


def rounded(x: Any, op: str, decimals: int = 0) -> Any:
    """``floor`` / ``ceil`` / ``round`` (half to even, ``decimals`` places) / ``trunc``;
    integer tensors come back unchanged (a copy)."""
    if x.dtype.kind in "iub":
        return x._make(x.data.copy(), op, (x,))
    data = np.round(x.data, decimals) if op == ROUND else ROUNDING_OPS[op](x.data)
    return x._make(np.asarray(data), op, (x,))


def _zero_backward(g: np.ndarray, node: Node) -> tuple:
    return (np.zeros_like(node.inputs[0].data, dtype=g.dtype),)


for _name in ROUNDING_OPS:
    register_derivative(_name)(_zero_backward)


def cumsum(x: Any, axis: int) -> Any:
    """Running sum along ``axis``; op "cumsum" (the axis saved)."""
    nd = max(x.ndim, 1)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"cumsum: dim {axis!r} is out of range for a tensor of shape {x.shape}")
    axis = int(axis) % nd
    data = np.cumsum(x.data.reshape(x.shape or (1,)), axis=axis).reshape(x.shape)
    return x._make(data.astype(x.dtype, copy=False) if x.dtype.kind == "f" else data,
                   CUMSUM, (x,), axis)


@register_derivative(CUMSUM)
def _cumsum_backward(g: np.ndarray, node: Node) -> tuple:
    """Each input reaches every later output: dx = reversed cumsum of g."""
    axis = node.saved
    g2 = g.reshape(g.shape or (1,))
    return (np.flip(np.cumsum(np.flip(g2, axis), axis), axis).reshape(g.shape),)


def prod(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """Product over ``axis`` (all elements when None); op "prod"."""
    if axis is not None:
        nd = max(x.ndim, 1)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
            raise ValueError(f"prod: dim {axis!r} is out of range for a tensor of shape {x.shape}")
        axis = int(axis) % nd if x.ndim else None
    data = np.asarray(np.prod(x.data, axis=axis, keepdims=keepdims))
    return x._make(data, PROD, (x,), (axis, keepdims))


def _products_of_the_others(a: np.ndarray, axis: int) -> np.ndarray:
    """For each element, the product of the other elements of its slice along ``axis``:
    (product of those before it) × (product of those after it) — no division, so exact
    when the slice holds zeros."""
    a = np.moveaxis(a, axis, -1)
    ones = np.ones(a.shape[:-1] + (1,), dtype=a.dtype)
    before = np.cumprod(np.concatenate([ones, a[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(a, -1)[..., :-1]], axis=-1),
                               axis=-1), -1)
    return np.moveaxis(before * after, -1, axis)


@register_derivative(PROD)
def _prod_backward(g: np.ndarray, node: Node) -> tuple:
    axis, keepdims = node.saved
    x = node.inputs[0].data
    if axis is None:
        others = _products_of_the_others(x.reshape(-1), 0).reshape(x.shape)
        return (np.asarray(g).reshape(()) * others,)
    others = _products_of_the_others(x, axis)
    g = g if keepdims else np.expand_dims(g, axis)
    return (g * others,)


def sort(x: Any, axis: int = -1, descending: bool = False) -> tuple:
    """``(values, indices)`` sorted along ``axis`` (stable: equal values keep their order;
    descending reverses the comparison, not the order of ties); op "sort" on the values."""
    nd = x.ndim
    if nd == 0:
        return ValuesIndices(x._make(x.data.copy(), SORT, (x,), (0, np.zeros((), np.int64))),
                             x._make(np.zeros((), np.int64), ARGSORT, ()))
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"sort: dim {axis!r} is out of range for a tensor of shape {x.shape}")
    axis = int(axis) % nd
    key = -x.data if descending and x.dtype.kind in "fi" else x.data
    if descending and x.dtype.kind not in "fi":
        key = np.logical_not(x.data) if x.dtype.kind == "b" else -x.data.astype(np.int64)
    order = np.argsort(key, axis=axis, kind="stable")
    values = np.take_along_axis(x.data, order, axis=axis)
    return ValuesIndices(x._make(values, SORT, (x,), (axis, order)),
                         x._make(order.astype(np.int64), ARGSORT, ()))


@register_derivative(SORT)
def _sort_backward(g: np.ndarray, node: Node) -> tuple:
    """Each output value's gradient goes back to the position it was taken from."""
    axis, order = node.saved
    gx = np.zeros(node.inputs[0].data.shape, dtype=g.dtype)
    if gx.ndim == 0:
        return (g.astype(gx.dtype),)
    np.put_along_axis(gx, order, g, axis=axis)
    return (gx,)


def einsum(equation: str, *tensors: Any) -> Any:
    """``np.einsum`` on tensors, explicit form ``"ij,jk->ik"`` (no ``...``, no index repeated
    within one operand); op "einsum". The result takes the operands' common dtype."""
    if not isinstance(equation, str) or "->" not in equation or "..." in equation:
        raise ValueError(f"einsum: expected an explicit equation like 'ij,jk->ik' (no '...'), "
                         f"got {equation!r}")
    left, out_spec = equation.replace(" ", "").split("->")
    specs = left.split(",")
    if len(specs) != len(tensors):
        raise ValueError(f"einsum: {equation!r} names {len(specs)} operands, got {len(tensors)}")
    for spec, t in zip(specs, tensors):
        if len(spec) != t.ndim or len(set(spec)) != len(spec):
            raise ValueError(f"einsum: subscripts {spec!r} do not fit an operand of shape "
                             f"{t.shape} (one letter per axis, none repeated)")
    dtype = np.result_type(*[t.dtype for t in tensors])
    data = np.asarray(np.einsum(equation, *[t.data.astype(dtype, copy=False) for t in tensors]))
    return tensors[0]._make(data, EINSUM, tuple(tensors), (specs, out_spec))


@register_derivative(EINSUM)
def _einsum_backward(g: np.ndarray, node: Node) -> tuple:
    specs, out_spec = node.saved
    grads: list = []
    for i, t in enumerate(node.inputs):
        if not t.requires_grad:
            grads.append(None)
            continue
        others = [(s, u.data) for j, (s, u) in enumerate(zip(specs, node.inputs)) if j != i]
        seen = set(out_spec).union(*[set(s) for s, _ in others])
        kept = "".join(c for c in specs[i] if c in seen)  # letters summed away nowhere else
        expr = ",".join([out_spec] + [s for s, _ in others]) + "->" + kept
        gi = np.einsum(expr, g, *[a for _, a in others])
        if kept != specs[i]:  # a letter only in this operand was summed: broadcast back
            shape = [t.shape[k] if c in seen else 1 for k, c in enumerate(specs[i])]
            gi = np.broadcast_to(gi.reshape(shape), t.shape)
        grads.append(np.ascontiguousarray(gi, dtype=g.dtype))
    return tuple(grads)


def _scatter_positions(x: Any, axis: int, idx: np.ndarray) -> tuple:
    """Index arrays naming, for each entry of ``idx``, the position of ``x`` it writes to:
    ``idx`` itself along ``axis``, the entry's own coordinates along every other axis."""
    grid: list = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid)


def scatter(x: Any, axis: Any, index: Any, src: Any, accumulate: bool, name: str) -> Any:
    """``x`` with ``src``'s values written (``accumulate``: added) at the positions ``index``
    names along ``axis``: for dim 1, ``out[i][index[i][j][k]][k] = src[i][j][k]``. ``src`` is a
    tensor with at least ``index``'s extent on every axis (its leading ``index.shape`` block is
    used) or a number. Op ``name`` (``SCATTER`` / ``SCATTER_ADD``)."""
    nd = x.ndim
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -nd <= axis < nd:
        raise ValueError(f"{name}: dim {axis!r} is out of range for a tensor of shape {x.shape}")
    axis = int(axis) % nd
    idx = np.asarray(getattr(index, "data", index))
    if idx.ndim != nd or idx.dtype.kind not in "iu":
        raise ValueError(f"{name}: index must be an integer array with {nd} dimensions, got "
                         f"shape {idx.shape} ({idx.dtype})")
    for d, (i, n) in enumerate(zip(idx.shape, x.shape)):
        if d != axis and i > n:
            raise ValueError(f"{name}: index of shape {idx.shape} is larger than the tensor "
                             f"{x.shape} along dim {d}")
    n = x.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max() if idx.max() >= n else idx.min())
        raise IndexError(f"{name}: index {bad} is out of range for dim {axis} of size {n}")
    idx = idx.astype(np.int64) % max(n, 1)
    where = _scatter_positions(x, axis, idx)
    block = tuple(slice(0, k) for k in idx.shape)
    inputs: tuple
    if hasattr(src, "data") and hasattr(src, "shape"):
        if src.ndim != nd or any(k > m for k, m in zip(idx.shape, src.shape)):
            raise ValueError(f"{name}: src of shape {src.shape} must have index's number of "
                             f"dimensions and at least its shape {idx.shape}")
        values, inputs = src.data[block], (x, src)
    elif np.ndim(src) == 0:
        values, inputs = np.asarray(src), (x,)
    else:
        raise TypeError(f"{name}: src must be a Tensor or a number, got {type(src).__name__}")
    data = x.data.copy()
    if accumulate:
        np.add.at(data, where, values.astype(data.dtype, copy=False))
    else:
        data[where] = values
    return x._make(data, name, inputs, (where, block, accumulate))


@register_derivative(SCATTER)
@register_derivative(SCATTER_ADD)
def _scatter_backward(g: np.ndarray, node: Node) -> tuple:
    """x's entries pass straight through (unless written over); each src value was used at
    one position, so its gradient is g there."""
    where, block, accumulate = node.saved
    gx = g if accumulate else g.copy()
    if not accumulate:
        gx[where] = 0
    if len(node.inputs) == 1:
        return (gx,)
    src = node.inputs[1]
    gsrc = np.zeros(src.data.shape, dtype=src.data.dtype)
    gsrc[block] = g[where]
    return (gx, gsrc)
