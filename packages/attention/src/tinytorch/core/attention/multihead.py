"""Multi-head attention: several attentions side by side, each in its own subspace.

One head of size ``embed_dim`` can attend to one mixture of positions per query. Splitting the
embedding into ``num_heads`` heads of size ``head_dim = embed_dim / num_heads`` lets each head
learn its own notion of "relevant" (the previous token, the matching bracket, the same digit…)
for the same cost:

    Q = x_q Wqᵀ + bq,  K = x_k Wkᵀ + bk,  V = x_v Wvᵀ + bv          (batch, L, E)
    split:  (batch, L, E) -> (batch, heads, L, head_dim)
    every head at once:  softmax(Q Kᵀ/√head_dim + mask) V          (batch, heads, L_q, head_dim)
    merge:  (batch, heads, L_q, head_dim) -> (batch, L_q, E), then the output projection.

There is no Python loop over heads: the heads are just one more batch dimension of the two
batched matmuls.

The parameters have PyTorch's names and layout — ``in_proj_weight`` (3E, E) holds Wq, Wk, Wv
stacked, ``in_proj_bias`` (3E,), ``out_proj.weight``/``out_proj.bias`` — so
``mha.load_state_dict(torch_mha.state_dict())`` copies a ``torch.nn.MultiheadAttention(E, H,
batch_first=True)`` into TinyTorch (and ``state_dict()`` goes the other way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Dense, Module, Parameter, fused_linear_enabled, init
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.fused import linear as linear_fused

from .functional import scaled_dot_product_attention
from .masks import combine_masks, mask_array

__all__ = ["MultiHeadAttention", "split_heads", "merge_heads"]


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(batch, L, E) -> (batch, num_heads, L, E // num_heads): head h gets features h·d..(h+1)·d."""
    batch, length, embed = x.shape
    ### BEGIN SOLUTION
    ### HINT: reshape to (batch, length, heads, head_dim), then permute to (batch, heads, length, head_dim)
    return x.reshape(batch, length, num_heads, embed // num_heads).permute(0, 2, 1, 3)
    ### END SOLUTION


def merge_heads(x: Tensor) -> Tensor:
    """(batch, heads, L, head_dim) -> (batch, L, heads · head_dim): the inverse of split_heads."""
    batch, heads, length, head_dim = x.shape
    ### BEGIN SOLUTION
    ### HINT: the inverse of split_heads: permute back, then reshape to (batch, length, heads · head_dim)
    return x.permute(0, 2, 1, 3).reshape(batch, length, heads * head_dim)
    ### END SOLUTION


class MultiHeadAttention(Module):
    """Multi-head attention with learned query/key/value/output projections (batch first).

    Args:
        embed_dim: size E of each token's vector (input and output).
        num_heads: number of heads H; must divide ``embed_dim``.
        bias: learn biases for the four projections.
        dropout: dropout on the attention weights, in training mode only.
        generator: numpy Generator for the initial weights and the dropout masks.

    Shape:
        query ``(batch, L_q, E)``; key and value ``(batch, L_k, E)`` -> ``(batch, L_q, E)``.
        Unbatched ``(L, E)`` inputs work too and give ``(L_q, E)``.

    Example:
        >>> mha = MultiHeadAttention(64, num_heads=4)
        >>> x = Tensor(np.zeros((2, 10, 64), dtype=np.float32))
        >>> mha(x, is_causal=True).shape
        (2, 10, 64)
    """

    def __init__(self, embed_dim: int, num_heads: int, bias: bool = True, dropout: float = 0.0,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(embed_dim, (int, np.integer)) or embed_dim < 1:
            raise ValueError(f"MultiHeadAttention: embed_dim must be a positive int, got {embed_dim!r}")
        if not isinstance(num_heads, (int, np.integer)) or num_heads < 1:
            raise ValueError(f"MultiHeadAttention: num_heads must be a positive int, got {num_heads!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiHeadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads}); each head gets embed_dim // num_heads features"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = float(dropout)
        self.generator = generator
        e = self.embed_dim
        self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=np.float32))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, dtype=np.float32))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Dense(e, e, bias=bias, generator=generator)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform in-projection, zero biases."""
        init.xavier_uniform_(self.in_proj_weight, generator=self.generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def _project(self, x: Tensor, which: int) -> Tensor:
        """x @ W_whichᵀ + b_which for which = 0 (query), 1 (key), 2 (value).

        The tokens are flattened to one (batch·L, E) matrix first: numpy runs a single 2-D
        matrix product faster than a stack of per-sequence ones, forward and backward.
        """
        e = self.embed_dim
        rows = slice(which * e, (which + 1) * e)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        if fused_linear_enabled():  # Dense's fast path: one op, the weight gradient row-major
            return linear_fused(x.reshape(-1, e), self.in_proj_weight[rows], bias).reshape(x.shape)
        y = x.reshape(-1, e) @ self.in_proj_weight[rows].T
        if bias is not None:
            y = y + bias
        return y.reshape(x.shape)

    def _check(self, x: Any, name: str) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in (2, 3) or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiHeadAttention(embed_dim={self.embed_dim}): {name} must have shape "
                f"(batch, length, {self.embed_dim}) or (length, {self.embed_dim}), got {x.shape}"
            )
        return x

    def forward(self, query: Any, key: Any = None, value: Any = None, mask: Any = None,
                is_causal: bool = False, need_weights: bool = False,
                average_attn_weights: bool = True, cache: Any = None) -> Any:
        """Attend from ``query`` to ``key``/``value`` (self-attention when they are omitted).

        Args:
            query: ``(batch, L_q, E)``.
            key: ``(batch, L_k, E)``; default ``query`` (self-attention).
            value: ``(batch, L_k, E)``; default ``key``.
            mask: bool (``True`` = attend) or float (added) mask: ``(L_q, L_k)`` for every
                sequence, ``(batch, L_q, L_k)`` per sequence, ``(batch, H, L_q, L_k)`` per head,
                or anything that broadcasts to that, e.g. :func:`padding_mask`'s
                ``(batch, 1, 1, L_k)``. (PyTorch's ``nn.MultiheadAttention`` reads a boolean
                mask the other way round; invert it, ``~mask``, when porting.)
            is_causal: add the causal mask.
            need_weights: also return the attention weights.
            average_attn_weights: average the returned weights over heads, ``(batch, L_q,
                L_k)``, as PyTorch does; otherwise ``(batch, H, L_q, L_k)``.
            cache: a :class:`~tinytorch.core.attention.kvcache.LayerCache` (self-attention in
                generation): the new positions' keys and values are appended to it and the
                queries attend to every cached position too; with ``is_causal`` a query at
                position p sees positions 0..p.

        Returns:
            The output ``(batch, L_q, E)``, or ``(output, weights)`` with ``need_weights``.
        """
        query = self._check(query, "query")
        key = query if key is None else self._check(key, "key")
        value = key if value is None else self._check(value, "value")
        unbatched = query.ndim == 2
        if {key.ndim, value.ndim} != {query.ndim}:
            raise ValueError(
                f"MultiHeadAttention: query {query.shape}, key {key.shape} and value "
                f"{value.shape} must all be batched (3-D) or all unbatched (2-D)"
            )
        if unbatched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"MultiHeadAttention: key {key.shape} and value {value.shape} need the same batch "
                f"and length, and the batch of query {query.shape}"
            )
        m = mask_array(mask, "MultiHeadAttention: mask")
        if m is not None and m.ndim == 3:
            m = m.reshape(m.shape[0], 1, m.shape[1], m.shape[2])  # (batch, L_q, L_k): every head
        q = split_heads(self._project(query, 0), self.num_heads)
        k = split_heads(self._project(key, 1), self.num_heads)
        v = split_heads(self._project(value, 2), self.num_heads)
        if cache is not None:
            past = cache.length
            k, v = cache.append(k, v)  # every position so far, the cached ones first
            if is_causal:  # new query i sits at position past + i: it sees keys 0..past + i
                allowed = np.arange(k.shape[2])[None, :] <= past + np.arange(q.shape[2])[:, None]
                m = allowed if m is None else combine_masks(allowed, m)
                m = m if not isinstance(m, Tensor) or m.dtype.kind == "f" else m.data
                is_causal = False
        p = self.dropout if self.training else 0.0
        result = scaled_dot_product_attention(
            q, k, v, mask=m, is_causal=is_causal, dropout_p=p, return_weights=need_weights,
            generator=self.generator,
        )
        out, weights = result if need_weights else (result, None)
        out = merge_heads(out)
        out = self.out_proj(out.reshape(-1, self.embed_dim)).reshape(out.shape)
        if unbatched:
            out = out.squeeze(0)
        if not need_weights:
            return out
        if average_attn_weights:
            weights = weights.mean(axis=1)
        if unbatched:
            weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"bias={self.in_proj_bias is not None}, dropout={self.dropout}")
