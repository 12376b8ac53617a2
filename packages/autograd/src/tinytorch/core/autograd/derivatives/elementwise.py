"""Derivatives of elementwise ops. Each takes the output's gradient ``g`` and the Node.

Binary ops broadcast, so each input's share is summed back to that input's shape
(``sum_to_shape``). An input that does not require grad gets ``None`` and costs nothing.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import register_derivative, sum_to_shape
from tinytorch.core.tensor.workspace import WORKSPACE

_TWO_OVER_SQRT_PI = 2.0 / np.sqrt(np.pi)


def _needs(node, i):
    return node.inputs[i].requires_grad


@register_derivative("add")
def add_backward(g, node):
    """d(a + b) = (1, 1)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    return (sum_to_shape(g, a.shape) if a.requires_grad else None,
            sum_to_shape(g, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative("sub")
def sub_backward(g, node):
    """d(a - b) = (1, -1)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    return (sum_to_shape(g, a.shape) if a.requires_grad else None,
            sum_to_shape(-g, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative("mul")
def mul_backward(g, node):
    """d(a * b) = (b, a)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    return (sum_to_shape(g * b.data, a.shape) if a.requires_grad else None,
            sum_to_shape(g * a.data, b.shape) if b.requires_grad else None)
    ### END SOLUTION


@register_derivative("div")
def div_backward(g, node):
    """d(a / b) = (1 / b, -a / b²)"""
    a, b = node.inputs
    ### BEGIN SOLUTION
    ga = sum_to_shape(g / b.data, a.shape) if a.requires_grad else None
    gb = sum_to_shape(-g * a.data / (b.data * b.data), b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION


@register_derivative("pow")
def pow_backward(g, node):
    """d(a ** e) = (e · a^(e-1), a^e · ln a)"""
    a, e = node.inputs
    out = node.saved
    ### BEGIN SOLUTION
    ga = gb = None
    if a.requires_grad:
        ga = sum_to_shape(g * e.data * np.power(a.data, e.data - 1), a.shape)
    if e.requires_grad:
        # ln a is undefined for a <= 0; like PyTorch, the exponent gets 0 there when a^e = 0.
        safe = np.where(a.data > 0, a.data, 1)
        gb = sum_to_shape(g * out * np.log(safe), e.shape)
    return ga, gb
    ### END SOLUTION


@register_derivative("neg")
def neg_backward(g, node):
    """d(-a) = -1"""
    return (-g,)


@register_derivative("exp")
def exp_backward(g, node):
    """d(e^a) = e^a (the saved output)"""
    ### BEGIN SOLUTION
    return (g * node.saved,)
    ### END SOLUTION


@register_derivative("log")
def log_backward(g, node):
    """d(ln a) = 1 / a"""
    ### BEGIN SOLUTION
    return (g / node.inputs[0].data,)
    ### END SOLUTION


@register_derivative("log1p")
def log1p_backward(g, node):
    """d(ln(1 + a)) = 1 / (1 + a)"""
    return (g / (1 + node.inputs[0].data),)


@register_derivative("sqrt")
def sqrt_backward(g, node):
    """d(√a) = 1 / (2√a)"""
    ### BEGIN SOLUTION
    return (g / (2 * node.saved),)
    ### END SOLUTION


@register_derivative("abs")
def abs_backward(g, node):
    """d|a| = sign(a)  (0 at 0)"""
    return (g * np.sign(node.inputs[0].data),)


@register_derivative("tanh")
def tanh_backward(g, node):
    """d tanh(a) = 1 - tanh²(a)"""
    ### BEGIN SOLUTION
    out = node.saved
    return (g * (1 - out * out),)
    ### END SOLUTION


@register_derivative("sin")
def sin_backward(g, node):
    """d sin(a) = cos(a)"""
    return (g * np.cos(node.inputs[0].data),)


@register_derivative("cos")
def cos_backward(g, node):
    """d cos(a) = -sin(a)"""
    return (-g * np.sin(node.inputs[0].data),)


@register_derivative("erf")
def erf_backward(g, node):
    """d erf(a) = 2/√π · e^(-a²)"""
    a = node.inputs[0].data
    return (g * (_TWO_OVER_SQRT_PI * np.exp(-a * a)).astype(a.dtype, copy=False),)


@register_derivative("relu")
def relu_backward(g, node):
    """d max(a, 0) = 1 where a > 0, else 0"""
    a = node.inputs[0].data
    # A reused buffer, as in the forward (module 02's workspace): it is handed out only when
    # nothing references it, so the engine owns the gradient returned in it. Same dtype as
    # g * mask would give, laid out like a (channels-last stays channels-last).
    out = WORKSPACE.like("relu.grad", a, np.result_type(g.dtype, np.bool_))
    ### BEGIN SOLUTION
    return (np.multiply(g, a > 0, out=out),)
    ### END SOLUTION


def _minmax_backward(g, node, pick):
    a, b = node.inputs
    wins_a = pick(a.data, b.data)
    tie = a.data == b.data
    # Ties split the gradient in half (PyTorch's convention for maximum/minimum).
    share_a = np.where(tie, 0.5, wins_a.astype(g.dtype))
    ga = sum_to_shape(g * share_a, a.shape) if a.requires_grad else None
    gb = sum_to_shape(g * (np.where(tie, 0.5, 1.0 - share_a)), b.shape) if b.requires_grad else None
    return ga, gb


@register_derivative("maximum")
def maximum_backward(g, node):
    """d max(a, b) = (1, 0) where a > b, (0, 1) where b > a, (½, ½) at ties"""
    ### BEGIN SOLUTION
    return _minmax_backward(g, node, np.greater)
    ### END SOLUTION


@register_derivative("minimum")
def minimum_backward(g, node):
    """d min(a, b) = (1, 0) where a < b, (0, 1) where b < a, (½, ½) at ties"""
    return _minmax_backward(g, node, np.less)


@register_derivative("clip")
def clip_backward(g, node):
    """d clip(a, lo, hi) = 1 where lo <= a <= hi, else 0"""
    a = node.inputs[0].data
    lo, hi = node.saved
    ### BEGIN SOLUTION
    inside = np.ones(a.shape, dtype=bool)
    if lo is not None:
        inside &= a >= lo
    if hi is not None:
        inside &= a <= hi
    return (g * inside,)
    ### END SOLUTION


@register_derivative("cast")
def cast_backward(g, node):
    """d cast(a) = 1, cast back to a's dtype"""
    return (g.astype(node.inputs[0].data.dtype, copy=False),)


@register_derivative("clone")
def clone_backward(g, node):
    """d clone(a) = 1"""
    return (g,)


@register_derivative("where")
def where_backward(g, node):
    """d where(c, a, b) = (c, not c)"""
    a, b = node.inputs
    cond = node.saved
    ### BEGIN SOLUTION
    zero = np.zeros((), dtype=g.dtype)
    ga = sum_to_shape(np.where(cond, g, zero), a.shape) if a.requires_grad else None
    gb = sum_to_shape(np.where(cond, zero, g), b.shape) if b.requires_grad else None
    return ga, gb
    ### END SOLUTION
