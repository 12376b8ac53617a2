"""Fused elementwise ops: bias + ReLU and GELU (tanh approximation), without the temporaries.

An elementwise op does almost no arithmetic per byte: ``x + b`` reads 4 bytes, adds, writes 4
bytes. Its speed is the speed of memory, so the question is *how many times the data crosses
the memory bus*. A chain of numpy expressions answers: many times.

``np.maximum(x + b, 0)`` — the obvious bias + ReLU — makes a fresh array for ``x + b`` (read
x, write tmp), then another for the maximum (read tmp, write out): two full passes, two
allocations. A fresh array is not free either: the operating system hands out its pages on
first touch, a page fault per 4 KiB (the kernels suite, `tito kernels`, measures what that costs).

The GELU of GPT-2 and BERT (tanh approximation),

    gelu(x) = x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))

written as one numpy expression makes about eight temporaries, each a full pass of reads and
writes. Three tricks, no numexpr needed:

1. **Write into one buffer** with ``out=`` and in-place operators: the same passes, no
   allocations, no page faults — and with a caller-supplied ``out``, no new memory at all.
2. **Do less work per pass**: fold the constants (√(2/π)·(x + c·x³) = x·(a + b·x²) with a, b
   computed once), never use ``x**3`` (numpy's general ``power`` is far slower than two
   multiplies), and use Python float constants (a ``np.float64`` scalar would silently
   promote a float32 array to float64, doubling the traffic).
3. **Chunk** (:func:`gelu_tanh_chunked`): run the whole chain on one cache-sized piece at a
   time. The eight passes then read and write the L2 cache instead of main memory; only the
   first read of x and the last write of out go to DRAM. That is loop fusion by tiling — what
   a compiler (or PyTorch's fused kernels) does with one pass and registers.

Every function takes float32 or float64 and computes in the input's dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .arrays import as_array

__all__ = ["bias_relu_unfused", "bias_relu_fused", "bias_relu_chunked", "gelu_tanh_unfused",
           "gelu_tanh_fused", "gelu_tanh_chunked", "gelu_tanh_grad", "GELU_C", "GELU_CUBIC",
           "DEFAULT_CHUNK_BYTES"]

GELU_C = math.sqrt(2.0 / math.pi)  # √(2/π), a Python float: weak, keeps float32 float32
GELU_CUBIC = 0.044715
DEFAULT_CHUNK_BYTES = 1 << 17  # 128 KiB of input per chunk: in + out fit a typical L2


def _output(x: np.ndarray, out: np.ndarray | None, label: str) -> np.ndarray:
    """A C-contiguous output like ``x`` that shares no memory with it."""
    if out is None:
        return np.empty(x.shape, dtype=x.dtype)
    if out.shape != x.shape or out.dtype != x.dtype or not out.flags.c_contiguous:
        raise ValueError(f"{label}: out must be a C-contiguous {x.dtype} array of shape {x.shape}, "
                         f"got {out.dtype} of shape {out.shape} "
                         f"(C-contiguous: {out.flags.c_contiguous})")
    if np.may_share_memory(out, x):
        raise ValueError(f"{label}: out must not overlap the input (x is read after out is written)")
    return out


def _rows(x: np.ndarray, chunk_bytes: int) -> int:
    """Leading-axis rows per chunk so that one chunk of x holds about ``chunk_bytes``."""
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes!r}")
    row_bytes = max(1, x[:1].nbytes) if x.ndim else x.itemsize
    return max(1, int(chunk_bytes) // row_bytes)


# --------------------------------------------------------------------------- bias + ReLU
def bias_relu_unfused(x: Any, b: Any) -> np.ndarray:
    """relu(x + b) the obvious way: ``np.maximum(x + b, 0)`` (two passes, two new arrays).

    Args:
        x: activations, e.g. a GEMM's (rows, C_out) output.
        b: the bias, broadcast against x (e.g. shape (C_out,)).
    """
    x, b = as_array(x), as_array(b)
    return np.maximum(x + b.astype(x.dtype, copy=False), 0)


def bias_relu_fused(x: Any, b: Any, out: np.ndarray | None = None) -> np.ndarray:
    """relu(x + b) written into one buffer: add into ``out``, then clamp ``out`` in place.

    Args:
        x: activations.
        b: the bias, broadcast against x.
        out: a C-contiguous array like x to write into (not overlapping x), or None.

    Returns:
        ``out`` (a new array when None was given).
    """
    x, b = as_array(x), as_array(b)
    out = _output(x, out, "bias_relu_fused")
    ### BEGIN SOLUTION
    ### HINT: np.add(..., out=out), then np.maximum(out, 0, out=out)
    np.add(x, b.astype(x.dtype, copy=False), out=out)
    np.maximum(out, 0, out=out)
    ### END SOLUTION
    return out


def bias_relu_chunked(x: Any, b: Any, out: np.ndarray | None = None,
                      chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """:func:`bias_relu_fused` over cache-sized blocks of rows (leading axis) of x.

    ``b`` must broadcast against every block, i.e. not vary along x's leading axis (a
    per-channel bias of a (rows, C) or channels-last (N, H, W, C) activation does not).
    """
    x, b = as_array(x), as_array(b)
    out = _output(x, out, "bias_relu_chunked")
    if b.ndim >= x.ndim and x.ndim and b.shape[b.ndim - x.ndim] != 1:
        raise ValueError(f"bias_relu_chunked: the bias (shape {b.shape}) varies along the "
                         f"leading axis of x (shape {x.shape}); use bias_relu_fused")
    if x.ndim == 0:
        return bias_relu_fused(x, b, out)
    rows = _rows(x, chunk_bytes)
    for r in range(0, x.shape[0], rows):
        bias_relu_fused(x[r:r + rows], b, out[r:r + rows])
    return out


# --------------------------------------------------------------------------- GELU (tanh)
def gelu_tanh_unfused(x: Any, cube: bool = False) -> np.ndarray:
    """GELU, tanh approximation, as one numpy expression (one temporary per operator).

    Args:
        x: input array.
        cube: write x³ as ``x**3`` (numpy's general power: much slower) instead of ``x*x*x``.
    """
    x = as_array(x)
    x3 = x**3 if cube else x * x * x
    return 0.5 * x * (1.0 + np.tanh(GELU_C * (x + GELU_CUBIC * x3)))


def gelu_tanh_fused(x: Any, out: np.ndarray | None = None) -> np.ndarray:
    """GELU, tanh approximation, in one output buffer and no temporaries.

    ``√(2/π)·(x + c·x³) = x·(a + b·x²)`` with a = √(2/π), b = a·c; then
    ``gelu = x · (0.5·tanh(·) + 0.5)``. Eight in-place passes over ``out``.

    Args:
        x: input array.
        out: a C-contiguous array like x to write into (not overlapping x), or None.

    Returns:
        ``out`` (a new array when None was given).
    """
    x = as_array(x)
    out = _output(x, out, "gelu_tanh_fused")
    ### BEGIN SOLUTION
    ### HINT: out = x*x; out *= b; out += a; out *= x; tanh in place; out *= 0.5; out += 0.5; out *= x
    np.multiply(x, x, out=out)
    out *= GELU_C * GELU_CUBIC
    out += GELU_C
    out *= x
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    out *= x
    ### END SOLUTION
    return out


def gelu_tanh_chunked(x: Any, out: np.ndarray | None = None,
                      chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """:func:`gelu_tanh_fused` one cache-sized chunk at a time, so its eight passes hit cache.

    Args:
        x: input array (any shape; a non-contiguous x is read through a contiguous copy).
        out: a C-contiguous array like x to write into (not overlapping x), or None.
        chunk_bytes: bytes of x per chunk.

    Returns:
        ``out`` (a new array when None was given).
    """
    x = as_array(x)
    out = _output(x, out, "gelu_tanh_chunked")
    if chunk_bytes < 1:
        raise ValueError(f"gelu_tanh_chunked: chunk_bytes must be positive, got {chunk_bytes!r}")
    flat_x, flat_out = np.ascontiguousarray(x).reshape(-1), out.reshape(-1)
    step = max(1, int(chunk_bytes) // x.itemsize)
    ### BEGIN SOLUTION
    ### HINT: walk the flat arrays in slices of `step` elements; fuse each slice into its out slice
    for start in range(0, flat_x.size, step):
        gelu_tanh_fused(flat_x[start:start + step], flat_out[start:start + step])
    ### END SOLUTION
    return out


def gelu_tanh_grad(x: Any) -> np.ndarray:
    """d gelu / dx of the tanh approximation, with t = tanh(√(2/π)·(x + c·x³)):

        0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3c·x²)
    """
    x = as_array(x)
    x2 = x * x
    t = np.tanh(x * (GELU_C + GELU_C * GELU_CUBIC * x2))
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_CUBIC * x2)
