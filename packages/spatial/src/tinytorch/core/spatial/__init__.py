"""tinytorch.core.spatial: convolution, pooling and batch normalisation for images.

    >>> from tinytorch.core.spatial import Conv2d, MaxPool2d
    >>> conv, pool = Conv2d(3, 32, 3, padding=1), MaxPool2d(2)
    >>> pool(conv(Tensor(np.zeros((8, 3, 32, 32))))).shape
    (8, 32, 16, 16)

Every op comes three ways:

* ``conv2d_naive`` — the definition, as explicit loops: the reference for the tests;
* the composite path (``conv2d_composite``, ``max_pool2d_composite``, ...) — built from
  Tensor ops only (pad, sliding_window, reshape, matmul), so the autograd module differentiates it;
* the fused kernels (``conv2d_fused``, ...) — one op each, forward and backward written
  together in numpy and the derivative registered beside the forward. Layers use these.
  They live apart, in the ``fused`` sub-package (not lesson material); the helpers both
  paths share are in ``geometry``.

``conv2d``, ``max_pool2d``, ``avg_pool2d`` and ``batch_norm`` pick one of the last two
(``fused=`` per call, or ``with fused_kernels(False):`` for a whole block).
"""

from tinytorch.core.layers import Flatten
from tinytorch.core.tensor.runtime import WORKSPACE, clear_workspace

from .composite import (
    adaptive_avg_pool2d,
    avg_pool2d_composite,
    batch_norm_composite,
    conv2d_composite,
    max_pool2d_composite,
)
from .conv import Conv2d

# functional.py is the one dispatch point between the composite path and ``fused/``: the fast
# path's public names come through it
from .functional import (
    AVG_POOL2D_OP,
    BATCH_NORM_OP,
    CONV2D_OP,
    MAX_POOL2D_OP,
    avg_pool2d,
    avg_pool2d_fused,
    avg_pool2d_fused_backward,
    batch_norm,
    batch_norm_fused,
    batch_norm_fused_backward,
    conv2d,
    conv2d_fused,
    conv2d_fused_backward,
    fused_kernels,
    fused_kernels_enabled,
    max_pool2d,
    max_pool2d_fused,
    max_pool2d_fused_backward,
    set_fused_kernels,
)
from .geometry import out_size
from .naive import conv2d_naive
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, group_norm
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from .resample import MaxUnpool2d, Upsample, interpolate, max_pool2d_with_indices, max_unpool2d
from .transposed import Conv1d, ConvTranspose2d, conv1d, conv_transpose2d

__all__ = [
    "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm1d", "BatchNorm2d",
    "GroupNorm", "group_norm",
    "Flatten", "Conv1d", "ConvTranspose2d", "Upsample", "MaxUnpool2d",
    "conv1d", "conv_transpose2d", "interpolate", "max_pool2d_with_indices", "max_unpool2d",
    "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
    "conv2d_naive",
    "conv2d_composite", "max_pool2d_composite", "avg_pool2d_composite", "batch_norm_composite",
    "conv2d_fused", "max_pool2d_fused", "avg_pool2d_fused", "batch_norm_fused",
    "conv2d_fused_backward", "max_pool2d_fused_backward", "avg_pool2d_fused_backward",
    "batch_norm_fused_backward",
    "CONV2D_OP", "MAX_POOL2D_OP", "AVG_POOL2D_OP", "BATCH_NORM_OP",
    "fused_kernels", "fused_kernels_enabled", "set_fused_kernels",
    "out_size", "clear_workspace", "WORKSPACE",
]
