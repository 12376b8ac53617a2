"""Optional data parallelism for the fused kernels: split the batch across Python threads.

numpy releases the GIL inside its loops and inside BLAS, so two Python threads that each
convolve half of the batch really do run at the same time. For the narrow GEMMs of a small
CNN that is faster than one thread calling a multi-threaded BLAS (PERFORMANCE.md measured
+27% training throughput) — provided BLAS itself then runs single-threaded, or the threads
fight over the cores. So:

    set_num_threads(2)        # fused kernels split each batch in two halves
    set_blas_threads(1)       # and numpy's OpenBLAS stops spawning its own threads

or both at once, for a block: ``with threads(2, blas=1): ...``.

``set_blas_threads`` is best effort: it finds the OpenBLAS that numpy's wheels bundle and calls
its ``set_num_threads``; with any other BLAS it changes nothing and returns False (set the
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` environment variables before starting Python
instead). The default is one thread and BLAS untouched.
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["set_num_threads", "get_num_threads", "parallel_for", "set_blas_threads",
           "get_blas_threads", "threads"]

_STATE: dict = {"threads": 1, "pool": None, "pool_size": 0}
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
        if _STATE["pool"] is None or _STATE["pool_size"] < workers:
            if _STATE["pool"] is not None:
                _STATE["pool"].shutdown(wait=False)
            _STATE["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="tinytorch-spatial")
            _STATE["pool_size"] = workers
        return _STATE["pool"]


def parallel_for(n: int, fn: Callable[[int, int], Any]) -> list:
    """Run ``fn(start, stop)`` over contiguous parts of ``range(n)``, one per thread.

    The calling thread does the first part itself. Returns the results in order; an
    exception in any part is raised here.
    """
    parts = min(_STATE["threads"], n)
    if parts <= 1:
        return [fn(0, n)]
    edges = [n * i // parts for i in range(parts + 1)]
    pool = _pool(parts - 1)
    futures = [pool.submit(fn, edges[i], edges[i + 1]) for i in range(1, parts)]
    first = fn(edges[0], edges[1])
    return [first] + [f.result() for f in futures]


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
