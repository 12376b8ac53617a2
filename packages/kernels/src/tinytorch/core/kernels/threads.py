"""Two ways to use several cores from numpy: BLAS's own threads, and your Python threads.

**BLAS threads.** OpenBLAS splits one big GEMM across its own threads (numpy's wheels start
one per core). For a 1024³ product that is nearly free speed on an idle machine; for small
products the split costs more than it saves, and on a *busy* machine BLAS threads that spin
waiting for each other can make a product many times slower. :func:`blas_threads` changes the
count for a block of code (through ``set_blas_threads`` of :mod:`tinytorch.core.tensor.runtime`,
which finds the OpenBLAS numpy bundles).

**Data-parallel Python threads.** The GIL lets one thread run Python bytecode at a time, but
numpy releases it inside its loops and BLAS calls. So two threads that each run the same
kernel on half of a batch really do use two cores — as long as the time is spent inside numpy
(:func:`map_batch`). A pure-Python loop holds the GIL and gains nothing from a second thread
(:func:`python_work` is one, for the measurement that shows it). When the batch is split over
threads, BLAS itself should run single-threaded, or the two kinds of threads fight over the
cores.

The threads themselves come from the framework's one pool (:mod:`tinytorch.core.tensor.runtime`,
shared with tinytorch-spatial's fused kernels): :func:`run_in_threads` is that runtime's, given
here so the lesson can use it.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Callable, Iterator

import numpy as np

from tinytorch.core.tensor.runtime import get_blas_threads, run_in_threads, set_blas_threads

__all__ = ["blas_threads", "run_in_threads", "map_batch", "split_points", "python_work"]


@contextmanager
def blas_threads(n: int) -> Iterator[bool]:
    """Run the block with numpy's OpenBLAS on ``n`` threads; restore the count afterwards.

    Yields True if the count could be set (numpy's bundled OpenBLAS), False otherwise (the
    block then runs with whatever BLAS and thread count the process has).
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"blas_threads: n must be a positive int, got {n!r}")
    previous = get_blas_threads()
    # what to restore afterwards: None when numpy's BLAS cannot be pinned
    restore = previous if previous is not None and set_blas_threads(int(n)) else None
    try:
        yield restore is not None
    finally:
        if restore is not None:
            set_blas_threads(restore)


def split_points(n: int, parts: int) -> list:
    """Boundaries splitting ``range(n)`` into ``parts`` contiguous pieces whose sizes differ by
    at most one: ``split_points(10, 3) == [0, 3, 6, 10]`` (no more pieces than items)."""
    if parts < 1:
        raise ValueError(f"split_points: parts must be >= 1, got {parts!r}")
    parts = max(1, min(parts, n))
    ### BEGIN SOLUTION
    ### HINT: piece i starts at n * i // parts
    return [n * i // parts for i in range(parts + 1)]
    ### END SOLUTION


def map_batch(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, threads: int = 2,
              out: np.ndarray | None = None) -> np.ndarray:
    """``fn`` applied to contiguous slices of the batch ``x`` (axis 0), one slice per thread.

    ``fn`` must treat the images of a batch independently (a convolution's forward does), and
    return an array whose leading axis matches its input's; the pieces are written into one
    output in order. Set BLAS to one thread around the call (:func:`blas_threads`) — the
    threads are the parallelism.

    Args:
        fn: the per-batch kernel.
        x: the batch.
        threads: how many pieces (and threads) to split the batch into.
        out: where to write the result (each thread fills its own rows), or None to
            concatenate the pieces.

    Returns:
        The concatenated results (``out`` when given).
    """
    x = np.asarray(x)
    if threads < 1:
        raise ValueError(f"map_batch: threads must be >= 1, got {threads!r}")
    edges = split_points(x.shape[0], threads)

    def piece(start: int, stop: int) -> np.ndarray | None:
        result = fn(x[start:stop])
        if out is None:
            return result
        out[start:stop] = result  # each thread copies its own rows
        return None

    ### BEGIN SOLUTION
    ### HINT: one zero-argument task per piece (start, stop) of edges, run with run_in_threads
    results = run_in_threads([functools.partial(piece, s, e) for s, e in zip(edges, edges[1:])])
    ### END SOLUTION
    return out if out is not None else np.concatenate(results, axis=0)


def python_work(n: int) -> int:
    """A pure-Python loop (holds the GIL the whole time): the sum of i·i for i < n."""
    total = 0
    for i in range(n):
        total += i * i
    return total
