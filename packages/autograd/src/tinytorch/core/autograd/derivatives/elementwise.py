"""Derivatives of elementwise ops. Each takes the output's gradient ``g`` and the Node.

Binary ops broadcast, so each input's share is summed back to that input's shape
(``sum_to_shape``). An input that does not require grad gets ``None`` and costs nothing.

Each rule follows the contract in ``derivatives/__init__.py``: ``(g, node)`` in, one
gradient array (or None) per input out, each of its input's shape.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import register_derivative, sum_to_shape
from tinytorch.core.tensor.opnames import (
    ABS, ADD, CAST, CLIP, CLONE, COS, DIV, ERF, EXP, LOG, LOG1P, MAXIMUM, MINIMUM, MOD, MUL, NEG,
    POW, RELU, SIN, SQRT, SUB, TANH, WHERE,
)

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


@register_derivative(ADD)
def add_backward(g, node):
    """d(a + b) = (1, 1)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    ### HINT: each input's share is g itself; if an input was broadcast, sum_to_shape(g, input.shape) folds the copies back
    ### HINT: an input that does not require grad gets None (saves the work)
    return (sum_to_shape(g, a.shape) if a.requires_grad else None,
            sum_to_shape(g, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative(MOD)
def mod_backward(g, node):
    """d(a mod b) = (1, -floor(a / b)), as a mod b = a - b·floor(a / b) (given)"""
    a, b = node.inputs
    with np.errstate(divide="ignore", invalid="ignore"):  # b = 0: the value is NaN already
        quotient = np.floor(a.data / b.data)
    return (sum_to_shape(g, a.shape) if a.requires_grad else None,
            sum_to_shape(-g * quotient, b.shape) if b.requires_grad else None)


@register_derivative(SUB)
def sub_backward(g, node):
    """d(a - b) = (1, -1)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    ### HINT: like add, but b enters with a minus sign; still sum each share to its input's shape
    return (sum_to_shape(g, a.shape) if a.requires_grad else None,
            sum_to_shape(-g, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative(MUL)
def mul_backward(g, node):
    """d(a * b) = (b, a)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    ### HINT: the product rule: a's share is g times b's values (b.data), and the other way round; broadcasting means sum_to_shape again
    return (sum_to_shape(g * b.data, a.shape) if a.requires_grad else None,
            sum_to_shape(g * a.data, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative(DIV)
def div_backward(g, node):
    """d(a / b) = (1 / b, -a / b²)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    ### HINT: d(a/b)/da = 1/b and d(a/b)/db = -a/b²; multiply each by g, sum to the input's shape, None when not needed
    ga = sum_to_shape(g / b.data, a.shape) if a.requires_grad else None
    gb = sum_to_shape(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION


@register_derivative(POW)
def pow_backward(g, node):
    """d(a ** e) = (e · a^(e-1), a^e · ln a), with PyTorch's values where these are 0·inf

    * base: where e == 0, a^e is the constant 1, so the derivative is 0 — even at a = 0,
      where e · a^(e-1) would be 0 · inf = nan;
    * exponent: where a == 0 and e >= 0, a^e is 0 (or 1) near the exponent, so 0; at a
      negative base ln a is undefined and the derivative is nan, as in PyTorch (a^e itself
      is nan there unless e is an integer) — never a silent 0.
    """
    a, e = node.inputs
    out = node.saved
    ### BEGIN SOLUTION
    ### HINT: the base: e · a^(e-1) (np.power); the exponent: a^e · ln a, and a^e is the saved output
    ### HINT: np.where(e == 0, 0, ...) for the base; np.where((a == 0) & (e >= 0), 0, ...) for
    ### HINT: the exponent; silence numpy's warnings with np.errstate(divide=..., invalid=...)
    ga = gb = None
    with np.errstate(divide="ignore", invalid="ignore"):
        if a.requires_grad:
            slope = np.where(e.data == 0, 0, e.data * np.power(a.data, e.data - 1))
            ga = sum_to_shape(g * slope.astype(g.dtype, copy=False), a.shape)
        if e.requires_grad:
            slope = np.where((a.data == 0) & (e.data >= 0), 0, out * np.log(a.data))
            gb = sum_to_shape(g * slope.astype(g.dtype, copy=False), e.shape)
    return ga, gb
    ### END SOLUTION


@register_derivative(NEG)
def neg_backward(g, node):
    """d(-a) = -1"""
    return (-g,)


@register_derivative(EXP)
def exp_backward(g, node):
    """d(e^a) = e^a (the saved output)"""
    ### BEGIN SOLUTION
    ### HINT: the forward saved its output e^a in node.saved: the derivative of e^a is e^a itself
    return (g * node.saved,)
    ### END SOLUTION


@register_derivative(LOG)
def log_backward(g, node):
    """d(ln a) = 1 / a"""
    ### BEGIN SOLUTION
    ### HINT: the input's values are node.inputs[0].data; return a one-element tuple
    return (g / node.inputs[0].data,)
    ### END SOLUTION


@register_derivative(LOG1P)
def log1p_backward(g, node):
    """d(ln(1 + a)) = 1 / (1 + a)"""
    return (g / (1 + node.inputs[0].data),)


@register_derivative(SQRT)
def sqrt_backward(g, node):
    """d(√a) = 1 / (2√a)"""
    ### BEGIN SOLUTION
    ### HINT: the forward saved √a in node.saved; reuse it instead of recomputing the root
    return (g / (2 * node.saved),)
    ### END SOLUTION


@register_derivative(ABS)
def abs_backward(g, node):
    """d|a| = sign(a)  (0 at 0)"""
    return (g * np.sign(node.inputs[0].data),)


@register_derivative(TANH)
def tanh_backward(g, node):
    """d tanh(a) = 1 - tanh²(a)"""
    ### BEGIN SOLUTION
    ### HINT: the forward saved its output t = tanh(a) in node.saved; 1 - t² needs no new tanh
    out = node.saved
    return (g * (1 - out * out),)
    ### END SOLUTION


@register_derivative(SIN)
def sin_backward(g, node):
    """d sin(a) = cos(a)"""
    return (g * np.cos(node.inputs[0].data),)


@register_derivative(COS)
def cos_backward(g, node):
    """d cos(a) = -sin(a)"""
    return (-g * np.sin(node.inputs[0].data),)


@register_derivative(ERF)
def erf_backward(g, node):
    """d erf(a) = 2/√π · e^(-a²)"""
    a = node.inputs[0].data
    return (g * (_TWO_OVER_SQRT_PI * np.exp(-a * a)).astype(a.dtype, copy=False),)


@register_derivative(RELU)
def relu_backward(g, node):
    """d max(a, 0) = 1 where a > 0, else 0"""
    a = node.inputs[0].data
    ### BEGIN SOLUTION
    ### HINT: g passes where the input was > 0 and is 0 elsewhere (also at exactly 0, like PyTorch)
    ### HINT: a boolean mask multiplies as 0/1
    return (g * (a > 0),)
    ### END SOLUTION


def _minmax_backward(g, node, pick):
    """The derivative of ``maximum`` (pick = np.greater) and ``minimum`` (pick = np.less).

    ``pick(a, b)`` is True where a is the one chosen. The chosen input's share of ``g`` is 1,
    the other's 0; at ties (a == b) each gets ½ (PyTorch's convention). Returns
    ``(ga, gb)``, each summed to its input's shape, or None for an input without grad.
    """
    a, b = node.inputs
    ### BEGIN SOLUTION
    ### HINT: pick(a, b) is a boolean 'a wins' array; where a == b (a tie) each side gets half of g
    ### HINT: a's share and b's share add up to 1 everywhere; both are then summed to their inputs' shapes (sum_to_shape)
    wins_a = pick(a.data, b.data)
    tie = a.data == b.data
    # Ties split the gradient in half (PyTorch's convention for maximum/minimum).
    share_a = np.where(tie, 0.5, wins_a.astype(g.dtype))
    ga = sum_to_shape(g * share_a, a.shape) if a.requires_grad else None
    gb = sum_to_shape(g * (np.where(tie, 0.5, 1.0 - share_a)), b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION


@register_derivative(MAXIMUM)
def maximum_backward(g, node):
    """d max(a, b) = (1, 0) where a > b, (0, 1) where b > a, (½, ½) at ties"""
    return _minmax_backward(g, node, np.greater)


@register_derivative(MINIMUM)
def minimum_backward(g, node):
    """d min(a, b) = (1, 0) where a < b, (0, 1) where b < a, (½, ½) at ties"""
    return _minmax_backward(g, node, np.less)


@register_derivative(CLIP)
def clip_backward(g, node):
    """d clip(a, lo, hi) = 1 where lo <= a <= hi, else 0"""
    a = node.inputs[0].data
    lo, hi = node.saved
    ### BEGIN SOLUTION
    ### HINT: g passes where lo <= a <= hi (the bounds included, like PyTorch) and is 0 outside
    ### HINT: lo or hi may be None: that side has no limit
    inside = np.ones(a.shape, dtype=bool)
    if lo is not None:
        inside &= a >= lo
    if hi is not None:
        inside &= a <= hi
    return (g * inside,)
    ### END SOLUTION


@register_derivative(CAST)
def cast_backward(g, node):
    """d cast(a) = 1, cast back to a's dtype"""
    return (g.astype(node.inputs[0].data.dtype, copy=False),)


@register_derivative(CLONE)
def clone_backward(g, node):
    """d clone(a) = 1"""
    return (g,)


@register_derivative(WHERE)
def where_backward(g, node):
    """d where(c, a, b) = (c, not c)"""
    a, b = node.inputs
    cond = node.saved
    ### BEGIN SOLUTION
    ### HINT: the condition was saved in node.saved: a's share is g where it holds (0 elsewhere), b's the opposite
    ### HINT: a or b may have been broadcast (a Python 0, say): sum_to_shape each share back
    zero = np.zeros((), dtype=g.dtype)
    ga = sum_to_shape(np.where(cond, g, zero), a.shape) if a.requires_grad else None
    gb = sum_to_shape(np.where(cond, zero, g), b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION
