"""Fast versions of the tensor module's ops, for the layers that run them on every step — not lesson material.

The lesson's ``Tensor.relu`` is the maths, ``np.maximum(x, 0)``, into a fresh array, and module
09 teaches its derivative the same way. A CNN runs ReLU on every conv output of every training
step, megabytes each time, and a fresh array that size costs more in page faults than the
arithmetic; so the ReLU *layers* (``tinytorch.core.activations.relu``, which every ``ReLU()``
calls) run :func:`relu` below instead: the same numbers and memory layout, written into a
scratch buffer from the runtime's pool (:data:`~tinytorch.core.tensor.runtime.WORKSPACE`, which
explains when a buffer is free). It records its own op, :data:`RELU_FUSED`, whose derivative —
registered here, next to the forward, as any fused op does — reuses a buffer the same way.

:func:`linear` is the dense layer's ``x @ weight.T + bias`` as one op, :data:`LINEAR_FUSED`:
one graph node instead of three (transpose, matmul, add), which is most of what a small layer
costs, and a weight gradient computed as ``gᵀ @ x`` — already in the weight's own row-major
layout, so the optimizer's update never mixes memory orders (``(x.T @ g).T``, what the
composite path's transpose hands back, is column-major: an SGD update of a 784×128 weight ran
7× slower on it). The layers package chooses it (``tinytorch.core.layers.fused``).

:func:`match_layout` is the other speed helper the lessons call: a gradient copied into its
input's memory order, so the elementwise derivatives before it run on matching layouts.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .graph import register_derivative
from .opnames import LINEAR_FUSED, RELU_FUSED  # defined with every op name; re-exported here
from .runtime import CHUNKS_PER_THREAD, WORKSPACE, get_num_threads, on_pool_thread, parallel_for
from .tensor import Tensor, make_result

__all__ = ["relu", "RELU_FUSED", "linear", "LINEAR_FUSED", "match_layout", "split_rows"]

_SPLIT_WORK = 2_000_000  # below this much work (multiply-adds, elements) one thread is faster
# A GEMM does a multiply-add in a few hundredths of a nanosecond, while handing work to the
# pool's other thread and waiting for it costs ~0.1 ms on the course machine (thread wake-up
# latency: a bare two-task run_in_threads takes ~125 µs there). Measured on that machine, a
# (m×k)@(k×n) split over 2 threads against one: 12.8M multiply-adds 0.67–0.78× (slower),
# 25.7M 0.92×, 33.6M 1.32×, 67M 1.74× — so Dense splits its products from ~30M up.
_SPLIT_GEMM = 30_000_000


def relu(x: Tensor) -> Tensor:
    """``x.relu()`` — max(x, 0) — with the result in a reused buffer; op :data:`RELU_FUSED`.

    Same dtype as ``x`` (ints stay ints), laid out like it in memory (channels-last stays
    channels-last, as ``np.maximum`` alone would keep it), and +0.0 for every non-positive
    input, -0.0 included.
    """
    data = x.data
    if data.nbytes < WORKSPACE.min_bytes:  # not pooled anyway: skip the pool's lookup
        return make_result(np.maximum(data, data.dtype.type(0)), RELU_FUSED, (x,))
    out = WORKSPACE.like("relu.out", data)
    # 0 in the tensor's own dtype: numpy 1.x promotes a 0-d float32 with a Python 0 to float64
    np.maximum(data, data.dtype.type(0), out=out)
    return make_result(out, RELU_FUSED, (x,))


@register_derivative(RELU_FUSED)
def relu_backward(g: np.ndarray, node) -> tuple:
    """d max(a, 0) = 1 where a > 0, else 0 — into a reused buffer laid out like ``a``.

    The buffer is handed out only when nothing references it, so the engine owns the gradient
    returned in it; its dtype is what ``g * mask`` would give.
    """
    a = node.inputs[0].data
    if a.nbytes < WORKSPACE.min_bytes:  # not pooled anyway: skip the pool's lookup
        return (np.multiply(g, a > 0),)
    out = WORKSPACE.like("relu.grad", a, np.result_type(g.dtype, np.bool_))
    return (np.multiply(g, a > 0, out=out),)


def _buffer(tag: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """An uninitialised array: from the runtime's pool when it is big enough to be pooled."""
    if math.prod(shape) * dtype.itemsize < WORKSPACE.min_bytes:
        return np.empty(shape, dtype)  # small: skip the pool's lookup
    return WORKSPACE.get(tag, shape, dtype)


def split_rows(m: int, work: int, fn: Callable[[int, int], Any], min_rows: int = 64) -> None:
    """Run ``fn(r0, r1)`` over row blocks of ``range(m)`` on the runtime's threads.

    With one thread (``set_num_threads(1)``), or when there is little to do (fewer than
    ``min_rows`` rows per thread, or ``work`` — about one unit per multiply-add or element —
    under two million), this is one call ``fn(0, m)``: splitting costs a few tens of
    microseconds; also on one of the runtime's own pool threads (a nested split). Otherwise a
    few blocks per thread (at least ``min_rows`` rows each), handed
    out by the runtime's ``parallel_for`` as threads come free (numpy's BLAS runs one thread
    meanwhile: the blocks are the parallelism). ``fn`` writes its rows of a shared output;
    blocks never overlap.
    """
    threads = get_num_threads()
    if on_pool_thread():
        threads = 1  # already on one of the runtime's threads (map_batch, say): waiting there
        # for blocks queued behind the other busy pool threads could deadlock
    # a few blocks per thread (the runtime's CHUNKS_PER_THREAD): a thread whose core another
    # process holds takes fewer of them instead of making the others wait for its half
    parts = min(threads * CHUNKS_PER_THREAD, m // min_rows)
    if threads == 1 or parts <= 1 or work < _SPLIT_WORK:
        fn(0, m)
        return
    edges = [m * i // parts for i in range(parts + 1)]

    def blocks(i0: int, i1: int) -> None:
        for i in range(i0, i1):
            fn(edges[i], edges[i + 1])

    parallel_for(parts, blocks)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one op, :data:`LINEAR_FUSED` — the dense layer's fast path.

    The same maths as the composite ``x @ weight.T + bias`` (the matrix product, then the
    addition), recorded as one node; with several runtime threads the rows of ``x`` are split
    across them (:func:`split_rows`).

    Args:
        x: (N, in_features), in the weight's dtype.
        weight: (out_features, in_features).
        bias: (out_features,) in the weight's dtype, or None.

    Shape:
        (N, in) -> (N, out)
    """
    a, w = x.data, weight.data
    b = None if bias is None else bias.data
    inputs = (x, weight) if bias is None else (x, weight, bias)
    # the output from the runtime's pool (a fresh big array costs more in page faults than
    # the product; small ones are plain allocations): handed out only when nothing refers to it
    y = _buffer("linear.out", (a.shape[0], w.shape[0]), np.result_type(a, w))
    if a.shape[0] * w.size < _SPLIT_GEMM or get_num_threads() == 1:
        np.matmul(a, w.T, out=y)  # one thread, or too small to split: no closures
        if b is not None:
            y += b
        return make_result(y, LINEAR_FUSED, inputs)

    def rows(r0: int, r1: int) -> None:
        np.matmul(a[r0:r1], w.T, out=y[r0:r1])
        if b is not None:
            y[r0:r1] += b  # while the block is in cache

    split_rows(a.shape[0], a.shape[0] * w.size, rows)
    return make_result(y, LINEAR_FUSED, inputs)


@register_derivative(LINEAR_FUSED)
def linear_backward(g: np.ndarray, node) -> tuple:
    """d(x Wᵀ + b) = (g W, gᵀ x, Σ_rows g) — the weight's share computed as gᵀ @ x.

    ``gᵀ @ x`` is (out, in) and row-major like the weight itself (``x.T @ g`` would be its
    transpose, column-major once transposed back); only the gradients some input needs are
    computed. With several runtime threads, ``g W`` is split over the rows of ``g`` and
    ``gᵀ x`` over the rows of the weight (output units), so no thread sums into another's.
    """
    x, w = node.inputs[0], node.inputs[1]
    a, wd = x.data, w.data
    n, work = g.shape[0], g.shape[0] * wd.size
    gx = gw = None
    if x.requires_grad:
        gx = _buffer("linear.gx", a.shape, np.result_type(g, wd))
    if w.requires_grad:
        gw = _buffer("linear.gw", wd.shape, np.result_type(g, a))
    if work < _SPLIT_GEMM or get_num_threads() == 1:
        if gx is not None:
            np.matmul(g, wd, out=gx)
        if gw is not None:
            np.matmul(g.T, a, out=gw)
    else:
        if gx is not None:
            split_rows(n, work, lambda r0, r1: np.matmul(g[r0:r1], wd, out=gx[r0:r1]))
        if gw is not None:
            split_rows(wd.shape[0], work,
                   lambda r0, r1: np.matmul(g[:, r0:r1].T, a, out=gw[r0:r1]), min_rows=32)
    if len(node.inputs) == 2:
        return gx, gw
    b = node.inputs[2]
    return gx, gw, (g.sum(axis=0) if b.requires_grad else None)


def match_layout(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g``, or a copy of it in ``x``'s memory order when ``x`` is a transposed array.

    Flattening a conv's channels-last output copies it into (N, C·H·W) order; the gradient
    coming back is reshaped in that order, so it would reach the layers before — a ReLU, a
    pool, the conv — transposed relative to their own arrays. numpy's elementwise ops on
    operands of different memory orders are several times slower than on matching ones (8×
    for a ReLU's derivative on the small CNN's 2 MB gradient), while one transposing copy
    costs about as much as a matching op. So make the copy once, into a reused buffer.
    """
    if x.flags.c_contiguous or x.ndim < 2:
        return g
    order = sorted(range(x.ndim), key=lambda i: -abs(x.strides[i]))
    if not x.transpose(order).flags.c_contiguous or g.transpose(order).flags.c_contiguous:
        return g  # x is not a plain transposed array, or g already runs in its order
    out = WORKSPACE.like("reshape.grad", x, g.dtype)
    np.copyto(out, g)
    return out
