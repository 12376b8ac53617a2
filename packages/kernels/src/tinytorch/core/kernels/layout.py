"""Memory layout: shapes are what an array means, strides are where its numbers live.

A numpy array is a flat block of memory plus, per axis, a *stride*: how many bytes to step to
reach the next index along that axis. A C-contiguous (row-major) (3, 4) float32 array has
strides (16, 4): the next row is 4 floats away, the next column one float away. Transposing,
slicing with a step, adding an axis or broadcasting only changes the strides — no data moves,
and the result is a *view* of the same memory:

    >>> import numpy as np
    >>> a = np.zeros((3, 4), np.float32)
    >>> a.strides, a.T.strides, a[:, ::2].strides
    ((16, 4), (4, 16), (16, 8))

Views are free to make but not free to read. The CPU fetches memory in 64-byte cache lines
(16 float32s); a loop that walks an array in the order of its memory uses every byte of every
line it fetches, while one that jumps by a large stride fetches a whole line for each number
it uses and defeats the hardware prefetcher. So:

* copying ``a.T`` into a fresh C-contiguous array reads across strides and is slower than
  copying ``a``, although the bytes are the same;
* an elementwise op on ``a[:, ::2]`` touches every cache line of ``a`` to use half of them;
* BLAS accepts a transposed operand for free (it only flips a flag: "this matrix is stored
  column-major"), but a generally strided one must first be copied into a contiguous buffer
  — numpy does that behind your back;
* for a convolution, NCHW puts a channel's whole image together, NHWC puts a pixel's channels
  together. The im2col GEMM wants rows of (kh, kw, C) and produces (N·H·W, C_out): NHWC on
  both ends, so a channels-last network never transposes between layers.

:func:`contiguous_strides` and :func:`is_contiguous` compute by hand what numpy's ``strides``
and ``flags`` report; :func:`describe` gathers it all for one array.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .arrays import as_array

__all__ = ["Layout", "describe", "contiguous_strides", "is_contiguous", "nchw_to_nhwc",
           "nhwc_to_nchw", "memory_span"]


def contiguous_strides(shape: tuple, itemsize: int, order: str = "C") -> tuple:
    """The byte strides of a contiguous array of ``shape``: row-major (``"C"``) or
    column-major (``"F"``).

    In C order the last axis steps one item, and each earlier axis steps the whole size of
    the axes after it: shape (2, 3, 4) of 4-byte items -> (48, 16, 4). F order is the mirror
    image: (4, 8, 24).
    """
    if order not in ("C", "F"):
        raise ValueError(f"contiguous_strides: order must be 'C' or 'F', got {order!r}")
    shape = tuple(int(n) for n in shape)
    strides = [0] * len(shape)
    ### BEGIN SOLUTION
    ### HINT: walk the axes from the fastest-moving one (last for C, first for F),
    ### HINT: multiplying a running step by each axis length (an axis of length 0 counts as 1)
    axes = range(len(shape) - 1, -1, -1) if order == "C" else range(len(shape))
    step = int(itemsize)
    for axis in axes:
        strides[axis] = step
        step *= max(shape[axis], 1)
    ### END SOLUTION
    return tuple(strides)


def is_contiguous(shape: tuple, strides: tuple, itemsize: int, order: str = "C") -> bool:
    """Whether an array of this shape and these strides covers one gap-free block in ``order``.

    Axes of length 1 never move, so their stride does not matter; an empty array (some axis of
    length 0) is contiguous. This is the rule numpy's ``flags.c_contiguous`` and
    ``flags.f_contiguous`` follow.
    """
    if len(shape) != len(strides):
        raise ValueError(f"is_contiguous: {len(shape)} axes but {len(strides)} strides")
    if any(int(n) == 0 for n in shape):
        return True
    expected = contiguous_strides(shape, itemsize, order)
    ### BEGIN SOLUTION
    ### HINT: compare the strides with the contiguous ones, skipping axes of length 1
    return all(int(s) == e for n, s, e in zip(shape, strides, expected) if int(n) != 1)
    ### END SOLUTION


def memory_span(a: np.ndarray) -> int:
    """Bytes from the array's lowest to its highest element, inclusive: the memory a pass over
    it touches. Equal to ``nbytes`` for a contiguous array; larger for a strided view."""
    if a.size == 0:
        return 0
    low = sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s < 0)
    high = sum((n - 1) * s for n, s in zip(a.shape, a.strides) if s > 0)
    return high - low + a.itemsize


class Layout(NamedTuple):
    """Everything about where an array's numbers are (see :func:`describe`)."""

    shape: tuple
    strides: tuple
    element_strides: tuple
    itemsize: int
    c_contiguous: bool
    f_contiguous: bool
    is_view: bool
    nbytes: int
    span: int

    def __str__(self) -> str:
        kind = ("C-contiguous" if self.c_contiguous else
                "F-contiguous" if self.f_contiguous else "strided")
        owner = "view" if self.is_view else "owns its data"
        return (f"shape {self.shape}, strides {self.strides} bytes = {self.element_strides} "
                f"items, {kind}, {owner}, {self.nbytes} bytes of data over a {self.span}-byte span")


def describe(a: Any) -> Layout:
    """The layout of an array (or of a Tensor's data): strides in bytes and in items,
    contiguity (computed by :func:`is_contiguous`), whether it is a view, and its span."""
    a = as_array(a)
    item = a.itemsize
    return Layout(
        shape=tuple(a.shape),
        strides=tuple(a.strides),
        element_strides=tuple(s // item for s in a.strides),
        itemsize=item,
        c_contiguous=is_contiguous(a.shape, a.strides, item, "C"),
        f_contiguous=is_contiguous(a.shape, a.strides, item, "F"),
        is_view=a.base is not None,
        nbytes=int(a.nbytes),
        span=memory_span(a),
    )


def nchw_to_nhwc(x: Any) -> np.ndarray:
    """Copy an (N, C, H, W) batch into channels-last memory: an (N, H, W, C) C-contiguous array."""
    x = as_array(x)
    if x.ndim != 4:
        raise ValueError(f"nchw_to_nhwc expected a 4-D (N, C, H, W) array, got shape {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def nhwc_to_nchw(x: Any) -> np.ndarray:
    """Copy an (N, H, W, C) batch back into (N, C, H, W) C-contiguous memory."""
    x = as_array(x)
    if x.ndim != 4:
        raise ValueError(f"nhwc_to_nchw expected a 4-D (N, H, W, C) array, got shape {x.shape}")
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
