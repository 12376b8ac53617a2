"""Shape ops: reshape, transpose/permute, flatten, squeeze/unsqueeze, broadcast_to, pad.

Most of these return numpy *views* (no data copied). Every change of shape that keeps the
elements in order is recorded as one op, ``reshape``, whose derivative is the reverse reshape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence, cast

import numpy as np

from .base import TensorBase
from .opnames import BROADCAST_TO, PAD, PERMUTE, RESHAPE

from .validation import broadcast_error, normalize_axis

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["ShapeOps"]


def _shape_arg(shape: tuple) -> tuple:
    """Accept both ``reshape(2, 3)`` and ``reshape((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class ShapeOps(TensorBase):
    """Mixin: ops that rearrange elements without changing their values."""

    __slots__ = ()

    def reshape(self, *shape: Any) -> "Tensor":
        """The same elements in a new shape; one dimension may be -1 (inferred); op "reshape".

        ``shape`` (parsed for you from ``reshape(2, 3)`` or ``reshape((2, 3))``) must hold as
        many elements as the tensor. The result is a numpy *view* when the memory allows (no
        data copied). A shape that does not fit raises ValueError naming both shapes and the
        element count: "reshape: cannot view a tensor of shape (2, 3) (6 elements) as shape
        (4, 2)". Nothing saved: the derivative reshapes the gradient back to the input's shape.
        """
        shape = _shape_arg(shape)
        ### BEGIN SOLUTION
        ### HINT: ndarray.reshape does the work and raises ValueError when the count is wrong
        ### HINT: re-raise with the message above (`from None` hides numpy's)
        try:
            data = self.data.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot view a tensor of shape {self.shape} ({self.data.size} "
                f"elements) as shape {shape}"
            ) from None
        return self._make(data, RESHAPE, (self,))
        ### END SOLUTION

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Merge dimensions start_dim..end_dim (inclusive) into one; default: all of them."""
        if self.data.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.data.ndim, end_dim % self.data.ndim
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape[:start] + (-1,) + self.shape[end + 1:]
        if 0 in self.shape:
            shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + self.shape[end + 1:]
        return self.reshape(shape)

    def squeeze(self, axis: Any = None) -> "Tensor":
        """Drop dimensions of size 1 (only ``axis`` when given; a no-op if it is not 1)."""
        if axis is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            axes = normalize_axis(axis, self.data.ndim, "squeeze") or ()
            shape = tuple(n for i, n in enumerate(self.shape) if not (i in axes and n == 1))
        return self.reshape(shape)

    def unsqueeze(self, axis: int) -> "Tensor":
        """Insert a dimension of size 1 at ``axis`` (negative counts from the new end)."""
        ndim = self.data.ndim + 1
        if not -ndim <= axis < ndim:
            raise ValueError(f"unsqueeze: axis {axis} is out of range for {ndim - 1} dimensions")
        axis %= ndim
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])

    expand_dims = unsqueeze

    def permute(self, *axes: Any) -> "Tensor":
        """Reorder the dimensions: ``x.permute(0, 2, 3, 1)`` turns NCHW into NHWC; op "permute".

        out.shape[i] == self.shape[axes[i]]. A view (only the strides change). The checks and
        the normalisation of negative axes are given; the node saves ``axes`` (the backward
        pass applies the inverse permutation). transpose, swapaxes and .T all end here.
        """
        axes = _shape_arg(axes)
        nd = self.data.ndim
        if any(not -nd <= a < nd for a in axes) or sorted(a % nd for a in axes) != list(range(nd)):
            raise ValueError(
                f"permute: {axes} is not a permutation of the {self.data.ndim} dimensions of a "
                f"tensor of shape {self.shape}"
            )
        axes = tuple(a % self.data.ndim for a in axes)
        ### BEGIN SOLUTION
        ### HINT: numpy's ndarray.transpose(axes) is exactly a permutation
        return self._make(self.data.transpose(axes), PERMUTE, (self,), axes)
        ### END SOLUTION

    def transpose(self, *axes: Any) -> "Tensor":
        """Swap or reorder dimensions.

        ``x.transpose()`` reverses them (numpy and ``.T``); ``x.transpose(0, 1)`` — two ints —
        swaps two (PyTorch, so ``k.transpose(-2, -1)`` works on 2-D tensors too);
        ``x.transpose((1, 0))`` — one tuple — or three or more ints permute (numpy).
        """
        packed = len(axes) == 1 and isinstance(axes[0], (tuple, list))
        axes = _shape_arg(axes)
        nd = self.data.ndim
        if not axes:
            return self.permute(tuple(range(nd))[::-1])
        if len(axes) == 2 and not (packed and nd == 2):
            return self.swapaxes(*axes)
        return self.permute(axes)

    def swapaxes(self, axis1: int, axis2: int) -> "Tensor":
        """Exchange two dimensions."""
        a, b = (normalize_axis(int(i), self.data.ndim, "transpose") or () for i in (axis1, axis2))
        if self.data.ndim == 0:  # axes 0 and -1 of a 0-d tensor (as in PyTorch): nothing moves
            return self.permute(())
        a, b = a[0], b[0]
        order = list(range(self.data.ndim))
        order[a], order[b] = order[b], order[a]
        return self.permute(order)

    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return self.transpose()

    def broadcast_to(self, *shape: Any) -> "Tensor":
        """A read-only view repeated along dimensions of size 1 (or new leading ones)."""
        shape = _shape_arg(shape)
        try:
            data = np.broadcast_to(self.data, shape)
        except ValueError:
            raise broadcast_error("broadcast_to", self.shape, shape) from None
        return self._make(data, BROADCAST_TO, (self,))

    def expand(self, *shape: Any) -> "Tensor":
        """PyTorch's broadcast_to, where -1 keeps a dimension's size."""
        shape = _shape_arg(shape)
        lead = len(shape) - self.data.ndim
        shape = tuple(
            self.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(shape)
        )
        return self.broadcast_to(shape)

    def contiguous(self) -> "Tensor":
        """The same values in a C-contiguous array (copied only if needed)."""
        if self.data.flags.c_contiguous:
            return cast("Tensor", self)
        return self._make(np.ascontiguousarray(self.data), RESHAPE, (self,))

    def pad(self, pad_width: Sequence, value: float = 0.0) -> "Tensor":
        """Pad with a constant, numpy style: ``pad_width`` is ((before, after), ...) per dim.

        An int pads every side of every dimension; a single (before, after) pair applies to
        every dimension. Example: ``x.pad(((0, 0), (0, 0), (1, 1), (1, 1)))`` pads H and W of
        an NCHW batch by one pixel: (N, C, H, W) -> (N, C, H + 2, W + 2).

        ``widths`` (given) is the normalised tuple of (before, after) pairs, one per dimension.
        Op "pad", saving ``widths`` (the derivative slices the padding off again).
        """
        pairs = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (self.data.ndim, 2))
        if (pairs < 0).any():
            raise ValueError(f"pad: widths must be >= 0, got {pad_width}")
        widths = tuple((int(a), int(b)) for a, b in pairs)
        ### BEGIN SOLUTION
        ### HINT: np.pad with mode="constant" and constant_values=value
        data = np.pad(self.data, widths, mode="constant", constant_values=value)
        return self._make(data, PAD, (self,), widths)
        ### END SOLUTION
