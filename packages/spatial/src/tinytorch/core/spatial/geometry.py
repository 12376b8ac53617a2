"""Argument checking, output sizes and the small helpers every implementation shares.

The naive loops, the composite path and the fused kernels (``fused/``) all import from here,
and the first two import nothing from ``fused/``: what a student reads never depends on the
speed code. Besides the window arithmetic below, this module holds the dtype an op computes in
(:func:`compute_dtype`), batch norm's statistics axes and running-average update
(:func:`norm_axes`, :func:`update_running_stats`) and average pooling's divisor
(:func:`avg_pool_divisor`).

A convolution or pooling window of size k, dilation d, stride s over an input of size n padded
by p on both sides fits

    out = (n + 2p - d·(k - 1) - 1) // s + 1

times. Every error names the layer (or function) and the shapes involved, so a mistake is
reported at the layer that made it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["pair", "conv_geometry", "pool_geometry", "ConvGeometry", "PoolGeometry", "check_4d",
           "out_size", "compute_dtype", "norm_axes", "update_running_stats", "avg_pool_divisor"]


def pair(value: Any, name: str, label: str, minimum: int = 1) -> tuple:
    """``3`` -> (3, 3); ``(3, 5)`` stays; anything else (or a value below ``minimum``) is an error."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        values = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{label}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{label}: {name} must be >= {minimum}, got {value!r}")
    return values


def out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """Window positions along one axis: (n + 2p - d·(k-1) - 1) // s + 1."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def check_4d(shape: tuple, label: str) -> None:
    """Refuse anything but an (N, C, H, W) batch."""
    if len(shape) != 4:
        raise ValueError(
            f"{label} expected a 4-D input (N, C, H, W), got a {len(shape)}-D input of shape "
            f"{tuple(shape)}"
        )


class ConvGeometry(NamedTuple):
    """Every size a 2-D convolution needs, checked."""

    n: int
    c: int
    h: int
    w: int
    c_out: int
    groups: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    h_out: int
    w_out: int

    @property
    def c_group(self) -> int:
        """Input channels per group."""
        return self.c // self.groups

    @property
    def c_out_group(self) -> int:
        """Output channels per group."""
        return self.c_out // self.groups


def conv_geometry(x_shape: tuple, w_shape: tuple, stride: Any, padding: Any, dilation: Any,
                  groups: int, label: str = "conv2d", b_shape: tuple | None = None) -> ConvGeometry:
    """Check a convolution's arguments against each other; return its sizes."""
    check_4d(x_shape, label)
    if len(w_shape) != 4:
        raise ValueError(
            f"{label}: the weight must be 4-D (out_channels, in_channels/groups, kh, kw), got "
            f"shape {tuple(w_shape)}"
        )
    sh, sw = pair(stride, "stride", label)
    ph, pw = pair(padding, "padding", label, minimum=0)
    dh, dw = pair(dilation, "dilation", label)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{label}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    n, c, h, w = (int(v) for v in x_shape)
    c_out, c_group, kh, kw = (int(v) for v in w_shape)
    if c_out % groups:
        raise ValueError(
            f"{label}: groups={groups} does not divide the {c_out} output channels of the weight "
            f"(shape {tuple(w_shape)})"
        )
    if c != c_group * groups:
        raise ValueError(
            f"{label} expected {c_group * groups} input channels, got {c} in input of shape "
            f"{tuple(x_shape)}"
        )
    if b_shape is not None and tuple(b_shape) != (c_out,):
        raise ValueError(f"{label}: bias must have shape ({c_out},), got {tuple(b_shape)}")
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + 2 * ph or ew > w + 2 * pw:
        raise ValueError(
            f"{label}: the {kh}×{kw} kernel (dilation {(dh, dw)}) spans {eh}×{ew}, larger than "
            f"the padded input {h + 2 * ph}×{w + 2 * pw} (input of shape {tuple(x_shape)}, "
            f"padding {(ph, pw)})"
        )
    return ConvGeometry(n, c, h, w, c_out, groups, kh, kw, sh, sw, ph, pw, dh, dw,
                        out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw))


class PoolGeometry(NamedTuple):
    """Every size a 2-D pooling window needs, checked."""

    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    h_out: int
    w_out: int


def pool_geometry(x_shape: tuple, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                  label: str) -> PoolGeometry:
    """Check a pooling window against the input (stride None means stride = kernel_size)."""
    check_4d(x_shape, label)
    kh, kw = pair(kernel_size, "kernel_size", label)
    sh, sw = (kh, kw) if stride is None else pair(stride, "stride", label)
    ph, pw = pair(padding, "padding", label, minimum=0)
    dh, dw = pair(dilation, "dilation", label)
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if 2 * ph > eh or 2 * pw > ew:
        raise ValueError(
            f"{label}: padding {(ph, pw)} must be at most half the window it pads, which spans "
            f"{eh}×{ew} (kernel {(kh, kw)}, dilation {(dh, dw)})"
        )
    n, c, h, w = (int(v) for v in x_shape)
    if eh > h + 2 * ph or ew > w + 2 * pw:
        raise ValueError(
            f"{label}: the {kh}×{kw} window (dilation {(dh, dw)}) spans {eh}×{ew}, larger than "
            f"the padded input {h + 2 * ph}×{w + 2 * pw} (input of shape {tuple(x_shape)})"
        )
    return PoolGeometry(n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw,
                        out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw))


def compute_dtype(*arrays: np.ndarray | None) -> np.dtype:
    """The float dtype an op computes in: the widest float among its operands (float32 if none;
    a missing operand, such as no bias, is None)."""
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.float32)


def norm_axes(ndim: int) -> tuple:
    """The axes statistics are taken over: every axis but the channels (axis 1)."""
    return (0,) + tuple(range(2, ndim))


def update_running_stats(running_mean: Any, running_var: Any, mean: np.ndarray,
                         biased_var: np.ndarray, n: int, momentum: float) -> None:
    """running ← (1 - momentum)·running + momentum·batch, in place; the variance that goes in
    is the unbiased one, biased_var · n / (n - 1), as in PyTorch."""
    for running, batch in ((running_mean, mean), (running_var, biased_var * (n / (n - 1)))):
        if running is None:
            continue
        arr = running.data if isinstance(running, Tensor) else running
        m = np.asarray(momentum, dtype=arr.dtype)
        arr *= np.asarray(1.0, dtype=arr.dtype) - m
        arr += m * np.asarray(batch, dtype=arr.dtype).reshape(arr.shape)


def avg_pool_divisor(geo: PoolGeometry, count_include_pad: bool, dtype: Any) -> np.ndarray | float:
    """What each window's sum is divided by: kh·kw, or (count_include_pad=False) the number of
    real (non-padding) elements under it, as an (H_out, W_out, 1) array."""
    if count_include_pad or not (geo.ph or geo.pw):
        return float(geo.kh * geo.kw)

    def real_taps(n: int, k: int, s: int, p: int, n_out: int) -> np.ndarray:
        start = np.arange(n_out) * s - p
        taps = start[:, None] + np.arange(k)[None, :]
        return ((taps >= 0) & (taps < n)).sum(axis=1)

    rows = real_taps(geo.h, geo.kh, geo.sh, geo.ph, geo.h_out)
    cols = real_taps(geo.w, geo.kw, geo.sw, geo.pw, geo.w_out)
    return np.outer(rows, cols).astype(dtype)[:, :, None]
