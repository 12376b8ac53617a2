"""Pooling layers: ``MaxPool2d``, ``AvgPool2d`` and ``AdaptiveAvgPool2d`` (no parameters).

Pooling shrinks the feature map — a 2×2 max-pool keeps the strongest response of each 2×2
block, halving H and W — so later layers see a wider part of the image for the same cost.
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

from .composite import adaptive_avg_pool2d
from .functional import avg_pool2d, fused_kernels_enabled, max_pool2d
from .geometry import pair
from .padding import avg_pool2d_options, max_pool2d_ceil
from .resample import max_pool2d_with_indices

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


def _show(v: tuple) -> Any:
    return v[0] if v[0] == v[1] else v


class MaxPool2d(Module):
    """Max over each kh×kw window of an (N, C, H, W) batch.

    Args:
        kernel_size: window size, int or (h, w).
        stride: step between windows (default: kernel_size).
        padding: -inf added on each side (at most half the window).
        dilation: spacing between the window's taps.
        return_indices: also return, for each maximum, the flat position (row · W + column)
            it came from — ``forward`` then gives ``(values, indices)`` for ``MaxUnpool2d``.
        ceil_mode: round the output size up (windows may hang over the end; padding.py).

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out) (or (C, H, W) -> (C, H_out, W_out)),
        H_out = (H + 2p - d·(k-1) - 1) // s + 1 (rounded up with ceil_mode).
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)
        if self.return_indices and self.ceil_mode:
            raise ValueError("MaxPool2d: return_indices together with ceil_mode=True is not "
                             "implemented")
        self.kernel_size = pair(kernel_size, "kernel_size", "MaxPool2d")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "MaxPool2d")
        self.padding = pair(padding, "padding", "MaxPool2d", minimum=0)
        self.dilation = pair(dilation, "dilation", "MaxPool2d")
        self._label = f"MaxPool2d(kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)})"

    def forward(self, x: Any) -> Tensor | tuple[Tensor, ...]:
        """Pool the batch ``x`` (``(values, indices)`` with ``return_indices``)."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 3:  # one (C, H, W) map: a batch of one
            y = self.forward(x.reshape(1, *x.shape))
            if isinstance(y, tuple):  # return_indices: (values, indices)
                return tuple(t.reshape(*t.shape[1:]) for t in y)
            return y.reshape(*y.shape[1:])
        if self.ceil_mode:
            return max_pool2d_ceil(x, self.kernel_size, self.stride, self.padding, self.dilation)
        if self.return_indices:
            return max_pool2d_with_indices(x, self.kernel_size, self.stride, self.padding,
                                           self.dilation)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          label=self._label)

    @property
    def relu_commutes(self) -> bool:
        """True: ``pool(relu(x))`` and ``relu(pool(x))`` are the same numbers with the same
        gradients, so ``Sequential`` may run a ReLU placed before this layer after it, on a
        k²-times smaller tensor.

        Why it holds: ReLU is non-decreasing, so the largest of a window's ReLU outputs is the
        ReLU of its largest input; and ReLU maps every non-positive input to +0.0 (never -0.0),
        so even an all-negative window gives the same bits. The gradient: when a window's
        maximum is positive, the same element wins in both orders (ReLU keeps the order of
        positive values, and ties go to the first in both) and ReLU passes its gradient;
        when it is not, both orders give that window's gradient 0. The tests check every case
        (ties, all-negative windows, padding, overlapping windows) for equality of outputs and
        gradients.

        False for a subclass that overrides ``forward`` (it makes no such promise), and on the
        composite path (``fused_kernels(False)``): that path is the plain reference, and the
        layout of the gradients it builds from Tensor ops — hence the order in which a later
        sum adds them — would depend on where the ReLU ran.
        """
        return (type(self).forward is MaxPool2d.forward and not self.return_indices
                and not self.ceil_mode and fused_kernels_enabled())

    def extra_repr(self) -> str:
        return (f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, "
                f"padding={_show(self.padding)}, dilation={_show(self.dilation)}")


class AvgPool2d(Module):
    """Mean over each kh×kw window of an (N, C, H, W) batch.

    Args:
        kernel_size: window size, int or (h, w).
        stride: step between windows (default: kernel_size).
        padding: zeros added on each side (at most half the window).
        ceil_mode: round the output size up (windows may hang over the end; padding.py).
        count_include_pad: divide by kh·kw (True) or by the number of real elements.
        divisor_override: divide every window's sum by this number instead.

    Shape:
        (N, C, H, W) -> (N, C, H_out, W_out) (or (C, H, W) -> (C, H_out, W_out)).
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.ceil_mode, self.divisor_override = bool(ceil_mode), divisor_override
        self.kernel_size = pair(kernel_size, "kernel_size", "AvgPool2d")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", "AvgPool2d")
        self.padding = pair(padding, "padding", "AvgPool2d", minimum=0)
        self.count_include_pad = bool(count_include_pad)
        self._label = f"AvgPool2d(kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)})"

    def forward(self, x: Any) -> Tensor:
        """Pool the batch ``x``."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 3:  # one (C, H, W) map: a batch of one
            y = self.forward(x.reshape(1, *x.shape))
            return y.reshape(*y.shape[1:])
        if self.ceil_mode or self.divisor_override is not None:
            return avg_pool2d_options(x, self.kernel_size, self.stride, self.padding,
                                      self.ceil_mode, self.count_include_pad,
                                      self.divisor_override)
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad,
                          label=self._label)

    def extra_repr(self) -> str:
        return (f"kernel_size={_show(self.kernel_size)}, stride={_show(self.stride)}, "
                f"padding={_show(self.padding)}")


class AdaptiveAvgPool2d(Module):
    """Average-pool any (N, C, H, W) batch down to a fixed (H_out, W_out).

    ``AdaptiveAvgPool2d(1)`` is global average pooling: one number per channel, whatever the
    image size — the usual bridge from the last conv block to the classifier.

    Args:
        output_size: an int, an (h, w) pair, or a pair with None to keep that input size.
    """

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size
        self._label = f"AdaptiveAvgPool2d(output_size={output_size})"

    def forward(self, x: Any) -> Tensor:
        """Pool the batch ``x``."""
        return adaptive_avg_pool2d(x, self.output_size, label=self._label)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
