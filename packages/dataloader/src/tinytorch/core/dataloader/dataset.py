"""Datasets: anything with ``__len__`` and ``__getitem__``, plus an optional fast batch path.

A :class:`Dataset` answers two questions: how many samples are there, and what is sample ``i``.
That is all a :class:`~tinytorch.core.dataloader.DataLoader` needs. Datasets that keep all
their samples in arrays (:class:`TensorDataset`, CIFAR-10, MNIST) also offer
``get_batch(indices)``, which fetches a whole batch with one fancy-indexing operation per
array instead of one Python call per sample; the loader uses it when it is there.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "as_index_array"]


def as_index_array(indices: Any, length: int, who: str) -> np.ndarray:
    """``indices`` as a 1-D integer array, each within ``[-length, length)``."""
    idx = np.asarray(indices)
    if idx.ndim != 1:
        idx = idx.reshape(-1)
    if idx.size == 0:
        return idx.astype(np.intp)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got dtype {idx.dtype}")
    lo, hi = int(idx.min()), int(idx.max())
    if lo < -length or hi >= length:
        bad = lo if lo < -length else hi
        raise IndexError(f"{who}: index {bad} is out of range for a dataset of {length} samples")
    return idx.astype(np.intp, copy=False)


class Dataset:
    """The interface every dataset implements: ``len(ds)`` and ``ds[i]``.

    Subclasses override :meth:`__getitem__` (one sample, usually an ``(input, target)``
    tuple) and :meth:`__len__`. Array-backed datasets may also define
    ``get_batch(indices)``, returning the same fields already stacked along a new first
    axis; the DataLoader then skips the per-sample calls.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return float(i), i * i
        >>> len(Squares()), Squares()[3]
        (10, (3.0, 9))
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__()")

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _as_array(x: Any, position: int) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray):
        return x
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"TensorDataset: argument {position} cannot be read as an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"TensorDataset: argument {position} has non-numeric dtype {arr.dtype}")
    return arr


class TensorDataset(Dataset):
    """Samples are the rows of several equally long arrays (or Tensors): ``ds[i] == (a[i], b[i], ...)``.

    Args:
        *arrays: numpy arrays, Tensors or nested lists, all with the same first dimension.
            Tensors are not copied: the dataset reads their ``.data``.

    Rows come back as numpy arrays (or numpy scalars); the DataLoader stacks them into Tensors.

    Example:
        >>> ds = TensorDataset(np.zeros((4, 2), np.float32), np.arange(4))
        >>> len(ds), int(ds[1][1])
        (4, 1)
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_array(a, i) for i, a in enumerate(arrays))
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d value; every argument "
                                 "needs a first (sample) dimension")
        lengths = [a.shape[0] for a in self.arrays]
        if len(set(lengths)) > 1:
            listed = ", ".join(f"argument {i}: {n}" for i, n in enumerate(lengths))
            raise ValueError(f"TensorDataset: all arrays must have the same length (first "
                             f"dimension); got {listed}")

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple:
        return tuple(a[index] for a in self.arrays)

    def get_batch(self, indices: Any) -> tuple:
        """The rows ``indices`` of every array, each gathered with one fancy-indexing copy."""
        idx = as_index_array(indices, len(self), "TensorDataset.get_batch")
        return tuple(a[idx] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape}/{a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} samples: {shapes})"


class Subset(Dataset):
    """The samples ``indices`` of another dataset, in that order (keeps its fast batch path)."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = as_index_array(indices, len(dataset), "Subset")

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getattr__(self, name: str) -> Any:
        # expose get_batch only when the wrapped dataset has one, so the loader's
        # ``hasattr(ds, "get_batch")`` test stays truthful
        if name == "get_batch" and callable(getattr(self.dataset, "get_batch", None)):
            def get_batch(indices: Any) -> Any:
                idx = as_index_array(indices, len(self), "Subset.get_batch")
                return self.dataset.get_batch(self.indices[idx])
            return get_batch
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def random_split(dataset: Any, lengths: Sequence[int], seed: int | None = None) -> list:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given lengths.

    Example:
        >>> train, val = random_split(TensorDataset(np.arange(10)), [8, 2], seed=0)
        >>> len(train), len(val)
        (8, 2)
    """
    lengths = [int(n) for n in lengths]
    if any(n < 0 for n in lengths) or sum(lengths) != len(dataset):
        raise ValueError(f"random_split: lengths {lengths} must be non-negative and sum to the "
                         f"dataset's length {len(dataset)}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
