"""The framework's runtime: the one thread pool and the one scratch-buffer pool.

**Not lesson material.** Nothing in here is an exercise; it is the machinery the fast paths
share, kept out of the lesson files so that a student reads the maths (``np.maximum(x, 0)``,
a convolution's loops, ...) without meeting the speed tricks. It lives in module 02 because
that is the earliest module that needs it (ReLU's output buffer); the fused kernels of
module 06, the kernels lab of module 13, compression, benchmarking, mlops and the capstone all
use these same objects: there is exactly one thread pool (:func:`executor`) and one buffer
pool (:data:`WORKSPACE`) in the code base.

Threads
=======
Data parallelism for the fused kernels: split the batch across Python threads.

numpy releases the GIL inside its loops and inside BLAS, so two Python threads that each
convolve half of the batch really do run at the same time. For the narrow GEMMs of a small
CNN that is faster than one thread calling a multi-threaded BLAS (PERFORMANCE.md measured
+27% training throughput) — provided BLAS itself runs single-threaded meanwhile, or the
threads fight over the cores (and many small multi-threaded BLAS calls collapse outright when
the machine is busy). So while a fused kernel runs its parts in parallel, numpy's bundled
OpenBLAS is switched to one thread, and switched back afterwards (a microsecond each way);
everything else — a Dense layer's GEMM, say — keeps BLAS's own threads.

The number of threads defaults to the CPUs this process may use, at most 4 (or to the
``TINYTORCH_NUM_THREADS`` environment variable):

    set_num_threads(1)          # one thread: the kernels run on the calling thread only
    with threads(2): ...        # two, inside the block
    set_blas_threads(1)         # numpy's OpenBLAS single-threaded everywhere

``set_blas_threads`` is best effort: it finds the OpenBLAS that numpy's wheels bundle and calls
its ``set_num_threads``; with any other BLAS it changes nothing and returns False (set
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` before starting Python
instead).

Tasks of any kind run on the same pool with :func:`run_in_threads` (module 13's
``map_batch`` does). The pool grows when more workers are asked for and is started afresh in
a forked child.

Scratch buffers
===============
Reusable scratch buffers: big arrays handed out again instead of allocated afresh.

A fresh 38 MB numpy array costs about 6 ms of page faults before a single number is written
into it (see PERFORMANCE.md), and a training step of a small CNN makes a dozen of them — the
im2col matrix, a ReLU's output and its gradient, pooling masks... Returning the memory to the
operating system and faulting it in again every step is pure overhead. So the ops that make
big arrays on every step ask this pool for them and get back an array from an earlier step
when one of the right shape is free: ReLU's fast form here in module 02 (``fused.relu``,
its output) and its derivative in module 09 (its gradient), the fused kernels of module 06
(their padded inputs, patch matrices, outputs and gradient accumulators).

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

import ctypes
import glob
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = [
    # threads
    "executor", "run_in_threads", "parallel_for", "set_num_threads", "get_num_threads",
    "threads", "set_blas_threads", "get_blas_threads",
    # scratch buffers
    "Workspace", "WORKSPACE", "clear_workspace",
]


# ============================================================================ threads
def _default_threads() -> int:
    env = os.environ.get("TINYTORCH_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


_STATE: dict = {"threads": _default_threads(), "pool": None, "pool_size": 0}
_LOCK = threading.Lock()


def set_num_threads(n: int) -> int:
    """Split each fused kernel's batch across ``n`` threads; returns the previous number."""
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    previous = _STATE["threads"]
    _STATE["threads"] = int(n)
    return previous


def get_num_threads() -> int:
    """How many threads the fused kernels split a batch across."""
    return _STATE["threads"]


def executor(workers: int) -> ThreadPoolExecutor:
    """The framework's one thread pool, with at least ``workers`` threads.

    Every part of TinyTorch that runs work on other threads (the fused kernels through
    :func:`parallel_for`, module 13's ``map_batch`` through :func:`run_in_threads`) submits to
    this executor. It is replaced by a bigger one when more workers are asked for (the old one
    finishes what it was given), and started afresh in a forked child, which inherits the
    object but none of its threads.
    """
    with _LOCK:
        if _STATE.get("pid") != os.getpid():
            _STATE["pool"], _STATE["pool_size"], _STATE["pid"] = None, 0, os.getpid()
        if _STATE["pool"] is None or _STATE["pool_size"] < workers:
            if _STATE["pool"] is not None:
                _STATE["pool"].shutdown(wait=False)
            _STATE["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="tinytorch")
            _STATE["pool_size"] = workers
        return _STATE["pool"]


def run_in_threads(tasks: Sequence[Callable[[], Any]]) -> list:
    """Run every zero-argument callable at once, one per thread (the first on the calling
    thread); return their results in order. An exception in any task is raised here, after
    every task has finished."""
    tasks = list(tasks)
    if len(tasks) <= 1:
        return [task() for task in tasks]
    futures = [executor(len(tasks) - 1).submit(task) for task in tasks[1:]]
    try:
        first = tasks[0]()
    finally:
        for f in futures:  # no task may still be running when this returns or raises
            f.exception()
    return [first] + [f.result() for f in futures]


def parallel_for(n: int, fn: Callable[[int, int], Any]) -> list:
    """Run ``fn(start, stop)`` over contiguous parts of ``range(n)``, one per thread.

    The calling thread does the first part itself; numpy's OpenBLAS runs single-threaded
    meanwhile. Returns the results in order; an exception in any part is raised here (after
    every part has finished).
    """
    parts = min(_STATE["threads"], n)
    if parts <= 1:
        return [fn(0, n)]
    edges = [n * i // parts for i in range(parts + 1)]
    blas = get_blas_threads()
    if blas is not None and blas > 1:
        set_blas_threads(1)  # the parts are the parallelism: no BLAS threads on top
    try:
        return run_in_threads([lambda a=edges[i], b=edges[i + 1]: fn(a, b) for i in range(parts)])
    finally:
        if blas is not None and blas > 1:
            set_blas_threads(blas)


# --------------------------------------------------------------------------- BLAS threads
_BLAS: dict = {"looked": False, "set": None, "get": None}


def _find_openblas() -> None:
    if _BLAS["looked"]:
        return
    _BLAS["looked"] = True
    root = os.path.dirname(np.__file__)
    candidates = glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*"))
    candidates += glob.glob(os.path.join(root, ".dylibs", "*openblas*"))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this returns the same library
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    _BLAS["set"], _BLAS["get"] = setter, getter
                    return


def set_blas_threads(n: int) -> bool:
    """Ask numpy's bundled OpenBLAS to use ``n`` threads; False if no such BLAS was found."""
    _find_openblas()
    if _BLAS["set"] is None:
        return False
    _BLAS["set"](int(n))
    return True


def get_blas_threads() -> int | None:
    """The thread count of numpy's bundled OpenBLAS, or None if it cannot be queried."""
    _find_openblas()
    return None if _BLAS["get"] is None else int(_BLAS["get"]())


@contextmanager
def threads(n: int, blas: int | None = None) -> Iterator[None]:
    """Context manager: ``n`` data-parallel threads (and ``blas`` BLAS threads) inside the block."""
    previous = set_num_threads(n)
    previous_blas = get_blas_threads() if blas is not None else None
    if blas is not None:
        set_blas_threads(blas)
    try:
        yield
    finally:
        set_num_threads(previous)
        if previous_blas is not None:
            set_blas_threads(previous_blas)


# ============================================================================ scratch buffers
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
        # math.prod of Python ints: every pooled op calls this, and np.prod costs far more per call
        nbytes = math.prod(shape) * dtype.itemsize
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
    """Release the scratch buffers the fast paths (ReLU, the fused kernels) keep between calls."""
    WORKSPACE.clear()
