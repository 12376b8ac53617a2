"""``Conv2d``: the convolutional layer, a drop-in for ``torch.nn.Conv2d``.

Same arguments, same parameter names and shapes — ``weight`` (C_out, C_in/groups, kh, kw) and
``bias`` (C_out,) — and the same default initialisation: Kaiming-uniform with a = √5, which
works out to U(-1/√fan_in, 1/√fan_in) for the weight, and U(-1/√fan_in, 1/√fan_in) for the bias,
with fan_in = C_in/groups · kh · kw. A ``state_dict`` therefore loads into PyTorch and back.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter, init
from tinytorch.core.tensor import Tensor

from .functional import conv2d
from .geometry import check_4d, pair
from .padding import PADDING_MODES, pad2d, same_padding

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution over an (N, C_in, H, W) batch.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (number of kernels).
        kernel_size: an int or an (h, w) pair.
        stride: step between windows, int or pair.
        padding: added on each side, int or pair, or "valid" (none) or "same" (output as
            large as the input, stride 1; an even kernel span puts the extra row / column at
            the bottom / right, as PyTorch does).
        dilation: spacing between kernel taps, int or pair.
        groups: split input and output channels into this many independent convolutions
            (both channel counts must be divisible by it).
        bias: learn an additive bias per output channel.
        padding_mode: what the padding holds: "zeros" (PyTorch's default), "reflect",
            "replicate" or "circular" (see padding.py).
        generator: numpy Generator for the initial weights (default: tinytorch's seeded one).

    Shape:
        (N, C_in, H, W) -> (N, C_out, H_out, W_out) (or one (C_in, H, W) image), with
        H_out = (H + 2·padding - dilation·(kh - 1) - 1) // stride + 1 (W likewise).

    Example:
        >>> conv = Conv2d(3, 32, 3, padding=1)
        >>> conv(Tensor(np.zeros((8, 3, 32, 32)))).shape
        (8, 32, 32, 32)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros",
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("groups", groups)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Conv2d: {name} must be a positive int, got {value!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        kh, kw = self.kernel_size
        k = kh if kh == kw else self.kernel_size
        self._label = f"Conv2d({self.in_channels}→{self.out_channels}, k={k})"
        self.stride = pair(stride, "stride", self._label)
        self.dilation = pair(dilation, "dilation", self._label)
        self.padding = self._padding(padding)
        # padding.py pads the input itself when conv2d's symmetric zero padding cannot say it
        self._explicit_pad = None
        odd_span = any(d * (k - 1) % 2 for k, d in zip(self.kernel_size, self.dilation))
        if padding == "same" and odd_span:
            self._explicit_pad = same_padding(self.kernel_size, self.dilation)
        elif padding_mode != "zeros" and self.padding != (0, 0):
            ph, pw = self.padding
            self._explicit_pad = (ph, ph, pw, pw)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"{self._label}: groups={self.groups} must divide both in_channels "
                f"({self.in_channels}) and out_channels ({self.out_channels})"
            )
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups, kh, kw),
                                         dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def _padding(self, padding: Any) -> tuple:
        if isinstance(padding, str):
            if padding == "valid":
                return (0, 0)
            if padding != "same":
                raise ValueError(f"{self._label}: padding must be an int, a pair, 'valid' or "
                                 f"'same', got {padding!r}")
            if self.stride != (1, 1):
                raise ValueError(f"{self._label}: padding='same' needs stride 1, got {self.stride}")
            spans = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            return (spans[0] // 2, spans[1] // 2)  # an odd span: one more at the end (forward)
        return pair(padding, "padding", self._label, minimum=0)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw fresh weights the way PyTorch does (Kaiming-uniform, a = √5; bias ±1/√fan_in)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in, _ = init.fan_in_and_out(self.weight.shape)
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, generator)

    def forward(self, x: Any) -> Tensor:
        """Convolve the batch ``x`` (N, C_in, H, W), in the weight's dtype (``x`` is cast to it)."""
        x = self.cast_input(x, self.weight)
        if x.ndim == 3:  # one (C, H, W) image, as PyTorch accepts: a batch of one
            y = self.forward(x.reshape(1, *x.shape))
            return y.reshape(*y.shape[1:])
        check_4d(x.shape, self._label)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._label} expected {self.in_channels} input channels, got {x.shape[1]} in "
                f"input of shape {x.shape}"
            )
        padding: tuple | int = self.padding  # 0 once the input is padded explicitly
        if self._explicit_pad is not None:
            x, padding = pad2d(x, self._explicit_pad, self.padding_mode), 0
        return conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                      self.groups, label=self._label)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text
