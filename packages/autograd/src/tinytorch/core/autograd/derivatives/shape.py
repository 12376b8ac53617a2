"""Derivatives of ops that move elements around: reshape, permute, broadcast_to, pad,
indexing, cat/stack, and the sliding window (whose derivative is the "fold").

None of these change values, so each gradient is the same move run backwards.

Each rule follows the contract in ``derivatives/__init__.py``: ``(g, node)`` in, one
gradient array (or None) per input out, each of its input's shape.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import register_derivative, sum_to_shape
from tinytorch.core.tensor.fused import match_layout
from tinytorch.core.tensor.opnames import (
    BROADCAST_TO, CAT, GETITEM, PAD, PERMUTE, RESHAPE, SLIDING_WINDOW, STACK,
)


@register_derivative(RESHAPE)
def reshape_backward(g, node):
    """the gradient takes the input's shape back"""
    x = node.inputs[0].data
    ### BEGIN SOLUTION
    ### HINT: reshape moves no values: the gradient is g in the input's shape (x.shape)
    gx = np.reshape(g, x.shape)
    ### END SOLUTION
    # match_layout: a copy in x's memory order when x is a transposed (channels-last) array,
    # so the ops before see matching layouts -- speed only, the values are gx's
    return (match_layout(gx, x),)


@register_derivative(PERMUTE)
def permute_backward(g, node):
    """undo the permutation with its inverse"""
    ### BEGIN SOLUTION
    ### HINT: node.saved is the permutation that was applied; np.argsort of it is the inverse permutation
    return (np.transpose(g, np.argsort(node.saved)),)
    ### END SOLUTION


@register_derivative(BROADCAST_TO)
def broadcast_to_backward(g, node):
    """copies made by broadcasting add their gradients"""
    return (sum_to_shape(g, node.inputs[0].shape),)


@register_derivative(PAD)
def pad_backward(g, node):
    """the padding gets no gradient: cut it off"""
    ### BEGIN SOLUTION
    ### HINT: node.saved holds (before, after) per axis; the input's gradient is the middle slice of g, the padding cut off
    inner = tuple(slice(before, n - after) for (before, after), n in zip(node.saved, g.shape))
    return (g[inner],)
    ### END SOLUTION


def _is_advanced(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype != np.bool_ for k in parts)


def _scatter_rows(g, index, shape):
    """Gradient of ``x[index]`` for one integer array (an embedding lookup, a batch gather).

    Equal to ``np.add.at(out, index, g)`` but sorts the rows instead: duplicates become
    neighbours, ``np.add.reduceat`` sums each run, and one assignment writes the sums. This is
    an order of magnitude faster than ``np.add.at`` for embedding-sized gathers.
    """
    flat = np.where(index < 0, index + shape[0], index).reshape(-1)
    rows = g.reshape((flat.size,) + tuple(shape[1:]))
    order = np.argsort(flat, kind="stable")
    sorted_idx = flat[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]]) if flat.size else flat
    out = np.zeros(shape, dtype=g.dtype)
    if flat.size:
        out[sorted_idx[starts]] = np.add.reduceat(rows[order], starts, axis=0)
    return out


@register_derivative(GETITEM)
def getitem_backward(g, node):
    """scatter the gradient back to where the elements came from (repeated indices add)"""
    a = node.inputs[0]
    key = node.saved
    if isinstance(key, np.ndarray) and key.dtype.kind in "iu":
        return (_scatter_rows(g, key, a.shape),)
    ### BEGIN SOLUTION
    ### HINT: start from zeros of the input's shape and put g back where the elements were taken from
    ### HINT: basic slices and boolean masks pick each element at most once (plain assignment works); integer-array keys may repeat an index, so use np.add.at to add
    out = np.zeros(a.shape, dtype=g.dtype)
    if _is_advanced(key):
        np.add.at(out, key, g)  # an element picked twice receives both gradients
    else:
        out[key] = g  # basic slicing and boolean masks pick each element at most once
    return (out,)
    ### END SOLUTION


@register_derivative(CAT)
def cat_backward(g, node):
    """split the gradient at the joins"""
    axis, sizes = node.saved
    ### BEGIN SOLUTION
    ### HINT: node.saved is (axis, sizes of the inputs along it): np.split g at the cumulative sizes
    ### HINT: an input that does not require grad gets None
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return tuple(p if t.requires_grad else None for p, t in zip(pieces, node.inputs))
    ### END SOLUTION


@register_derivative(STACK)
def stack_backward(g, node):
    """take each input's slice of the new axis"""
    axis = node.saved
    return tuple(
        np.take(g, i, axis=axis) if t.requires_grad else None for i, t in enumerate(node.inputs)
    )


@register_derivative(SLIDING_WINDOW)
def sliding_window_backward(g, node):
    """fold: each window position adds its gradient back onto the pixels it covered

    One vectorised slice-add per tap of the window (kh·kw for a 2-D kernel), each covering
    every output position at once: the tap at offset o of the window, at output position i,
    read input pixel i·stride + o·dilation.
    """
    x = node.inputs[0]
    window, stride, dilation = node.saved
    k = len(window)
    out_sizes = g.shape[g.ndim - 2 * k: g.ndim - k]
    # laid out in memory like x (zeros_like keeps its axis order), so each slice-add below
    # walks gx and g the same way: a channels-last conv's gradient adds rows of channels
    gx = np.zeros_like(x.data, dtype=g.dtype)
    ### BEGIN SOLUTION
    ### HINT: loop over the taps of the window (np.ndindex(*window)), not over pixels: each tap adds one strided slice of gx at once
    ### HINT: tap offset o along an axis reads input pixels o·dilation, o·dilation + stride, ...: a slice(o·d, o·d + s·(n - 1) + 1, s) with n the output size
    ### HINT: the gradient of that tap is g with the window axes (the last k) fixed at the offsets
    for offsets in np.ndindex(*window):
        target = (Ellipsis,) + tuple(
            slice(o * d, o * d + s * (n - 1) + 1, s)
            for o, d, s, n in zip(offsets, dilation, stride, out_sizes)
        )
        gx[target] += g[(Ellipsis,) + (slice(None),) * k + offsets]
    ### END SOLUTION
    return (gx,)
