"""Row-blocked numpy kernels for the attention package's fused ops — speed code, not a lesson.

A transformer step runs GELU on (tokens, 4·E) activations and the masked softmax on
(batch, heads, L, L) scores: a few megabytes each, a dozen elementwise passes each. Done as
whole-array numpy expressions, every pass streams the full array through memory and most of
them allocate a fresh multi-megabyte temporary. Here each kernel walks its rows in blocks of
about 64K elements (256 KB in float32, which stays in the core's L2 cache): the temporaries are
block-sized, and every pass after the first reads from cache; the big outputs come from the
runtime's buffer pool (``WORKSPACE``: a buffer is handed out again only once nothing refers to
it), since a fresh multi-megabyte array costs more in page faults than a pass over it. With
several runtime threads
(``tinytorch.core.tensor.runtime.threads``) the rows are split across them
(``tinytorch.core.tensor.fused.split_rows``; numpy releases the GIL in its loops).

GELU's tanh form is computed as the identical ``x · σ(2u)`` with ``u = √(2/π)(x + 0.044715x³)``
(``0.5(1 + tanh u) = σ(2u)``): one ``exp`` instead of numpy's slower ``tanh``, and no
cancellation in ``1 + tanh u`` for negative inputs.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from tinytorch.core.tensor.fused import split_rows
from tinytorch.core.tensor.runtime import WORKSPACE

__all__ = ["gelu_tanh_forward", "gelu_tanh_backward", "attention_forward", "attention_backward",
           "BLOCK_ELEMENTS"]

BLOCK_ELEMENTS = 1 << 16  # elements per block: 256 KB of float32, inside a core's L2 cache

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_CUBIC = 0.044715


def _as_rows(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous 2-D (rows, last dimension) array (a view when it already is)."""
    a = np.ascontiguousarray(a)
    return a.reshape(-1, a.shape[-1]) if a.ndim >= 2 else a.reshape(1, -1)


def _blocked(m: int, width: int, fn: Callable[[int, int], None], passes: int) -> None:
    """``fn(r0, r1)`` over blocks of about :data:`BLOCK_ELEMENTS` elements of ``m`` rows of
    ``width``, the rows split across the runtime's threads (``passes``: elementwise passes
    per element, the work estimate that decides whether splitting pays)."""
    step = max(1, BLOCK_ELEMENTS // max(width, 1))

    def rows(r0: int, r1: int) -> None:
        for b0 in range(r0, r1, step):
            fn(b0, min(b0 + step, r1))

    split_rows(m, m * width * passes, rows, min_rows=step)


def gelu_tanh_forward(a: np.ndarray) -> tuple:
    """GELU (tanh form) of ``a``: returns ``(out, s)`` with ``s = σ(2u)`` kept for the backward.

    ``out = x · s``; both arrays are new, shaped and typed like ``a`` (a floating dtype).
    """
    x = _as_rows(a)
    out, s = WORKSPACE.like("gelu.out", x), WORKSPACE.like("gelu.s", x)
    if x.size == 0:
        return out.reshape(a.shape), s.reshape(a.shape)
    dt = x.dtype.type
    k1, k3 = dt(-2.0 * _SQRT_2_OVER_PI), dt(-2.0 * _SQRT_2_OVER_PI * _CUBIC)

    def block(r0: int, r1: int) -> None:
        xb, sb = x[r0:r1], s[r0:r1]
        np.multiply(xb, xb, out=sb)
        sb *= k3
        sb += k1
        sb *= xb                        # -2u = -2√(2/π)(x + 0.044715x³)
        with np.errstate(over="ignore"):  # per thread: numpy's error state is thread-local
            np.exp(sb, out=sb)          # +inf for very negative x: then s = 0, exactly
        sb += dt(1)
        np.divide(dt(1), sb, out=sb)    # s = σ(2u) = 0.5(1 + tanh u)
        np.multiply(xb, sb, out=out[r0:r1])

    _blocked(x.shape[0], x.shape[1], block, passes=10)
    return out.reshape(a.shape), s.reshape(a.shape)


def gelu_tanh_backward(g: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """d GELU/dx · g, from the input ``a`` and the forward's ``s = σ(2u)``.

    ``d/dx [x σ(2u)] = s + x · s(1 - s) · 2u'`` with ``2u' = 2√(2/π)(1 + 3·0.044715x²)``.
    A new array shaped and typed like ``a``.
    """
    x, sr = _as_rows(a), _as_rows(s)
    gr = _as_rows(np.asarray(g, dtype=x.dtype))
    out = WORKSPACE.like("gelu.grad", x)
    if x.size == 0:
        return out.reshape(a.shape)
    dt = x.dtype.type
    k1, k3 = dt(2.0 * _SQRT_2_OVER_PI), dt(2.0 * _SQRT_2_OVER_PI * 3.0 * _CUBIC)

    def block(r0: int, r1: int) -> None:
        xb, sb = x[r0:r1], sr[r0:r1]
        q = np.multiply(xb, xb)
        q *= k3
        q += k1
        q *= xb                         # x · 2u'
        r = np.subtract(dt(1), sb)
        r *= sb                         # s(1 - s)
        q *= r
        q += sb
        np.multiply(q, gr[r0:r1], out=out[r0:r1])

    _blocked(x.shape[0], x.shape[1], block, passes=10)
    return out.reshape(a.shape)


# ---------------------------------------------------------------------------- attention
def _matrix_blocks(count: int, matrix_elements: int, work: int,
                   fn: Callable[[int, int], None]) -> None:
    """``fn(i0, i1)`` over blocks of ``count`` stacked matrices, each block about
    :data:`BLOCK_ELEMENTS` elements of ``matrix_elements``, split across the runtime's threads."""
    step = max(1, BLOCK_ELEMENTS // max(matrix_elements, 1))

    def blocks(i0: int, i1: int) -> None:
        for b0 in range(i0, i1, step):
            fn(b0, min(b0 + step, i1))

    split_rows(count, work, blocks, min_rows=step)


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None,
                      scale: float) -> tuple:
    """``softmax(q kᵀ · scale + mask) v`` over stacked matrices; returns ``(out, p)``.

    Args:
        q: (n, L_q, d); k: (n, L_k, d); v: (n, L_k, d_v) — one floating dtype.
        mask: None, or a bool (True = attend) or floating array that broadcasts to
            (n, L_q, L_k).
        scale: the factor on the scores.

    The softmax runs in place on each block's scores, exactly as :func:`masked_softmax`
    computes it (shift by the row maximum, ``exp``, divide by the sum; a row with no key left
    gets zero weights). ``p``, the weights, is what the backward needs.
    """
    n, len_q, len_k = q.shape[0], q.shape[1], k.shape[1]
    dt = q.dtype.type
    p = WORKSPACE.get("attention.p", (n, len_q, len_k), q.dtype)
    out = WORKSPACE.get("attention.out", (n, len_q, v.shape[2]), q.dtype)
    blocked = None
    if mask is not None:
        if mask.dtype == np.bool_:  # invert before broadcasting: a causal mask stays (L_q, L_k)
            blocked = np.broadcast_to(~mask, (n, len_q, len_k))
        mask = np.broadcast_to(mask, (n, len_q, len_k))
    neg_inf, one, zero = dt(-np.inf), dt(1), dt(0)
    ones_k = np.ones(len_k, dtype=q.dtype)  # row sums by BLAS: faster than per-row reductions

    def block(i0: int, i1: int) -> None:
        s = p[i0:i1]
        np.matmul(q[i0:i1], k[i0:i1].transpose(0, 2, 1), out=s)
        s *= dt(scale)
        if blocked is not None:
            np.copyto(s, neg_inf, where=blocked[i0:i1])
        elif mask is not None:
            np.add(s, mask[i0:i1], out=s, casting="same_kind")
        top = s.max(axis=-1, keepdims=True)
        dead = np.isneginf(top)
        any_dead = dead.any()
        if any_dead:
            top[dead] = zero
        s -= top
        np.exp(s, out=s)
        total = np.matmul(s, ones_k)[..., None]
        if any_dead:
            total[dead] = one  # 0 / 1: a row that may see nothing attends to nothing
        s /= total
        np.matmul(s, v[i0:i1], out=out[i0:i1])

    work = n * len_q * len_k * (q.shape[2] + v.shape[2] + 8)
    _matrix_blocks(n, len_q * len_k, work, block)
    return out, p


def attention_backward(g: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray,
                       p: np.ndarray, scale: float, need: tuple) -> tuple:
    """Gradients ``(dq, dk, dv)`` of :func:`attention_forward` given ``g = d out`` (each None
    when ``need`` says its input needs none).

    ``dv = pᵀ g``; ``dp = g vᵀ``; the softmax's ``ds = p · (dp - Σ dp·p) · scale``;
    ``dq = ds k``, ``dk = dsᵀ q``. Masked scores have p = 0, so they get no gradient.
    """
    n = q.shape[0]
    dt = q.dtype.type
    need_q, need_k, need_v = need
    dq = WORKSPACE.get("attention.dq", q.shape, q.dtype) if need_q else None
    dk = WORKSPACE.get("attention.dk", k.shape, k.dtype) if need_k else None
    dv = WORKSPACE.get("attention.dv", v.shape, v.dtype) if need_v else None
    ones_k = np.ones(p.shape[2], dtype=p.dtype)  # row sums by BLAS (see the forward)

    def block(i0: int, i1: int) -> None:
        pb, gb = p[i0:i1], g[i0:i1]
        if dv is not None:  # None: v needs no gradient
            np.matmul(pb.transpose(0, 2, 1), gb, out=dv[i0:i1])
        if not (need_q or need_k):
            return
        ds = np.matmul(gb, v[i0:i1].transpose(0, 2, 1))   # dp
        row = np.matmul(np.multiply(ds, pb), ones_k)[..., None]   # Σ dp·p per row
        ds -= row
        ds *= pb
        ds *= dt(scale)
        if dq is not None:
            np.matmul(ds, k[i0:i1], out=dq[i0:i1])
        if dk is not None:
            np.matmul(ds.transpose(0, 2, 1), q[i0:i1], out=dk[i0:i1])

    work = n * p.shape[1] * p.shape[2] * (2 * q.shape[2] + 2 * v.shape[2] + 6)
    _matrix_blocks(n, p.shape[1] * p.shape[2], work, block)
    return dq, dk, dv


# ---------------------------------------------------------------------------- layer norm
def layer_norm_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                       eps: float) -> tuple:
    """Layer norm of the rows of the 2-D ``x``: returns ``(out, xhat, rstd)``.

    ``xhat = (x - mean) · rstd`` with ``rstd = 1/√(var + eps)`` (biased variance, each row's),
    ``out = xhat · weight + bias``; ``xhat`` and ``rstd`` (rows, 1) are what the backward needs.
    """
    m, f = x.shape
    dt = x.dtype.type
    out, xhat = WORKSPACE.like("layer_norm.out", x), WORKSPACE.like("layer_norm.xhat", x)
    rstd = np.empty((m, 1), dtype=x.dtype)

    # Row means as a matrix-vector product with (1/f, ..., 1/f): BLAS reduces rows of a
    # hundred-odd elements several times faster than numpy's per-row reduction loop.
    inv_f = np.full(f, 1.0 / f, dtype=x.dtype)

    def block(r0: int, r1: int) -> None:
        xb, hb, rb = x[r0:r1], xhat[r0:r1], rstd[r0:r1]
        np.subtract(xb, (xb @ inv_f)[:, None], out=hb)                # centred
        np.multiply(hb, hb, out=out[r0:r1])                            # scratch: squares
        np.matmul(out[r0:r1], inv_f, out=rb[:, 0])                     # biased variance
        rb += dt(eps)
        np.sqrt(rb, out=rb)
        np.divide(dt(1), rb, out=rb)
        hb *= rb
        ob = out[r0:r1]
        if weight is not None:
            np.multiply(hb, weight, out=ob)
        else:
            ob[...] = hb
        if bias is not None:
            ob += bias

    _blocked(m, f, block, passes=8)
    return out, xhat, rstd


def layer_norm_backward(g: np.ndarray, xhat: np.ndarray, rstd: np.ndarray,
                        weight: np.ndarray | None, need: tuple) -> tuple:
    """Gradients ``(dx, dweight, dbias)`` of :func:`layer_norm_forward` (rows of 2-D arrays),
    each None unless ``need`` (three flags) asks for it; ``dbias`` is asked for only when the
    layer has a bias.

    ``dx = rstd · (ĝ - mean ĝ - xhat · mean(ĝ · xhat))`` with ``ĝ = g · weight``;
    ``dweight = Σ_rows g · xhat``; ``dbias = Σ_rows g``.
    """
    m, f = g.shape
    need_x, need_w, need_b = need
    dx = WORKSPACE.like("layer_norm.dx", xhat) if need_x else None
    step = max(1, BLOCK_ELEMENTS // max(f, 1))
    n_blocks = -(-m // step)
    dws = np.zeros((n_blocks, f), dtype=xhat.dtype) if need_w else None
    inv_f = np.full(f, 1.0 / f, dtype=xhat.dtype)  # row means by BLAS (see the forward)

    def block(r0: int, r1: int) -> None:
        gb, hb = g[r0:r1], xhat[r0:r1]
        t = np.multiply(gb, hb)                  # g · xhat
        if dws is not None:  # None: the weight needs no gradient
            np.sum(t, axis=0, out=dws[r0 // step])
        if dx is None:
            return
        gx = dx[r0:r1]
        if weight is not None:
            np.multiply(gb, weight, out=gx)      # ĝ
            np.multiply(gx, hb, out=t)           # ĝ · xhat
        else:
            gx[...] = gb
        mean_g = (gx @ inv_f)[:, None]
        mean_gx = (t @ inv_f)[:, None]
        np.multiply(hb, mean_gx, out=t)
        gx -= mean_g
        gx -= t
        gx *= rstd[r0:r1]

    def rows(r0: int, r1: int) -> None:
        for b0 in range(r0, r1, step):
            block(b0, min(b0 + step, r1))

    # split on block boundaries, so each block's weight-gradient partial has its own row
    if n_blocks > 1:
        split_rows(n_blocks, m * f * 8, lambda i0, i1: rows(i0 * step, min(i1 * step, m)), min_rows=1)
    else:
        rows(0, m)
    dw = None if dws is None else dws.sum(axis=0)
    db = g.sum(axis=0) if need_b else None
    return dx, dw, db
