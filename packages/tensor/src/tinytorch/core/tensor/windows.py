"""The sliding-window primitive (im2col / unfold) that convolution and pooling are built on.

``x.sliding_window((kh, kw), stride, dilation)`` on an (N, C, H, W) tensor gives an
(N, C, H_out, W_out, kh, kw) tensor whose [n, c, i, j] entry is the kh×kw patch under the
kernel at output position (i, j). It is a *strided view*: no pixel is copied. A convolution is
then one reshape and one matmul of those patches with the kernel.

Its derivative (in the autograd module) is the "fold": every window position adds its gradient back
onto the pixels it came from — kh·kw vectorised slice-adds, not a loop over pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .base import TensorBase
from .opnames import SLIDING_WINDOW
from numpy.lib.stride_tricks import sliding_window_view

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["WindowOps", "window_output_size"]


def window_output_size(size: int, window: int, stride: int, dilation: int) -> int:
    """How many window positions fit along one axis: (size - dilation·(window-1) - 1)//stride + 1."""
    return (size - dilation * (window - 1) - 1) // stride + 1


def _per_axis(value: Any, k: int, name: str) -> tuple:
    values = (value,) * k if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != k or any(int(v) < 1 for v in values):
        raise ValueError(f"sliding_window: {name} must be {k} positive ints, got {value}")
    return tuple(int(v) for v in values)


class WindowOps(TensorBase):
    """Mixin: ``sliding_window`` over the trailing dimensions."""

    __slots__ = ()

    def sliding_window(self, window_shape: Any, stride: Any = 1, dilation: Any = 1) -> "Tensor":
        """Windows over the last ``len(window_shape)`` dimensions, as a strided view.

        Args:
            window_shape: the window's size per trailing dimension, e.g. (3, 3).
            stride: step between window positions (an int or one per dimension).
            dilation: spacing between the window's taps (an int or one per dimension).

        Shape:
            (*lead, D1..Dk) -> (*lead, O1..Ok, W1..Wk) with
            Oi = (Di - dilation_i·(Wi - 1) - 1) // stride_i + 1.

        ``out[..., i, j, p, q] == x[..., i·stride + p·dilation, j·stride + q·dilation]``
        (2-D case). The argument checks are given (``window``, ``stride``, ``dilation`` are
        tuples of k positive ints; ``extent`` is the span of one dilated window). Op
        "sliding_window", saving ``(window, stride, dilation)``.
        """
        window = (window_shape,) if isinstance(window_shape, (int, np.integer)) else tuple(window_shape)
        k = len(window)
        window = _per_axis(window, k, "window_shape")
        stride = _per_axis(stride, k, "stride")
        dilation = _per_axis(dilation, k, "dilation")
        if k > self.data.ndim:
            raise ValueError(
                f"sliding_window: a {k}-D window needs at least {k} dimensions, got shape {self.shape}"
            )
        spatial = self.shape[-k:]
        extent = tuple(d * (w - 1) + 1 for w, d in zip(window, dilation))
        if any(e > n for e, n in zip(extent, spatial)):
            raise ValueError(
                f"sliding_window: window {window} with dilation {dilation} spans {extent}, "
                f"larger than the input's trailing dimensions {spatial} (shape {self.shape})"
            )
        ### BEGIN SOLUTION
        ### HINT: sliding_window_view(self.data, extent, axis=axes) gives every position of a
        ### HINT: window of size `extent` (stride 1); then slice with steps: [::stride] over
        ### HINT: the position axes and [::dilation] over the window axes — still a view
        axes = tuple(range(self.data.ndim - k, self.data.ndim))
        view = sliding_window_view(self.data, extent, axis=axes)
        # view: (*lead, D1-E1+1, ..., E1, ...). Stride picks window positions; dilation picks taps.
        picks = (Ellipsis,) + tuple(slice(None, None, s) for s in stride) + tuple(
            slice(None, None, d) for d in dilation
        )
        data = view[picks]
        return self._make(data, SLIDING_WINDOW, (self,), (window, stride, dilation))
        ### END SOLUTION
