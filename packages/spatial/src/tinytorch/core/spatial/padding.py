"""What the lesson's layers leave out of padding and pooling, written as an explicit pad in
front of the ordinary op — so autograd, both paths and the dtype rules carry over:

* **padding modes** (``Conv2d(padding_mode=...)``), for a row [a b c d] padded by 2:
  ``reflect`` c b | a b c d | c b (the edge is not repeated), ``replicate`` a a | … | d d,
  ``circular`` c d | … | a b. Each is an ``index_select`` of the rows, then of the columns,
  with indices computed once here, so the gradient adds back into the rows that were copied;
* **"same" with an even span** (``Conv2d(4, 4, 4, padding="same")``): the padding the output
  needs, dilation·(k − 1), is odd, and the extra row / column goes at the bottom / right, as in
  PyTorch;
* **ceil_mode** of the pools: the output size rounds up, ⌈(H + 2p − d(k − 1) − 1) / s⌉ + 1,
  except that a last window starting beyond the input and its left padding is dropped; the
  windows that hang over the end see extra −∞ (max) or zeros that do not count (average);
* **divisor_override** of the average pool: every window's sum divided by that number.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

from .functional import avg_pool2d, max_pool2d
from .geometry import check_4d, pair

__all__ = ["PADDING_MODES", "pad2d", "same_padding", "ceil_extra", "max_pool2d_ceil",
           "avg_pool2d_options"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _source_rows(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each row of the padded axis, the input row it copies."""
    i = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    period = 2 * (n - 1)  # reflect: ... 2 1 | 0 1 2 ... n-1 | n-2 n-3 ...
    i = np.abs(i) % period if period else np.zeros_like(i)
    return np.where(i >= n, period - i, i)


def pad2d(x: Tensor, pads: tuple, mode: str = "zeros", value: float = 0.0) -> Tensor:
    """Pad H and W of an (N, C, H, W) tensor by ``pads`` = (top, bottom, left, right) in
    ``mode`` ("zeros" pads with ``value``)."""
    top, bottom, left, right = pads
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    if mode == "zeros":
        return x.pad(((0, 0), (0, 0), (top, bottom), (left, right)), value)
    h, w = x.shape[2:]
    if mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        raise ValueError(f"padding_mode='reflect': padding {pads} must be smaller than the "
                         f"input's {h}×{w} in each direction")
    if mode == "circular" and (max(top, bottom) > h or max(left, right) > w):
        raise ValueError(f"padding_mode='circular': padding {pads} must be at most the "
                         f"input's {h}×{w} in each direction")
    rows = _source_rows(h, top, bottom, mode)
    cols = _source_rows(w, left, right, mode)
    return x.index_select(2, rows).index_select(3, cols)


def same_padding(kernel_size: tuple, dilation: tuple) -> tuple:
    """(top, bottom, left, right) that keeps H and W at stride 1: dilation·(k − 1) in all,
    the odd one out at the bottom / right."""
    (kh, kw), (dh, dw) = kernel_size, dilation
    th, tw = dh * (kh - 1), dw * (kw - 1)
    return (th // 2, th - th // 2, tw // 2, tw - tw // 2)


def ceil_extra(n: int, k: int, s: int, p: int, d: int) -> int:
    """Rows to add after the end (beyond the padding) so that floor division gives the
    ceil_mode output size."""
    span = d * (k - 1) + 1
    out = math.ceil((n + 2 * p - span) / s) + 1
    if (out - 1) * s >= n + p:  # the last window would start in the right padding: drop it
        out -= 1
    return max(0, (out - 1) * s + span - (n + 2 * p))


def _pool_pads(x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
               label: str) -> tuple:
    check_4d(x.shape, label)
    (kh, kw) = pair(kernel_size, "kernel_size", label)
    (sh, sw) = (kh, kw) if stride is None else pair(stride, "stride", label)
    (ph, pw), (dh, dw) = pair(padding, "padding", label, minimum=0), pair(dilation, "dilation", label)
    if 2 * ph > dh * (kh - 1) + 1 or 2 * pw > dw * (kw - 1) + 1:
        raise ValueError(f"{label}: padding {(ph, pw)} must be at most half the window it pads")
    h, w = x.shape[2:]
    eh, ew = ceil_extra(h, kh, sh, ph, dh), ceil_extra(w, kw, sw, pw, dw)
    return (kh, kw), (sh, sw), (dh, dw), (ph, ph + eh, pw, pw + ew), (ph, pw)


def max_pool2d_ceil(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                    dilation: Any = 1) -> Tensor:
    """``max_pool2d`` with ``ceil_mode=True``: the input padded with −∞ (padding, plus what the
    overhanging last windows need), then pooled without padding."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    k, s, d, pads, _ = _pool_pads(x, kernel_size, stride, padding, dilation, "max_pool2d")
    return max_pool2d(pad2d(x, pads, "zeros", -np.inf), k, s, 0, d)


def avg_pool2d_options(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                       ceil_mode: bool = False, count_include_pad: bool = True,
                       divisor_override: int | None = None) -> Tensor:
    """``avg_pool2d`` with ``ceil_mode`` and / or ``divisor_override``: window sums (a mean
    over the zero-padded input times kh·kw) divided by ``divisor_override``, or by how many
    elements each window covers — of the padded input (``count_include_pad``) or of the
    input itself — never counting what ceil_mode added past the padding."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    label = "avg_pool2d"
    if divisor_override is not None and (isinstance(divisor_override, bool) or
                                         not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override < 1):
        raise ValueError(f"{label}: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    k, s, _, pads, (ph, pw) = _pool_pads(x, kernel_size, stride, padding, 1, label)
    if not ceil_mode:
        pads = (ph, ph, pw, pw)
    sums = avg_pool2d(pad2d(x, pads), k, s, 0) * float(k[0] * k[1])
    if divisor_override is not None:
        return sums * (1.0 / divisor_override)
    h, w = x.shape[2:]
    counted = np.zeros((1, 1, h + pads[0] + pads[1], w + pads[2] + pads[3]), dtype=x.dtype)
    if count_include_pad:
        counted[:, :, :h + 2 * ph, :w + 2 * pw] = 1
    else:
        counted[:, :, ph:ph + h, pw:pw + w] = 1
    counts = avg_pool2d(Tensor(counted, dtype=x.dtype), k, s, 0).numpy() * (k[0] * k[1])
    return sums * Tensor((1.0 / np.maximum(counts, 1)).astype(x.dtype), dtype=x.dtype)
