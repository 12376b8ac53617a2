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

The module is PyTorch's ``nn.MultiheadAttention`` (``MultiheadAttention`` is the same class):
the same arguments and defaults (``batch_first=False``: inputs are ``(L, batch, E)`` unless
asked otherwise), the same return value (always ``(output, weights)``, weights ``None`` with
``need_weights=False``), the same mask convention (a **boolean** ``attn_mask`` or
``key_padding_mask`` is ``True`` where a key is **masked out**; a float one is added to the
scores) and the same parameter names and layout — ``in_proj_weight`` (3E, E) holds Wq, Wk, Wv
stacked (or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when ``kdim``/``vdim``
differ from E), ``in_proj_bias`` (3E,), ``out_proj.weight``/``out_proj.bias`` — so
``mha.load_state_dict(torch_mha.state_dict())`` copies a torch module into TinyTorch.

Inside, the boolean masks are inverted once into the convention of
:func:`~tinytorch.core.attention.functional.scaled_dot_product_attention` (``True`` = attend,
as PyTorch's functional form) — the two PyTorch conventions, each where PyTorch uses it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Dense, Module, Parameter, fused_linear_enabled, init
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.fused import linear as linear_fused

from .functional import scaled_dot_product_attention
from .masks import combine_masks, mask_array

__all__ = ["MultiHeadAttention", "MultiheadAttention", "split_heads", "merge_heads"]


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
    """Multi-head attention, as ``torch.nn.MultiheadAttention`` (alias ``MultiheadAttention``).

    ``out = concat(head_1..head_H) Woᵀ + bo``, ``head_i = softmax(Q_i K_iᵀ/√d + mask) V_i``.

    **Masks follow PyTorch's module:** a boolean ``attn_mask`` / ``key_padding_mask`` is
    ``True`` where attention is *not allowed*; a float mask is added to the scores. (Until
    issue 22 this class took ``mask=`` with ``True`` = attend; now pass ``attn_mask=~mask``.)

    Args:
        embed_dim: size E of each query's vector (and of the output).
        num_heads: number of heads H; must divide ``embed_dim``.
        dropout: dropout on the attention weights, in training mode only.
        bias: learn biases for the input and output projections.
        add_bias_kv: PyTorch's learned extra key/value row; not supported (False only).
        add_zero_attn: PyTorch's extra zero key/value row; not supported (False only).
        kdim: size of each key's vector (default E).
        vdim: size of each value's vector (default E).
        batch_first: inputs and output are ``(batch, L, E)``; default False, ``(L, batch, E)``,
            as in PyTorch.
        generator: numpy Generator for the initial weights and the dropout masks.

    Shape:
        query ``(L_q, N, E)``, key ``(L_k, N, kdim)``, value ``(L_k, N, vdim)`` (``(N, L, ·)``
        with ``batch_first``; unbatched ``(L, ·)`` too) -> output like query; weights
        ``(N, L_q, L_k)`` averaged over heads, or ``(N, H, L_q, L_k)``.

    Example:
        >>> mha = MultiheadAttention(64, num_heads=4, batch_first=True)
        >>> x = Tensor(np.zeros((2, 10, 64), dtype=np.float32))
        >>> out, weights = mha(x, x, x, is_causal=True)
        >>> out.shape, weights.shape
        ((2, 10, 64), (2, 10, 10))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, *,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads), ("kdim", kdim),
                        ("vdim", vdim)):
            if n is None and name in ("kdim", "vdim"):
                continue
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"MultiHeadAttention: {name} must be a positive int, got {n!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiHeadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                f"({num_heads}); each head gets embed_dim // num_heads features"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be in [0, 1), got {dropout}")
        if add_bias_kv or add_zero_attn:
            raise ValueError("MultiHeadAttention: add_bias_kv and add_zero_attn are not supported; "
                             "leave them False")
        self.embed_dim = int(embed_dim)
        self.num_heads = int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.kdim = self.embed_dim if kdim is None else int(kdim)
        self.vdim = self.embed_dim if vdim is None else int(vdim)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.generator = generator
        e = self.embed_dim
        # PyTorch's layout: one stacked (3E, E) matrix when keys and values have E features,
        # three separate ones otherwise (the names a torch state dict uses in each case)
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=np.float32))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.register_parameter("in_proj_weight", None)
            self.q_proj_weight = Parameter(np.empty((e, e), dtype=np.float32))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dtype=np.float32))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dtype=np.float32))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, dtype=np.float32))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Dense(e, e, bias=bias, generator=generator)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: Xavier-uniform in-projection(s), zero biases."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight, generator=self.generator)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w, generator=self.generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
        if self.out_proj.bias is not None:
            init.zeros_(self.out_proj.bias)

    def _project(self, x: Tensor, which: int) -> Tensor:
        """x @ W_whichᵀ + b_which for which = 0 (query), 1 (key), 2 (value).

        The tokens are flattened to one (batch·L, features) matrix first: numpy runs a single
        2-D matrix product faster than a stack of per-sequence ones, forward and backward.
        """
        e = self.embed_dim
        rows = slice(which * e, (which + 1) * e)
        if self._qkv_same_embed_dim:
            weight = self.in_proj_weight[rows]
        else:
            weight = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[which]
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        flat = x.reshape(-1, x.shape[-1])
        if fused_linear_enabled():  # Dense's fast path: one op, the weight gradient row-major
            y = linear_fused(flat, weight, bias)
        else:
            y = flat @ weight.T
            if bias is not None:
                y = y + bias
        return y.reshape(x.shape[:-1] + (e,))

    def _check(self, x: Any, name: str, features: int) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim not in (2, 3) or x.shape[-1] != features:
            layout = "(batch, length, {f})" if self.batch_first else "(length, batch, {f})"
            raise ValueError(
                f"MultiHeadAttention(embed_dim={self.embed_dim}, batch_first={self.batch_first}): "
                f"{name} must have shape {layout.format(f=features)} or (length, {features}), "
                f"got {x.shape}"
            )
        return x

    def _masks(self, attn_mask: Any, key_padding_mask: Any, batch: int, len_q: int,
               len_k: int, unbatched: bool) -> Any:
        """PyTorch's two masks as one mask in scaled_dot_product_attention's convention.

        Boolean masks are inverted (PyTorch's module: True = masked out; the functional form:
        True = attend); float masks are added either way. The result broadcasts to
        ``(batch, heads, L_q, L_k)``.
        """
        h = self.num_heads
        am = mask_array(attn_mask, "MultiHeadAttention: attn_mask", true_means="masked out")
        if am is not None:
            if am.ndim == 3:  # PyTorch's (batch · heads, L_q, L_k)
                if am.shape[0] != batch * h:
                    raise ValueError(
                        f"MultiHeadAttention: a 3-D attn_mask must be (batch * num_heads, L_q, "
                        f"L_k) = ({batch * h}, {len_q}, {len_k}), got {tuple(am.shape)}")
                am = am.reshape(batch, h, am.shape[1], am.shape[2])
            if am.ndim not in (2, 4) or tuple(am.shape[-2:]) != (len_q, len_k):
                raise ValueError(
                    f"MultiHeadAttention: attn_mask must be (L_q, L_k) = ({len_q}, {len_k}) or "
                    f"(batch * num_heads, L_q, L_k), got {tuple(am.shape)}")
            if not isinstance(am, Tensor) and am.dtype == np.bool_:
                am = ~am
        kp = mask_array(key_padding_mask, "MultiHeadAttention: key_padding_mask",
                        true_means="masked out")
        if kp is not None:
            want = (len_k,) if unbatched else (batch, len_k)
            if tuple(kp.shape) != want:
                raise ValueError(
                    f"MultiHeadAttention: key_padding_mask must be {want} (batch, L_k), got "
                    f"{tuple(kp.shape)}")
            kp = kp.reshape(batch, 1, 1, len_k)
            if not isinstance(kp, Tensor) and kp.dtype == np.bool_:
                kp = ~kp
        if am is None or kp is None:
            return am if kp is None else kp
        m = combine_masks(am, kp)
        return m if m.dtype.kind == "f" else m.data

    def forward(self, query: Any, key: Any = None, value: Any = None,
                key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
                average_attn_weights: bool = True, is_causal: bool = False, *,
                cache: Any = None, mask: Any = None) -> tuple:
        """Attend from ``query`` to ``key``/``value`` (self-attention when they are omitted).

        Args:
            query: ``(L_q, N, E)``, or ``(N, L_q, E)`` with ``batch_first``, or ``(L_q, E)``.
            key: ``(L_k, N, kdim)`` (batch-first likewise); default ``query``.
            value: ``(L_k, N, vdim)``; default ``key``.
            key_padding_mask: ``(N, L_k)`` (``(L_k,)`` unbatched): bool, **True = this key is
                padding, ignore it**; or float, added to every query's scores for that key.
            need_weights: also return the attention weights (otherwise the second element of
                the returned pair is ``None``; the fast fused path runs only then).
            attn_mask: ``(L_q, L_k)`` for every sequence and head, or ``(N · H, L_q, L_k)``
                per sequence and head (or ``(N, H, L_q, L_k)``): bool, **True = not allowed to
                attend**; or float, added to the scores (a float Tensor that requires grad
                receives a gradient).
            average_attn_weights: average the returned weights over heads, ``(N, L_q, L_k)``;
                otherwise ``(N, H, L_q, L_k)``.
            is_causal: apply the causal mask (query i sees keys 0..i) — TinyTorch builds it;
                PyTorch's module also wants it passed as ``attn_mask``.
            cache: a :class:`~tinytorch.core.attention.kvcache.LayerCache` (self-attention in
                generation, TinyTorch only): the new positions' keys and values are appended
                to it and the queries attend to every cached position too; with
                ``is_causal`` a query at position p sees positions 0..p.
            mask: removed (it meant True = attend); raises, pointing at ``attn_mask``.

        Returns:
            ``(output, weights)``: output shaped like ``query``; weights as above, or ``None``.
            A query with every key masked gets zero weights and a zero output (PyTorch: NaN).
        """
        if mask is not None:
            raise ValueError(
                "MultiHeadAttention: mask= was replaced by attn_mask=, with PyTorch's convention "
                "(a boolean True = masked out); pass attn_mask=~mask for an old True = attend mask")
        query = self._check(query, "query", self.embed_dim)
        if key is None and self.kdim != self.embed_dim:
            raise ValueError(f"MultiHeadAttention: kdim={self.kdim} differs from embed_dim; "
                             "pass key and value explicitly")
        key = query if key is None else self._check(key, "key", self.kdim)
        value = key if value is None else self._check(value, "value", self.vdim)
        unbatched = query.ndim == 2
        if {key.ndim, value.ndim} != {query.ndim}:
            raise ValueError(
                f"MultiHeadAttention: query {query.shape}, key {key.shape} and value "
                f"{value.shape} must all be batched (3-D) or all unbatched (2-D)"
            )
        if unbatched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
        elif not self.batch_first:  # (L, N, ·) -> (N, L, ·); self-attention transposes once
            same_k, same_v = key is query, value is key
            query = query.transpose(0, 1)
            key = query if same_k else key.transpose(0, 1)
            value = key if same_v else value.transpose(0, 1)
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"MultiHeadAttention: key {key.shape} and value {value.shape} need the same batch "
                f"and length, and the batch of query {query.shape}"
            )
        len_k = key.shape[1] + (cache.length if cache is not None else 0)
        m = self._masks(attn_mask, key_padding_mask, query.shape[0], query.shape[1], len_k,
                        unbatched)
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
        elif not self.batch_first:
            out = out.transpose(0, 1)
        if weights is not None:
            if average_attn_weights:
                weights = weights.mean(axis=1)
            if unbatched:
                weights = weights.squeeze(0)
        return out, weights

    def extra_repr(self) -> str:
        extra = "" if self._qkv_same_embed_dim else f", kdim={self.kdim}, vdim={self.vdim}"
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"bias={self.in_proj_bias is not None}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}{extra}")


MultiheadAttention = MultiHeadAttention  # PyTorch's spelling
