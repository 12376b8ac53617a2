"""The thread pool's former home: it now lives in :mod:`tinytorch.core.tensor.runtime`.

Threads and scratch buffers are one framework-wide runtime, shared by spatial's fused kernels,
module 13's kernels lab, compression, mlops and the capstone; it moved to module 02, the
earliest module that needs it. This module only re-exports the same functions, for callers
not yet updated; new code imports from ``tinytorch.core.tensor.runtime``.
"""

from tinytorch.core.tensor.runtime import (
    get_blas_threads,
    get_num_threads,
    parallel_for,
    set_blas_threads,
    set_num_threads,
    threads,
)

__all__ = ["set_num_threads", "get_num_threads", "parallel_for", "set_blas_threads",
           "get_blas_threads", "threads"]
