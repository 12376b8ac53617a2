"""The KV cache: generation without recomputing the whole prefix at every token.

A GPT writes one token at a time. Without a cache, step t feeds the whole prefix (t tokens) back
through every layer, although the keys and values of tokens 0..t-1 are exactly those computed at
the previous step: under the causal mask an earlier position never sees a later one, so adding a
token changes nothing before it. The cache keeps each attention layer's keys and values, and each
step then runs only the newest token:

    step t:  q, k, v of token t                      (batch, heads, 1, head_dim)
             K = [cached K ; k],  V = [cached V ; v]  (batch, heads, t + 1, head_dim)
             out = softmax(q Kᵀ/√d) V                 token t attends to 0..t, as before

The work per token drops from O(t) rows through every layer to one row (the attention itself
still reads all t + 1 keys), and the tokens are the same as without the cache — the tests
check it. The price is memory: 2 · layers · batch · length · embed_dim numbers.

A learned position embedding only knows ``block_size`` positions. Once the context is full,
every position shifts by one at each step, so nothing cached can be reused:
:meth:`~tinytorch.core.attention.TinyGPT.generate` then recomputes the last ``block_size``
tokens, exactly as without a cache.

The cache holds plain arrays: it is for generation, where no graph is recorded.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["KVCache", "LayerCache"]


class LayerCache:
    """The keys and values one attention layer has seen, ``(batch, heads, length, head_dim)``.

    Example:
        >>> cache = LayerCache()
        >>> k = v = Tensor(np.zeros((1, 2, 3, 4), dtype=np.float32))
        >>> keys, values = cache.append(k, v)
        >>> cache.length, keys.shape
        (3, (1, 2, 3, 4))
    """

    def __init__(self) -> None:
        self.keys: np.ndarray | None = None
        self.values: np.ndarray | None = None

    @property
    def length(self) -> int:
        """How many positions are cached."""
        return 0 if self.keys is None else int(self.keys.shape[2])

    def append(self, k: Tensor, v: Tensor) -> tuple:
        """Add the new positions' keys and values; return all of them, ``(keys, values)``.

        Args:
            k: keys of the new positions, ``(batch, heads, new, head_dim)``.
            v: their values, the same shape.

        Returns:
            Tensors ``(batch, heads, cached + new, head_dim)``: the old positions first.
        """
        if self.keys is not None and (k.shape[:2] != self.keys.shape[:2]
                                      or k.shape[3] != self.keys.shape[3]):
            raise ValueError(f"LayerCache: keys of shape {k.shape} do not extend the cached "
                             f"{self.keys.shape} (same batch, heads and head size needed)")
        if self.keys is None:
            self.keys, self.values = k.data, v.data
        else:
            # the length axis grows; the earlier positions are never recomputed
            self.keys = np.concatenate([self.keys, k.data], axis=2)
            self.values = np.concatenate([self.values, v.data], axis=2)
        return Tensor(self.keys), Tensor(self.values)


class KVCache:
    """One :class:`LayerCache` per transformer block, and how many positions they hold.

    Args:
        num_layers: the model's number of transformer blocks.

    Example:
        >>> from tinytorch.core.attention import TinyGPT
        >>> model = TinyGPT(vocab_size=10, block_size=8, embed_dim=16, num_heads=2, num_layers=1)
        >>> cache = KVCache(1)
        >>> model(Tensor([[1, 2, 3]]), cache=cache).shape, cache.length
        ((1, 3, 10), 3)
        >>> model(Tensor([[4]]), cache=cache).shape, cache.length     # only the new token
        ((1, 1, 10), 4)
    """

    def __init__(self, num_layers: int) -> None:
        self.layers = [LayerCache() for _ in range(int(num_layers))]
        self.length = 0  # positions seen so far (the next token's position)

    def __len__(self) -> int:
        return self.length
