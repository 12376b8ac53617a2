"""Fused attention: ``softmax(q kᵀ · scale + mask) v`` as one op — the reference's fast path.

Not lesson material. The lesson's :func:`~tinytorch.core.attention.functional.scaled_dot_product_attention`
is two batched matrix products around the fused masked softmax: four recorded ops, and a
(batch, heads, L, L) array for each of scores, weights and their gradients. Here the same maths
is one op, :data:`ATTENTION_OP`, whose kernels (``kernels.py``) take a few (batch·head)
matrices at a time — the scores of a block stay in cache while they are scaled, masked,
softmaxed in place and multiplied by the values — and split the blocks across the runtime's
threads. Its derivative is registered below, next to the forward. Only the weights are kept for
the backward, as the composite path keeps them.

It runs when nothing needs the composite path: no dropout on the weights, the weights not
returned, q, k and v with the same batch dimensions, and a mask that is not a Tensor requiring
grad. What a student writes is what runs in a student's build (version label ``+student``):
there the lesson's code runs by default; ``fused_attention(False)`` chooses it anywhere.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from tinytorch.core.layers import is_student_build
from tinytorch.core.tensor import Tensor, make_result, register_derivative
from tinytorch.core.tensor.runtime import switch

from .kernels import attention_backward, attention_forward

__all__ = ["ATTENTION_OP", "FUSED_ATTENTION", "attention_fused", "can_fuse", "fused_attention",
           "fused_attention_enabled", "set_fused_attention"]

ATTENTION_OP = "attention.sdpa_fused"

FUSED_ATTENTION = switch("attention.fused", default=not is_student_build("tinytorch-attention"))


def fused_attention_enabled() -> bool:
    """True when attention runs the fused op where it can (the reference's default)."""
    return FUSED_ATTENTION.enabled


def set_fused_attention(enabled: bool) -> bool:
    """Choose the fused op (True) or the lesson's Tensor ops (False); returns the old setting."""
    return FUSED_ATTENTION.set(enabled)


def fused_attention(enabled: bool = True) -> AbstractContextManager:
    """Context manager: attention runs the fused op (or, with False, the lesson's code) inside."""
    return FUSED_ATTENTION(enabled)


def can_fuse(q: Tensor, k: Tensor, v: Tensor, mask: Any, dropout_p: float,
             return_weights: bool) -> bool:
    """Whether :func:`attention_fused` computes this call (see the module docstring)."""
    if not FUSED_ATTENTION.enabled or dropout_p > 0.0 or return_weights:
        return False
    if isinstance(mask, Tensor) and mask.requires_grad:
        return False
    return (q.shape[:-2] == k.shape[:-2] == v.shape[:-2] and q.dtype == k.dtype == v.dtype
            and q.ndim >= 3)


def attention_fused(q: Tensor, k: Tensor, v: Tensor, mask: Any, scale: float) -> Tensor:
    """``softmax(q kᵀ · scale + mask) v`` as one recorded op.

    Args:
        q: ``(*batch, L_q, d)``; k: ``(*batch, L_k, d)``; v: ``(*batch, L_k, d_v)``, one dtype.
        mask: None, a bool (True = attend) or float numpy array (or a float Tensor that needs
            no gradient) broadcasting to ``(*batch, L_q, L_k)``.
        scale: the factor on the scores.

    Returns:
        ``(*batch, L_q, d_v)``.
    """
    batch = q.shape[:-2]
    qa, ka, va = (np.ascontiguousarray(t.data).reshape((-1,) + t.shape[-2:]) for t in (q, k, v))
    m = mask.data if isinstance(mask, Tensor) else mask
    if m is not None:
        m = np.asarray(m)
        full = batch + (q.shape[-2], k.shape[-2])
        if m.ndim <= 2:  # one mask for every matrix: the kernel broadcasts it, no copy
            m = m.reshape((1,) * (2 - m.ndim) + m.shape)
        else:  # per batch entry: (n, L_q, L_k), copied only when broadcasting needs it
            m = np.broadcast_to(m, full).reshape((-1,) + full[-2:])
    out, p = attention_forward(qa, ka, va, m, float(scale))
    return make_result(out.reshape(batch + out.shape[1:]), ATTENTION_OP, (q, k, v),
                       (qa, ka, va, p, float(scale)))


@register_derivative(ATTENTION_OP)
def attention_fused_backward(g: np.ndarray, node: Any) -> tuple:
    """d q, d k, d v of the fused attention (``kernels.attention_backward`` has the maths)."""
    q, k, v = node.inputs
    qa, ka, va, p, scale = node.saved
    g3 = np.ascontiguousarray(g, dtype=qa.dtype).reshape((-1,) + g.shape[-2:])
    need = (q.requires_grad, k.requires_grad, v.requires_grad)
    grads = attention_backward(g3, qa, ka, va, p, scale, need)
    return tuple(None if d is None else d.reshape(t.shape) for d, t in zip(grads, (q, k, v)))
