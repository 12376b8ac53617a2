"""Fused max and average pooling: forward and backward together, channels-last inside.

Max pooling keeps, for every window, *which* tap won, and the backward pass routes the whole
gradient to that one element — the first maximum in row-major window order when several tie,
exactly like PyTorch. (The composite path, built on ``Tensor.max``, shares the gradient among
ties instead; with distinct values the two agree.)

* The common 2×2 / stride-2 window is two pairwise ``np.maximum`` passes — across columns,
  then across rows — each remembering in a boolean mask whether the second element won.
  Columns first makes a tie go to the earlier row, then to the earlier column: row-major
  order. The backward pass routes the gradient back through the same two masks.
* Any other window (size, stride, padding, dilation) is one strided slice per tap: a running
  maximum, and the index of the tap that set it.

Average pooling adds the kh·kw tap slices and divides; its backward adds the scaled gradient
back onto each tap's slice.

Both derivatives are registered here (``spatial.max_pool2d``, ``spatial.avg_pool2d``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, is_grad_enabled, make_result, register_derivative
from tinytorch.core.tensor.runtime import WORKSPACE, parallel_for

from ..geometry import PoolGeometry, avg_pool_divisor, pool_geometry

__all__ = ["max_pool2d_fused", "avg_pool2d_fused", "max_pool2d_fused_backward",
           "avg_pool2d_fused_backward", "MAX_POOL2D_OP", "AVG_POOL2D_OP"]

MAX_POOL2D_OP = "spatial.max_pool2d"
AVG_POOL2D_OP = "spatial.avg_pool2d"

# Bytes of the 2×2 kernels' intermediate per run of images (see _chunk_images).
_CHUNK_BYTES = 1 << 18


def _float_nhwc(x: Tensor) -> np.ndarray:
    data = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float32)
    return data.transpose(0, 2, 3, 1)


def _tap(a: np.ndarray, geo: PoolGeometry, ta: int, tb: int) -> np.ndarray:
    """The (N, H_out, W_out, C) slice of a padded NHWC array read by window tap (ta, tb)."""
    h0, w0 = ta * geo.dh, tb * geo.dw
    return a[:, h0:h0 + geo.sh * (geo.h_out - 1) + 1:geo.sh,
             w0:w0 + geo.sw * (geo.w_out - 1) + 1:geo.sw, :]


def _padded(src: np.ndarray, geo: PoolGeometry, fill: float, tag: str) -> np.ndarray:
    if not (geo.ph or geo.pw):
        return src
    n, h, w, c = src.shape
    # the border keeps ``fill`` because only the interior is written; the padding is part of
    # the key, as two paddings can give the same padded shape with different borders
    buf = WORKSPACE.get(f"{tag}{geo.ph},{geo.pw}", (n, h + 2 * geo.ph, w + 2 * geo.pw, c),
                        src.dtype, fill=fill)
    buf[:, geo.ph:geo.ph + h, geo.pw:geo.pw + w, :] = src
    return buf


def _chunk_images(half: tuple, itemsize: int) -> int:
    """Images per run, small enough that a run's slice of the (N, H, W/2, C) intermediate
    between the two passes (shape ``half``) is still in cache when the second pass reads it
    (measured on the small CNN's first pooling layer: ~15% faster than whole halves). Each
    thread's intermediate is one run's worth, never the whole batch's."""
    per_image = max(1, math.prod(half[1:]) * itemsize)
    return max(1, _CHUNK_BYTES // per_image)


def _is_2x2(geo: PoolGeometry) -> bool:
    return (geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw, geo.dh, geo.dw) == (2, 2, 2, 2, 0, 0, 1, 1)


# --------------------------------------------------------------------------- max pooling
def max_pool2d_fused(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                     dilation: Any = 1, label: str = "max_pool2d") -> Tensor:
    """Max over each kh×kw window of an NCHW batch, as one fused op.

    Args:
        x: (N, C, H, W).
        kernel_size: window size, an int or an (h, w) pair.
        stride: step between windows (None: kernel_size).
        padding: -inf added on each side (at most half the window).
        dilation: spacing between the window's taps.
        label: how errors name the caller.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    geo = pool_geometry(x.shape, kernel_size, stride, padding, dilation, label)
    src = _float_nhwc(x)
    shape = (geo.n, geo.h_out, geo.w_out, geo.c)
    out = WORKSPACE.get("maxpool.out", shape, src.dtype)
    saved: tuple  # what the backward pass needs: its form depends on the path
    if _is_2x2(geo):
        h2, w2 = 2 * geo.h_out, 2 * geo.w_out
        half = (geo.n, h2, geo.w_out, geo.c)
        step = _chunk_images(half, src.dtype.itemsize)
        # the masks only serve the backward pass: none when no graph is being recorded
        masks = is_grad_enabled() and x.requires_grad
        right_won = WORKSPACE.get("maxpool.mask_w", half, np.bool_) if masks else None
        bottom_won = WORKSPACE.get("maxpool.mask_h", shape, np.bool_) if masks else None

        def work(n0: int, n1: int) -> None:
            run = min(step, n1 - n0)
            buf = WORKSPACE.get("maxpool.cols", (run,) + half[1:], src.dtype)
            for c0 in range(n0, n1, run):
                c1 = min(c0 + run, n1)
                cols = buf[:c1 - c0]
                left, right = src[c0:c1, :h2, 0:w2:2, :], src[c0:c1, :h2, 1:w2:2, :]
                np.maximum(left, right, out=cols)
                if right_won is not None:  # masks are kept
                    np.greater(right, left, out=right_won[c0:c1])
                top, bottom = cols[:, 0::2], cols[:, 1::2]
                np.maximum(top, bottom, out=out[c0:c1])
                if bottom_won is not None:
                    np.greater(bottom, top, out=bottom_won[c0:c1])

        parallel_for(geo.n, work)
        saved = (geo, "2x2", (right_won, bottom_won))
    else:
        padded = _padded(src, geo, -np.inf, "maxpool.padded")
        winner = WORKSPACE.get("maxpool.winner", shape, np.int32)

        def work(n0: int, n1: int) -> None:
            part, best, won = padded[n0:n1], out[n0:n1], winner[n0:n1]
            won.fill(0)
            best[...] = _tap(part, geo, 0, 0)
            took = np.empty(best.shape, dtype=np.bool_)
            for t in range(1, geo.kh * geo.kw):
                value = _tap(part, geo, *divmod(t, geo.kw))
                np.greater(value, best, out=took)
                took |= np.isnan(value)  # like PyTorch, a NaN wins (and stays)
                np.copyto(best, value, where=took)
                np.copyto(won, t, where=took)

        parallel_for(geo.n, work)
        saved = (geo, "taps", winner)
    return make_result(out.transpose(0, 3, 1, 2), MAX_POOL2D_OP, (x,), saved)


@register_derivative(MAX_POOL2D_OP)
def max_pool2d_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """Route each window's gradient to the element that won it (the first, among ties).

    The gradient comes back in the memory layout of the input (channels-last for a conv's
    output): then the layer before sees the same array whether a ReLU sat between it and this
    pool or ran after it (``MaxPool2d.relu_commutes``), down to the order of its sums.
    """
    x = node.inputs[0]
    geo, kind, record = node.saved
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    g = grad.transpose(0, 2, 3, 1)
    grad_in = WORKSPACE.like("maxpool.grad_in", x.data, dtype)  # (N, C, H, W), laid out like x
    gx = grad_in.transpose(0, 2, 3, 1)
    if kind == "2x2":
        right_won, bottom_won = record
        h2, w2 = 2 * geo.h_out, 2 * geo.w_out
        step = _chunk_images(right_won.shape, dtype.itemsize)

        def work(n0: int, n1: int) -> None:
            run = min(step, n1 - n0)
            buf = WORKSPACE.get("maxpool.grad_cols", (run,) + right_won.shape[1:], dtype)
            for c0 in range(n0, n1, run):
                c1 = min(c0 + run, n1)
                gp, gc, gxp = g[c0:c1], buf[:c1 - c0], gx[c0:c1]
                if (h2, w2) != (geo.h, geo.w):
                    gxp.fill(0)  # the odd last row/column belongs to no window
                # g·mask goes to the winner; g - g·mask (g where the mask is False) to the other
                np.multiply(gp, bottom_won[c0:c1], out=gc[:, 1::2])
                np.subtract(gp, gc[:, 1::2], out=gc[:, 0::2])
                np.multiply(gc, right_won[c0:c1], out=gxp[:, :h2, 1:w2:2])
                np.subtract(gc, gxp[:, :h2, 1:w2:2], out=gxp[:, :h2, 0:w2:2])

        parallel_for(geo.n, work)
    else:
        winner = record
        hp, wp = geo.h + 2 * geo.ph, geo.w + 2 * geo.pw
        padded = gx if not (geo.ph or geo.pw) else WORKSPACE.get(
            "maxpool.grad_padded", (geo.n, hp, wp, geo.c), dtype)

        def work(n0: int, n1: int) -> None:
            part, won, gp = padded[n0:n1], winner[n0:n1], g[n0:n1]
            part.fill(0)
            share = np.empty(won.shape, dtype=dtype)
            for t in range(geo.kh * geo.kw):
                np.multiply(gp, won == t, out=share)
                _tap(part, geo, *divmod(t, geo.kw))[...] += share

        parallel_for(geo.n, work)
        if padded is not gx:
            gx[...] = padded[:, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w, :]
    return (grad_in,)


# --------------------------------------------------------------------------- average pooling
def avg_pool2d_fused(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                     count_include_pad: bool = True, label: str = "avg_pool2d") -> Tensor:
    """Mean over each kh×kw window of an NCHW batch, as one fused op.

    Args:
        x: (N, C, H, W).
        kernel_size: window size, an int or an (h, w) pair.
        stride: step between windows (None: kernel_size).
        padding: zeros added on each side (at most half the window).
        count_include_pad: divide by kh·kw (True, PyTorch's default) or by the number of
            real elements in the window.
        label: how errors name the caller.
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    geo = pool_geometry(x.shape, kernel_size, stride, padding, 1, label)
    src = _float_nhwc(x)
    padded = _padded(src, geo, 0.0, "avgpool.padded")
    out = WORKSPACE.get("avgpool.out", (geo.n, geo.h_out, geo.w_out, geo.c), src.dtype)
    out[...] = _tap(padded, geo, 0, 0)
    for t in range(1, geo.kh * geo.kw):
        out += _tap(padded, geo, *divmod(t, geo.kw))
    divisor = avg_pool_divisor(geo, count_include_pad, src.dtype)
    if isinstance(divisor, float):
        out *= np.asarray(1.0 / divisor, dtype=out.dtype)
    else:
        out /= divisor
    return make_result(out.transpose(0, 3, 1, 2), AVG_POOL2D_OP, (x,), (geo, divisor))


@register_derivative(AVG_POOL2D_OP)
def avg_pool2d_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """Every element of a window gets that window's gradient divided by its divisor."""
    x = node.inputs[0]
    geo, divisor = node.saved
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    g = grad.transpose(0, 2, 3, 1)
    share = WORKSPACE.get("avgpool.share", g.shape, dtype)
    if isinstance(divisor, float):
        np.multiply(g, np.asarray(1.0 / divisor, dtype=dtype), out=share)
    else:
        np.divide(g, divisor, out=share)
    hp, wp = geo.h + 2 * geo.ph, geo.w + 2 * geo.pw
    padded = WORKSPACE.get("avgpool.grad_padded", (geo.n, hp, wp, geo.c), dtype)
    padded.fill(0)
    for t in range(geo.kh * geo.kw):
        _tap(padded, geo, *divmod(t, geo.kw))[...] += share
    inner = padded[:, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w, :]
    return (inner.transpose(0, 3, 1, 2),)
