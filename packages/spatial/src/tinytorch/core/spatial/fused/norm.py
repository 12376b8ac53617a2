"""Fused batch normalisation: forward and backward together (op ``spatial.batch_norm``).

Per channel c, over every other axis (batch, and H, W or L):

    x̂ = (x - μ) / √(σ² + ε)        y = γ x̂ + β

In training μ and σ² are the batch's (σ² biased, as in the normalisation itself); in
evaluation they are the running estimates and simply constants. The backward pass of the
training case has a well-known closed form — with n the number of values per channel,

    dβ = Σ g      dγ = Σ g x̂      dx = γ/√(σ² + ε) · (g - dβ/n - x̂ · dγ/n)

— which costs two reductions and one elementwise pass instead of the dozen ops the composite
graph records. Statistics are accumulated in float64 and the result is returned in the
input's float dtype, in the input's memory layout (channels-last stays channels-last).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, make_result, register_derivative

from ..geometry import norm_axes, update_running_stats

__all__ = ["batch_norm_fused", "batch_norm_fused_backward", "BATCH_NORM_OP"]

BATCH_NORM_OP = "spatial.batch_norm"


def _stat(a: Any) -> np.ndarray:
    return np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)


def batch_norm_fused(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
                     bias: Any = None, training: bool = False, momentum: float = 0.1,
                     eps: float = 1e-5) -> Tensor:
    """Batch normalisation of an (N, C, *) tensor as one fused op.

    Args:
        x: (N, C) or (N, C, L) or (N, C, H, W).
        running_mean: (C,) tensor or array, updated in place when ``training``; may be None.
        running_var: (C,) likewise. With either None, batch statistics are used even in
            evaluation.
        weight: the scale γ, shape (C,), or None (no scaling).
        bias: the shift β, shape (C,), or None (no shift).
        training: normalise with the batch's statistics (and update the running ones).
        momentum: weight of the new batch in the running averages.
        eps: added to the variance for numerical safety.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if weight is not None and not isinstance(weight, Tensor):
        weight = Tensor(weight)
    if bias is not None and not isinstance(bias, Tensor):
        bias = Tensor(bias)
    xd = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    axes = norm_axes(xd.ndim)
    c = xd.shape[1]
    n = xd.size // c
    bshape = (1, c) + (1,) * (xd.ndim - 2)
    use_batch = training or running_mean is None or running_var is None
    if use_batch:
        if n < 2 and training:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {x.shape}"
            )
        mean64 = xd.mean(axis=axes, dtype=np.float64)
        centered = xd - mean64.astype(xd.dtype).reshape(bshape)
        var64 = np.square(centered).mean(axis=axes, dtype=np.float64)
        if training:
            update_running_stats(running_mean, running_var, mean64, var64, n, momentum)
    else:
        mean64, var64 = _stat(running_mean), _stat(running_var)
        centered = xd - mean64.astype(xd.dtype).reshape(bshape)
    invstd = (1.0 / np.sqrt(var64 + eps)).astype(xd.dtype)
    xhat = centered
    xhat *= invstd.reshape(bshape)
    if weight is not None:
        y = xhat * weight.data.astype(xd.dtype, copy=False).reshape(bshape)
    else:
        y = xhat.copy()
    if bias is not None:
        y += bias.data.astype(xd.dtype, copy=False).reshape(bshape)
    inputs = tuple(t for t in (x, weight, bias) if t is not None)
    saved = (xhat, invstd, use_batch, weight is not None, bias is not None)
    return make_result(y, BATCH_NORM_OP, inputs, saved)


@register_derivative(BATCH_NORM_OP)
def batch_norm_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """dβ = Σg, dγ = Σ g x̂, and dx from the closed form above (or g·γ/σ in evaluation)."""
    xhat, invstd, use_batch, has_weight, has_bias = node.saved
    inputs = node.inputs
    x = inputs[0]
    weight = inputs[1] if has_weight else None
    axes = norm_axes(grad.ndim)
    c = grad.shape[1]
    n = grad.size // c
    bshape = (1, c) + (1,) * (grad.ndim - 2)
    g_sum = grad.sum(axis=axes, dtype=np.float64)
    g_xhat = (grad * xhat).sum(axis=axes, dtype=np.float64)
    gamma = weight.data.astype(np.float64) if weight is not None else np.ones(c)
    out = []
    if x.requires_grad:
        scale = (gamma * invstd).astype(grad.dtype).reshape(bshape)
        if use_batch:
            gx = grad - (g_sum / n).astype(grad.dtype).reshape(bshape)
            gx -= xhat * (g_xhat / n).astype(grad.dtype).reshape(bshape)
            gx *= scale
        else:
            gx = grad * scale
        out.append(gx.astype(x.dtype, copy=False))
    else:
        out.append(None)
    if weight is not None:  # has_weight
        out.append(g_xhat.astype(weight.dtype) if weight.requires_grad else None)
    if has_bias:
        b = inputs[2 if has_weight else 1]
        out.append(g_sum.astype(b.dtype) if b.requires_grad else None)
    return tuple(out)
