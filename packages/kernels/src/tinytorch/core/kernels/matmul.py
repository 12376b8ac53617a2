"""Matrix multiplication three ways: Python loops, cache blocks of ``np.dot``, and BLAS.

``C = A @ B`` with A (m, k) and B (k, n) is 2·m·k·n floating-point operations (a multiply and
an add per term), so its speed is best quoted in FLOP/s: the same unit for every size, and one
that can be compared with what the CPU can do at all (a 2-core AVX2/FMA machine peaks at a few
hundred GFLOP/s in float32).

* :func:`matmul_loops` is the definition, three nested Python loops. Every multiply-add goes
  through the interpreter: fetch two Python floats, multiply, add, loop — tens of nanoseconds
  for what the hardware does in a fraction of one. Tiny sizes only.
* :func:`matmul_blocked` cuts the matrices into tiles and multiplies tile by tile with
  ``np.dot``, accumulating into the output tile. That is *cache blocking*: a tile of A, a tile
  of B and a tile of C fit in cache together, so each number loaded from memory is used
  ``block`` times before it is evicted instead of once. Here each tile product is itself a BLAS
  call, so the lesson is what the tile size costs: small tiles drown in Python overhead (one
  call per tile, ~µs each), large tiles are just BLAS again.
* ``np.matmul`` hands the whole product to BLAS (OpenBLAS in numpy's wheels), which does the
  blocking at every level at once — registers, L1, L2, L3 — packs the tiles into contiguous
  buffers in the order its inner kernel reads them, runs a hand-written assembly micro-kernel
  that keeps a block of C in vector registers and issues AVX2 fused multiply-adds (8 float32
  lanes × 2 FMA units per cycle), and splits the work over the cores. No Python-level
  blocking can beat it; the point of writing one is to see why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import as_array

__all__ = ["matmul_loops", "matmul_blocked", "matmul_flops", "gflops"]


def matmul_flops(m: int, k: int, n: int) -> int:
    """Floating-point operations of an (m, k) @ (k, n) product: one multiply and one add per term."""
    return 2 * int(m) * int(k) * int(n)


def gflops(flops: float, seconds: float) -> float:
    """Billions of floating-point operations per second."""
    return flops / seconds / 1e9 if seconds > 0 else float("inf")


def _operands(a: Any, b: Any, label: str) -> tuple:
    a, b = as_array(a), as_array(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{label}: expected two 2-D matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{label}: inner dimensions differ: {a.shape} @ {b.shape}")
    return a, b, np.result_type(a, b)


def matmul_loops(a: Any, b: Any) -> np.ndarray:
    """(m, k) @ (k, n) by three nested Python loops — the definition, for tiny sizes only.

    ``out[i, j] = Σ_p a[i, p] · b[p, j]``. The operands are first turned into Python lists, so
    what is timed is the interpreter doing arithmetic, not numpy's per-element indexing.

    Args:
        a: the (m, k) left operand.
        b: the (k, n) right operand.

    Returns:
        The (m, n) product, in the operands' common dtype.
    """
    a, b, dtype = _operands(a, b, "matmul_loops")
    m, k = a.shape
    n = b.shape[1]
    rows, cols = a.tolist(), b.tolist()
    out = [[0.0] * n for _ in range(m)]
    ### BEGIN SOLUTION
    ### HINT: for i in rows of a, for j in columns of b: sum a[i][p] * b[p][j] over p
    for i in range(m):
        row = rows[i]
        for j in range(n):
            total = 0.0
            for p in range(k):
                total += row[p] * cols[p][j]
            out[i][j] = total
    ### END SOLUTION
    return np.array(out, dtype=dtype).reshape(m, n)


def matmul_blocked(a: Any, b: Any, block: int = 64, out: np.ndarray | None = None) -> np.ndarray:
    """(m, k) @ (k, n) one (block × block) tile at a time, each tile product by ``np.dot``.

    For every output tile C[i:i+bs, j:j+bs], loop over the shared dimension in steps of bs and
    add A[i:i+bs, p:p+bs] @ B[p:p+bs, j:j+bs]. The output tile stays in cache while it
    accumulates. Edges are handled by slicing (the last tile may be smaller).

    Args:
        a: the (m, k) left operand.
        b: the (k, n) right operand.
        block: the tile side, in elements.
        out: an (m, n) array to write into (it is zeroed first), or None for a new one.

    Returns:
        The (m, n) product (``out`` when given).
    """
    a, b, dtype = _operands(a, b, "matmul_blocked")
    if not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"matmul_blocked: block must be a positive int, got {block!r}")
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = np.zeros((m, n), dtype=dtype)
    else:
        if out.shape != (m, n):
            raise ValueError(f"matmul_blocked: out has shape {out.shape}, expected {(m, n)}")
        out.fill(0)
    bs = int(block)
    ### BEGIN SOLUTION
    ### HINT: three loops over tile corners (i, j, p) in steps of bs; out tile += a tile @ b tile
    for i in range(0, m, bs):
        for j in range(0, n, bs):
            tile = out[i:i + bs, j:j + bs]
            for p in range(0, k, bs):
                tile += np.dot(a[i:i + bs, p:p + bs], b[p:p + bs, j:j + bs])
    ### END SOLUTION
    return out
