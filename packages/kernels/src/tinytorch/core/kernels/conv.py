"""2-D convolution, from seven Python loops to one matrix multiplication.

The convolution of an NCHW batch x with a (C_out, C_in, kh, kw) kernel w (cross-correlation,
as in PyTorch) is

    y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b  x_pad[n, c, i·s + a, j·s + b] · w[o, c, a, b]

— 2·N·C_out·H_out·W_out·C_in·kh·kw FLOPs (:func:`conv2d_flops`). Four ways to compute it, each
checked equal to the one before it by the tests:

1. :func:`conv2d_loops` — the formula as seven nested Python loops. Obviously right, and
   about a million times slower than the machine.
2. :func:`conv2d_taps` — vectorised: loop only over the kh·kw kernel taps. For a fixed tap
   (a, b), the inputs it sees form a shifted (N, C, H_out, W_out) slice of x, and its
   contribution is one (C_out, C_in) @ (C_in, positions) product for the whole batch. Nine
   small GEMMs for a 3×3 kernel, each re-reading the input.
3. im2col + GEMM (:func:`conv2d_im2col`) — copy every receptive field into a row of a
   "columns" matrix of shape (N·H_out·W_out, C_in·kh·kw); then the whole convolution is *one*
   GEMM with the (C_in·kh·kw, C_out) weight matrix, which is the operation BLAS is fastest at.
   The copy costs kh·kw times the input's size in memory; the GEMM more than pays for it.
   :func:`im2col_loops` builds the matrix with one slice copy per tap (the readable way);
   :func:`im2col` with one assignment from a strided *view* of all windows
   (``sliding_window_view``), which numpy copies in a single pass.
4. The same in NHWC, channels-last (:func:`conv2d_im2col_nhwc`): the columns are ordered
   (kh, kw, C) so every copied run is a contiguous row of channels, and the GEMM's (N·H·W,
   C_out) output *is* the NHWC result — no transpose at the end. This is what
   ``tinytorch.core.spatial``'s fused kernel does inside (plus reused buffers and threads).

Stride and zero padding are supported (an int or an (h, w) pair); dilation and groups are
left to ``tinytorch.core.spatial``, whose argument checks these functions share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.spatial.geometry import ConvGeometry, conv_geometry

from .arrays import as_array

__all__ = ["conv2d_loops", "conv2d_taps", "im2col_loops", "im2col", "conv2d_im2col",
           "im2col_nhwc", "conv2d_im2col_nhwc", "conv2d_flops", "conv_output_shape"]


def _geometry(x_shape: tuple, w_shape: tuple, stride: Any, padding: Any, bias: Any,
              label: str) -> ConvGeometry:
    return conv_geometry(tuple(x_shape), tuple(w_shape), stride, padding, 1, 1, label,
                         None if bias is None else np.shape(bias))


def conv_output_shape(x_shape: tuple, w_shape: tuple, stride: Any = 1,
                      padding: Any = 0) -> tuple:
    """(N, C_out, H_out, W_out) of an NCHW convolution, with its arguments checked."""
    geo = _geometry(x_shape, w_shape, stride, padding, None, "conv_output_shape")
    return geo.n, geo.c_out, geo.h_out, geo.w_out


def conv2d_flops(x_shape: tuple, w_shape: tuple, stride: Any = 1, padding: Any = 0) -> int:
    """FLOPs of an NCHW convolution: 2 per multiply-add, bias not counted."""
    geo = _geometry(x_shape, w_shape, stride, padding, None, "conv2d_flops")
    return 2 * geo.n * geo.c_out * geo.h_out * geo.w_out * geo.c * geo.kh * geo.kw


def _pad_nchw(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    if geo.ph == 0 and geo.pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw)))


def _pad_nhwc(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    if geo.ph == 0 and geo.pw == 0:
        return x
    return np.pad(x, ((0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw), (0, 0)))


def conv2d_loops(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                 padding: Any = 0) -> np.ndarray:
    """The convolution as seven nested Python loops over plain Python lists (tiny inputs only).

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_out, C_in, kh, kw) kernels.
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.

    Returns:
        (N, C_out, H_out, W_out) in the operands' dtype.
    """
    xd, wd = as_array(x), as_array(weight)
    geo = _geometry(xd.shape, wd.shape, stride, padding, bias, "conv2d_loops")
    dtype = np.result_type(xd, wd)
    xp = _pad_nchw(xd, geo).tolist()
    w = wd.tolist()
    b = [0.0] * geo.c_out if bias is None else as_array(bias).tolist()
    out = np.zeros((geo.n, geo.c_out, geo.h_out, geo.w_out), dtype=dtype)
    ### BEGIN SOLUTION
    ### HINT: loops n, o, i, j outside; c, a, b inside summing xp[n][c][i*sh + a][j*sw + b] * w[o][c][a][b]
    for n in range(geo.n):
        for o in range(geo.c_out):
            for i in range(geo.h_out):
                for j in range(geo.w_out):
                    total = b[o]
                    for c in range(geo.c):
                        for a in range(geo.kh):
                            row = xp[n][c][i * geo.sh + a]
                            taps = w[o][c][a]
                            for bb in range(geo.kw):
                                total += row[j * geo.sw + bb] * taps[bb]
                    out[n, o, i, j] = total
    ### END SOLUTION
    return out


def conv2d_taps(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                padding: Any = 0) -> np.ndarray:
    """Vectorised convolution: a Python loop over the kh·kw kernel taps only.

    Tap (a, b) multiplies the shifted slice ``x_pad[:, :, a::s, b::s]`` (cut to H_out × W_out)
    by the (C_out, C_in) matrix ``w[:, :, a, b]``; the output is the sum over taps.

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_out, C_in, kh, kw) kernels.
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.

    Returns:
        (N, C_out, H_out, W_out).
    """
    xd, wd = as_array(x), as_array(weight)
    geo = _geometry(xd.shape, wd.shape, stride, padding, bias, "conv2d_taps")
    dtype = np.result_type(xd, wd)
    xp = _pad_nchw(xd, geo)
    positions = geo.h_out * geo.w_out
    out = np.zeros((geo.n, geo.c_out, positions), dtype=dtype)
    h_span, w_span = geo.sh * (geo.h_out - 1) + 1, geo.sw * (geo.w_out - 1) + 1
    ### BEGIN SOLUTION
    ### HINT: for each tap (a, b): the (N, C, H_out, W_out) slice it sees, reshaped to
    ### HINT: (N, C, H_out*W_out), left-multiplied by weight[:, :, a, b]; accumulate into out
    for a in range(geo.kh):
        for bb in range(geo.kw):
            window = xp[:, :, a:a + h_span:geo.sh, bb:bb + w_span:geo.sw]
            out += wd[:, :, a, bb] @ window.reshape(geo.n, geo.c, positions)
    ### END SOLUTION
    if bias is not None:
        out += as_array(bias).reshape(-1, 1)
    return out.reshape(geo.n, geo.c_out, geo.h_out, geo.w_out)


def im2col_loops(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0) -> np.ndarray:
    """The im2col matrix of an NCHW batch, built with one slice copy per kernel tap.

    Row r = (n, i, j) holds the receptive field of output position (i, j) of image n, ordered
    (C, kh, kw) — the order of ``weight.reshape(C_out, -1)``'s columns.

    Args:
        x: (N, C, H, W) input.
        kernel_size: kh = kw, or an (kh, kw) pair.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.

    Returns:
        (N·H_out·W_out, C·kh·kw).
    """
    xd = as_array(x)
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    geo = _geometry(xd.shape, (1, xd.shape[1] if xd.ndim > 1 else 1, kh, kw), stride, padding,
                    None, "im2col_loops")
    xp = _pad_nchw(xd, geo)
    cols = np.empty((geo.n, geo.h_out, geo.w_out, geo.c, geo.kh, geo.kw), dtype=xd.dtype)
    h_span, w_span = geo.sh * (geo.h_out - 1) + 1, geo.sw * (geo.w_out - 1) + 1
    ### BEGIN SOLUTION
    ### HINT: for each tap (a, b), cols[..., a, b] is the strided slice of xp that tap sees,
    ### HINT: moved from (N, C, H_out, W_out) to (N, H_out, W_out, C)
    for a in range(geo.kh):
        for bb in range(geo.kw):
            window = xp[:, :, a:a + h_span:geo.sh, bb:bb + w_span:geo.sw]
            cols[..., a, bb] = window.transpose(0, 2, 3, 1)
    ### END SOLUTION
    return cols.reshape(geo.n * geo.h_out * geo.w_out, geo.c * geo.kh * geo.kw)


def im2col(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
           out: np.ndarray | None = None) -> np.ndarray:
    """The same matrix as :func:`im2col_loops`, copied in one assignment from a strided view.

    ``sliding_window_view`` presents every window of the padded input as a 6-D view
    (N, C, H', W', kh, kw) without copying anything; slicing it by the stride and transposing it
    to (N, H_out, W_out, C, kh, kw) is still free. Only the final assignment moves data, and
    numpy does it in one pass over the output.

    Args:
        x: (N, C, H, W) input.
        kernel_size: kh = kw, or an (kh, kw) pair.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        out: an (N·H_out·W_out, C·kh·kw) C-contiguous array to fill, or None.

    Returns:
        (N·H_out·W_out, C·kh·kw) (``out`` when given).
    """
    xd = as_array(x)
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    geo = _geometry(xd.shape, (1, xd.shape[1] if xd.ndim > 1 else 1, kh, kw), stride, padding,
                    None, "im2col")
    shape = (geo.n * geo.h_out * geo.w_out, geo.c * geo.kh * geo.kw)
    out = _out_buffer(out, shape, xd.dtype, "im2col")
    xp = _pad_nchw(xd, geo)
    ### BEGIN SOLUTION
    ### HINT: sliding_window_view(xp, (kh, kw), axis=(2, 3)), step by the stride on axes 2 and 3,
    ### HINT: transpose to (N, H_out, W_out, C, kh, kw), assign into out viewed with that shape
    windows = sliding_window_view(xp, (geo.kh, geo.kw), axis=(2, 3))[:, :, ::geo.sh, ::geo.sw]
    out.reshape(geo.n, geo.h_out, geo.w_out, geo.c, geo.kh, geo.kw)[...] = \
        windows.transpose(0, 2, 3, 1, 4, 5)
    ### END SOLUTION
    return out


def _out_buffer(out: np.ndarray | None, shape: tuple, dtype: Any, label: str) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype=dtype)
    if out.shape != shape or not out.flags.c_contiguous:
        raise ValueError(f"{label}: out must be a C-contiguous array of shape {shape}, got "
                         f"shape {out.shape} (C-contiguous: {out.flags.c_contiguous})")
    return out


def conv2d_im2col(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                  slices: bool = False) -> np.ndarray:
    """NCHW convolution as im2col + one GEMM; the result is copied back to NCHW memory.

    ``cols (N·H_out·W_out, C·kh·kw) @ W (C·kh·kw, C_out)`` gives one row per output position,
    i.e. the output in (N, H_out, W_out, C_out) order; an NCHW layer has to transpose it.

    Args:
        x: (N, C_in, H, W) input.
        weight: (C_out, C_in, kh, kw) kernels.
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        slices: build the columns with :func:`im2col_loops` instead of :func:`im2col`.

    Returns:
        (N, C_out, H_out, W_out), C-contiguous.
    """
    xd, wd = as_array(x), as_array(weight)
    geo = _geometry(xd.shape, wd.shape, stride, padding, bias, "conv2d_im2col")
    dtype = np.result_type(xd, wd)
    build = im2col_loops if slices else im2col
    cols = build(xd.astype(dtype, copy=False), (geo.kh, geo.kw), (geo.sh, geo.sw),
                 (geo.ph, geo.pw))
    ### BEGIN SOLUTION
    ### HINT: the weight as a (C*kh*kw, C_out) matrix; one matmul; add the bias; back to NCHW
    rows = cols @ wd.reshape(geo.c_out, -1).T.astype(dtype, copy=False)
    if bias is not None:
        rows += as_array(bias)
    out = rows.reshape(geo.n, geo.h_out, geo.w_out, geo.c_out).transpose(0, 3, 1, 2)
    ### END SOLUTION
    return np.ascontiguousarray(out)


def im2col_nhwc(x: Any, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                out: np.ndarray | None = None) -> np.ndarray:
    """The im2col matrix of an NHWC (channels-last) batch, columns ordered (kh, kw, C).

    Args:
        x: (N, H, W, C) input.
        kernel_size: kh = kw, or an (kh, kw) pair.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        out: an (N·H_out·W_out, kh·kw·C) C-contiguous array to fill, or None.

    Returns:
        (N·H_out·W_out, kh·kw·C) (``out`` when given).
    """
    xd = as_array(x)
    if xd.ndim != 4:
        raise ValueError(f"im2col_nhwc expected a 4-D input (N, H, W, C), got shape {xd.shape}")
    kh, kw = (kernel_size, kernel_size) if np.ndim(kernel_size) == 0 else kernel_size
    n, h, w, c = xd.shape
    geo = _geometry((n, c, h, w), (1, c, kh, kw), stride, padding, None, "im2col_nhwc")
    shape = (geo.n * geo.h_out * geo.w_out, geo.kh * geo.kw * geo.c)
    out = _out_buffer(out, shape, xd.dtype, "im2col_nhwc")
    xp = _pad_nhwc(xd, geo)
    ### BEGIN SOLUTION
    ### HINT: windows over axes (1, 2) give (N, H', W', C, kh, kw); keep every stride-th position
    ### HINT: and move C last: (N, H_out, W_out, kh, kw, C), so each copied run is C contiguous values
    windows = sliding_window_view(xp, (geo.kh, geo.kw), axis=(1, 2))[:, ::geo.sh, ::geo.sw]
    out.reshape(geo.n, geo.h_out, geo.w_out, geo.kh, geo.kw, geo.c)[...] = \
        windows.transpose(0, 1, 2, 4, 5, 3)
    ### END SOLUTION
    return out


def conv2d_im2col_nhwc(x: Any, weight: Any, bias: Any = None, stride: Any = 1,
                       padding: Any = 0) -> np.ndarray:
    """Channels-last convolution: NHWC in, NHWC out, one GEMM and no transpose.

    Args:
        x: (N, H, W, C_in) input.
        weight: (C_out, C_in, kh, kw) kernels (PyTorch's layout; reordered to (kh, kw, C_in)
            rows here, a small copy).
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.

    Returns:
        (N, H_out, W_out, C_out), C-contiguous: the GEMM's own output.
    """
    xd, wd = as_array(x), as_array(weight)
    if xd.ndim != 4:
        raise ValueError(f"conv2d_im2col_nhwc expected (N, H, W, C), got shape {xd.shape}")
    n, h, w, c = xd.shape
    geo = _geometry((n, c, h, w), wd.shape, stride, padding, bias, "conv2d_im2col_nhwc")
    dtype = np.result_type(xd, wd)
    cols = im2col_nhwc(xd.astype(dtype, copy=False), (geo.kh, geo.kw), (geo.sh, geo.sw),
                       (geo.ph, geo.pw))
    ### BEGIN SOLUTION
    ### HINT: weight rows must follow the columns' (kh, kw, C) order: transpose it to (kh, kw, C, C_out)
    wmat = wd.transpose(2, 3, 1, 0).reshape(-1, geo.c_out).astype(dtype, copy=False)
    out = cols @ wmat
    if bias is not None:
        out += as_array(bias)
    ### END SOLUTION
    return out.reshape(geo.n, geo.h_out, geo.w_out, geo.c_out)
