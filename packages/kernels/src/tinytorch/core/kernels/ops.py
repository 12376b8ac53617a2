"""The fused elementwise kernels as Tensor ops, each with its derivative registered beside it.

    >>> from tinytorch.core.tensor import Tensor
    >>> bias_relu(Tensor([[-1.0, 2.0]]), Tensor([0.5, -3.0])).data.tolist()
    [[0.0, 0.0]]

Like tinytorch-spatial's fused convolution, each is *one* op in the graph: the forward runs the
fused numpy kernel, and tinytorch-autograd's engine calls the derivative registered
here with ``register_derivative`` — no Tensor method is patched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, make_result, register_derivative, sum_to_shape

from .elementwise import bias_relu_fused, gelu_tanh_chunked, gelu_tanh_grad

__all__ = ["bias_relu", "gelu_tanh", "BIAS_RELU_OP", "GELU_TANH_OP"]

BIAS_RELU_OP = "kernels.bias_relu"
GELU_TANH_OP = "kernels.gelu_tanh"


def _as_tensor(value: Any) -> Tensor:
    """A Tensor as is; a numpy array in its own dtype (as every binary op lifts one)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value, dtype=value.dtype)
    return Tensor(value)


def bias_relu(x: Any, b: Any) -> Tensor:
    """relu(x + b) as one fused op (b broadcasts against x, e.g. a (C,) bias of (rows, C)).

    Args:
        x: the activations.
        b: the bias.

    Returns:
        A new Tensor in x's dtype.
    """
    x, b = _as_tensor(x), _as_tensor(b)
    try:
        fits = np.broadcast_shapes(tuple(x.shape), tuple(b.shape)) == tuple(x.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"bias_relu: a bias of shape {tuple(b.shape)} does not broadcast to the "
                         f"input's shape {tuple(x.shape)}")
    out = bias_relu_fused(x.data, b.data)
    return make_result(out, BIAS_RELU_OP, (x, b), out)


@register_derivative(BIAS_RELU_OP)
def _bias_relu_backward(grad: np.ndarray, node: Any) -> tuple:
    x, b = node.inputs
    g = np.where(node.saved > 0, grad, 0).astype(x.dtype, copy=False)
    gb = sum_to_shape(g, tuple(b.shape)).astype(b.dtype, copy=False) if b.requires_grad else None
    return (g if x.requires_grad else None), gb


def gelu_tanh(x: Any) -> Tensor:
    """GELU (tanh approximation, as GPT-2 uses) as one fused, chunked op.

    Args:
        x: the input.

    Returns:
        A new Tensor in x's dtype.
    """
    x = _as_tensor(x)
    return make_result(gelu_tanh_chunked(x.data), GELU_TANH_OP, (x,))


@register_derivative(GELU_TANH_OP)
def _gelu_tanh_backward(grad: np.ndarray, node: Any) -> tuple:
    (x,) = node.inputs
    return ((grad * gelu_tanh_grad(x.data)).astype(x.dtype, copy=False),)
