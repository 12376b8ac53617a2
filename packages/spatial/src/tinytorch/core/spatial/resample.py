"""Changing a feature map's size: ``interpolate`` / ``Upsample`` (nearest, bilinear) and
``MaxUnpool2d``, with the max-pool indices it needs.

**Nearest** picks, for output row i, input row ⌊i · scale⌋ (scale = in / out, or
1 / scale_factor when one is given — PyTorch's rule), and likewise for columns: two
``index_select``s, so the gradient adds each output's gradient back into the row it came from.

**Bilinear** is separable: each output row is a weighted mix of two input rows, each column of
two columns. Written as two small matrices, ``y = A_h @ x @ A_wᵀ``, where row i of ``A_h``
holds the weights ``1 - λ`` and ``λ`` at the two rows around the source coordinate

    align_corners=False:  src = (i + ½) · scale - ½, clamped at 0 (pixel centres line up)
    align_corners=True:   src = i · (in - 1) / (out - 1)         (corner pixels line up)

and the gradient is ``A_hᵀ @ g @ A_w`` — matmul's own derivative.

**MaxUnpool2d** puts each pooled maximum back at the position it came from (zeros elsewhere):
a ``scatter`` into a zero map, using the flat indices (row · W + column, per channel) that
``max_pool2d_with_indices`` returns — PyTorch's convention, so indices move between the two.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

from .functional import max_pool2d
from .geometry import check_4d, out_size, pair

__all__ = ["interpolate", "Upsample", "max_pool2d_with_indices", "MaxUnpool2d", "max_unpool2d"]

MODES = ("nearest", "bilinear")


def _output_size(x: Tensor, size: Any, scale_factor: Any) -> tuple:
    """((out_h, out_w), (scale_h, scale_w)): the scales are the source step per output pixel."""
    (h, w), label = x.shape[2:], "interpolate"
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{label}: give exactly one of size and scale_factor")
    if size is not None:
        out = pair(size, "size", label)
        return out, (h / out[0], w / out[1])
    factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * 2
    if len(factors) != 2 or not all(isinstance(f, (int, float)) and f > 0 for f in factors):
        raise ValueError(f"{label}: scale_factor must be a positive number or a pair, "
                         f"got {scale_factor!r}")
    out = (int(math.floor(h * factors[0])), int(math.floor(w * factors[1])))
    if min(out) < 1:
        raise ValueError(f"{label}: scale_factor {scale_factor!r} makes an empty output from "
                         f"a {h}×{w} map")
    return out, (1.0 / factors[0], 1.0 / factors[1])


def _linear_weights(n_in: int, n_out: int, scale: float, align_corners: bool,
                    dtype: Any) -> np.ndarray:
    """The (n_out, n_in) matrix of linear-interpolation weights along one axis."""
    i = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = i * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((i + 0.5) * scale - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    hi = np.minimum(lo + 1, n_in - 1)
    lam = src - lo
    a = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(a, (np.arange(n_out), lo), 1.0 - lam)
    np.add.at(a, (np.arange(n_out), hi), lam)
    return a.astype(dtype)


def interpolate(x: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resize an (N, C, H, W) batch to ``size`` (int or (h, w)) or by ``scale_factor``, like
    ``torch.nn.functional.interpolate`` for ``mode`` "nearest" and "bilinear"."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    check_4d(x.shape, "interpolate")
    if mode not in MODES:
        raise ValueError(f"interpolate: mode must be one of {MODES}, got {mode!r}")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners applies to mode='bilinear' only")
    (oh, ow), (sh, sw) = _output_size(x, size, scale_factor)
    h, w = x.shape[2:]
    if mode == "nearest":
        rows = np.minimum(np.floor(np.arange(oh) * sh).astype(np.int64), h - 1)
        cols = np.minimum(np.floor(np.arange(ow) * sw).astype(np.int64), w - 1)
        return x.index_select(2, rows).index_select(3, cols)
    corners = bool(align_corners)
    a_h = Tensor(_linear_weights(h, oh, sh, corners, x.dtype), dtype=x.dtype)
    a_w = Tensor(_linear_weights(w, ow, sw, corners, x.dtype).T.copy(), dtype=x.dtype)
    return a_h @ x @ a_w


class Upsample(Module):
    """Resize feature maps (``interpolate`` as a layer).

    Args:
        size: output (h, w) or an int; or
        scale_factor: a number or a pair.
        mode: "nearest" (default) or "bilinear".
        align_corners: for bilinear, line up the corner pixels instead of the centres.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out).

    Example:
        >>> Upsample(scale_factor=2)(Tensor(np.zeros((1, 3, 4, 4)))).shape
        (1, 3, 8, 8)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Upsample: mode must be one of {MODES}, got {mode!r}")
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Any) -> Tensor:
        """Resize ``x``."""
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


def max_pool2d_with_indices(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1) -> tuple:
    """``(values, indices)``: ``max_pool2d``'s values (differentiable) and, for each, the flat
    position ``row · W + column`` of the input element it came from (int64; ties go to the
    first in the window, as the values' gradient does)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    check_4d(x.shape, "max_pool2d")
    label = "max_pool2d"
    (kh, kw) = pair(kernel_size, "kernel_size", label)
    (sh, sw) = (kh, kw) if stride is None else pair(stride, "stride", label)
    (ph, pw), (dh, dw) = pair(padding, "padding", label, minimum=0), pair(dilation, "dilation", label)
    values = max_pool2d(x, (kh, kw), (sh, sw), (ph, pw), (dh, dw))
    n, c, h, w = x.shape
    oh, ow = out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)
    padded = np.pad(x.data, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    best = np.full((n, c, oh, ow), -np.inf)
    where = np.zeros((n, c, oh, ow), dtype=np.int64)
    for i in range(kh):  # the window's taps in order: strict > keeps the first of ties
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            tap = padded[:, :, r0:r0 + sh * (oh - 1) + 1:sh, c0:c0 + sw * (ow - 1) + 1:sw]
            better = tap > best
            best = np.where(better, tap, best)
            rows = np.arange(oh)[:, None] * sh + r0 - ph
            cols = np.arange(ow)[None, :] * sw + c0 - pw
            where = np.where(better, rows * w + cols, where)
    return values, Tensor(where, dtype=np.int64)


def max_unpool2d(x: Any, indices: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """Each value of ``x`` (N, C, H, W) placed at its flat position in ``indices`` of an
    (N, C, H_out, W_out) map of zeros; H_out = (H - 1)·stride - 2·padding + kernel_size unless
    ``output_size`` says otherwise."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    check_4d(x.shape, "max_unpool2d")
    label = "max_unpool2d"
    (kh, kw) = pair(kernel_size, "kernel_size", label)
    (sh, sw) = (kh, kw) if stride is None else pair(stride, "stride", label)
    (ph, pw) = pair(padding, "padding", label, minimum=0)
    n, c, h, w = x.shape
    if output_size is None:
        oh, ow = (h - 1) * sh - 2 * ph + kh, (w - 1) * sw - 2 * pw + kw
    else:
        oh, ow = pair(tuple(output_size)[-2:], "output_size", label)
    idx = np.asarray(getattr(indices, "data", indices))
    if idx.shape != x.shape:
        raise ValueError(f"{label}: indices of shape {idx.shape} must match the input {x.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= oh * ow):
        raise ValueError(f"{label}: index {int(idx.max())} is outside the {oh}×{ow} output; "
                         "pass the output_size the pooling started from")
    zeros = Tensor(np.zeros((n, c, oh * ow), dtype=x.dtype), dtype=x.dtype)
    flat = zeros.scatter(2, idx.reshape(n, c, h * w), x.reshape(n, c, h * w))
    return flat.reshape(n, c, oh, ow)


class MaxUnpool2d(Module):
    """The partial inverse of ``MaxPool2d``: maxima back in place, zeros elsewhere.

    Args:
        kernel_size: that of the pooling being undone.
        stride: that of the pooling being undone (default: ``kernel_size``).
        padding: that of the pooling being undone.

    Shape:
        ``forward(x, indices, output_size=None)``: (N, C, H, W) -> (N, C, H_out, W_out),
        H_out = (H - 1)·stride - 2·padding + kernel_size (or ``output_size``).

    Example:
        >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
        >>> y, i = max_pool2d_with_indices(x, 2)  # or MaxPool2d(2, return_indices=True)(x)
        >>> MaxUnpool2d(2)(y, i).numpy()[0, 0, 1]
        array([0., 5., 0., 7.], dtype=float32)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Any, indices: Any, output_size: Any = None) -> Tensor:
        """Unpool ``x`` with the pooling's ``indices``."""
        return max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
