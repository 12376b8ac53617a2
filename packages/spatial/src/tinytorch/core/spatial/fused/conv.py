"""The fused 2-D convolution: one op, forward and backward written together in numpy.

The composite convolution (``spatial/composite.py``) is five Tensor ops and every one of them
allocates, transposes or folds a full-size array. This version does the same arithmetic —
the same GEMM per group — with far less memory traffic and memory:

* **Channels-last inside.** The input is read as (N, H, W, C). The GEMM's output,
  (N·H_out·W_out, C_out), *is* the output in NHWC order, so it is returned as an
  (N, C, H, W)-shaped view of that memory — no transpose. The next layer (ReLU, pooling,
  another conv) reads it channels-last again for free, just like PyTorch's ``channels_last``.
* **im2col a few images at a time.** The patches of a few images (about 2 MB of patch
  matrix) are a strided view of the (padded) input; one ``np.copyto`` lays them out as rows of
  (kh·kw·C) numbers, ordered (kh, kw, C) so every copied run is a contiguous row of channels,
  and the GEMM reads them while they are still in cache. The full patch matrix of the batch
  (38 MB for the small CNN's second conv at batch 128) never exists.
* **Nothing big kept for the backward pass.** The backward pass lays out the same patches
  again, chunk by chunk, from the input the graph keeps anyway: one more copy of cached data
  instead of holding every layer's patch matrix from the forward pass to the backward — what
  made a training step's peak memory well above PyTorch's.
* **col2im as contiguous adds.** The input gradient of each chunk is computed per window tap
  as a batched matmul into a (kh·kw, rows, C_in) block, so folding it back is kh·kw slice-adds
  of contiguous (rows, C_in) slabs, each clipped to the part that lands inside the input — no
  padded gradient buffer, and the tap that covers the whole input (the centre of a 'same'
  conv) is written first with ``=``, so nothing is zeroed. (One wide (rows, C_out) @
  (C_out, kh·kw·C_in) GEMM was tried: its GEMM is no faster here and folding its strided
  output back costs more.)
* **Reused buffers.** Chunk buffers, output and gradient buffers come from
  :data:`~tinytorch.core.tensor.runtime.WORKSPACE` instead of fresh allocations.
* **Data-parallel.** Every step above works on a contiguous range of images, so the batch is
  split across threads (``parallel_for`` of :mod:`tinytorch.core.tensor.runtime`), each with
  single-threaded BLAS.
* **Winograd for wide 3×3 layers.** A 3×3, stride-1, padding-1 convolution with many channels
  runs Winograd's F(2×2, 3×3) instead (:mod:`.winograd`): 2.25× fewer multiply-adds, the same
  op and the same derivative entry point.

Its derivative is registered right here with ``register_derivative(CONV2D_OP)``:
the autograd module's engine calls it like any primitive's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.tensor import Tensor, make_result, register_derivative
from tinytorch.core.tensor.runtime import WORKSPACE, parallel_for

from ..geometry import ConvGeometry, compute_dtype, conv_geometry
from .winograd import filter_transform, winograd_applies, winograd_backward, winograd_forward

__all__ = ["conv2d_fused", "conv2d_fused_backward", "CONV2D_OP"]

CONV2D_OP = "spatial.conv2d"

# Bytes of one chunk's patch matrix (or input-gradient block): small enough to stay in cache
# between the copy that writes it and the GEMM that reads it.
_CHUNK_BYTES = 1 << 21
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


def _images_per_chunk(geo: ConvGeometry, row_bytes: int) -> int:
    """How many images make a chunk of about _CHUNK_BYTES, for rows of ``row_bytes`` each."""
    return max(1, _CHUNK_BYTES // max(1, geo.h_out * geo.w_out * row_bytes))


def _planar(x: np.ndarray, geo: ConvGeometry) -> bool:
    """Build the patch matrix transposed (see :class:`_Patches`)?"""
    return (geo.groups == 1 and geo.kh * geo.kw * geo.c_group <= _SKINNY_COLUMNS
            and x.flags.c_contiguous)


class _Patches:
    """One thread's chunk buffers: lays out the patch rows of a few images at a time.

    ``ones`` adds a column of ones after the kh·kw·C_g patch columns (a first layer's bias
    trick, see :func:`conv2d_fused`); it is written once, when the buffer is made, and the
    patches never touch it.

    **Few channels (a first layer on RGB).** Laid out row by row, a 3-channel patch is copied
    in runs of kw·3 = 9 numbers — most of that layer's forward time went into the copy, not
    the GEMM. So when the patch matrix has few columns, it is built transposed, one column
    per (tap, channel): each column is a shifted copy of one input plane, copied in runs of a
    whole image row. ``fill`` then returns the transpose view, which BLAS reads as it is
    (measured on the small CNN's first conv, batch 128, one thread: forward 6.4 vs 8.9 ms, its
    weight gradient 7.2 vs 9.4 ms). Only for an input stored NCHW, as a batch of images is:
    the planes of channels-last memory are strided, and the row layout suits it better.
    """

    def __init__(self, geo: ConvGeometry, step: int, dtype: np.dtype, ones: bool,
                 planar: bool) -> None:
        self.geo, self.step, self.planar = geo, step, planar
        self.k = k = geo.kh * geo.kw * geo.c_group
        rows = step * geo.h_out * geo.w_out
        self.padded = None
        hp, wp = geo.h + 2 * geo.ph, geo.w + 2 * geo.pw
        if geo.ph or geo.pw:
            # Only the interior is ever written, so the zero border survives reuse. The padding
            # is part of the key: (H=10, pad 1) and (H=8, pad 2) give the same shape.
            tag = f"conv.padded{'-planar' if planar else ''}{geo.ph},{geo.pw}"
            shape = (step, geo.c, hp, wp) if planar else (step, hp, wp, geo.c)
            self.padded = WORKSPACE.get(tag, shape, dtype, fill=0.0)
        fill = 1.0 if ones else None
        if planar:
            self.buf = WORKSPACE.get("conv.cols-planar", (k + ones, rows), dtype, fill=fill)
        elif ones:
            self.buf = WORKSPACE.get("conv.cols+ones", (1, rows, k + 1), dtype, fill=1.0)
        else:
            self.buf = WORKSPACE.get("conv.cols", (geo.groups, rows, k), dtype)

    def fill(self, src: np.ndarray, c0: int, c1: int) -> np.ndarray:
        """The patch rows of images c0..c1 of the NHWC ``src``: a (G, rows, k[+1]) view."""
        geo, nc = self.geo, c1 - c0
        rows = nc * geo.h_out * geo.w_out
        if self.planar:
            return self._fill_planar(src.transpose(0, 3, 1, 2)[c0:c1], nc, rows)
        part = src[c0:c1]
        if self.padded is not None:
            self.padded[:nc, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w, :] = part
            part = self.padded[:nc]
        out = self.buf[:, :rows]
        # a view (splitting axes never copies): the patches go straight into the buffer
        target = out[..., :self.k].reshape(
            (geo.groups, nc, geo.h_out, geo.w_out, geo.kh, geo.kw, geo.c_group))
        np.copyto(target, _patch_view(part, geo), casting="unsafe")  # im2col
        return out

    def _fill_planar(self, part: np.ndarray, nc: int, rows: int) -> np.ndarray:
        geo = self.geo
        geo_c = geo.c
        if self.padded is not None:
            self.padded[:nc, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w] = part
            part = self.padded[:nc]
        h_span, w_span = geo.sh * (geo.h_out - 1) + 1, geo.sw * (geo.w_out - 1) + 1
        cols_t = self.buf[:, :rows]  # (k[+1], rows): column t·C + ci of the patch matrix
        for t in range(geo.kh * geo.kw):
            a, b = divmod(t, geo.kw)
            plane = part[:, :, a * geo.dh:a * geo.dh + h_span:geo.sh,
                         b * geo.dw:b * geo.dw + w_span:geo.sw]
            target = cols_t[t * geo_c:(t + 1) * geo_c].reshape(geo_c, nc, geo.h_out, geo.w_out)
            np.copyto(target, plane.transpose(1, 0, 2, 3), casting="unsafe")
        return cols_t.T[None]


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
    inputs = (x, weight) if bias is None else (x, weight, bias)
    if winograd_applies(geo):
        out = WORKSPACE.get("conv.out", (geo.n, geo.h_out, geo.w_out, geo.c_out), dtype)
        winograd_forward(x.data.transpose(0, 2, 3, 1), filter_transform(weight.data, dtype), out)
        if bias is not None:
            out += bias.data.astype(dtype, copy=False)
        return make_result(out.transpose(0, 3, 1, 2), CONV2D_OP, inputs,
                           (geo, None, dtype, False, "winograd"))
    n, g, cog = geo.n, geo.groups, geo.c_out_group
    per_image = geo.h_out * geo.w_out
    m, c_out = n * per_image, geo.c_out
    src = x.data.transpose(0, 2, 3, 1)  # NHWC view (copy-free if the memory is channels-last)
    k = geo.kh * geo.kw * geo.c_group
    wmat = _weight_matrix(weight.data, geo, dtype)
    b = None if bias is None else bias.data.astype(dtype, copy=False)
    # A layer with few patch columns (a first layer: 3·3·3 = 27) spends as long adding its
    # bias to the output as on the GEMM. So it gets a column of ones after its patches and
    # the bias as an extra row of the weight matrix: the GEMM adds the bias, and in the
    # backward pass Pᵀg yields dbias as its extra row. (Wide layers keep the separate add:
    # an odd K+1 makes their big GEMMs slower.)
    ones_column = _ones_column(geo, b is not None)
    gemm_w = np.concatenate([wmat[0], b[None, :]])[None] if ones_column and b is not None \
        else wmat
    step = _images_per_chunk(geo, (k + ones_column) * g * dtype.itemsize)
    planar = _planar(x.data, geo)
    out = WORKSPACE.get("conv.out", (n, geo.h_out, geo.w_out, c_out), dtype)
    out2 = out.reshape(m, c_out)

    def work(n0: int, n1: int) -> None:
        patches = _Patches(geo, min(step, n1 - n0), dtype, ones_column, planar)
        per_group = None
        if g > 1:
            per_group = WORKSPACE.get("conv.out_groups", (g, patches.step * per_image, cog), dtype)
        for c0 in range(n0, n1, patches.step):
            c1 = min(c0 + patches.step, n1)
            rows = patches.fill(src, c0, c1)
            r0, r1 = c0 * per_image, c1 * per_image
            if per_group is None:  # g == 1
                np.matmul(rows[0], gemm_w[0], out=out2[r0:r1])
            else:
                part = per_group[:, :r1 - r0]
                np.matmul(rows, wmat, out=part)
                out2[r0:r1].reshape(r1 - r0, g, cog)[...] = part.transpose(1, 0, 2)
            if b is not None and not ones_column:
                out2[r0:r1] += b

    parallel_for(n, work)
    y = out.transpose(0, 3, 1, 2)
    saved = (geo, wmat if x.requires_grad else None, dtype, ones_column, "im2col")
    return make_result(y, CONV2D_OP, inputs, saved)


def _ones_column(geo: ConvGeometry, has_bias: bool) -> bool:
    return has_bias and geo.groups == 1 and geo.kh * geo.kw * geo.c_group <= _SKINNY_COLUMNS


def _tap_span(out_size: int, in_size: int, stride: int, offset: int) -> tuple:
    """For one tap reading input index ``o·stride + offset`` (offset = tap·dilation - padding):
    the output range [o0, o1) that lands inside the input, and the input index of o0."""
    o0 = max(0, -(offset // stride)) if offset < 0 else 0
    o1 = min(out_size, (in_size - 1 - offset) // stride + 1) if in_size - 1 >= offset else 0
    return o0, max(o0, o1), o0 * stride + offset


def _col2im_plan(geo: ConvGeometry) -> tuple:
    """Per tap: (t, output rows, output cols, input rows, input cols) as slices, the taps
    that land nowhere left out, and whether the first one covers the whole input (it is then
    written with ``=`` and nothing needs zeroing first — the centre tap of a 'same' conv)."""
    plan = []
    for t in range(geo.kh * geo.kw):
        a, b = divmod(t, geo.kw)
        i0, i1, r0 = _tap_span(geo.h_out, geo.h, geo.sh, a * geo.dh - geo.ph)
        j0, j1, q0 = _tap_span(geo.w_out, geo.w, geo.sw, b * geo.dw - geo.pw)
        if i1 > i0 and j1 > j0:
            plan.append((t, slice(i0, i1), slice(j0, j1),
                         slice(r0, r0 + (i1 - i0 - 1) * geo.sh + 1, geo.sh),
                         slice(q0, q0 + (j1 - j0 - 1) * geo.sw + 1, geo.sw)))
    full = [p for p in plan if p[3] == slice(0, geo.h, 1) and p[4] == slice(0, geo.w, 1)]
    if full:
        plan.remove(full[0])
        plan.insert(0, full[0])
    return plan, bool(full)


def _col2im(d: np.ndarray, geo: ConvGeometry, plan: tuple, target: np.ndarray,
            channels: slice) -> None:
    """Add the per-tap block ``d`` (kh·kw, rows, C_g) of a chunk of images back onto their
    input gradient ``target`` (images, H, W, C), channels ``channels``: each tap's slab, clipped
    to the part that lands inside the input (what fell on the padding is dropped)."""
    taps, first_covers = plan
    nc = target.shape[0]
    if not first_covers:
        target[..., channels] = 0
    for k, (t, rows_out, cols_out, rows_in, cols_in) in enumerate(taps):
        slab = d[t].reshape(nc, geo.h_out, geo.w_out, -1)[:, rows_out, cols_out]
        if k == 0 and first_covers:
            target[:, :, :, channels] = slab
        else:
            target[:, rows_in, cols_in, channels] += slab


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


def _add(total: np.ndarray | None, part: np.ndarray) -> np.ndarray:
    if total is None:
        return part
    total += part
    return total


@register_derivative(CONV2D_OP)
def conv2d_fused_backward(grad: np.ndarray, node: Any) -> tuple:
    """Gradients of the fused convolution for (x, weight[, bias]).

    With g the output gradient as an (M, C_out) matrix and P the patch matrix:
    dbias = Σ_rows g, dweight = Pᵀ g (reshaped back to (C_out, C_g, kh, kw)), and dx = the
    col2im of g Wᵀ. P is laid out again from the input, a chunk of images at a time.
    """
    x, weight = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    geo, wmat, dtype, ones_column, method = node.saved
    if method == "winograd":
        return _winograd_backward(grad, node)
    n, g, cg, cog = geo.n, geo.groups, geo.c_group, geo.c_out_group
    per_image = geo.h_out * geo.w_out
    m, c_out = n * per_image, geo.c_out
    taps = geo.kh * geo.kw
    need_b = bias is not None and bias.requires_grad
    need_w, need_x = weight.requires_grad, x.requires_grad
    # the patches are needed for dweight, and for dbias when it is their ones column's row
    need_p = need_w or (need_b and ones_column)
    src = x.data.transpose(0, 2, 3, 1)
    g_nhwc = grad.transpose(0, 2, 3, 1)
    ready = g_nhwc.flags.c_contiguous and g_nhwc.dtype == dtype
    g_buf = g_nhwc if ready else WORKSPACE.get("conv.grad_out", g_nhwc.shape, dtype)
    g2 = g_buf.reshape(m, c_out)
    # what dx needs (None when x needs no gradient): its buffer, the col2im plan, the weight
    # as one (C_out_g, C_g) matrix per tap
    to_x = None
    if need_x:
        to_x = (WORKSPACE.get("conv.grad_in", (n, geo.h, geo.w, geo.c), dtype), _col2im_plan(geo),
                np.ascontiguousarray(wmat.reshape(g, taps, cg, cog).transpose(0, 1, 3, 2)))
    k = taps * cg
    row_bytes = max((k + ones_column) * g if need_p else 0, taps * cg if need_x else 0, 1)
    step = _images_per_chunk(geo, row_bytes * dtype.itemsize)
    planar = _planar(x.data, geo)

    def work(n0: int, n1: int) -> tuple:
        nc_max = min(step, n1 - n0)
        patches = _Patches(geo, nc_max, dtype, ones_column, planar) if need_p else None
        d = None
        if to_x is not None:
            d = WORKSPACE.get("conv.dpatches", (taps, nc_max * per_image, cg), dtype)
        gb = gw = None
        for c0 in range(n0, n1, nc_max):
            c1 = min(c0 + nc_max, n1)
            r0, r1 = c0 * per_image, c1 * per_image
            if not ready:
                np.copyto(g_buf[c0:c1], g_nhwc[c0:c1], casting="unsafe")
            rows = g2[r0:r1]
            if patches is not None:
                p = patches.fill(src, c0, c1)
                if ones_column:  # [P, 1]ᵀ g: dweight, and Σ_rows g = dbias as the last row
                    gw = _add(gw, _weight_grad(p[0], rows))
                elif g == 1:  # no np.stack: it would copy the (k, C_out) product once more
                    gw = _add(gw, _weight_grad(p[0], rows)[None])
                else:
                    gw = _add(gw, np.stack([_weight_grad(p[gi], rows[:, gi * cog:(gi + 1) * cog])
                                            for gi in range(g)]))
            if need_b and not ones_column:
                # Σ over rows as a matrix-vector product: numpy's sum along axis 0 walks the
                # rows one at a time; BLAS does the same additions ~4× faster (measured on a
                # 65,536 × 32 gradient)
                ones = WORKSPACE.get("conv.ones", (r1 - r0,), dtype, fill=1.0)
                gb = _add(gb, ones @ rows)
            if to_x is not None and d is not None:
                grad_in, plan, w_taps = to_x
                block = d[:, :r1 - r0]
                for gi in range(g):
                    np.matmul(rows[:, gi * cog:(gi + 1) * cog] if g > 1 else rows, w_taps[gi],
                              out=block)
                    _col2im(block, geo, plan, grad_in[c0:c1], slice(gi * cg, (gi + 1) * cg))
        if ones_column and gw is not None:
            gw, gb = gw[None, :-1], gw[-1]
        return gb, gw

    parts = parallel_for(n, work)
    gx = gw = gb = None
    if need_b and bias is not None:
        gb = parts[0][0] if len(parts) == 1 else np.sum([p[0] for p in parts], axis=0)
        gb = gb.astype(bias.dtype, copy=False)
    if need_w:
        gwm = parts[0][1] if len(parts) == 1 else np.sum([p[1] for p in parts], axis=0)
        gw = np.ascontiguousarray(
            gwm.reshape(g, geo.kh, geo.kw, cg, cog).transpose(0, 4, 3, 1, 2), dtype=weight.dtype
        ).reshape(weight.shape)
    if to_x is not None:
        gx = to_x[0].transpose(0, 3, 1, 2)
        if gx.dtype != x.dtype:
            gx = gx.astype(x.dtype)
    return (gx, gw) if bias is None else (gx, gw, gb)


def _winograd_backward(grad: np.ndarray, node: Any) -> tuple:
    """The gradients of a convolution that ran on the Winograd path (see :mod:`.winograd`)."""
    x, weight = node.inputs[0], node.inputs[1]
    bias = node.inputs[2] if len(node.inputs) > 2 else None
    dtype = node.saved[2]
    dx, dw = winograd_backward(x.data.transpose(0, 2, 3, 1), grad.transpose(0, 2, 3, 1),
                               weight.data.astype(dtype, copy=False), x.requires_grad,
                               weight.requires_grad)
    gx = None if dx is None else dx.transpose(0, 3, 1, 2).astype(x.dtype, copy=False)
    gw = None if dw is None else dw.astype(weight.dtype)
    if bias is None:
        return gx, gw
    gb = grad.sum(axis=(0, 2, 3), dtype=dtype).astype(bias.dtype) if bias.requires_grad else None
    return gx, gw, gb
