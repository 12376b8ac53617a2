"""The convolution as its definition: explicit loops over every output value.

    y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b  x_pad[n, c, i·s_h + a·d_h, j·s_w + b·d_w] · w[o, c, a, b]

(the sum over c runs over the input channels of output channel o's group). It is slow — four
Python loops — but it is obviously right, which makes it the reference the two real
implementations are tested against. It records no graph: use ``conv2d`` to train.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

from .geometry import compute_dtype, conv_geometry

__all__ = ["conv2d_naive"]


def conv2d_naive(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1) -> Tensor:
    """Reference 2-D convolution by explicit loops (no gradient).

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kh, kw).
        bias: (C_out,) or None.
        stride: step between windows, an int or an (h, w) pair.
        padding: zeros added on each side, an int or an (h, w) pair.
        dilation: spacing between kernel taps, an int or an (h, w) pair.
        groups: number of independent channel groups.

    Returns:
        (N, C_out, H_out, W_out), in the inputs' float dtype, with
        H_out = (H + 2·ph - dh·(kh - 1) - 1) // sh + 1 (W_out likewise).

    Given before the block: ``geo`` (every size: ``geo.n``, ``geo.c_out``, ``geo.h_out``,
    ``geo.sh``, ``geo.dh``, ``geo.c_group`` input channels and ``geo.c_out_group`` output
    channels per group...), ``xp`` (the zero-padded input), ``out`` (zeros to fill) and
    ``eh``, ``ew`` (the span of one dilated window).
    """
    xd = np.asarray(getattr(x, "data", x))
    wd = np.asarray(getattr(weight, "data", weight))
    bd = None if bias is None else np.asarray(getattr(bias, "data", bias))
    geo = conv_geometry(xd.shape, wd.shape, stride, padding, dilation, groups, "conv2d_naive",
                        None if bd is None else bd.shape)
    dtype = compute_dtype(xd, wd, bd)
    xp = np.pad(xd.astype(dtype), ((0, 0), (0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw)))
    out = np.zeros((geo.n, geo.c_out, geo.h_out, geo.w_out), dtype=dtype)
    eh, ew = geo.dh * (geo.kh - 1) + 1, geo.dw * (geo.kw - 1) + 1
    ### BEGIN SOLUTION
    ### HINT: loop n, o, i, j; output channel o reads only its group's input channels:
    ### HINT: group = o // geo.c_out_group, channels group·c_group to (group + 1)·c_group
    ### HINT: the window is xp[n, channels, top:top + eh:geo.dh, left:left + ew:geo.dw] with
    ### HINT: top = i·sh, left = j·sw: a slice with a step is the dilation; np.sum(patch * wd[o])
    for n in range(geo.n):
        for o in range(geo.c_out):
            group = o // geo.c_out_group
            channels = slice(group * geo.c_group, (group + 1) * geo.c_group)
            for i in range(geo.h_out):
                top = i * geo.sh
                for j in range(geo.w_out):
                    left = j * geo.sw
                    patch = xp[n, channels, top:top + eh:geo.dh, left:left + ew:geo.dw]
                    out[n, o, i, j] = np.sum(patch * wd[o])
            if bd is not None:
                out[n, o] += bd[o]
    ### END SOLUTION
    return Tensor(out, dtype=dtype)
