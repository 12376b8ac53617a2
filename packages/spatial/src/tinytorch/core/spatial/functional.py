"""The functional API: one function per op, running the fused kernel or the composite path.

Each takes ``fused=None`` (follow :func:`~tinytorch.core.spatial.fused.config.fused_kernels`),
``True`` or ``False``. The layers in ``conv.py``, ``pooling.py`` and ``normalization.py`` call
these.

This is the one module of the lesson's code that imports the fast path (``fused/``): it is
where the choice between the two is made. Everything else outside ``fused/`` gets the fused
names from here (a test reads the sources to keep it that way).
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.tensor import Tensor

from .composite import (
    adaptive_avg_pool2d,
    avg_pool2d_composite,
    batch_norm_composite,
    conv2d_composite,
    max_pool2d_composite,
)
from .fused import (
    AVG_POOL2D_OP,
    BATCH_NORM_OP,
    CONV2D_OP,
    MAX_POOL2D_OP,
    avg_pool2d_fused,
    avg_pool2d_fused_backward,
    batch_norm_fused,
    batch_norm_fused_backward,
    conv2d_fused,
    conv2d_fused_backward,
    fused_kernels,
    fused_kernels_enabled,
    max_pool2d_fused,
    max_pool2d_fused_backward,
    resolve,
    set_fused_kernels,
)

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
           # the fast path, re-exported for the package's namespace (see the docstring)
           "conv2d_fused", "max_pool2d_fused", "avg_pool2d_fused", "batch_norm_fused",
           "conv2d_fused_backward", "max_pool2d_fused_backward", "avg_pool2d_fused_backward",
           "batch_norm_fused_backward", "CONV2D_OP", "MAX_POOL2D_OP", "AVG_POOL2D_OP",
           "BATCH_NORM_OP", "fused_kernels", "fused_kernels_enabled", "set_fused_kernels"]


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, *, fused: bool | None = None,
           label: str = "conv2d") -> Tensor:
    """2-D convolution of an (N, C_in, H, W) batch with a (C_out, C_in/groups, kh, kw) weight.

    Like ``torch.nn.functional.conv2d`` (a cross-correlation: the kernel is not flipped).

    Args:
        x: the input batch.
        weight: the kernels.
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        dilation: spacing between kernel taps, an int or an (h, w) pair.
        groups: split the channels into this many independent convolutions.
        fused: use the fused kernel (True), the composite path (False) or the global setting.
        label: how errors name the caller.
    """
    if resolve(fused):
        return conv2d_fused(x, weight, bias, stride, padding, dilation, groups, label)
    return conv2d_composite(x, weight, bias, stride, padding, dilation, groups, label)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               *, fused: bool | None = None, label: str = "max_pool2d") -> Tensor:
    """Max over each kh×kw window (stride defaults to the kernel size; padding is -inf).

    Args:
        x: (N, C, H, W).
        kernel_size: window size, an int or an (h, w) pair.
        stride: step between windows (None: kernel_size).
        padding: -inf added on each side (at most half the window).
        dilation: spacing between the window's taps.
        fused: use the fused kernel (True), the composite path (False) or the global setting.
        label: how errors name the caller.
    """
    if resolve(fused):
        return max_pool2d_fused(x, kernel_size, stride, padding, dilation, label)
    return max_pool2d_composite(x, kernel_size, stride, padding, dilation, label)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               count_include_pad: bool = True, *, fused: bool | None = None,
               label: str = "avg_pool2d") -> Tensor:
    """Mean over each kh×kw window (stride defaults to the kernel size; padding is zeros).

    Args:
        x: (N, C, H, W).
        kernel_size: window size, an int or an (h, w) pair.
        stride: step between windows (None: kernel_size).
        padding: zeros added on each side (at most half the window).
        count_include_pad: divide by kh·kw (True) or by the real elements in the window.
        fused: use the fused kernel (True), the composite path (False) or the global setting.
        label: how errors name the caller.
    """
    if resolve(fused):
        return avg_pool2d_fused(x, kernel_size, stride, padding, count_include_pad, label)
    return avg_pool2d_composite(x, kernel_size, stride, padding, count_include_pad, label)


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5, *,
               fused: bool | None = None) -> Tensor:
    """Batch normalisation over every axis but the channels (axis 1), like PyTorch's.

    Args:
        x: (N, C), (N, C, L) or (N, C, H, W).
        running_mean: (C,) running mean (updated in place in training), or None.
        running_var: (C,) running variance (likewise); with either None the batch's
            statistics are used even in evaluation.
        weight: the affine scale γ, (C,), or None.
        bias: the affine shift β, (C,), or None.
        training: use (and record) batch statistics rather than the running ones.
        momentum: weight of the current batch in the running averages.
        eps: added to the variance.
        fused: use the fused kernel (True), the composite path (False) or the global setting.
    """
    if resolve(fused):
        return batch_norm_fused(x, running_mean, running_var, weight, bias, training, momentum, eps)
    return batch_norm_composite(x, running_mean, running_var, weight, bias, training, momentum, eps)
