"""Derivatives of reductions (sum, mean, max, min, var, std) and of softmax / log-softmax.

A reduction's gradient has the reduced shape; ``_expand`` puts the reduced axes back (as
size-1 dimensions) so it broadcasts over the input again.

Each rule follows the contract in ``derivatives/__init__.py``: ``(g, node)`` in, one
gradient array (or None) per input out, each of its input's shape.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import register_derivative
from tinytorch.core.tensor.opnames import LOG_SOFTMAX, MAX, MEAN, MIN, SOFTMAX, STD, SUM, VAR


def _expand(g, axes, keepdims, shape):
    """Reinsert the reduced axes of ``g`` so it broadcasts against an input of ``shape``."""
    if axes is None:
        return np.reshape(g, (1,) * len(shape))
    if not keepdims:
        g = np.expand_dims(g, axes)
    return g


def _count(shape, axes):
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@register_derivative(SUM)
def sum_backward(g, node):
    """d sum(a) = 1 for every element that was summed"""
    a = node.inputs[0]
    axes, keepdims = node.saved
    ### BEGIN SOLUTION
    ### HINT: every summed element contributes with slope 1: put the reduced axes back with _expand, then np.broadcast_to the input's shape
    return (np.broadcast_to(_expand(g, axes, keepdims, a.shape), a.shape),)
    ### END SOLUTION


@register_derivative(MEAN)
def mean_backward(g, node):
    """d mean(a) = 1/n for every element that was averaged"""
    a = node.inputs[0]
    axes, keepdims = node.saved
    ### BEGIN SOLUTION
    ### HINT: like sum, divided by n, the number of elements averaged into each output (_count gives it)
    n = _count(a.shape, axes)
    return (np.broadcast_to(_expand(g, axes, keepdims, a.shape) / n, a.shape),)
    ### END SOLUTION


def _extreme_backward(g, node):
    """The derivative of the ``max`` and ``min`` reductions.

    ``node.saved`` is ``(axes, keepdims, out)`` with ``out`` the reduced result. Each
    element equal to its slice's extreme gets an equal share of that slice's ``g`` (all of
    it when there is no tie); every other element gets 0. Returns a one-element tuple with
    an array of the input's shape.
    """
    a = node.inputs[0]
    axes, keepdims, out = node.saved
    ### BEGIN SOLUTION
    ### HINT: compare the input with the saved extreme (its reduced axes put back with _expand) to find every element that hit it
    ### HINT: tied elements share the gradient equally: divide the hit mask by its sum along the same axes
    hit = a.data == _expand(out, axes, keepdims, a.shape)
    # Every element equal to the extreme gets an equal share (PyTorch's amax/amin rule): each
    # slice's g divided by its number of hits — a reduced-size array, in g's dtype — then put
    # where the hits are (bool × float: one full-size pass).
    ties = hit.sum(axis=axes, keepdims=True, dtype=g.dtype)
    return (hit * (_expand(g, axes, keepdims, a.shape) / ties),)
    ### END SOLUTION


@register_derivative(MAX)
def max_backward(g, node):
    """d max(a) = 1 at the largest element (shared among ties), 0 elsewhere"""
    return _extreme_backward(g, node)


@register_derivative(MIN)
def min_backward(g, node):
    """d min(a) = 1 at the smallest element (shared among ties), 0 elsewhere"""
    return _extreme_backward(g, node)


@register_derivative(VAR)
def var_backward(g, node):
    """d var(a) = 2 (a - mean) / (n - ddof)"""
    a = node.inputs[0]
    axes, keepdims, ddof = node.saved
    ### BEGIN SOLUTION
    ### HINT: var = Σ (x - mean)² / (n - ddof): d/dx = 2 (x - mean) / (n - ddof); the mean's own dependence on x cancels out
    ### HINT: use _count(a.shape, axes) for n, and _expand to put g's reduced axes back
    x = a.data
    centered = x - x.mean(axis=axes, keepdims=True)
    n = _count(a.shape, axes)
    return (_expand(g, axes, keepdims, a.shape) * (2.0 / (n - ddof)) * centered,)
    ### END SOLUTION


@register_derivative(STD)
def std_backward(g, node):
    """d std(a) = d var(a) / (2 std(a)), and 0 where std(a) = 0 (PyTorch's rule)

    A slice whose elements are all equal has std 0: 1 / (2·0) is infinite while the
    centred values are all 0, so the plain chain rule gives 0 · inf = nan. The gradient there
    is 0 (any direction that keeps the slice constant leaves std at 0).
    """
    a = node.inputs[0]
    axes, keepdims, ddof, out = node.saved
    x = a.data
    with np.errstate(divide="ignore", invalid="ignore"):
        g_var = np.where(out == 0, 0, g / (2 * out)).astype(g.dtype, copy=False)
    centered = x - x.mean(axis=axes, keepdims=True)
    n = _count(a.shape, axes)
    return (_expand(g_var, axes, keepdims, a.shape) * (2.0 / (n - ddof)) * centered,)


@register_derivative(LOG_SOFTMAX)
def log_softmax_backward(g, node):
    """d log_softmax(a) · g = g - softmax(a) · sum(g)"""
    out, axis = node.saved
    ### BEGIN SOLUTION
    ### HINT: the saved output is log p, so np.exp(out) is p; sum g along the saved axis with keepdims=True
    return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)
    ### END SOLUTION


@register_derivative(SOFTMAX)
def softmax_backward(g, node):
    """d softmax(a) · g = s · (g - sum(g · s))"""
    s, axis = node.saved
    ### BEGIN SOLUTION
    ### HINT: the saved output s = softmax(a); the Jacobian-vector product is s · (g - Σ g·s), the sum along the saved axis with keepdims=True
    return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
    ### END SOLUTION
