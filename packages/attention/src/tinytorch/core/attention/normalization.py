"""Layer normalisation: give every token's vector mean 0 and variance 1, then rescale it.

    y = (x - mean(x)) / √(var(x) + eps) · weight + bias        statistics over the last dims

Unlike batch normalisation it uses no statistics of other examples, so it behaves the same in
training and evaluation, for a batch of one, and at every position of a sequence. A transformer
normalises before each sub-layer (the "pre-norm" block) to keep the residual stream's scale
under control as layers are stacked.

Written with Tensor ops (mean, subtract, square, mean, add, sqrt, divide, multiply, add) it is
nine recorded ops and about forty passes over the activations forward and backward; a
transformer step runs five of them. So it is one fused op, :func:`layer_norm`, whose derivative
is registered below, next to it: with x̂ = (x - mean)·r, r = 1/√(var + eps), and ĝ = g·weight,

    dx = r · (ĝ - mean(ĝ) - x̂ · mean(ĝ · x̂)),    d weight = Σ g · x̂,    d bias = Σ g

(the means over the normalised dims, the sums over all the others).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor, make_result, register_derivative

from .fused import fused_attention_enabled
from .kernels import layer_norm_backward, layer_norm_forward

__all__ = ["LayerNorm", "layer_norm"]

_LAYER_NORM_OP = "attention.layer_norm"


def layer_norm(x: Tensor, normalized_dims: int = 1, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise ``x`` over its last ``normalized_dims`` dimensions, then scale and shift.

    Args:
        x: the input, ``(*, *normalized_shape)``.
        normalized_dims: how many trailing dimensions the statistics run over.
        weight: per-feature scale of shape ``normalized_shape`` (or None).
        bias: per-feature shift of shape ``normalized_shape`` (or None).
        eps: added to the variance before the square root.

    Returns:
        ``(x - mean) / √(var + eps) · weight + bias``, the biased variance as in PyTorch.
    """
    a = x._float_data("layer_norm")
    axes = tuple(range(a.ndim - normalized_dims, a.ndim))
    inputs = (x,) + tuple(t for t in (weight, bias) if t is not None)
    if normalized_dims == 1 and a.ndim >= 1 and fused_attention_enabled() and all(
            t.dtype == a.dtype for t in inputs[1:]):
        # Given (not the exercise): the reference runs the same maths row block by row block
        # in cache, threaded (kernels.py); a student's build runs the lines below.
        out, xhat, rstd = layer_norm_forward(
            np.ascontiguousarray(a).reshape(-1, a.shape[-1]),
            None if weight is None else weight.data, None if bias is None else bias.data, eps)
        return make_result(out.reshape(a.shape), _LAYER_NORM_OP, inputs,
                           (xhat.reshape(a.shape), rstd.reshape(a.shape[:-1] + (1,)), axes,
                            weight is not None, bias is not None))
    ### BEGIN SOLUTION
    ### HINT: mean and (biased) variance over `axes` with keepdims=True; x̂ = (x - mean) / sqrt(var + eps);
    ### HINT: y = x̂ · weight + bias (each only if given). Keep x̂ and 1/sqrt(var + eps) for the backward.
    centered = a - a.mean(axis=axes, keepdims=True)
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + np.asarray(eps, dtype=var.dtype))
    xhat = np.multiply(centered, rstd, out=centered)
    out = xhat * weight.data if weight is not None else xhat.copy()
    if bias is not None:
        out += bias.data
    ### END SOLUTION
    return make_result(out, _LAYER_NORM_OP, inputs,
                       (xhat, rstd, axes, weight is not None, bias is not None))


@register_derivative(_LAYER_NORM_OP)
def _layer_norm_backward(g: np.ndarray, node: Any) -> tuple:
    """dx = r·(ĝ - mean ĝ - x̂·mean(ĝ·x̂)) with ĝ = g·weight; d weight = Σ g·x̂; d bias = Σ g."""
    xhat, rstd, axes, has_weight, has_bias = node.saved
    x = node.inputs[0]
    weight = node.inputs[1] if has_weight else None
    bias = node.inputs[-1] if has_bias else None
    features = int(np.prod([xhat.shape[i] for i in axes]))
    need = (x.requires_grad, weight is not None and weight.requires_grad,
            bias is not None and bias.requires_grad)
    # the same formulas, over (rows, features) views, in cache-sized row blocks (kernels.py)
    dx, dw, db = layer_norm_backward(
        np.ascontiguousarray(g, dtype=xhat.dtype).reshape(-1, features),
        xhat.reshape(-1, features), rstd.reshape(-1, 1),
        None if weight is None else weight.data.reshape(features), need)
    grads = [None if dx is None else dx.reshape(x.shape).astype(x.dtype, copy=False)]
    if weight is not None:  # one gradient per input: weight and bias only when they were given
        grads.append(None if dw is None else dw.reshape(weight.shape).astype(weight.dtype, copy=False))
    if bias is not None:
        grads.append(None if db is None else db.reshape(bias.shape).astype(bias.dtype, copy=False))
    return tuple(grads)


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions (PyTorch's ``nn.LayerNorm``).

    Args:
        normalized_shape: the size of the last dimension, or a tuple of the last few sizes.
        eps: added to the variance before the square root (keeps a constant input finite).
        elementwise_affine: learn a per-feature ``weight`` (init 1) and ``bias`` (init 0).
        bias: with ``elementwise_affine``, also learn the bias.

    Shape:
        ``(*, *normalized_shape)`` -> the same shape.

    Example:
        >>> ln = LayerNorm(4)
        >>> y = ln(Tensor([[1.0, 2.0, 3.0, 4.0]]))
        >>> [round(float(v), 3) for v in y.numpy()[0]]
        [-1.342, -0.447, 0.447, 1.342]
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}")
        if eps <= 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        """Normalise each vector over the last ``len(normalized_shape)`` dimensions."""
        x = self.cast_input(x)  # computed in the parameters' dtype, like every layer
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: the input's last {k} dimension(s) must be "
                f"{self.normalized_shape}, got input shape {x.shape}"
            )
        return layer_norm(x, k, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
