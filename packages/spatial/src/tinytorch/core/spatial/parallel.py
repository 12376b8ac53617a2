"""Data parallelism for the fused kernels: split the batch across Python threads.

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
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "parallel_for", "set_blas_threads",
           "get_blas_threads", "threads"]

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


def _pool(workers: int) -> ThreadPoolExecutor:
    with _LOCK:
        if _STATE.get("pid") != os.getpid():
            # a forked child inherits the pool object but none of its threads: start afresh
            _STATE["pool"], _STATE["pool_size"], _STATE["pid"] = None, 0, os.getpid()
        if _STATE["pool"] is None or _STATE["pool_size"] < workers:
            if _STATE["pool"] is not None:
                _STATE["pool"].shutdown(wait=False)
            _STATE["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="tinytorch-spatial")
            _STATE["pool_size"] = workers
        return _STATE["pool"]


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
    pool = _pool(parts - 1)
    blas = get_blas_threads()
    if blas is not None and blas > 1:
        set_blas_threads(1)  # the parts are the parallelism: no BLAS threads on top
    try:
        futures = [pool.submit(fn, edges[i], edges[i + 1]) for i in range(1, parts)]
        try:
            first = fn(edges[0], edges[1])
        finally:
            wait(futures)  # no part may still be writing when this returns or raises
        results = [first] + [f.result() for f in futures]
    finally:
        if blas is not None and blas > 1:
            set_blas_threads(blas)
    return results


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
