"""More Tensor methods a PyTorch user reaches for — flip, roll, tril/triu, masked_fill,
logsumexp, norm, index_select, gather, split/chunk/unbind, repeat/tile; and floor/ceil/round/trunc, cumsum,
prod, sort/argsort/topk.

Given, not exercises. The first group are compositions of the lesson's recorded primitives
(indexing, ``cat``, ``where``, ``broadcast_to``, reshape, reductions), so the graph and every
derivative come for free once the autograd module is installed; the second group are ops of their own,
with their derivatives next to them in ``more_ops.py``. Each agrees with PyTorch in value and
gradient (``integration/test_extra_ops_torch.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast, Sequence
import numpy as np

from .base import TensorBase

from . import more_ops
from .opnames import CEIL, FLOOR, ROUND, SCATTER, SCATTER_ADD, TRUNC
from .reductions import ValuesIndices

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["ExtraOps"]


def _dims(t: TensorBase, dims: Any, op: str) -> tuple:
    """One or several axes, checked and made non-negative."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    nd = t.ndim
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not -nd <= d < max(nd, 1):
            raise ValueError(f"{op}: dim {d!r} is out of range for a tensor of shape {t.shape}")
        out.append(int(d) % max(nd, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dims {dims} repeat an axis")
    return tuple(out)


class ExtraOps(TensorBase):
    """Mixed into :class:`~tinytorch.core.tensor.Tensor`."""

    # ------------------------------------------------------------------ reductions
    def logsumexp(self, dim: Any, keepdim: bool = False) -> "Tensor":
        """``log Σ exp(x)`` over ``dim``, computed as ``m + log Σ exp(x - m)`` with m the
        maximum (held constant), so nothing overflows; its gradient is the softmax."""
        from .functions import where
        m = self.detach().amax(dim=dim, keepdim=True)
        m = where(np.isfinite(m.data), m, 0.0)  # all -inf (or an inf) in a slice: no inf - inf
        out = (self - m).exp().sum(dim=dim, keepdim=True).log() + m
        if keepdim:
            return out
        axes = _dims(self, range(self.ndim) if dim is None else dim, "logsumexp")
        return out.reshape(*[n for i, n in enumerate(out.shape) if i not in axes])

    def norm(self, p: Any = 2, dim: Any = None, keepdim: bool = False) -> "Tensor":
        """The vector p-norm over ``dim`` (all elements by default): ``(Σ |x|^p)^(1/p)``;
        ``p="fro"`` is 2, ``p=inf`` the largest ``|x|``, ``-inf`` the smallest.

        A slice of zeros has norm 0 and gradient 0 (as in PyTorch), not the 0/0 the chain rule
        through ``sqrt`` would give: the root is taken of 1 there and then replaced by 0.
        """
        from .functions import where
        if p == "fro":
            p = 2
        if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
            raise ValueError(f"norm: p must be a number, inf or 'fro', got {p!r}")
        a = self.abs() if self.dtype.kind == "f" else self.astype(np.float32).abs()
        if p == math.inf:
            return a.amax(dim=dim, keepdim=keepdim)
        if p == -math.inf:
            return a.amin(dim=dim, keepdim=keepdim)
        if p <= 0:
            raise ValueError(f"norm: p must be > 0 (or ±inf), got {p}")
        if p == 1:
            return a.sum(dim=dim, keepdim=keepdim)
        total = (a * a if p == 2 else a ** float(p)).sum(dim=dim, keepdim=keepdim)
        positive = total.data > 0
        safe = where(positive, total, 1.0)
        root = safe.sqrt() if p == 2 else safe ** (1.0 / float(p))
        return where(positive, root, 0.0)

    def index_select(self, dim: int, index: Any) -> "Tensor":
        """The entries at ``index`` (1-D integers) along ``dim``, in that order."""
        (axis,) = _dims(self, dim, "index_select")
        idx = np.asarray(getattr(index, "data", index))
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"index_select: index must be a 1-D integer array, got shape "
                             f"{idx.shape} ({idx.dtype})")
        return self[(slice(None),) * axis + (idx.astype(np.int64),)]

    def gather(self, dim: int, index: Any) -> "Tensor":
        """``out[i][j][k] = x[i][index[i][j][k]][k]`` (for dim 1): along ``dim`` each position
        takes the entry ``index`` names; ``index`` has this tensor's number of dimensions."""
        (axis,) = _dims(self, dim, "gather")
        idx = np.asarray(getattr(index, "data", index))
        if idx.ndim != self.ndim or idx.dtype.kind not in "iu":
            raise ValueError(f"gather: index must be an integer array with {self.ndim} "
                             f"dimensions, got shape {idx.shape} ({idx.dtype})")
        n = self.shape[axis]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"gather: index {int(idx.max() if idx.max() >= n else idx.min())} "
                             f"is out of range for dim {axis} of size {n}")
        grid: list = list(np.indices(idx.shape, sparse=True))
        grid[axis] = idx.astype(np.int64)
        return self[tuple(grid)]

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None) -> "Tensor":
        """A copy with ``src``'s values (or the number ``value``) written where ``index``
        says: for dim 1, ``out[i][index[i][j][k]][k] = src[i][j][k]``. Where ``index`` names
        one position twice, which value lands there is not specified (as in PyTorch)."""
        if (src is None) == (value is None):
            raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
        return more_ops.scatter(self, dim, index, value if src is None else src, False, SCATTER)

    def scatter_add(self, dim: int, index: Any, src: Any) -> "Tensor":
        """A copy with ``src``'s values added where ``index`` says (repeated positions add
        up): for dim 1, ``out[i][index[i][j][k]][k] += src[i][j][k]``."""
        return more_ops.scatter(self, dim, index, src, True, SCATTER_ADD)

    # ------------------------------------------------------------------ rearranging
    def flip(self, dims: Any) -> "Tensor":
        """The order of the elements reversed along ``dims``."""
        axes = _dims(self, dims, "flip")
        return self[tuple(slice(None, None, -1) if i in axes else slice(None)
                          for i in range(self.ndim))]

    def roll(self, shifts: Any, dims: Any = None) -> "Tensor":
        """Elements shifted ``shifts`` places along ``dims``, wrapping around (without
        ``dims``: along the flattened tensor, then reshaped back)."""
        from .functions import cat
        if dims is None:
            if not isinstance(shifts, (int, np.integer)):
                raise ValueError("roll: without dims, shifts must be one int")
            return self.reshape(-1).roll(int(shifts), 0).reshape(*self.shape)
        shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
        axes = _dims(self, dims, "roll")
        if len(shifts) != len(axes):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(axes)} dims")
        out = cast("Tensor", self)
        for shift, axis in zip(shifts, axes):
            n = self.shape[axis]
            k = int(shift) % n if n else 0
            if k:
                head = tuple(slice(n - k, None) if i == axis else slice(None) for i in range(self.ndim))
                tail = tuple(slice(None, n - k) if i == axis else slice(None) for i in range(self.ndim))
                out = cat([out[head], out[tail]], dim=axis)
        return out

    def tril(self, diagonal: int = 0) -> "Tensor":
        """The lower triangle of the last two axes (element (i, j) kept when j - i <= diagonal),
        zeros above."""
        return self._triangle(np.tril, diagonal, "tril")

    def triu(self, diagonal: int = 0) -> "Tensor":
        """The upper triangle of the last two axes (kept when j - i >= diagonal), zeros below."""
        return self._triangle(np.triu, diagonal, "triu")

    def _triangle(self, pick: Any, diagonal: int, op: str) -> "Tensor":
        from .functions import where
        if self.ndim < 2:
            raise ValueError(f"{op}: needs at least 2 dimensions, got shape {self.shape}")
        keep = pick(np.ones(self.shape[-2:], dtype=bool), int(diagonal))
        return where(keep, self, 0)

    def masked_fill(self, mask: Any, value: Any) -> "Tensor":
        """``value`` where ``mask`` is True (broadcast to this tensor's shape), the tensor
        elsewhere; the gradient flows only where the tensor was kept."""
        from .functions import where
        m = np.asarray(getattr(mask, "data", mask))
        if m.dtype != np.bool_:
            raise TypeError(f"masked_fill: the mask must be boolean, got {m.dtype}")
        try:
            fits = np.broadcast_shapes(m.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"masked_fill: a mask of shape {m.shape} does not broadcast to "
                             f"{self.shape}")
        fill = getattr(value, "data", value)
        return where(m, np.asarray(fill, dtype=self.dtype), self)

    # ------------------------------------------------------------------ pieces
    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the
        listed sizes (which must add up to the axis)."""
        (axis,) = _dims(self, dim, "split")
        n = self.shape[axis]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size <= 0:
                raise ValueError(f"split: split_size must be positive, got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] or [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if sum(sizes) != n or any(s < 0 for s in sizes):
                raise ValueError(f"split: sizes {sizes} do not add up to {n}, the length of dim "
                                 f"{axis}")
        pieces, start = [], 0
        for s in sizes:
            index = tuple(slice(start, start + s) if i == axis else slice(None)
                          for i in range(self.ndim))
            pieces.append(self[index])
            start += s
        return tuple(pieces)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """At most ``chunks`` pieces of equal size along ``dim`` (ceil(n / chunks) each; the
        last may be smaller, and fewer pieces come back when the sizes run out), as PyTorch."""
        if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        (axis,) = _dims(self, dim, "chunk")
        return self.split(max(1, math.ceil(self.shape[axis] / int(chunks))), axis)

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along ``dim``, that axis removed: ``x.unbind(0) == (x[0], x[1], ...)``."""
        (axis,) = _dims(self, dim, "unbind")
        return tuple(self[tuple(i if a == axis else slice(None) for a in range(self.ndim))]
                     for i in range(self.shape[axis]))

    def repeat(self, *sizes: Any) -> "Tensor":
        """The tensor tiled ``sizes[k]`` times along axis k (``sizes`` may add leading axes):
        ``Tensor([1, 2]).repeat(2)`` is ``[1, 2, 1, 2]``."""
        if len(sizes) == 1 and not isinstance(sizes[0], (int, np.integer)):
            sizes = tuple(sizes[0])
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor with {self.ndim} "
                             "dimensions (give at least one per dimension)")
        if any(s < 0 for s in sizes):
            raise ValueError(f"repeat: sizes must be >= 0, got {sizes}")
        shape = (1,) * (len(sizes) - self.ndim) + tuple(self.shape)
        # (…, n_k, …) -> (…, 1, n_k, …) -> broadcast (…, s_k, n_k, …) -> (…, s_k·n_k, …)
        spread = [d for n in shape for d in (1, n)]
        target = [d for s, n in zip(sizes, shape) for d in (s, n)]
        out = self.reshape(*spread).broadcast_to(tuple(target))
        return out.reshape(*[s * n for s, n in zip(sizes, shape)])

    def tile(self, dims: Sequence[int]) -> "Tensor":
        """``repeat``, with fewer sizes than dimensions allowed (ones are put in front)."""
        dims = tuple(int(d) for d in dims)
        return self.repeat(*((1,) * (self.ndim - len(dims)) + dims))

    # ------------------------------------------------------------------ ops of their own
    def floor(self) -> "Tensor":
        """Round down, elementwise (gradient 0)."""
        return more_ops.rounded(self, FLOOR)

    def ceil(self) -> "Tensor":
        """Round up, elementwise (gradient 0)."""
        return more_ops.rounded(self, CEIL)

    def round(self, decimals: int = 0) -> "Tensor":
        """Round half to even (``decimals`` places), elementwise (gradient 0)."""
        return more_ops.rounded(self, ROUND, int(decimals))

    def trunc(self) -> "Tensor":
        """Round towards 0, elementwise (gradient 0)."""
        return more_ops.rounded(self, TRUNC)

    def cumsum(self, dim: int) -> "Tensor":
        """Running sum along ``dim``."""
        return more_ops.cumsum(self, dim)

    def prod(self, dim: int | None = None, keepdim: bool = False) -> "Tensor":
        """Product over ``dim`` (of all elements when None); exact gradients with zeros."""
        return more_ops.prod(self, dim, keepdim)

    def sort(self, dim: int = -1, descending: bool = False) -> tuple:
        """``(values, indices)`` sorted along ``dim``; equal values keep their order."""
        return more_ops.sort(self, dim, descending)

    def argsort(self, dim: int = -1, descending: bool = False) -> "Tensor":
        """The indices that sort along ``dim`` (an int64 tensor, no gradient)."""
        return more_ops.sort(self, dim, descending)[1]

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple:
        """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) along
        ``dim``, best first."""
        n = self.shape[dim] if self.ndim else 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
            raise ValueError(f"topk: k must be an int from 0 to {n} (the size of dim {dim}), "
                             f"got {k!r}")
        values, indices = more_ops.sort(self, dim, descending=largest)
        if self.ndim == 0:
            return ValuesIndices(values, indices)
        (axis,) = _dims(self, dim, "topk")
        first = tuple(slice(0, int(k)) if i == axis else slice(None) for i in range(self.ndim))
        return ValuesIndices(values[first], indices[first])
