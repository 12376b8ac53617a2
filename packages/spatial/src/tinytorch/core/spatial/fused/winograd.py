"""Winograd's F(2×2, 3×3): a 3×3 'same' convolution with 16 multiplies per 2×2 outputs, not 36.

For wide layers (many input and output channels) almost all of a convolution's time is its
GEMM, so the way to go faster is fewer multiply-adds. Winograd's minimal filtering algorithm
(Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) computes each 2×2
block of outputs from the 4×4 block of inputs around it:

    Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A

``d_c`` is the 4×4 input tile of channel c, ``g_c`` the 3×3 filter, ⊙ elementwise. The sum over
channels is, at each of the 16 positions of the 4×4 transformed tile, a matrix product
(tiles × C_in) @ (C_in × C_out): 16 GEMMs where im2col does 36 multiply-adds' worth (9 taps
for each of 4 outputs), 2.25× less arithmetic, paid for with cheap additions that transform
tiles in and out. Tiles that hang over an odd edge waste some work (a 7×7 map is 16 tiles =
8×8 outputs), so a 7×7 layer gains 1.7×, a 15×15 one 2×.

The backward pass is Winograd too:

* **input gradient** — for a stride-1, padding-1 3×3 convolution it is the same kind of
  convolution of the output gradient, with each filter turned 180° and input/output channels
  swapped, so it runs through the same forward;
* **weight gradient** — differentiating the formula: ``dU = Σ_tiles V ⊙ (A dY Aᵀ)`` at each of
  the 16 positions (again 16 GEMMs, (C_in × tiles) @ (tiles × C_out)), then ``dg = Gᵀ dU G``.

Used by :func:`.conv.conv2d_fused` for 3×3, stride 1, padding 1, dilation 1, ungrouped layers
with at least :data:`MIN_CHANNELS` input and output channels (below that, the additions cost
more than the multiplies they save). Everything works on channels-last (NHWC) blocks of a few
images at a time, split over the runtime's threads, like the im2col path.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor.runtime import WORKSPACE, parallel_for, switch

from ..geometry import ConvGeometry

__all__ = ["WINOGRAD", "MIN_CHANNELS", "MIN_GAIN", "winograd_gain", "winograd_applies", "filter_transform",
           "winograd_forward", "winograd_backward"]

# on/off for the whole process (``with WINOGRAD(False): ...`` runs im2col everywhere)
WINOGRAD = switch("spatial.winograd", default=True)
# Below 128 input channels the 16 GEMMs are too skinny (their inner dimension is C_in) to beat
# one im2col GEMM. Measured on airbench's layers, batch 512, 2 threads, forward + backward
# (issue 20's closing note): 256→256 on 7×7 maps 678 vs 872 ms
# (1.29× faster), but 64→256 on 15×15 1129 vs 878 ms (0.78×), and 64→64 slower too.
MIN_CHANNELS = 128
# Tiles past an odd edge compute outputs that are thrown away: a 3×3 map is one 4×4 tile
# (16 outputs' work for 9), leaving 2.25 · 9/16 = 1.27× less arithmetic than im2col, which the
# transforms eat. Below this gain the layer keeps im2col.
MIN_GAIN = 1.5
# bytes of one chunk's transformed input tiles: large enough that the 16 GEMMs have a few
# hundred rows each, small enough to stay in the last-level cache
_CHUNK_BYTES = 1 << 22

# G (4×3) maps a 3-tap filter to the 4 transformed taps; the input (B) and output (A)
# transforms are written out as additions below.
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def winograd_gain(h: int, w: int) -> float:
    """How many times fewer multiply-adds than im2col on an h×w map (2.25 less tile waste)."""
    th, tw = _tiles(h, w)
    return 2.25 * h * w / (4 * th * tw)


def winograd_applies(geo: ConvGeometry) -> bool:
    """Is this convolution one F(2×2, 3×3) computes, wide and large enough to gain from it?"""
    return (WINOGRAD.enabled and geo.kh == 3 and geo.kw == 3 and geo.sh == 1 and geo.sw == 1
            and geo.ph == 1 and geo.pw == 1 and geo.dh == 1 and geo.dw == 1 and geo.groups == 1
            and geo.c >= MIN_CHANNELS and geo.c_out >= MIN_CHANNELS
            and winograd_gain(geo.h, geo.w) >= MIN_GAIN)


def filter_transform(w: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """(C_out, C_in, 3, 3) -> U = G g Gᵀ as (16, C_in, C_out): one matrix per tile position."""
    u = np.einsum("xa,kcab,yb->xyck", _G, w.astype(np.float64), _G, optimize=True)
    return np.ascontiguousarray(u.reshape(16, w.shape[1], w.shape[0]), dtype=dtype)


def _tiles(h: int, w: int) -> tuple:
    return (h + 1) // 2, (w + 1) // 2


def _scratch(tag: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A reused buffer (a fresh array of a few MB costs more in page faults than the additions
    written into it); each thread gets its own, as the pool hands out only free buffers."""
    return WORKSPACE.get(tag, shape, dtype)


def _input_transform(padded: np.ndarray, v: np.ndarray, th: int, tw: int) -> None:
    """V = Bᵀ d B for every 4×4 tile of the zero-bordered NHWC block ``padded``.

    ``v`` is (16, n, th, tw, C). Bᵀ = [[1,0,-1,0], [0,1,1,0], [0,-1,1,0], [0,1,0,-1]], applied
    to the tile's rows (tile i reads padded rows 2i..2i+3), then to its columns.
    """
    n, _, wp, c = padded.shape
    r = [padded[:, a:a + 2 * th - 1:2] for a in range(4)]  # (n, th, W+pad, C): row 2i+a
    rows = _scratch("winograd.rows", (4, n, th, wp, c), v.dtype)
    np.subtract(r[0], r[2], out=rows[0])
    np.add(r[1], r[2], out=rows[1])
    np.subtract(r[2], r[1], out=rows[2])
    np.subtract(r[1], r[3], out=rows[3])
    for a in range(4):
        s = rows[a]
        col = [s[:, :, b:b + 2 * tw - 1:2] for b in range(4)]  # column 2j+b
        np.subtract(col[0], col[2], out=v[4 * a])
        np.add(col[1], col[2], out=v[4 * a + 1])
        np.subtract(col[2], col[1], out=v[4 * a + 2])
        np.subtract(col[1], col[3], out=v[4 * a + 3])


def _output_transform(m: np.ndarray, out: np.ndarray) -> None:
    """Y = Aᵀ M A into the NHWC block ``out`` (n, H, W, K) from ``m`` (16, n, th, tw, K).

    Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]: output row 0 of a tile sums transformed rows 0-2,
    row 1 is rows 1 - 2 - 3; the same along columns. Tiles past an odd edge are cropped.
    """
    h, w = out.shape[1], out.shape[2]
    t = _scratch("winograd.t", (2, 4) + m.shape[1:], m.dtype)  # Aᵀ along the tile's rows
    np.add(m[0:4], m[4:8], out=t[0])
    t[0] += m[8:12]
    np.subtract(m[4:8], m[8:12], out=t[1])
    t[1] -= m[12:16]
    y = _scratch("winograd.y", m.shape[1:], m.dtype)
    for p in range(2):
        rows = (h - p + 1) // 2
        np.add(t[p, 0], t[p, 1], out=y)
        y += t[p, 2]
        out[:, p::2, 0::2] = y[:, :rows, :(w + 1) // 2]
        np.subtract(t[p, 1], t[p, 2], out=y)
        y -= t[p, 3]
        out[:, p::2, 1::2] = y[:, :rows, :w // 2]


def _grad_transform(g: np.ndarray, dm: np.ndarray, th: int, tw: int) -> None:
    """dM = A dY Aᵀ for every 2×2 tile of the NHWC output gradient block ``g``, into ``dm``
    (16, n, th, tw, K); outputs past an odd edge count as zero (they do not exist)."""
    n, h, w, k = g.shape
    if h % 2 or w % 2:
        # zero below and right of the map: only the top-left h×w is ever written, and the
        # map's size is in the tag (see _padded)
        full = WORKSPACE.get(f"winograd.gfull{h},{w}", (dm.shape[1], 2 * th, 2 * tw, k),
                             dm.dtype, fill=0.0)[:n]
        full[:, :h, :w] = g
        g = full
    # rows: A = [[1, 0], [1, 1], [1, -1], [0, -1]] applied to the tile's two output rows
    top, bottom = g[:, 0::2], g[:, 1::2]
    rows = _scratch("winograd.grows", (4, n, th, 2 * tw, k), dm.dtype)
    rows[0] = top
    np.add(top, bottom, out=rows[1])
    np.subtract(top, bottom, out=rows[2])
    np.negative(bottom, out=rows[3])
    for a in range(4):
        c0, c1 = rows[a][:, :, 0::2], rows[a][:, :, 1::2]
        dm[4 * a] = c0
        np.add(c0, c1, out=dm[4 * a + 1])
        np.subtract(c0, c1, out=dm[4 * a + 2])
        np.negative(c1, out=dm[4 * a + 3])


def _images_per_chunk(per_image_bytes: int) -> int:
    return max(1, _CHUNK_BYTES // max(1, per_image_bytes))


def _padded(block: np.ndarray, nc: int, th: int, tw: int, dtype: np.dtype) -> np.ndarray:
    """The NHWC block of images with a zero border: 1 on top and left, enough below and right
    for the last tile (2·tiles + 2 rows and columns in all). The buffer holds ``nc`` images.

    Only the interior is ever written, so the border stays zero across reuses; the map's size
    is part of the tag, because an 8×8 and a 7×7 map have buffers of the same shape and the
    8×8 one writes where the 7×7 one needs a zero.
    """
    n, h, w, c = block.shape
    buf = WORKSPACE.get(f"winograd.pad{h},{w}", (nc, 2 * th + 2, 2 * tw + 2, c), dtype,
                        fill=0.0)
    buf[:n, 1:h + 1, 1:w + 1] = block
    return buf[:n]


def winograd_forward(src: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
    """``out`` (N, H, W, C_out) = the 3×3 'same' convolution of the NHWC ``src`` (N, H, W, C_in)
    with the transformed filters ``u`` (16, C_in, C_out), split over the runtime's threads.
    ``src`` may have any memory layout and dtype: each block is copied into ``u``'s dtype."""
    n, h, w, c = src.shape
    dtype = u.dtype
    k = u.shape[2]
    th, tw = _tiles(h, w)
    step = _images_per_chunk(16 * th * tw * max(c, k) * dtype.itemsize)

    def work(n0: int, n1: int) -> None:
        nc = min(step, n1 - n0)
        # (16, images·tiles, channels): each position's GEMM operand is one contiguous matrix
        v = WORKSPACE.get("winograd.v", (16, nc * th * tw, c), dtype)
        m = WORKSPACE.get("winograd.m", (16, nc * th * tw, k), dtype)
        for c0 in range(n0, n1, nc):
            c1 = min(c0 + nc, n1)
            rows = (c1 - c0) * th * tw
            vb, mb = v[:, :rows], m[:, :rows]
            _input_transform(_padded(src[c0:c1], nc, th, tw, dtype), vb.reshape(16, -1, th, tw, c),
                             th, tw)
            np.matmul(vb, u, out=mb)
            _output_transform(mb.reshape(16, -1, th, tw, k), out[c0:c1])

    parallel_for(n, work)


def winograd_backward(src: np.ndarray, g: np.ndarray, w: np.ndarray, need_x: bool,
                      need_w: bool) -> tuple:
    """(dx as NHWC or None, dweight (C_out, C_in, 3, 3) or None) of the forward above.

    ``src`` is the NHWC input, ``g`` the NHWC output gradient (N, H, W, C_out), ``w`` the
    filters (C_out, C_in, 3, 3) in the computation's dtype.
    """
    n, h, wd, c = src.shape
    dtype = w.dtype
    k = g.shape[3]
    dx = dw = None
    if need_x:
        # the input gradient: a 'same' 3×3 convolution of g with each filter turned 180° and
        # the channels swapped — (C_in, C_out, 3, 3) filters over C_out input channels
        flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dx = WORKSPACE.get("winograd.dx", (n, h, wd, c), dtype)
        winograd_forward(g, filter_transform(flipped, dtype), dx)
    if need_w:
        th, tw = _tiles(h, wd)
        step = _images_per_chunk(16 * th * tw * max(c, k) * dtype.itemsize)

        def work(n0: int, n1: int) -> np.ndarray:
            nc = min(step, n1 - n0)
            v = WORKSPACE.get("winograd.v", (16, nc * th * tw, c), dtype)
            dm = WORKSPACE.get("winograd.dm", (16, nc * th * tw, k), dtype)
            du = np.zeros((16, c, k), dtype)
            part = np.empty((16, c, k), dtype)
            for c0 in range(n0, n1, nc):
                c1 = min(c0 + nc, n1)
                rows = (c1 - c0) * th * tw
                vb, mb = v[:, :rows], dm[:, :rows]
                _input_transform(_padded(src[c0:c1], nc, th, tw, dtype),
                                 vb.reshape(16, -1, th, tw, c), th, tw)
                _grad_transform(g[c0:c1], mb.reshape(16, -1, th, tw, k), th, tw)
                np.matmul(vb.transpose(0, 2, 1), mb, out=part)  # Vᵀ dM at each position
                du += part
            return du

        du = np.sum(parallel_for(n, work), axis=0, dtype=np.float64)
        # dg = Gᵀ dU G, back in the weight's (C_out, C_in, 3, 3) layout
        dw = np.einsum("xa,xyck,yb->kcab", _G, du.reshape(4, 4, c, k), _G, optimize=True)
    return dx, dw
