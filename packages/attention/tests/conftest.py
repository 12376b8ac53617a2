"""Shared fixtures and numpy references for tinytorch-attention's tests.

The references are written independently of the package, in float64, straight from the
formulas, so a test compares the package with the math rather than with itself.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from tinytorch.core.tensor import set_grad_enabled


@pytest.fixture(autouse=True)
def _grad_mode_on():
    """Every test starts with graph recording on, and a test that turns it off cannot leak."""
    previous = set_grad_enabled(True)
    yield
    set_grad_enabled(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def ref_softmax_rows(scores, allowed=None):
    """softmax over the last axis where ``allowed`` (rows with nothing allowed give zeros)."""
    s = np.asarray(scores, dtype=np.float64)
    if allowed is None:
        allowed = np.ones(s.shape, dtype=bool)
    allowed = np.broadcast_to(allowed, s.shape)
    top = np.where(allowed, s, -np.inf).max(axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(np.where(allowed, s - top, -np.inf))
    total = e.sum(axis=-1, keepdims=True)
    return e / np.where(total == 0, 1.0, total)


def ref_attention(q, k, v, mask=None, causal=False, scale=None):
    """Reference attention in float64: returns (output, weights)."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scale = 1.0 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(s.shape, dtype=bool)
    if causal:
        lq, lk = s.shape[-2:]
        allowed &= np.tril(np.ones((lq, lk), dtype=bool))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == np.bool_:
            allowed &= np.broadcast_to(mask, s.shape)
        else:
            finite = np.isfinite(mask)
            s = s + np.where(finite, mask, 0.0)
            allowed &= np.broadcast_to(finite, s.shape)
    w = ref_softmax_rows(s, allowed)
    return w @ v, w


def ref_layer_norm(x, weight=None, bias=None, eps=1e-5, dims=1):
    x = np.asarray(x, dtype=np.float64)
    axes = tuple(range(x.ndim - dims, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def ref_mha(mha, query, key, value, mask=None, causal=False):
    """Multi-head attention from the module's weights, one head at a time (float64).

    Batch-first inputs; ``mask`` in the functional convention (True = attend, or additive).
    """
    e, h = mha.embed_dim, mha.num_heads
    d = e // h
    if mha.in_proj_weight is not None:
        w = mha.in_proj_weight.numpy().astype(np.float64)
        wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
    else:
        wq, wk, wv = (p.numpy().astype(np.float64)
                      for p in (mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight))
    b = np.zeros(3 * e) if mha.in_proj_bias is None else mha.in_proj_bias.numpy().astype(np.float64)
    q = np.asarray(query, np.float64) @ wq.T + b[:e]
    k = np.asarray(key, np.float64) @ wk.T + b[e:2 * e]
    v = np.asarray(value, np.float64) @ wv.T + b[2 * e:]
    heads = []
    weights = []
    for i in range(h):
        cols = slice(i * d, (i + 1) * d)
        m = mask
        if m is not None and np.ndim(m) == 4:
            m = np.asarray(m)[:, min(i, np.shape(m)[1] - 1)]
        o, wt = ref_attention(q[..., cols], k[..., cols], v[..., cols], m, causal)
        heads.append(o)
        weights.append(wt)
    concat = np.concatenate(heads, axis=-1)
    wo = mha.out_proj.weight.numpy().astype(np.float64)
    out = concat @ wo.T
    if mha.out_proj.bias is not None:
        out = out + mha.out_proj.bias.numpy()
    return out, np.stack(weights, axis=1)


@pytest.fixture
def ref():
    """The numpy references above, as ``ref.attention(...)``, ``ref.mha(...)``, ..."""
    return SimpleNamespace(softmax_rows=ref_softmax_rows, attention=ref_attention,
                           layer_norm=ref_layer_norm, mha=ref_mha)
