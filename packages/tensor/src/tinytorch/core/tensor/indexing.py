"""Indexing and slicing: ``x[0]``, ``x[:, 1:3]``, ``x[idx]`` with integer or boolean arrays.

Indices follow numpy exactly (the result of ``x[key]`` equals ``x.numpy()[key]``). Tensors
used as indices are converted to their arrays. For the backward pass the node keeps the key:
the gradient of a gather is a scatter-add, so an index that picks the same element twice
sends it both gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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


class IndexingOps:
    """Mixin: ``__getitem__`` (differentiable) and ``__setitem__`` (outside the graph)."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        """Select elements exactly as numpy would."""
        key = normalize_key(key)
        try:
            data = self.data[key]
        except IndexError as err:
            raise IndexError(f"index {key!r} is invalid for a tensor of shape {self.shape}: {err}") from None
        ### BEGIN SOLUTION
        return self._make(np.asarray(data), "getitem", (self,), key)
        ### END SOLUTION

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write into the tensor in place. Refused on tensors that are part of a graph."""
        from .graph import is_grad_enabled

        if is_grad_enabled() and (self.requires_grad or self._node is not None):
            raise RuntimeError(
                "in-place assignment to a tensor that requires grad would corrupt its "
                "gradients; build a new tensor instead (e.g. with where()), or assign "
                "inside no_grad()"
            )
        value = value.data if hasattr(value, "data") and not isinstance(value, np.ndarray) else value
        self.data[normalize_key(key)] = value

    def gather_rows(self, index: Any) -> Any:
        """``x[arange(n), index]``: pick one column per row (e.g. the logit of each label)."""
        index = normalize_key(index)
        if self.data.ndim != 2 or np.ndim(index) != 1 or len(index) != self.data.shape[0]:
            raise ValueError(
                f"gather_rows needs a 2-D tensor and one index per row; got shapes "
                f"{self.shape} and {np.shape(index)}"
            )
        return self[np.arange(self.data.shape[0]), index]
