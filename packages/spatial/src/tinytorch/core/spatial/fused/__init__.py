"""tinytorch.core.spatial.fused — the fast path of the spatial module (not lesson material).

The lesson's code is the naive loops (``naive.py``) and the composite path (``composite.py``):
convolution, pooling and batch norm written with Tensor ops, which the autograd module differentiates
with no extra code. This sub-package holds the same ops as hand-written numpy kernels, each
one op whose forward and backward are written together and whose derivative is registered
beside the forward:

* ``conv.py`` — the fused convolution (channels-last inside, im2col into a reused buffer, a
  batch split across threads);
* ``pool.py`` — fused max and average pooling;
* ``norm.py`` — fused batch normalisation;
* ``config.py`` — the switch between this path and the composite one
  (``fused_kernels(False)``).

Same numbers as the composite path, several times faster; the tests check that both agree,
forward and backward. What both paths share (window sizes, the dtype an op computes in, batch
norm's running averages, average pooling's divisor) lives in ``spatial/geometry.py``, so
nothing outside this folder depends on it — except ``spatial/functional.py``, the one place
that chooses between the two paths.
"""

from .config import fused_kernels, fused_kernels_enabled, resolve, set_fused_kernels
from .conv import CONV2D_OP, conv2d_fused, conv2d_fused_backward
from .norm import BATCH_NORM_OP, batch_norm_fused, batch_norm_fused_backward
from .pool import (
    AVG_POOL2D_OP,
    MAX_POOL2D_OP,
    avg_pool2d_fused,
    avg_pool2d_fused_backward,
    max_pool2d_fused,
    max_pool2d_fused_backward,
)

__all__ = [
    "conv2d_fused", "max_pool2d_fused", "avg_pool2d_fused", "batch_norm_fused",
    "conv2d_fused_backward", "max_pool2d_fused_backward", "avg_pool2d_fused_backward",
    "batch_norm_fused_backward",
    "CONV2D_OP", "MAX_POOL2D_OP", "AVG_POOL2D_OP", "BATCH_NORM_OP",
    "fused_kernels", "fused_kernels_enabled", "set_fused_kernels", "resolve",
]
