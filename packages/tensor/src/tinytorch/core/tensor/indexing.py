"""Indexing and slicing: ``x[0]``, ``x[:, 1:3]``, ``x[idx]`` with integer or boolean arrays.

Indices follow numpy exactly (the result of ``x[key]`` equals ``x.numpy()[key]``). Tensors
used as indices are converted to their arrays. For the backward pass the node keeps the key:
the gradient of a gather is a scatter-add, so an index that picks the same element twice
sends it both gradients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .base import TensorBase
from .opnames import GETITEM

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["IndexingOps", "normalize_key"]


def normalize_key(key: Any) -> Any:
    """Replace tensors and lists inside an index with numpy arrays, checking their dtypes."""
    if isinstance(key, tuple):
        return tuple(_part(k) for k in key)
    return _part(key)


def _part(k: Any) -> Any:
    if hasattr(k, "data") and isinstance(getattr(k, "data"), np.ndarray) and not isinstance(
        k, np.ndarray
    ):
        k = k.data
    if isinstance(k, list):
        k = np.asarray(k)
    if isinstance(k, np.ndarray) and k.dtype.kind not in "biu":
        raise IndexError(f"tensors used as indices must be integer or bool, got {k.dtype}")
    return k


class IndexingOps(TensorBase):
    """Mixin: ``__getitem__`` (differentiable) and ``__setitem__`` (outside the graph)."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> "Tensor":
        """Select elements exactly as numpy would: ``x[key].numpy()`` equals ``x.numpy()[key]``.

        ``key`` (normalised for you: tensors and lists inside it become numpy arrays) may hold
        ints, slices, ``None``, ``...``, integer arrays and boolean masks. Slices give views;
        integer arrays and masks give copies. An invalid key raises IndexError naming the key
        and the tensor's shape ("index 5 is invalid for a tensor of shape (2, 3): ...").
        Op "getitem", saving the key: the derivative scatter-adds the gradient back to the
        positions the key picked (an index that picks an element twice sends it both).
        """
        key = normalize_key(key)
        ### BEGIN SOLUTION
        ### HINT: self.data[key] does the selecting; catch its IndexError and re-raise ours
        ### HINT: x[1, 2] gives a numpy scalar, not an array: np.asarray makes it 0-d
        try:
            data = self.data[key]
        except IndexError as err:
            raise IndexError(f"index {key!r} is invalid for a tensor of shape {self.shape}: {err}") from None
        return self._make(np.asarray(data), GETITEM, (self,), key)
        ### END SOLUTION

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write into the tensor in place. Refused on tensors that are part of a graph.

        An in-place op like ``add_``: it bumps the storage's version, so a backward pass
        through an op that saved this value before the write refuses to run (``inplace.py``).
        """
        from .graph import bump_version, is_grad_enabled

        if is_grad_enabled() and (self.requires_grad or self._node is not None):
            raise RuntimeError(
                "in-place assignment to a tensor that requires grad would corrupt its "
                "gradients; build a new tensor instead (e.g. with where()), or assign "
                "inside no_grad()"
            )
        value = value.data if hasattr(value, "data") and not isinstance(value, np.ndarray) else value
        self.data[normalize_key(key)] = value
        bump_version(self.data)

    def gather_rows(self, index: Any) -> "Tensor":
        """``x[arange(n), index]``: pick one column per row (e.g. the logit of each label)."""
        index = normalize_key(index)
        if self.data.ndim != 2 or np.ndim(index) != 1 or len(index) != self.data.shape[0]:
            raise ValueError(
                f"gather_rows needs a 2-D tensor and one index per row; got shapes "
                f"{self.shape} and {np.shape(index)}"
            )
        return self[np.arange(self.data.shape[0]), index]
