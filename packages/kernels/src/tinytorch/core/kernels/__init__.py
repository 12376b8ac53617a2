"""tinytorch.core.kernels — fast kernels, each checked and measured on this machine.

    >>> import numpy as np
    >>> from tinytorch.core.kernels import matmul_blocked, compare
    >>> a = np.ones((64, 64), np.float32)
    >>> bool(np.allclose(matmul_blocked(a, a, block=16), a @ a))
    True
    >>> cmp = compare({"blocked": lambda: matmul_blocked(a, a, 16), "BLAS": lambda: a @ a}, repeat=3)
    >>> sorted(cmp.speedups)
    ['BLAS', 'blocked']

* :mod:`.timing` — the harness: ``benchmark`` (median, IQR, runs) and ``compare`` (alternated
  contenders, speed-up ratios); every figure of the lesson comes out of it.
* :mod:`.conv` — convolution by Python loops, by kernel taps, by im2col + one GEMM (NCHW and
  channels-last NHWC).
* :mod:`.matmul` — triple loop, cache-blocked tiles of ``np.dot``, FLOP counting.
* :mod:`.layout` — strides, contiguity, views vs copies, NCHW <-> NHWC.
* :mod:`.threads` — BLAS thread control, batch-parallel Python threads.
* :mod:`.elementwise` / :mod:`.ops` — fused bias + ReLU and GELU (numpy, and as Tensor ops
  with registered derivatives).
* :mod:`.suite` / :mod:`.cli` — the measurements, ``tito kernels`` and
  ``python -m tinytorch.core.kernels``.
"""

from .conv import (
    conv2d_flops,
    conv2d_im2col,
    conv2d_im2col_nhwc,
    conv2d_loops,
    conv2d_taps,
    conv_output_shape,
    im2col,
    im2col_loops,
    im2col_nhwc,
)
from .elementwise import (
    bias_relu_chunked,
    bias_relu_fused,
    bias_relu_unfused,
    gelu_tanh_chunked,
    gelu_tanh_fused,
    gelu_tanh_grad,
    gelu_tanh_unfused,
)
from .layout import (
    Layout,
    contiguous_strides,
    describe,
    is_contiguous,
    memory_span,
    nchw_to_nhwc,
    nhwc_to_nchw,
)
from .matmul import gflops, matmul_blocked, matmul_flops, matmul_loops
from .ops import BIAS_RELU_OP, GELU_TANH_OP, bias_relu, gelu_tanh
from .suite import Experiment, ExperimentResult, build_experiments, run_experiment
from .threads import blas_threads, map_batch, run_in_threads, split_points
from .timing import Comparison, Timing, benchmark, compare, format_seconds, quartiles

__all__ = [
    "benchmark", "compare", "Timing", "Comparison", "quartiles", "format_seconds",
    "conv2d_loops", "conv2d_taps", "im2col_loops", "im2col", "conv2d_im2col", "im2col_nhwc",
    "conv2d_im2col_nhwc", "conv2d_flops", "conv_output_shape",
    "matmul_loops", "matmul_blocked", "matmul_flops", "gflops",
    "Layout", "describe", "contiguous_strides", "is_contiguous", "memory_span",
    "nchw_to_nhwc", "nhwc_to_nchw",
    "blas_threads", "map_batch", "run_in_threads", "split_points",
    "bias_relu_unfused", "bias_relu_fused", "bias_relu_chunked",
    "gelu_tanh_unfused", "gelu_tanh_fused", "gelu_tanh_chunked", "gelu_tanh_grad",
    "bias_relu", "gelu_tanh", "BIAS_RELU_OP", "GELU_TANH_OP",
    "Experiment", "ExperimentResult", "build_experiments", "run_experiment",
]
