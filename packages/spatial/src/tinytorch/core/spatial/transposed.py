"""``Conv1d`` and ``ConvTranspose2d``, built on ``conv2d`` — no new kernel, so autograd, the
fused path and the composite path all carry over.

**Conv1d** is a 2-D convolution of height 1: an (N, C, L) signal becomes an (N, C, 1, L)
image and a (C_out, C_in, k) kernel a (C_out, C_in, 1, k) one.

**ConvTranspose2d** ("deconvolution") is the gradient of a convolution with respect to its
input, used as a layer that grows the picture. It is the same as an ordinary convolution of a
*spread* input:

    1. put stride - 1 zeros between neighbouring input pixels (rows and columns);
    2. pad each side with dilation·(k - 1) - padding zeros (a negative amount crops), and
       output_padding more at the bottom and right;
    3. convolve, stride 1, with the kernel flipped in space and its two channel axes swapped
       (a transposed convolution's weight is (C_in, C_out, kh, kw)).

    H_out = (H - 1)·stride - 2·padding + dilation·(kh - 1) + output_padding + 1

Each step is a Tensor op (reshape, pad, slicing, flip, transpose, conv2d), so the gradients
come from their derivatives. The spread costs stride² times the input's memory: a plain
layer, not a fast one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter, init
from tinytorch.core.tensor import Tensor

from .functional import conv2d
from .geometry import check_4d, pair

__all__ = ["Conv1d", "ConvTranspose2d", "conv1d", "conv_transpose2d"]


def _single(value: Any, name: str, label: str, minimum: int = 1) -> int:
    """An int, or a 1-tuple of one, at least ``minimum``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{label}: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def conv1d(x: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution of an (N, C_in, L) batch with a (C_out, C_in/groups, k) weight, like
    ``torch.nn.functional.conv1d`` (a cross-correlation)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim != 3:
        raise ValueError(f"conv1d: expected an (N, C, L) input, got shape {x.shape}")
    n, c, length = x.shape
    c_out, c_in, k = weight.shape
    y = conv2d(x.reshape(n, c, 1, length), weight.reshape(c_out, c_in, 1, k), bias,
               (1, stride), (0, padding), (1, dilation), groups, label="conv1d")
    return y.reshape(n, c_out, y.shape[3])


def _pad_or_crop(x: Tensor, axis: int, before: int, after: int) -> Tensor:
    """Add zeros (a positive amount) or remove entries (a negative one) at each end of ``axis``."""
    if before > 0 or after > 0:
        widths = [(0, 0)] * x.ndim
        widths[axis] = (max(before, 0), max(after, 0))
        x = x.pad(tuple(widths))
    if before < 0 or after < 0:
        stop = x.shape[axis] + min(after, 0)
        x = x[tuple(slice(-min(before, 0), stop) if i == axis else slice(None)
                    for i in range(x.ndim))]
    return x


def conv_transpose2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, dilation: Any = 1) -> Tensor:
    """Transposed 2-D convolution of (N, C_in, H, W) with a (C_in, C_out, kh, kw) weight, like
    ``torch.nn.functional.conv_transpose2d`` with ``groups=1`` (steps in the module docstring)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    check_4d(x.shape, "conv_transpose2d")
    label = "conv_transpose2d"
    (sh, sw), (ph, pw) = pair(stride, "stride", label), pair(padding, "padding", label, minimum=0)
    (oh, ow), (dh, dw) = (pair(output_padding, "output_padding", label, minimum=0),
                          pair(dilation, "dilation", label))
    if oh >= max(sh, dh) or ow >= max(sw, dw):
        raise ValueError(f"{label}: output_padding {(oh, ow)} must be smaller than the stride "
                         f"{(sh, sw)} or the dilation {(dh, dw)}")
    n, c, h, w = x.shape
    if weight.shape[0] != c:
        raise ValueError(f"{label}: the weight {weight.shape} is (C_in, C_out, kh, kw) and "
                         f"expects {weight.shape[0]} input channels, got {c}")
    kh, kw = weight.shape[2], weight.shape[3]
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oh + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + ow + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"{label}: padding {(ph, pw)} removes the whole {out_h + 2 * ph}×"
                         f"{out_w + 2 * pw} output of a {h}×{w} input; use less padding")
    if sh > 1 or sw > 1:  # 1. spread: each pixel followed by stride - 1 zeros, then trimmed
        spread = x.reshape(n, c, h, 1, w, 1).pad(
            ((0, 0), (0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1)))
        x = spread.reshape(n, c, h * sh, w * sw)[:, :, :(h - 1) * sh + 1, :(w - 1) * sw + 1]
    qh, qw = dh * (kh - 1) - ph, dw * (kw - 1) - pw  # 2. pad (or crop)
    x = _pad_or_crop(_pad_or_crop(x, 2, qh, qh + oh), 3, qw, qw + ow)
    kernel = weight.flip((2, 3)).transpose(0, 1)  # 3. (C_out, C_in, kh, kw), flipped
    return conv2d(x, kernel, bias, 1, 0, (dh, dw), label=label)


class Conv1d(Module):
    """1-D convolution over an (N, C_in, L) batch (or one (C_in, L) signal).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: an int.
        stride: an int.
        padding: an int, or "valid" or "same" (as in Conv2d).
        dilation: an int.
        groups: independent convolutions over channel groups.
        bias: learn an additive bias per output channel.
        generator: numpy Generator for the initial weights.

    Shape:
        (N, C_in, L) -> (N, C_out, L_out), L_out = (L + 2·padding - dilation·(k - 1) - 1) //
        stride + 1; weight (C_out, C_in/groups, k), as in ``torch.nn.Conv1d``.

    Example:
        >>> Conv1d(4, 8, 3, padding=1)(Tensor(np.zeros((2, 4, 10)))).shape
        (2, 8, 10)
    """

    # set by _parameters (below); declared here so the type checker knows them
    weight: Parameter
    bias: Parameter | None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        label = "Conv1d"
        self.in_channels = _single(in_channels, "in_channels", label)
        self.out_channels = _single(out_channels, "out_channels", label)
        self.groups = _single(groups, "groups", label)
        self.kernel_size = _single(kernel_size, "kernel_size", label)
        self.stride = _single(stride, "stride", label)
        self.dilation = _single(dilation, "dilation", label)
        span = self.dilation * (self.kernel_size - 1)
        if padding == "valid":
            padding = 0
        elif padding == "same":
            if self.stride != 1 or span % 2:
                raise ValueError(f"{label}: padding='same' needs stride 1 and an even "
                                 f"dilation·(kernel_size - 1), got stride {self.stride} and {span}")
            padding = span // 2
        self.padding = _single(padding, "padding", label, minimum=0)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{label}: groups={self.groups} must divide in_channels "
                             f"({self.in_channels}) and out_channels ({self.out_channels})")
        _parameters(self, (self.out_channels, self.in_channels // self.groups, self.kernel_size),
                    bias, generator)

    def forward(self, x: Any) -> Tensor:
        """Convolve ``x`` (N, C_in, L) or (C_in, L), in the weight's dtype."""
        x = self.cast_input(x, self.weight)
        single = x.ndim == 2
        if single:
            x = x.reshape(1, *x.shape)
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d expected (N, {self.in_channels}, L) or "
                             f"({self.in_channels}, L) input, got shape {x.shape}")
        y = conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return y.reshape(*y.shape[1:]) if single else y

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class ConvTranspose2d(Module):
    """Transposed 2-D convolution: grows an (N, C_in, H, W) batch (``groups=1`` only).

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        kernel_size: int or (h, w).
        stride: spacing of the input pixels in the output, int or pair.
        padding: removed from each side of the output, int or pair.
        output_padding: extra rows / columns at the bottom / right (smaller than the stride).
        dilation: spacing between kernel taps.
        bias: learn an additive bias per output channel.
        generator: numpy Generator for the initial weights.

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out), H_out = (H - 1)·stride - 2·padding +
        dilation·(kh - 1) + output_padding + 1; weight (C_in, C_out, kh, kw), as in
        ``torch.nn.ConvTranspose2d``.

    Example:
        >>> up = ConvTranspose2d(8, 4, 2, stride=2)
        >>> up(Tensor(np.zeros((1, 8, 5, 5)))).shape
        (1, 4, 10, 10)
    """

    # set by _parameters (below); declared here so the type checker knows them
    weight: Parameter
    bias: Parameter | None

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        label = "ConvTranspose2d"
        if groups != 1:
            raise ValueError(f"{label}: only groups=1 is implemented, got groups={groups!r}")
        self.in_channels = _single(in_channels, "in_channels", label)
        self.out_channels = _single(out_channels, "out_channels", label)
        self.kernel_size = pair(kernel_size, "kernel_size", label)
        self.stride = pair(stride, "stride", label)
        self.padding = pair(padding, "padding", label, minimum=0)
        self.output_padding = pair(output_padding, "output_padding", label, minimum=0)
        self.dilation = pair(dilation, "dilation", label)
        _parameters(self, (self.in_channels, self.out_channels, *self.kernel_size), bias, generator)

    def forward(self, x: Any) -> Tensor:
        """Transposed-convolve ``x`` (N, C_in, H, W), in the weight's dtype."""
        x = self.cast_input(x, self.weight)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


def _parameters(layer: Conv1d | ConvTranspose2d, weight_shape: tuple, bias: bool,
                generator: np.random.Generator | None) -> None:
    """The layer's float32 ``weight`` of ``weight_shape`` and its ``bias`` (one per output
    channel, or None), initialised as PyTorch does (:func:`_reset`)."""
    layer.weight = Parameter(np.empty(weight_shape, dtype=np.float32))
    if bias:
        layer.bias = Parameter(np.empty(layer.out_channels, dtype=np.float32))
    else:
        layer.register_parameter("bias", None)
    _reset(layer, generator)


def _reset(layer: Conv1d | ConvTranspose2d, generator: np.random.Generator | None) -> None:
    """PyTorch's initialisation: Kaiming-uniform (a = √5) on the weight, whose fan-in is its
    dims 1.. (for a transposed weight that is C_out·kh·kw, as PyTorch computes it too); the
    bias U(±1/√fan_in)."""
    init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    if layer.bias is not None:
        fan_in, _ = init.fan_in_and_out(layer.weight.shape)
        bound = 1.0 / math.sqrt(fan_in)
        init.uniform_(layer.bias, -bound, bound, generator)
