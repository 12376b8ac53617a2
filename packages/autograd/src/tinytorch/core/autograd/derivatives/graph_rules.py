"""The same derivatives written with Tensor ops, for ``backward(create_graph=True)``.

The rules in ``elementwise.py`` … ``shape.py`` work on numpy arrays: fast, and what every
ordinary ``backward()`` runs. Their results are not part of any graph, so they cannot be
differentiated again. A second-order gradient — a Hessian-vector product, a gradient penalty
``(‖∂D/∂x‖ − 1)²`` — needs the backward pass itself recorded: each rule below computes the
same gradient as its array twin, but from the op's input *Tensors* and the incoming gradient
``g`` (a Tensor), with Tensor ops, so the result is a Tensor in a graph.

Contract: ``rule(g: Tensor, node) -> tuple``, one Tensor (or None) per input, each of its
input's shape. Where the array rule reads a saved forward output (``exp``, ``tanh``,
``softmax``), the Tensor rule recomputes it from the input: the saved array is not connected
to the graph. Only create_graph=True looks these rules up (``register_graph_derivative``),
so the first-order path is unchanged.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor, from_numpy, get_derivative, make_result, where
from tinytorch.core.tensor.graph import register_derivative, register_graph_derivative, sum_to_shape
from tinytorch.core.tensor.opnames import (
    ABS, ADD, BROADCAST_TO, CAST, CAT, CLIP, CLONE, COS, DIV, ERF, EXP, GETITEM, LINEAR_FUSED, LOG,
    LOG1P, LOG_SOFTMAX, MATMUL, MAX, MAXIMUM, MEAN, MIN, MINIMUM, MUL, NEG, PAD, PERMUTE, POW,
    RELU, RELU_FUSED, RESHAPE, SIN, SLIDING_WINDOW, SOFTMAX, SQRT, STACK, STD, SUB, SUM, TANH, VAR,
    WHERE,
)

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


def _const(values, like: Tensor) -> Tensor:
    """A constant (no graph) in ``like``'s dtype: masks and slopes that are 0 or 1."""
    return from_numpy(np.asarray(values, dtype=like.dtype))


def _sum_to(g: Tensor, shape: tuple) -> Tensor:
    """``sum_to_shape`` on a Tensor: it uses only ``shape``, ``ndim``, ``sum(axis, keepdims)``
    and ``reshape``, which Tensor has too, so the fold is recorded as Tensor ops."""
    return sum_to_shape(g, shape)  # type: ignore[arg-type, return-value]  # duck-typed: see above


def _each(node, *grads):
    """``grads`` with None for every input that does not require grad."""
    return tuple(gr() if t.requires_grad else None for t, gr in zip(node.inputs, grads))


# --------------------------------------------------------------------------- elementwise
@register_graph_derivative(ADD)
def add_graph(g, node):
    a, b = node.inputs
    return _each(node, lambda: _sum_to(g, a.shape), lambda: _sum_to(g, b.shape))


@register_graph_derivative(SUB)
def sub_graph(g, node):
    a, b = node.inputs
    return _each(node, lambda: _sum_to(g, a.shape), lambda: _sum_to(-g, b.shape))


@register_graph_derivative(MUL)
def mul_graph(g, node):
    a, b = node.inputs
    return _each(node, lambda: _sum_to(g * b, a.shape), lambda: _sum_to(g * a, b.shape))


@register_graph_derivative(DIV)
def div_graph(g, node):
    a, b = node.inputs
    return _each(node, lambda: _sum_to(g / b, a.shape),
                 lambda: _sum_to(-g * a / (b * b), b.shape))


@register_graph_derivative(POW)
def pow_graph(g, node):
    """Same special values as the array rule: 0 where e == 0 (base), where a == 0 (exponent)."""
    a, e = node.inputs

    def base():
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = where(e.data == 0, 0.0, e * a ** (e - 1))
        return _sum_to(g * slope, a.shape)

    def exponent():
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = where((a.data == 0) & (e.data >= 0), 0.0, a ** e * a.log())
        return _sum_to(g * slope, e.shape)

    return _each(node, base, exponent)


@register_graph_derivative(NEG)
def neg_graph(g, node):
    return (-g,)


@register_graph_derivative(EXP)
def exp_graph(g, node):
    return (g * node.inputs[0].exp(),)


@register_graph_derivative(LOG)
def log_graph(g, node):
    return (g / node.inputs[0],)


@register_graph_derivative(LOG1P)
def log1p_graph(g, node):
    return (g / (1 + node.inputs[0]),)


@register_graph_derivative(SQRT)
def sqrt_graph(g, node):
    return (g / (2 * node.inputs[0].sqrt()),)


@register_graph_derivative(ABS)
def abs_graph(g, node):
    a = node.inputs[0]
    return (g * _const(np.sign(a.data), g),)


@register_graph_derivative(TANH)
def tanh_graph(g, node):
    t = node.inputs[0].tanh()
    return (g * (1 - t * t),)


@register_graph_derivative(SIN)
def sin_graph(g, node):
    return (g * node.inputs[0].cos(),)


@register_graph_derivative(COS)
def cos_graph(g, node):
    return (-g * node.inputs[0].sin(),)


@register_graph_derivative(ERF)
def erf_graph(g, node):
    a = node.inputs[0]
    return (g * ((-(a * a)).exp() * _TWO_OVER_SQRT_PI),)


@register_graph_derivative(RELU)
@register_graph_derivative(RELU_FUSED)
def relu_graph(g, node):
    """The mask is a constant: relu's second derivative is 0 (almost everywhere)."""
    return (g * _const(node.inputs[0].data > 0, g),)


def _minmax_graph(g, node, pick):
    a, b = node.inputs
    share_a = np.where(a.data == b.data, 0.5, pick(a.data, b.data))
    return _each(node, lambda: _sum_to(g * _const(share_a, g), a.shape),
                 lambda: _sum_to(g * _const(1.0 - share_a, g), b.shape))


@register_graph_derivative(MAXIMUM)
def maximum_graph(g, node):
    return _minmax_graph(g, node, np.greater)


@register_graph_derivative(MINIMUM)
def minimum_graph(g, node):
    return _minmax_graph(g, node, np.less)


@register_graph_derivative(CLIP)
def clip_graph(g, node):
    # the mask is a constant: the array rule applied to ones gives it (1 inside, 0 clipped)
    (inside,) = get_derivative(CLIP)(np.ones(node.inputs[0].shape), node)
    return (g * _const(inside, g),)


@register_graph_derivative(CAST)
def cast_graph(g, node):
    return (g.astype(node.inputs[0].dtype),)


@register_graph_derivative(CLONE)
def clone_graph(g, node):
    return (g,)


@register_graph_derivative(WHERE)
def where_graph(g, node):
    a, b = node.inputs
    cond = node.saved
    return _each(node, lambda: _sum_to(where(cond, g, 0.0), a.shape),
                 lambda: _sum_to(where(cond, 0.0, g), b.shape))


# --------------------------------------------------------------------------- reductions
def _spread(g: Tensor, axes, keepdims: bool, shape: tuple) -> Tensor:
    """A reduction's gradient put back over the reduced axes: broadcast to ``shape``."""
    if axes is None:
        g = g.reshape((1,) * len(shape))
    elif not keepdims:
        g = g.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return g.broadcast_to(shape)


@register_graph_derivative(SUM)
def sum_graph(g, node):
    axes, keepdims = node.saved
    return (_spread(g, axes, keepdims, node.inputs[0].shape),)


@register_graph_derivative(MEAN)
def mean_graph(g, node):
    a = node.inputs[0]
    axes, keepdims = node.saved
    n = a.data.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    return (_spread(g / n, axes, keepdims, a.shape),)


@register_graph_derivative(VAR)
def var_graph(g, node):
    a = node.inputs[0]
    axes, keepdims, ddof = node.saved
    n = a.data.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    centered = a - a.mean(axis=axes, keepdims=True)
    return (_spread(g, axes, keepdims, a.shape) * centered * (2.0 / (n - ddof)),)


@register_graph_derivative(STD)
def std_graph(g, node):
    """d std = d var / (2 std), 0 where std is 0 (as the array rule)."""
    a = node.inputs[0]
    axes, keepdims, ddof, out = node.saved
    n = a.data.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
    # a constant slice (std 0) divides by 1 instead: its gradient is 0 either way, and no
    # 0 · inf = nan reaches the second derivative
    std = where(out == 0, 1.0, a.std(axis=axes, keepdims=keepdims, ddof=ddof))
    g_var = where(out == 0, 0.0, g / (2 * std))
    centered = a - a.mean(axis=axes, keepdims=True)
    return (_spread(g_var, axes, keepdims, a.shape) * centered * (2.0 / (n - ddof)),)


@register_graph_derivative(MAX)
@register_graph_derivative(MIN)
def extreme_graph(g, node):
    """Each element equal to its slice's extreme gets an equal share: a constant weight."""
    a = node.inputs[0]
    axes, keepdims, out = node.saved
    hit = a.data == (out if keepdims or axes is None else np.expand_dims(out, axes))
    share = hit / hit.sum(axis=axes, keepdims=True)
    return (_spread(g, axes, keepdims, a.shape) * _const(share, g),)


@register_graph_derivative(LOG_SOFTMAX)
def log_softmax_graph(g, node):
    a = node.inputs[0]
    axis = node.saved[1]
    return (g - a.softmax(axis=axis) * g.sum(axis=axis, keepdims=True),)


@register_graph_derivative(SOFTMAX)
def softmax_graph(g, node):
    a = node.inputs[0]
    axis = node.saved[1]
    s = a.softmax(axis=axis)
    return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)


# --------------------------------------------------------------------------- linear algebra
@register_graph_derivative(MATMUL)
def matmul_graph(g, node):
    A, B = node.inputs
    if A.ndim == 2 and B.ndim == 2:
        return _each(node, lambda: g @ B.T, lambda: A.T @ g)
    if A.ndim == 1 and B.ndim == 1:
        return _each(node, lambda: g * B, lambda: g * A)
    a2 = A.unsqueeze(0) if A.ndim == 1 else A
    b2 = B.unsqueeze(-1) if B.ndim == 1 else B
    g2 = g.unsqueeze(-2) if A.ndim == 1 else g
    g2 = g2.unsqueeze(-1) if B.ndim == 1 else g2
    return _each(node, lambda: _sum_to(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(A.shape),
                 lambda: _sum_to(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(B.shape))


@register_graph_derivative(LINEAR_FUSED)
def linear_graph(g, node):
    """d(x Wᵀ + b) = (g W, gᵀ x, Σ_rows g), as three recorded ops."""
    x, w = node.inputs[0], node.inputs[1]
    grads = [lambda: g @ w, lambda: g.T @ x]
    if len(node.inputs) == 3:
        grads.append(lambda: g.sum(axis=0))
    return _each(node, *grads)


# --------------------------------------------------------------------------- shape
@register_graph_derivative(RESHAPE)
def reshape_graph(g, node):
    return (g.reshape(node.inputs[0].shape),)


@register_graph_derivative(PERMUTE)
def permute_graph(g, node):
    return (g.permute(tuple(int(i) for i in np.argsort(node.saved))),)


@register_graph_derivative(BROADCAST_TO)
def broadcast_to_graph(g, node):
    return (_sum_to(g, node.inputs[0].shape),)


@register_graph_derivative(PAD)
def pad_graph(g, node):
    inner = tuple(slice(before, n - after) for (before, after), n in zip(node.saved, g.shape))
    return (g[inner],)


@register_graph_derivative(CAT)
def cat_graph(g, node):
    axis, sizes = node.saved
    edges = np.concatenate([[0], np.cumsum(sizes)])
    lead = (slice(None),) * (axis % g.ndim)
    return _each(node, *[
        (lambda lo=int(lo), hi=int(hi): g[lead + (slice(lo, hi),)])
        for lo, hi in zip(edges[:-1], edges[1:])
    ])


@register_graph_derivative(STACK)
def stack_graph(g, node):
    lead = (slice(None),) * (node.saved % g.ndim)
    return _each(node, *[(lambda i=i: g[lead + (i,)]) for i in range(len(node.inputs))])


# getitem's gradient scatters g back into zeros of the input's shape. For a second
# derivative that scatter must itself be an op: GETITEM_GRAD, whose derivative is the
# gather ``gg[key]`` again (scatter and gather are each other's transpose).
GETITEM_GRAD = "getitem.grad"


@register_graph_derivative(GETITEM)
def getitem_graph(g, node):
    (out,) = get_derivative(GETITEM)(g.data, node)  # the scatter, computed once
    return (make_result(out, GETITEM_GRAD, (g,), node.saved),)


@register_derivative(GETITEM_GRAD)
def getitem_grad_backward(gg, node):
    """d scatter(g) = gather: the gradient's entries at the key"""
    return (np.asarray(gg[node.saved]),)


@register_graph_derivative(GETITEM_GRAD)
def getitem_grad_graph(gg, node):
    return (gg[node.saved],)


# sliding_window's gradient is the fold (each window adds back onto the pixels it covered);
# as an op, FOLD, its derivative is the unfold again: the windows of the incoming gradient.
FOLD = "sliding_window.grad"


@register_graph_derivative(SLIDING_WINDOW)
def sliding_window_graph(g, node):
    (gx,) = get_derivative(SLIDING_WINDOW)(g.data, node)  # the fold, computed once
    return (make_result(gx, FOLD, (g,), node.saved),)


@register_derivative(FOLD)
def fold_backward(gg, node):
    """d fold(g) = unfold: the windows of gg, in g's shape"""
    window, stride, dilation = node.saved
    return (from_numpy(gg).sliding_window(window, stride, dilation).data,)


@register_graph_derivative(FOLD)
def fold_graph(gg, node):
    window, stride, dilation = node.saved
    return (gg.sliding_window(window, stride, dilation),)
