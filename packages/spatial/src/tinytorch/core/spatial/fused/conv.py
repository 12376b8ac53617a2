"""The fused 2-D convolution: one op, forward and backward written together in numpy.

The composite convolution (``spatial/composite.py``) is five Tensor ops and every one of them
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
  :data:`~tinytorch.core.tensor.runtime.WORKSPACE` instead of fresh allocations.
* **col2im as contiguous adds.** The input gradient is computed per window tap as a batched
  matmul into a (kh·kw, M, C_in) block, so folding it back is kh·kw slice-adds of contiguous
  (M, C_in) slabs — done a few images at a time so the block stays in cache.
* **Data-parallel.** Every step above works on a contiguous range of images, so the batch is
  split across threads (``parallel_for`` of :mod:`tinytorch.core.tensor.runtime`), each with
  single-threaded BLAS.

Its derivative is registered right here with ``register_derivative("spatial.conv2d")``:
module 09's engine calls it like any primitive's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.tensor import Tensor, make_result, register_derivative
from tinytorch.core.tensor.runtime import WORKSPACE, parallel_for

from ..geometry import ConvGeometry, compute_dtype, conv_geometry

__all__ = ["conv2d_fused", "conv2d_fused_backward", "CONV2D_OP"]

CONV2D_OP = "spatial.conv2d"

# Images per chunk of the col2im: the (kh·kw, rows, C_in) block should stay in cache.
_COL2IM_CHUNK_BYTES = 1 << 21
# The weight gradient of a layer with at most this many patch columns is summed in slices of
# _SKINNY_ROWS rows (measured: 4× faster for the 27 columns of a 3×3 conv on RGB).
_SKINNY_COLUMNS = 64
_SKINNY_ROWS = 1024


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _patch_view(src: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The patches of a (padded) NHWC block of images as a strided view, no copy:
    element [gi, n, i, j, a, b, ci] = src[n, i·sh + a·dh, j·sw + b·dw, gi·C_g + ci]."""
    s_n, s_h, s_w, s_c = src.strides
    cg = geo.c_group
    return as_strided(
        src,
        shape=(geo.groups, src.shape[0], geo.h_out, geo.w_out, geo.kh, geo.kw, cg),
        strides=(cg * s_c, s_n, geo.sh * s_h, geo.sw * s_w, geo.dh * s_h, geo.dw * s_w, s_c),
        writeable=False,
    )


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
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        dilation: spacing between kernel taps, an int or an (h, w) pair.
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
    n, h, w, g, cog = geo.n, geo.h, geo.w, geo.groups, geo.c_out_group
    per_image = geo.h_out * geo.w_out
    m, c_out = n * per_image, geo.c_out
    src = x.data.transpose(0, 2, 3, 1)  # NHWC view (copy-free if the memory is channels-last)
    padded = None
    if geo.ph or geo.pw:
        # Only the interior is ever written, so the zero border survives reuse. The padding is
        # part of the key: (H=10, pad 1) and (H=8, pad 2) give the same shape, other borders.
        padded = WORKSPACE.get(f"conv.padded{geo.ph},{geo.pw}",
                               (n, h + 2 * geo.ph, w + 2 * geo.pw, geo.c), dtype, fill=0.0)
    patch_shape = (g, n, geo.h_out, geo.w_out, geo.kh, geo.kw, geo.c_group)
    k = geo.kh * geo.kw * geo.c_group
    wmat = _weight_matrix(weight.data, geo, dtype)
    b = None if bias is None else bias.data.astype(dtype, copy=False)
    # A layer with few patch columns (a first layer: 3·3·3 = 27) spends as long adding its
    # bias to the output as on the GEMM. So it gets a column of ones after its patches and
    # the bias as an extra row of the weight matrix: the GEMM adds the bias, and in the
    # backward pass Pᵀg yields dbias as its extra row. (Wide layers keep the separate add:
    # an odd K+1 makes their big GEMMs slower.)
    ones_column = b is not None and g == 1 and k <= _SKINNY_COLUMNS
    if ones_column:
        # filled with ones once; only the first k columns are ever written, so the last stays 1
        cols3 = WORKSPACE.get("conv.cols+ones", (1, m, k + 1), dtype, fill=1.0)
        cols = cols3[..., :k].reshape(patch_shape)  # a view: the patches go straight in
        gemm_w = np.concatenate([wmat[0], b[None, :]])[None]
    else:
        cols = WORKSPACE.get("conv.cols", patch_shape, dtype)
        cols3 = cols.reshape(g, m, -1)
        gemm_w = wmat
    out = WORKSPACE.get("conv.out", (n, geo.h_out, geo.w_out, c_out), dtype)
    out2 = out.reshape(m, c_out)
    per_group = WORKSPACE.get("conv.out_groups", (g, m, cog), dtype) if g > 1 else None

    def work(n0: int, n1: int) -> None:
        part = src[n0:n1]
        if padded is not None:
            padded[n0:n1, geo.ph:geo.ph + h, geo.pw:geo.pw + w, :] = part
            part = padded[n0:n1]
        np.copyto(cols[:, n0:n1], _patch_view(part, geo), casting="unsafe")  # im2col
        r0, r1 = n0 * per_image, n1 * per_image
        if g == 1:
            np.matmul(cols3[0, r0:r1], gemm_w[0], out=out2[r0:r1])
        else:
            for gi in range(g):
                np.matmul(cols3[gi, r0:r1], wmat[gi], out=per_group[gi, r0:r1])
            out2[r0:r1].reshape(r1 - r0, g, cog)[...] = per_group[:, r0:r1].transpose(1, 0, 2)
        if b is not None and not ones_column:
            out2[r0:r1] += b

    parallel_for(n, work)
    y = out.transpose(0, 3, 1, 2)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    keep_cols = weight.requires_grad or (ones_column and bias.requires_grad)
    saved = (geo, cols3 if keep_cols else None, wmat if x.requires_grad else None, dtype,
             ones_column)
    return make_result(y, CONV2D_OP, inputs, saved)


def _input_grad(rows: np.ndarray, w_taps: np.ndarray, geo: ConvGeometry,
                grad_padded: np.ndarray, n0: int, n1: int, dtype: np.dtype) -> None:
    """col2im of dL/dpatches for images n0..n1, tap by tap, into ``grad_padded[n0:n1]``.

    ``rows`` is those images' output gradient as (rows, C_out); ``w_taps[gi, t]`` is the
    (C_out/G, C_g) slice of the weight that tap t of group gi multiplies.
    """
    g, cg, cog = geo.groups, geo.c_group, geo.c_out_group
    taps = geo.kh * geo.kw
    per_image = geo.h_out * geo.w_out
    grad_padded[n0:n1].fill(0)
    chunk = max(1, _COL2IM_CHUNK_BYTES // max(1, per_image * taps * cg * dtype.itemsize))
    chunk = min(chunk, n1 - n0)
    block = WORKSPACE.get("conv.dpatches", (taps * chunk * per_image * cg,), dtype)
    h_span, w_span = geo.sh * (geo.h_out - 1) + 1, geo.sw * (geo.w_out - 1) + 1
    for c0 in range(n0, n1, chunk):
        nc = min(chunk, n1 - c0)
        chunk_rows = rows[(c0 - n0) * per_image:(c0 - n0 + nc) * per_image]
        d = block[:taps * nc * per_image * cg].reshape(taps, nc * per_image, cg)
        for gi in range(g):
            channels = slice(gi * cg, (gi + 1) * cg)
            np.matmul(chunk_rows[:, gi * cog:(gi + 1) * cog] if g > 1 else chunk_rows,
                      w_taps[gi], out=d)
            for t in range(taps):
                a, b = divmod(t, geo.kw)
                target = grad_padded[c0:c0 + nc,
                                     a * geo.dh:a * geo.dh + h_span:geo.sh,
                                     b * geo.dw:b * geo.dw + w_span:geo.sw,
                                     channels]
                target += d[t].reshape(nc, geo.h_out, geo.w_out, cg)


def _weight_grad(patches: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """patchesᵀ @ rows. With few patch columns (a first layer's 3·3·3 = 27) that product is a
    reduction over a very long inner dimension, which BLAS does several times faster in
    cache-sized slices of rows than in one call."""
    if patches.shape[1] > _SKINNY_COLUMNS:
        return patches.T @ rows
    total = patches[:_SKINNY_ROWS].T @ rows[:_SKINNY_ROWS]
    for r in range(_SKINNY_ROWS, patches.shape[0], _SKINNY_ROWS):
        total += patches[r:r + _SKINNY_ROWS].T @ rows[r:r + _SKINNY_ROWS]
    return total


@register_derivative(CONV2D_OP)
def conv2d_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """Gradients of the fused convolution for (x, weight[, bias]).

    With g the output gradient as an (M, C_out) matrix and P the patch matrix:
    dbias = Σ_rows g, dweight = Pᵀ g (reshaped back to (C_out, C_g, kh, kw)), and dx = the
    col2im of g Wᵀ.
    """
    x, weight = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    geo, cols3, wmat, dtype, ones_column = node.saved
    n, g, cg, cog = geo.n, geo.groups, geo.c_group, geo.c_out_group
    per_image = geo.h_out * geo.w_out
    m, c_out = n * per_image, geo.c_out
    need_b = bias is not None and bias.requires_grad
    need_w, need_x = weight.requires_grad, x.requires_grad
    g_nhwc = grad.transpose(0, 2, 3, 1)
    ready = g_nhwc.flags.c_contiguous and g_nhwc.dtype == dtype
    g_buf = g_nhwc if ready else WORKSPACE.get("conv.grad_out", g_nhwc.shape, dtype)
    g2 = g_buf.reshape(m, c_out)
    grad_padded = w_taps = None
    if need_x:
        grad_padded = WORKSPACE.get(
            "conv.grad_padded", (n, geo.h + 2 * geo.ph, geo.w + 2 * geo.pw, geo.c), dtype)
        taps = geo.kh * geo.kw
        w_taps = np.ascontiguousarray(wmat.reshape(g, taps, cg, cog).transpose(0, 1, 3, 2))

    def work(n0: int, n1: int) -> tuple:
        if not ready:
            np.copyto(g_buf[n0:n1], g_nhwc[n0:n1], casting="unsafe")
        r0, r1 = n0 * per_image, n1 * per_image
        rows = g2[r0:r1]
        gb = gw = None
        if ones_column and cols3 is not None:
            # [P, 1]ᵀ g: dweight, and Σ_rows g = dbias as the last row
            full = _weight_grad(cols3[0, r0:r1], rows)
            gw, gb = full[None, :-1], full[-1]
        else:
            if need_b:
                # Σ over rows as a matrix-vector product: numpy's sum along axis 0 walks the
                # rows one at a time; BLAS does the same additions ~4× faster (measured on a
                # 65,536 × 32 gradient)
                ones = WORKSPACE.get("conv.ones", (r1 - r0,), dtype, fill=1.0)
                gb = ones @ rows
            if need_w:
                gw = np.stack([_weight_grad(cols3[gi, r0:r1], rows[:, gi * cog:(gi + 1) * cog])
                               for gi in range(g)])
        if need_x:
            _input_grad(rows, w_taps, geo, grad_padded, n0, n1, dtype)
        return gb, gw

    parts = parallel_for(n, work)
    gx = gw = gb = None
    if need_b:
        gb = parts[0][0] if len(parts) == 1 else np.sum([p[0] for p in parts], axis=0)
        gb = gb.astype(bias.dtype, copy=False)
    if need_w:
        gwm = parts[0][1] if len(parts) == 1 else np.sum([p[1] for p in parts], axis=0)
        gw = np.ascontiguousarray(
            gwm.reshape(g, geo.kh, geo.kw, cg, cog).transpose(0, 4, 3, 1, 2), dtype=weight.dtype
        ).reshape(weight.shape)
    if need_x:
        inner = grad_padded[:, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w, :]
        gx = inner.transpose(0, 3, 1, 2)
        if gx.dtype != x.dtype:
            gx = gx.astype(x.dtype)
    return (gx, gw) if bias is None else (gx, gw, gb)
