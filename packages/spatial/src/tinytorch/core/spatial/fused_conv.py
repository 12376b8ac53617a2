"""The fused 2-D convolution: one op, forward and backward written together in numpy.

The composite convolution (``composite.py``) is five Tensor ops and every one of them
allocates, transposes or folds a full-size array. This version does the same arithmetic —
the same single GEMM per group — with far less memory traffic:

* **Channels-last inside.** The input is read as (N, H, W, C). The GEMM's output,
  (N·H_out·W_out, C_out), *is* the output in NHWC order, so it is returned as an
  (N, C, H, W)-shaped view of that memory — no transpose. The next layer (ReLU, pooling,
  another conv) reads it channels-last again for free, just like PyTorch's ``channels_last``.
* **im2col as one assignment.** The patches are a strided view of the (padded) input; one
  ``np.copyto`` lays them out as the (M, kh·kw·C) matrix, ordered (kh, kw, C) so every copied
  run is a contiguous row of channels.
* **Reused buffers.** Padded input, patch matrix, output and gradient buffers come from
  :data:`~tinytorch.core.spatial.workspace.WORKSPACE` instead of fresh allocations.
* **col2im as contiguous adds.** The input gradient is computed per window tap as a batched
  matmul into a (kh·kw, M, C_in) block, so folding it back is kh·kw slice-adds of contiguous
  (M, C_in) slabs — done a few images at a time so the block stays in cache.

Its derivative is registered right here with ``register_derivative("spatial.conv2d")``:
module 09's engine calls it like any primitive's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.tensor import Tensor, make_result, register_derivative

from .geometry import ConvGeometry, conv_geometry
from .workspace import WORKSPACE

__all__ = ["conv2d_fused", "conv2d_fused_backward", "CONV2D_OP"]

CONV2D_OP = "spatial.conv2d"

# Images per chunk of the col2im: the (kh·kw, rows, C_in) block should stay in cache.
_COL2IM_CHUNK_BYTES = 1 << 21


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def compute_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype an op computes in: the widest float among its operands (float32 if none)."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float32)


def _patches(xd: np.ndarray, geo: ConvGeometry, dtype: np.dtype) -> np.ndarray:
    """im2col: the (G, M, kh·kw·C_g) patch matrix, rows in (n, i, j) order, columns (a, b, c)."""
    n, c, h, w = geo.n, geo.c, geo.h, geo.w
    g, cg = geo.groups, geo.c_group
    src = xd.transpose(0, 2, 3, 1)  # NHWC view (a copy-free one if the memory is channels-last)
    if geo.ph or geo.pw:
        padded = WORKSPACE.get(
            "conv.padded", (n, h + 2 * geo.ph, w + 2 * geo.pw, c), dtype, fill=0.0
        )
        # only the interior is ever written, so the zero border survives reuse
        padded[:, geo.ph:geo.ph + h, geo.pw:geo.pw + w, :] = src
        src = padded
    s_n, s_h, s_w, s_c = src.strides
    # element [gi, n, i, j, a, b, ci] = src[n, i·sh + a·dh, j·sw + b·dw, gi·C_g + ci]
    view = as_strided(
        src,
        shape=(g, n, geo.h_out, geo.w_out, geo.kh, geo.kw, cg),
        strides=(cg * s_c, s_n, geo.sh * s_h, geo.sw * s_w, geo.dh * s_h, geo.dw * s_w, s_c),
        writeable=False,
    )
    cols = WORKSPACE.get("conv.cols", view.shape, dtype)
    np.copyto(cols, view, casting="unsafe")
    return cols.reshape(g, n * geo.h_out * geo.w_out, geo.kh * geo.kw * cg)


def _weight_matrix(wd: np.ndarray, geo: ConvGeometry, dtype: np.dtype) -> np.ndarray:
    """(C_out, C_g, kh, kw) -> (G, kh·kw·C_g, C_out/G), matching the patch columns."""
    g, cog = geo.groups, geo.c_out_group
    w5 = wd.reshape(g, cog, geo.c_group, geo.kh, geo.kw).transpose(0, 3, 4, 2, 1)
    return np.ascontiguousarray(w5, dtype=dtype).reshape(g, -1, cog)


def conv2d_fused(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, label: str = "conv2d") -> Tensor:
    """2-D convolution (cross-correlation, like PyTorch) of an NCHW batch, as one fused op.

    Args:
        x: input of shape (N, C_in, H, W).
        weight: (C_out, C_in / groups, kh, kw).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or an (h, w) pair each.
        groups: split the channels into this many independent convolutions.
        label: how errors name the caller (a layer passes its own description).

    Returns:
        (N, C_out, H_out, W_out), stored channels-last (an NCHW view of NHWC memory).
    """
    x, weight = _as_tensor(x), _as_tensor(weight)
    bias = None if bias is None else _as_tensor(bias)
    geo = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups, label,
                        None if bias is None else bias.shape)
    dtype = compute_dtype(x.data, weight.data, None if bias is None else bias.data)
    m, c_out = geo.n * geo.h_out * geo.w_out, geo.c_out
    cols = _patches(x.data, geo, dtype)
    wmat = _weight_matrix(weight.data, geo, dtype)
    out = WORKSPACE.get("conv.out", (geo.n, geo.h_out, geo.w_out, c_out), dtype)
    out2 = out.reshape(m, c_out)
    if geo.groups == 1:
        np.matmul(cols[0], wmat[0], out=out2)
    else:
        per_group = WORKSPACE.get("conv.out_groups", (geo.groups, m, geo.c_out_group), dtype)
        np.matmul(cols, wmat, out=per_group)
        out2.reshape(m, geo.groups, geo.c_out_group)[...] = per_group.transpose(1, 0, 2)
    if bias is not None:
        out2 += bias.data.astype(dtype, copy=False)
    y = out.transpose(0, 3, 1, 2)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    saved = (geo, cols if weight.requires_grad else None, wmat if x.requires_grad else None, dtype)
    return make_result(y, CONV2D_OP, inputs, saved)


def _input_grad(g2: np.ndarray, wmat: np.ndarray, geo: ConvGeometry, dtype: np.dtype) -> np.ndarray:
    """col2im of dL/dpatches, computed tap by tap: returns dL/dx as an (N, C, H, W) view."""
    n, c, h, w = geo.n, geo.c, geo.h, geo.w
    g, cg, cog = geo.groups, geo.c_group, geo.c_out_group
    taps = geo.kh * geo.kw
    hp, wp = h + 2 * geo.ph, w + 2 * geo.pw
    grad_padded = WORKSPACE.get("conv.grad_padded", (n, hp, wp, c), dtype)
    grad_padded.fill(0)
    # per tap (a, b): the (C_out/G, C_g) slice of the weight, so dpatches[tap] = g @ w_tap
    w_taps = np.ascontiguousarray(wmat.reshape(g, taps, cg, cog).transpose(0, 1, 3, 2))
    per_image = geo.h_out * geo.w_out
    chunk = max(1, min(n, _COL2IM_CHUNK_BYTES // max(1, per_image * taps * cg * dtype.itemsize)))
    block = WORKSPACE.get("conv.dpatches", (taps * chunk * per_image * cg,), dtype)
    h_span, w_span = geo.sh * (geo.h_out - 1) + 1, geo.sw * (geo.w_out - 1) + 1
    for n0 in range(0, n, chunk):
        nc = min(chunk, n - n0)
        rows = g2[n0 * per_image:(n0 + nc) * per_image]
        d = block[:taps * nc * per_image * cg].reshape(taps, nc * per_image, cg)
        for gi in range(g):
            channels = slice(gi * cg, (gi + 1) * cg)
            np.matmul(rows[:, gi * cog:(gi + 1) * cog] if g > 1 else rows, w_taps[gi], out=d)
            for t in range(taps):
                a, b = divmod(t, geo.kw)
                target = grad_padded[n0:n0 + nc,
                                     a * geo.dh:a * geo.dh + h_span:geo.sh,
                                     b * geo.dw:b * geo.dw + w_span:geo.sw,
                                     channels]
                target += d[t].reshape(nc, geo.h_out, geo.w_out, cg)
    inner = grad_padded[:, geo.ph:geo.ph + h, geo.pw:geo.pw + w, :]
    return inner.transpose(0, 3, 1, 2)


@register_derivative(CONV2D_OP)
def conv2d_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """Gradients of the fused convolution for (x, weight[, bias]).

    With g the output gradient as an (M, C_out) matrix and P the patch matrix:
    dbias = Σ_rows g, dweight = Pᵀ g (reshaped back to (C_out, C_g, kh, kw)), and dx = the
    col2im of g Wᵀ.
    """
    x, weight = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    geo, cols, wmat, dtype = node.saved
    m, c_out = geo.n * geo.h_out * geo.w_out, geo.c_out
    g_nhwc = grad.transpose(0, 2, 3, 1)
    if not g_nhwc.flags.c_contiguous or g_nhwc.dtype != dtype:
        buf = WORKSPACE.get("conv.grad_out", g_nhwc.shape, dtype)
        np.copyto(buf, g_nhwc, casting="unsafe")
        g_nhwc = buf
    g2 = g_nhwc.reshape(m, c_out)
    gx = gw = gb = None
    if bias is not None and bias.requires_grad:
        gb = g2.sum(axis=0).astype(bias.dtype, copy=False)
    if weight.requires_grad:
        if geo.groups == 1:
            gwm = (cols[0].T @ g2)[None]
        else:
            per_group = g2.reshape(m, geo.groups, geo.c_out_group).transpose(1, 0, 2)
            gwm = np.matmul(cols.transpose(0, 2, 1), per_group)
        gw = (gwm.reshape(geo.groups, geo.kh, geo.kw, geo.c_group, geo.c_out_group)
              .transpose(0, 4, 3, 1, 2)
              .reshape(weight.shape)
              .astype(weight.dtype))
    if x.requires_grad:
        gx = _input_grad(g2, wmat, geo, dtype)
        if gx.dtype != x.dtype:
            gx = gx.astype(x.dtype)
    return (gx, gw) if bias is None else (gx, gw, gb)
