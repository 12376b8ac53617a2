"""Reusable scratch buffers: big arrays handed out again instead of allocated afresh.

A fresh 38 MB numpy array costs about 6 ms of page faults before a single number is written
into it (see PERFORMANCE.md), and a training step of a small CNN makes a dozen of them — the
im2col matrix, a ReLU's output and its gradient, pooling masks... Returning the memory to the
operating system and faulting it in again every step is pure overhead. So the ops that make
big arrays on every step ask this pool for them and get back an array from an earlier step
when one of the right shape is free: ReLU here in module 02 (its output) and in module 09 (its
gradient), the fused kernels of module 06 (their padded inputs, patch matrices, outputs and
gradient accumulators).

"Free" is decided by reference counting, so a buffer can never be handed out while something
still reads it: an array is reused only when the pool holds the last reference to it. A graph
node that saved the im2col matrix for its backward pass, an output tensor the user kept, a
gradient the autograd engine is still holding, a view of any of them — each keeps its buffer
busy, and the pool simply makes another one. So an op may return a pooled array as its result:
whoever receives it owns it for as long as they hold it. At most ``max_per_key`` buffers are
kept per (tag, shape, dtype); beyond that, arrays are allocated normally and forgotten.

``clear_workspace()`` drops every cached buffer (e.g. after evaluating with a huge batch).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

__all__ = ["Workspace", "WORKSPACE", "clear_workspace"]


def _refcount_baseline() -> int:
    """References to a pooled buffer that is free, counted exactly the way :meth:`get` counts."""
    pool = [np.empty(1)]
    for buf in pool:
        return sys.getrefcount(buf)
    return 0  # pragma: no cover


class Workspace:
    """A pool of scratch arrays keyed by (tag, shape, dtype, initial fill).

    Args:
        max_per_key: how many buffers of one kind are kept at most.
        min_bytes: smaller arrays are not worth pooling; they are allocated normally.
    """

    def __init__(self, max_per_key: int = 4, min_bytes: int = 1 << 18) -> None:
        self.max_per_key = int(max_per_key)
        self.min_bytes = int(min_bytes)
        self._pool: dict = {}
        self._lock = threading.Lock()
        self._baseline = _refcount_baseline() if hasattr(sys, "getrefcount") else None

    def get(self, tag: str, shape: tuple, dtype: Any, fill: float | None = None) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that nobody else references.

        Its contents are whatever the last user left, except that a buffer made with ``fill``
        starts out filled with that value — callers that only ever write the same region of a
        ``tag`` (e.g. the inside of a zero-padded image) can rely on the rest staying ``fill``.
        """
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if self._baseline is None or nbytes < self.min_bytes:
            return self._new(shape, dtype, fill)
        key = (tag, shape, dtype.str, fill)
        with self._lock:
            pool = self._pool.setdefault(key, [])
            for buf in pool:
                if sys.getrefcount(buf) <= self._baseline:
                    return buf
            buf = self._new(shape, dtype, fill)
            if len(pool) < self.max_per_key:
                pool.append(buf)
            return buf

    def like(self, tag: str, a: np.ndarray, dtype: Any = None) -> np.ndarray:
        """An array shaped like ``a`` *and laid out like it in memory* (uninitialised).

        An elementwise op that writes its result with ``out=`` into such a buffer keeps its
        input's layout — a channels-last (N, C, H, W) view stays channels-last — just as
        numpy's own ``np.maximum(a, 0)`` would. ``a`` must be dense in some axis order (any
        transpose of a contiguous array); otherwise, and for small arrays, this is a plain
        ``np.empty_like``.
        """
        dtype = a.dtype if dtype is None else np.dtype(dtype)
        if a.flags.c_contiguous:
            return self.get(tag, a.shape, dtype)
        # the axes from the largest stride to the smallest: the order the memory runs in
        order = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
        if not a.transpose(order).flags.c_contiguous:
            return np.empty_like(a, dtype=dtype)
        buf = self.get(tag, tuple(a.shape[i] for i in order), dtype)
        return buf.transpose(np.argsort(order))

    @staticmethod
    def _new(shape: tuple, dtype: np.dtype, fill: float | None) -> np.ndarray:
        if fill is None:
            return np.empty(shape, dtype=dtype)
        return np.full(shape, fill, dtype=dtype)

    def clear(self) -> None:
        """Forget every cached buffer (arrays still in use stay valid)."""
        with self._lock:
            self._pool.clear()

    def nbytes(self) -> int:
        """Bytes held by the pool."""
        with self._lock:
            return sum(b.nbytes for pool in self._pool.values() for b in pool)


WORKSPACE = Workspace()


def clear_workspace() -> None:
    """Release the scratch buffers the fused kernels keep between calls."""
    WORKSPACE.clear()
