"""The composite path: convolution, pooling and batch norm written only with Tensor ops.

This is the code you write in the course. Every line is an op the tensor module records — pad,
sliding_window, reshape, permute, matmul, max, mean — so tinytorch-autograd differentiates it with
the rules it already has: nothing here knows about gradients, yet all of it trains.

The convolution is the classic im2col trick: cut every kh×kw patch out of the padded input
(``sliding_window`` does it as a view), lay the patches out as the rows of a matrix, and the
whole convolution is *one* matrix product with the flattened kernels:

    patches (M = N·H_out·W_out, K = kh·kw·C_in)  @  kernels (K, C_out)  ->  (M, C_out)

With groups, the channels split into G independent convolutions: a batch of G such products.

**Memory layout.** Everything here works *channels-last* in memory: an (N, C, H, W) tensor
whose numbers are stored in (N, H, W, C) order, a pixel's channels side by side. The matmul
produces exactly that — row (n, i, j) of the output holds the C_out channels of one pixel — so
the output is returned as an (N, C, H, W) view of it, with no copy, and every op after it
(batch norm, ReLU, pooling, the next convolution) keeps that order, because numpy's
elementwise ops and reductions lay out their results like their inputs. It is what PyTorch
calls the ``channels_last`` memory format. It matters for speed: the one big copy of a
convolution, the patch matrix, then moves whole runs of kw·C neighbouring numbers instead of
runs of kw, and pooling compares rows of channels instead of pairs of numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

from .geometry import (
    avg_pool_divisor,
    check_4d,
    conv_geometry,
    norm_axes,
    pair,
    pool_geometry,
    update_running_stats,
)

__all__ = ["conv2d_composite", "max_pool2d_composite", "avg_pool2d_composite",
           "adaptive_avg_pool2d", "batch_norm_composite", "averaging_matrix", "pad_hw"]


def _tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _float(x: Tensor, like: Tensor | None = None) -> Tensor:
    if x.dtype.kind == "f":
        return x
    return x.astype(like.dtype if like is not None and like.dtype.kind == "f" else np.float32)


def pad_hw(x: Tensor, ph: int, pw: int, value: float = 0.0) -> Tensor:
    """(N, C, H, W) -> (N, C, H + 2·ph, W + 2·pw): ``value`` added around every feature map,
    the result stored channels-last.

    Tensor's ``pad`` writes its result in plain row-major order of the shape it is given. So
    the padding is done on the (N, H, W, C) view and the result viewed as (N, C, H, W) again:
    the same numbers, with a pixel's channels side by side in memory (see the top of this file).
    With nothing to pad, ``x`` comes back unchanged.
    """
    if not (ph or pw):
        return x
    nhwc = x.permute(0, 2, 3, 1)
    return nhwc.pad(((0, 0), (ph, ph), (pw, pw), (0, 0)), value=value).permute(0, 3, 1, 2)


def conv2d_composite(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     dilation: Any = 1, groups: int = 1, label: str = "conv2d") -> Tensor:
    """2-D convolution built from pad + sliding_window + reshape/permute + matmul.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kh, kw).
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        dilation: spacing between kernel taps, an int or an (h, w) pair.
        groups: split the channels into this many independent convolutions.
        label: how errors name the caller.

    Returns:
        (N, C_out, H_out, W_out), the same numbers as :func:`conv2d_naive`, made only of
        Tensor ops so that the autograd module can differentiate it.

    Given before the block: ``geo`` (sizes, checked), ``x`` as floats, and the short names
    n, g (groups), cg (input channels per group), cog (output channels per group), h_out,
    w_out, kh, kw.
    """
    x, weight = _tensor(x), _tensor(weight)
    bias = None if bias is None else _tensor(bias)
    geo = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups, label,
                        None if bias is None else bias.shape)
    x = _float(x, weight)
    n, g, cg, cog = geo.n, geo.groups, geo.c_group, geo.c_out_group
    h_out, w_out, kh, kw = geo.h_out, geo.w_out, geo.kh, geo.kw
    ### BEGIN SOLUTION
    ### HINT: pad_hw(x, ph, pw) (given: it keeps the memory channels-last), then
    ### HINT: sliding_window((kh, kw), stride, dilation): (N, C, H_out, W_out, kh, kw)
    ### HINT: rows = patches (N·H_out·W_out), columns = (kh, kw, C_g) — in that order, so each
    ### HINT: copied run is kw·C_g neighbours in memory; one reshape makes the (G, M, K) copy
    ### HINT: kernels: weight (C_out, C_g, kh, kw) -> (G, kh·kw·C_g, C_out/G), the same column
    ### HINT: order; one batched @ does all groups. Put the result back as (N, C_out, H_out,
    ### HINT: W_out) — rows are pixels, so it stays channels-last — and + bias (1, C_out, 1, 1)
    windows = pad_hw(x, geo.ph, geo.pw).sliding_window((kh, kw), (geo.sh, geo.sw),
                                                        (geo.dh, geo.dw))
    # im2col: this reshape is the one copy of the convolution. Columns in (kh, kw, C_g) order
    # copy kh runs of kw·C_g numbers that are neighbours in memory (in (C_g, kh, kw) order they
    # would be runs of kw: three numbers at a time). The fused kernel makes the same copy into
    # a buffer it reuses every step, a few images per thread.
    patches = (windows.reshape(n, g, cg, h_out, w_out, kh, kw)
               .permute(1, 0, 3, 4, 5, 6, 2)              # (G, N, H_out, W_out, kh, kw, C_g)
               .reshape(g, n * h_out * w_out, kh * kw * cg))
    kernels = (weight.reshape(g, cog, cg, kh, kw)
               .permute(0, 3, 4, 2, 1)                    # (G, kh, kw, C_g, C_out/G)
               .reshape(g, kh * kw * cg, cog))
    # The one GEMM. The autograd module's backward of it gives dpatches = g @ kernelsᵀ, which the
    # sliding window's derivative folds back onto the pixels tap by tap (kh·kw slice-adds);
    # the fused kernel instead multiplies per tap, a few images at a time, so each block it
    # folds is still in cache.
    out = patches @ kernels                               # (G, M, C_out/G)
    # Row (n, i, j) of out is pixel (i, j)'s output channels: with one group the reshapes
    # and the permute below are views, and y is stored channels-last.
    y = (out.reshape(g, n, h_out, w_out, cog)
         .permute(1, 0, 4, 2, 3)                          # (N, G, C_out/G, H_out, W_out)
         .reshape(n, geo.c_out, h_out, w_out))
    if bias is not None:
        y = y + bias.reshape(1, geo.c_out, 1, 1)
    return y
    ### END SOLUTION


def max_pool2d_composite(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                         dilation: Any = 1, label: str = "max_pool2d") -> Tensor:
    """Max over each window: pad with -inf, sliding_window, max over the window's two axes.

    ``Tensor.max`` shares the gradient equally among tied maxima; the fused kernel (and
    PyTorch) give it all to the first one. With distinct values they agree.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out). ``geo`` (given) holds the window (kh, kw),
    stride (sh, sw), padding (ph, pw) and dilation (dh, dw).
    """
    x = _float(_tensor(x))
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, label)
    ### BEGIN SOLUTION
    ### HINT: pad with -inf (``pad_hw(x, ph, pw, value=-np.inf)``): a padded cell must never win
    ### HINT: sliding_window gives (N, C, H_out, W_out, kh, kw); take the max of the last two axes
    windows = pad_hw(x, geo.ph, geo.pw, value=-np.inf).sliding_window(
        (geo.kh, geo.kw), (geo.sh, geo.sw), (geo.dh, geo.dw))
    # The autograd module differentiates this max by comparing every input with its window's maximum
    # and counting ties. The fused kernel remembers the winner instead (for 2×2 windows, two
    # pairwise np.maximum passes, each with a mask of which side won) and routes the gradient
    # through those masks: a few times less work, and ties go to the first element.
    return windows.max(axis=(-2, -1))
    ### END SOLUTION


def avg_pool2d_composite(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                         count_include_pad: bool = True, label: str = "avg_pool2d") -> Tensor:
    """Mean over each window: pad with zeros, sliding_window, mean over the window's axes.

    With ``count_include_pad=False`` the window's sum is divided by the number of real
    (non-padding) elements under it instead of kh·kw.

    Shape: (N, C, H, W) -> (N, C, H_out, W_out). ``divisor`` (given) is the float kh·kw when
    every window counts kh·kw cells, else an (H_out, W_out, 1) array of real-cell counts.
    """
    x = _float(_tensor(x))
    geo = pool_geometry(x.shape, kernel_size, stride, padding, 1, label)
    divisor = avg_pool_divisor(geo, count_include_pad, x.dtype)
    ### BEGIN SOLUTION
    ### HINT: pad with zeros (pad_hw), then sliding_window((kh, kw), (sh, sw)) as for max pooling
    ### HINT: a float divisor: the mean over the window axes; an array: the window's sum divided
    ### HINT: by divisor[:, :, 0] (H_out, W_out), which broadcasts over N and C
    windows = pad_hw(x, geo.ph, geo.pw).sliding_window((geo.kh, geo.kw), (geo.sh, geo.sw))
    if isinstance(divisor, float):
        return windows.mean(axis=(-2, -1))
    return windows.sum(axis=(-2, -1)) / Tensor(divisor[:, :, 0], dtype=x.dtype)
    ### END SOLUTION


def averaging_matrix(size: int, out: int, dtype: Any = np.float32) -> np.ndarray:
    """The (out, size) matrix whose row i averages input cells floor(i·size/out) to
    ceil((i+1)·size/out) - 1 — adaptive pooling's windows, as PyTorch draws them.

    ``A @ v`` averages v (length ``size``) into ``out`` cells. Each row's entries are 1/(its
    window's length) on the window and 0 elsewhere, so every row sums to 1.
    """
    m = np.zeros((out, size), dtype=np.float64)
    ### BEGIN SOLUTION
    ### HINT: integer maths only: floor(a/b) is a // b and ceil(a/b) is -(-a // b)
    ### HINT: windows overlap by one cell when out does not divide size; that is intended
    for i in range(out):
        start = (i * size) // out
        stop = -((-(i + 1) * size) // out)  # ceil((i + 1)·size / out)
        m[i, start:stop] = 1.0 / (stop - start)
    ### END SOLUTION
    return m.astype(dtype)


def adaptive_avg_pool2d(x: Any, output_size: Any, label: str = "adaptive_avg_pool2d") -> Tensor:
    """Average-pool to a fixed (H_out, W_out) whatever the input size.

    Window i along an axis of size n covers [floor(i·n/out), ceil((i+1)·n/out)), so the windows
    tile the input (overlapping by a cell when out does not divide n). Averaging along H and
    then W is a product with one fixed matrix on each side: ``A_h @ x @ A_wᵀ``. Output size
    (1, 1) is global average pooling, a plain mean. ``None`` keeps that axis' input size.
    """
    x = _float(_tensor(x))
    check_4d(x.shape, label)
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(output_size))
    else:
        size = output_size
    oh, ow = pair(size, "output_size", label)
    if oh == 1 and ow == 1:
        return x.mean(axis=(2, 3), keepdims=True)
    rows = Tensor(averaging_matrix(x.shape[2], oh, x.dtype), dtype=x.dtype)
    cols = Tensor(averaging_matrix(x.shape[3], ow, x.dtype).T, dtype=x.dtype)
    return rows @ x @ cols


def batch_norm_composite(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
                         bias: Any = None, training: bool = False, momentum: float = 0.1,
                         eps: float = 1e-5) -> Tensor:
    """Batch normalisation from Tensor ops: mean, var, (x - mean) · γ / sqrt(var + eps) + β.

    In training the statistics are the batch's, per channel over every other axis (and the
    running averages are updated in place); in evaluation they are the running ones.

    y = (x - mean) / √(var + eps) · γ + β, per channel (axis 1), the statistics taken over
    ``axes`` (given: every axis but 1) with ``keepdims=True`` so they broadcast. ``var`` is the
    biased variance (divide by n). Given: ``use_batch``, ``n`` (values per channel), ``bshape``
    (1, C, 1, ...) for γ and β, and in evaluation the running statistics reshaped as Tensors.
    """
    x = _float(_tensor(x))
    axes = norm_axes(x.ndim)
    c = x.shape[1]
    n = x.data.size // c
    bshape = (1, c) + (1,) * (x.ndim - 2)
    use_batch = training or running_mean is None or running_var is None
    if use_batch and training and n < 2:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {x.shape}"
        )
    if not use_batch:
        running_mean = Tensor(np.asarray(getattr(running_mean, "data", running_mean)).reshape(bshape),
                              dtype=x.dtype)
        running_var = Tensor(np.asarray(getattr(running_var, "data", running_var)).reshape(bshape),
                             dtype=x.dtype)
    ### BEGIN SOLUTION
    ### HINT: batch statistics: mean, then the mean of (x - mean)² — Tensor ops, so it trains
    ### HINT: in training, update_running_stats(running_mean, running_var, mean.data, var.data,
    ### HINT: n, momentum) updates them in place (it makes the unbiased variance itself)
    ### HINT: 1/√(var + eps) and γ are per channel: combine them into one (1, C, ...) scale first,
    ### HINT: then y = centered · scale + β is one full-size multiply and one add
    if use_batch:
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        if training:
            update_running_stats(running_mean, running_var, mean.data, var.data, n, momentum)
    else:
        centered = x - running_mean
        var = running_var
    # Everything per channel is done on the small (1, C, 1, 1) tensors first: the division by
    # √(var + eps) and γ become one scale, so the full-size work is one multiply (whose
    # derivative makes two full-size arrays) rather than a division and a multiply (six). Autograd
    # still differentiates every op on its own; the fused kernel instead uses the closed form
    # of the whole derivative, dx = γ/√(var + eps) · (g - mean(g) - x̂ · mean(g·x̂)): two
    # reductions and one pass over the batch.
    scale = 1 / (var + eps).sqrt()
    if weight is not None:
        scale = scale * _tensor(weight).reshape(bshape)
    y = centered * scale
    if bias is not None:
        y = y + _tensor(bias).reshape(bshape)
    return y
    ### END SOLUTION
