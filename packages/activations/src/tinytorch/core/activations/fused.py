"""The exact GELU as one op, for the GELU layers — not lesson material.

The lesson's :func:`~tinytorch.core.activations.functional.gelu` is the maths, ``x · ½(1 +
erf(x/√2))``: four Tensor ops around the tensor module's ``erf``, which evaluates its rational
approximation in float64 for accuracy. That is the right thing to read, and slow on a CNN's
feature maps: airbench's network runs GELU on about 80 thousand values per image, and at a
batch of 1024 the composite took about a third of a training step (the float64 temporaries,
five graph nodes, and the erf derivative's own ``exp`` in the backward pass).

:func:`gelu` computes the same function in one pass over cache-sized blocks, in the input's
own precision, split over the runtime's threads, and records one op, :data:`GELU_FUSED`. Its
derivative, ``Φ(x) + x·φ(x)``, is registered here next to it. Both use the upper tail of the
normal distribution, ``Q(|x|) = ½·poly(t)·exp(-x²/2)`` with ``t = 1/(1 + p|x|/√2)`` (the same
Abramowitz & Stegun 7.1.26 formula as Tensor's ``erf``, absolute error below 1.5e-7 in erf),
so ``Φ(x) = ½ + sign(x)·(½ - Q)`` and ``φ(x) = exp(-x²/2)/√(2π)`` share their one ``exp``.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.graph import register_derivative, register_graph_derivative
from tinytorch.core.tensor.runtime import WORKSPACE, get_num_threads, on_pool_thread, parallel_for
from tinytorch.core.tensor.tensor import make_result

__all__ = ["gelu", "GELU_FUSED"]

GELU_FUSED = "gelu.fused"  # the op a GELU layer records (the lesson's gelu records five ops)
_BLOCK = 1 << 16  # elements per block: big enough that numpy's per-call cost (~1 µs) is small,
# small enough that the block and its three temporaries stay in cache (measured on airbench's
# maps, one thread: 16K elements 8.5 ns each, 64K 5.5 ns, 512K 6.1 ns)
_SPLIT = 1 << 18  # below this many elements one thread is faster than handing work over
_P = 0.3275911 / math.sqrt(2.0)  # A&S's p, with erf's argument x/√2 folded in
# A&S's a1..a5, halved: the polynomial then gives Q(|x|) = ½·(1 - erf(|x|/√2)) directly
_A = tuple(0.5 * a for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _tail(x: np.ndarray, t: np.ndarray, q: np.ndarray, e: np.ndarray) -> None:
    """Write Q(|x|) into ``q`` and exp(-x²/2) into ``e``; ``t`` is scratch (all shaped like x)."""
    np.abs(x, out=t)
    t *= _P
    t += 1.0
    np.reciprocal(t, out=t)  # t = 1/(1 + p|x|/√2)
    a1, a2, a3, a4, a5 = _A
    np.multiply(t, a5, out=q)
    for a in (a4, a3, a2, a1):  # Horner: ((((a5 t + a4) t + a3) t + a2) t + a1) t
        q += a
        q *= t
    np.multiply(x, -0.5, out=e)
    e *= x
    np.exp(e, out=e)
    q *= e


def _phi(x: np.ndarray, out: np.ndarray, q: np.ndarray) -> None:
    """Φ(x) = ½ + sign(x)·(½ - Q) into ``out``, from ``q`` = Q(|x|)."""
    np.subtract(0.5, q, out=out)
    np.copysign(out, x, out=out)  # ½ - Q ≥ 0, so this multiplies by sign(x) (at ±0: ±(½ - ½))
    out += 0.5


def _forward_block(x: np.ndarray, out: np.ndarray) -> None:
    q, e = np.empty_like(x), np.empty_like(x)
    _tail(x, out, q, e)  # out is free until Φ is written into it
    _phi(x, out, q)
    out *= x


def _backward_block(x: np.ndarray, g: np.ndarray, out: np.ndarray) -> None:
    q, e = np.empty_like(x), np.empty_like(x)
    _tail(x, out, q, e)
    _phi(x, out, q)  # Φ(x)
    e *= x
    e *= _INV_SQRT_2PI  # x·φ(x)
    out += e
    out *= g


def _flat(a: np.ndarray) -> np.ndarray | None:
    """A 1-d view of ``a`` in its memory order, or None if ``a`` is not dense in some order."""
    if a.flags.c_contiguous:
        return a.reshape(-1)
    order = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
    t = a.transpose(order)
    return t.reshape(-1) if t.flags.c_contiguous else None


def _blocks(fn, *arrays: np.ndarray) -> None:
    """Run ``fn(*blocks)`` over matching cache-sized blocks of 1-d arrays, on the runtime's threads."""
    n = arrays[0].size

    def span(i0: int, i1: int) -> None:
        for s in range(i0, i1, _BLOCK):
            e = min(s + _BLOCK, i1)
            fn(*(a[s:e] for a in arrays))

    if n < _SPLIT or get_num_threads() == 1 or on_pool_thread():
        span(0, n)
    else:
        parallel_for(n, span)


def _elementwise(fn, inputs: tuple, like: np.ndarray, tag: str) -> np.ndarray:
    """``fn`` over blocks of ``inputs`` (laid out like ``like``) into a buffer laid out like it."""
    out = WORKSPACE.like(tag, like)
    maybe = [_flat(a) for a in (*inputs, out)]
    flats = [f for f in maybe if f is not None]
    if len(flats) < len(maybe) or any(a.strides != like.strides for a in inputs):
        arrays = [np.ascontiguousarray(a) for a in inputs]  # mixed layouts: one copy each
        res = np.empty_like(arrays[0])
        _blocks(fn, *(a.reshape(-1) for a in arrays), res.reshape(-1))
        out[...] = res
        return out
    _blocks(fn, *flats)
    return out


def gelu(x: Tensor) -> Tensor:
    """``x · Φ(x)`` (exact GELU, ``nn.GELU()``) as one op, :data:`GELU_FUSED`.

    Float16/32/64 inputs keep their dtype (float16 is computed in float32); integer inputs
    become float32. The result is laid out in memory like ``x`` (channels-last stays
    channels-last).

    Shape:
        any -> the same
    """
    data = x.data
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    if data.dtype == np.float16:
        return make_result(gelu(Tensor(data.astype(np.float32))).data.astype(np.float16),
                           GELU_FUSED, (x,))
    out = _elementwise(_forward_block, (data,), data, "gelu.out")
    return make_result(out, GELU_FUSED, (x,))


@register_derivative(GELU_FUSED)
def gelu_backward(g: np.ndarray, node) -> tuple:
    """d x·Φ(x) = Φ(x) + x·φ(x), recomputed from the input (nothing extra saved)."""
    a = node.inputs[0].data
    if a.dtype.kind != "f" or a.dtype == np.float16:
        a = a.astype(np.float32)
    g = g.astype(a.dtype, copy=False)
    grad = _elementwise(_backward_block, (a, g), a, "gelu.grad")
    return (grad,)


@register_graph_derivative(GELU_FUSED)
def gelu_graph_derivative(g, node) -> tuple:
    """The same derivative written with Tensor ops, for ``create_graph=True`` (a gradient that
    is differentiated again): ``g · (½(1 + erf(x/√2)) + x·e^(-x²/2)/√(2π))``."""
    x = node.inputs[0]
    cdf = ((x * _SQRT_HALF).erf() + 1) * 0.5
    pdf = (x * x * -0.5).exp() * _INV_SQRT_2PI
    return (g * (cdf + x * pdf),)
