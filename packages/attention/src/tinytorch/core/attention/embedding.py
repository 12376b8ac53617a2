"""Embeddings: turning token ids and positions into vectors.

* :class:`Embedding` is a lookup table: row ``i`` of its weight is the vector of token ``i``.
  The lookup is plain indexing, ``weight[ids]`` — a *gather*. Its gradient is the reverse, a
  *scatter-add*: each row receives the sum of the gradients of every place it was used (the
  same token appearing twice in a batch gets both contributions). Indexing already records
  exactly that, so no new derivative is needed.
* Attention itself is blind to order (permute the keys and values together and the output does
  not change), so a transformer adds a vector that depends on the position:
  :class:`SinusoidalPositionalEncoding` (fixed sines and cosines, "Attention Is All You Need")
  or :class:`LearnedPositionalEmbedding` (a trained table, as in GPT-2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter, init
from tinytorch.core.tensor import Tensor, where

__all__ = ["Embedding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "sinusoidal_table"]


def _indices(idx: Any, size: int, who: str) -> np.ndarray:
    arr = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{who}: index {bad} is out of range for {size} embeddings (0..{size - 1})")
    return arr.astype(np.intp, copy=False)


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim``.

    Args:
        num_embeddings: how many ids (the vocabulary size).
        embedding_dim: size of each vector.
        padding_idx: an id whose vector starts at zero and never receives a gradient (it stays
            whatever it is), like PyTorch's.
        max_norm: before each lookup, every row about to be used whose ``norm_type``-norm is
            above this is scaled down, in place, to that norm (as PyTorch does: the weight
            itself changes, outside the graph).
        norm_type: the p of that p-norm (2 by default).
        generator: numpy Generator for the initial weights, N(0, 1) as in PyTorch.

    Shape:
        integer ids ``(*)`` -> ``(*, embedding_dim)``

    Example:
        >>> emb = Embedding(10, 3)
        >>> emb(Tensor([[1, 2], [2, 9]])).shape
        (2, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError(f"Embedding needs positive sizes, got num_embeddings={num_embeddings}, "
                             f"embedding_dim={embedding_dim}")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_idx
        if max_norm is not None and not max_norm > 0:
            raise ValueError(f"Embedding: max_norm must be > 0, got {max_norm}")
        self.max_norm, self.norm_type = max_norm, float(norm_type)
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=np.float32))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """N(0, 1) weights; the padding row (if any) is zero."""
        init.normal_(self.weight, 0.0, 1.0, generator)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0.0

    def forward(self, idx: Any) -> Tensor:
        """The vectors of the ids in ``idx``: ``(*)`` integers -> ``(*, embedding_dim)``.

        ``ids`` (given) is ``idx`` checked to lie in 0..num_embeddings-1, as an int array.
        Output row ``[..., :]`` is ``weight[id]``; made by indexing the Parameter (a Tensor op,
        "getitem"), so the gradient flows back into exactly the rows that were used.
        """
        ids = _indices(idx, self.num_embeddings, f"Embedding({self.num_embeddings}, {self.embedding_dim})")
        if self.max_norm is not None:
            self._renorm(ids)
        ### BEGIN SOLUTION
        ### HINT: row i of self.weight is the vector of id i: index the weight with the ids
        out = self.weight[ids]
        ### END SOLUTION
        if self.padding_idx is not None:
            # Same values either way; where() routes the padding positions' gradient into a
            # detached copy, so the padding row gets none.
            used = (ids != self.padding_idx)[..., None]
            out = where(used, out, out.detach())
        return out

    def _renorm(self, ids: np.ndarray) -> None:
        """Scale the used rows whose norm exceeds max_norm down to it (PyTorch's rule: factor
        max_norm / (norm + 1e-7)), in place in the weight's array, recording nothing."""
        rows = np.unique(ids)
        table = self.weight.data
        norms = np.linalg.norm(table[rows].astype(np.float64), ord=self.norm_type, axis=1)
        big = norms > self.max_norm
        scale = self.max_norm / (norms[big] + 1e-7)
        table[rows[big]] *= scale[:, None].astype(table.dtype)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        if self.max_norm is not None:
            pad += f", max_norm={self.max_norm}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"


def sinusoidal_table(max_len: int, embed_dim: int) -> np.ndarray:
    """The (max_len, embed_dim) float32 table of sinusoidal position codes.

    Column pair (2i, 2i+1) holds sin and cos of ``pos / 10000^(2i / embed_dim)``: every pair
    rotates at its own frequency, from one turn per ~6 positions down to one per ~60,000, so
    each position gets a distinct code and a fixed offset is a fixed rotation.

    An odd ``embed_dim`` ends with one sin column (there are ceil(embed_dim/2) frequencies and
    floor(embed_dim/2) cos columns).
    """
    ### BEGIN SOLUTION
    ### HINT: angle[pos, i] = pos / 10000^(2i / embed_dim); even columns sin, odd columns cos (float64, then float32)
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    freq = np.power(10000.0, -np.arange(0, embed_dim, 2, dtype=np.float64) / embed_dim)
    angles = pos * freq[None, :]
    table = np.empty((max_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : embed_dim // 2])
    return table.astype(np.float32)
    ### END SOLUTION


def _length(x: Tensor, max_len: int, who: str) -> int:
    if x.ndim < 2:
        raise ValueError(f"{who}: input must have shape (..., length, embed_dim), got {x.shape}")
    length = x.shape[-2]
    if length > max_len:
        raise ValueError(f"{who}: a sequence of length {length} is longer than max_len={max_len}")
    return length


class SinusoidalPositionalEncoding(Module):
    """Add fixed sinusoidal position codes to a sequence of vectors (no parameters).

    Args:
        embed_dim: size of each vector.
        max_len: the longest sequence it accepts.

    Shape:
        ``(*, length, embed_dim)`` -> the same; row ``t`` gets code ``t`` added.
    """

    table: Tensor  # the (max_len, embed_dim) codes, a buffer registered in __init__

    def __init__(self, embed_dim: int, max_len: int = 5000) -> None:
        super().__init__()
        if embed_dim < 1 or max_len < 1:
            raise ValueError(f"SinusoidalPositionalEncoding needs positive sizes, got "
                             f"embed_dim={embed_dim}, max_len={max_len}")
        self.embed_dim = int(embed_dim)
        self.max_len = int(max_len)
        # a buffer, not a parameter; not saved in state_dict since it is always the same
        self.register_buffer("table", sinusoidal_table(self.max_len, self.embed_dim), persistent=False)

    def forward(self, x: Any) -> Tensor:
        """``x + table[:length]``."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = _length(x, self.max_len, "SinusoidalPositionalEncoding")
        if x.shape[-1] != self.embed_dim:
            raise ValueError(f"SinusoidalPositionalEncoding({self.embed_dim}): got vectors of size "
                             f"{x.shape[-1]} (input shape {x.shape})")
        return x + Tensor(self.table.data[:length], dtype=x.dtype)

    def extra_repr(self) -> str:
        return f"{self.embed_dim}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Module):
    """Add a learned vector per position (GPT-2's position embedding).

    Args:
        max_len: the longest sequence (the context size).
        embed_dim: size of each vector.
        std: standard deviation of the N(0, std²) initial weights.
        generator: numpy Generator for them.

    Shape:
        ``(*, length, embed_dim)`` -> the same; row ``t`` gets ``weight[t]`` added.
    """

    def __init__(self, max_len: int, embed_dim: int, std: float = 0.02,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if embed_dim < 1 or max_len < 1:
            raise ValueError(f"LearnedPositionalEmbedding needs positive sizes, got "
                             f"max_len={max_len}, embed_dim={embed_dim}")
        self.max_len = int(max_len)
        self.embed_dim = int(embed_dim)
        self.weight = Parameter(np.empty((max_len, embed_dim), dtype=np.float32))
        init.normal_(self.weight, 0.0, std, generator)

    def forward(self, x: Any, start: int = 0) -> Tensor:
        """``x + weight[start:start + length]`` (``start``: the first row's position, e.g. the
        number of tokens already in a KV cache)."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        length = _length(x, self.max_len - start, "LearnedPositionalEmbedding")
        if x.shape[-1] != self.embed_dim:
            raise ValueError(f"LearnedPositionalEmbedding({self.max_len}, {self.embed_dim}): got "
                             f"vectors of size {x.shape[-1]} (input shape {x.shape})")
        return x + self.weight[start:start + length]

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.embed_dim}"
