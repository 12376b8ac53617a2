"""TinyGPT: a small decoder-only transformer language model, and how to sample from it.

    ids (batch, T) ─ token embedding + position embedding ─ N × TransformerBlock(causal)
                   ─ LayerNorm ─ Dense(E → vocab) ─> logits (batch, T, vocab)

Trained on "predict the next token" (logits at position t are scored against the token at
t + 1), the causal mask makes every position a training example at once: position t only ever
sees tokens 0..t. Generation then feeds the model its own samples, one token at a time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.layers import Dense, Dropout, Module, ModuleList, init
from tinytorch.core.tensor import Tensor, default_generator, is_grad_enabled, set_grad_enabled

from .embedding import Embedding, LearnedPositionalEmbedding, _indices
from .kvcache import KVCache
from .normalization import LayerNorm
from .transformer import TransformerBlock

__all__ = ["TinyGPT", "cross_entropy", "sample_next_token"]


def cross_entropy(logits: Tensor, targets: Any, ignore_index: int = -100) -> Tensor:
    """Mean negative log-likelihood of ``targets`` under ``softmax(logits)``.

    Args:
        logits: ``(*, vocab)`` unnormalised scores.
        targets: integer ids of shape ``(*)``; entries equal to ``ignore_index`` are skipped
            (e.g. prompt positions that should not be trained on).
        ignore_index: the id that marks a skipped position.

    Returns:
        A scalar Tensor (the mean over the positions that are not ignored).
    """
    if not isinstance(logits, Tensor):
        logits = Tensor(logits)
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    vocab = logits.shape[-1]
    if t.shape != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: targets of shape {t.shape} do not match logits of shape "
                         f"{logits.shape} (targets need the logits' shape without the last dimension)")
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integers, got dtype {t.dtype}")
    flat_t = t.reshape(-1)
    rows = np.flatnonzero(flat_t != ignore_index)
    if rows.size == 0:
        raise ValueError("cross_entropy: every target equals ignore_index; nothing to score")
    picked_t = flat_t[rows]
    if picked_t.min() < 0 or picked_t.max() >= vocab:
        raise IndexError(f"cross_entropy: a target is outside 0..{vocab - 1}")
    logp = logits.reshape(-1, vocab).log_softmax(axis=-1)
    return -logp[rows, picked_t].mean()


def sample_next_token(logits: Any, temperature: float = 1.0, top_k: int | None = None,
                      greedy: bool = False, generator: np.random.Generator | None = None) -> np.ndarray:
    """Pick one token per row of ``logits`` ``(batch, vocab)``; returns int64 ids ``(batch,)``.

    Args:
        logits: unnormalised scores of the next token.
        temperature: divide the logits by this before the softmax (<1 sharper, >1 flatter).
        top_k: sample only among the ``top_k`` most likely tokens (exactly k; ties at the
            boundary are broken arbitrarily).
        greedy: take the most likely token (argmax); temperature and top_k are then ignored.
        generator: numpy Generator for the draw (default: tinytorch's seeded one), so the same
            seed gives the same samples.

    Returns:
        int64 ids, shape ``(batch,)``: token t is drawn with probability
        softmax(logits / temperature)[t], renormalised over the top_k logits when given.
    """
    z = np.asarray(logits.data if isinstance(logits, Tensor) else logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(f"sample_next_token: logits must have shape (batch, vocab), got {z.shape}")
    vocab = z.shape[1]
    if not greedy and not temperature > 0:
        raise ValueError(f"sample_next_token: temperature must be > 0, got {temperature} "
                         "(for the most likely token use greedy=True)")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"sample_next_token: top_k must be a positive int or None, got {top_k!r}")
    g = generator or default_generator()
    ### BEGIN SOLUTION
    ### HINT: greedy: argmax. Otherwise divide by temperature; for top_k keep the k largest logits
    ### HINT: (set the rest to -inf, np.argpartition helps); softmax; draw u ~ U(0, 1) per row with g
    ### HINT: and take the first token whose cumulative probability exceeds u.
    if greedy:
        return z.argmax(axis=-1).astype(np.int64)
    z = z / temperature
    if top_k is not None and top_k < vocab:
        best = np.argpartition(z, vocab - top_k, axis=-1)[:, vocab - top_k:]
        kept = np.full_like(z, -np.inf)
        np.put_along_axis(kept, best, np.take_along_axis(z, best, axis=-1), axis=-1)
        z = kept
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    # Inverse-CDF sampling: the first token whose cumulative mass exceeds u ~ U(0, total).
    u = g.random((z.shape[0], 1)) * cdf[:, -1:]
    return (cdf <= u).sum(axis=-1).astype(np.int64)
    ### END SOLUTION


class TinyGPT(Module):
    """A decoder-only transformer language model (GPT-2's shape, in miniature).

    Args:
        vocab_size: number of distinct tokens.
        block_size: the context length: the longest sequence the model reads.
        embed_dim: width E of the residual stream.
        num_heads: attention heads per block.
        num_layers: number of transformer blocks.
        dropout: dropout in training mode (embeddings, attention, sub-layer outputs).
        mlp_ratio: MLP hidden size as a multiple of E.
        generator: numpy Generator for the initial weights and dropout masks.

    Weights start as in GPT-2: N(0, 0.02²) for embeddings and linear layers, zero biases, and
    the projections that write into the residual stream scaled down by √(2·num_layers).

    Example:
        >>> model = TinyGPT(vocab_size=10, block_size=8, embed_dim=16, num_heads=2, num_layers=1)
        >>> model(Tensor([[1, 2, 3]])).shape
        (1, 3, 10)
    """

    def __init__(self, vocab_size: int, block_size: int, embed_dim: int = 128, num_heads: int = 4,
                 num_layers: int = 2, dropout: float = 0.0, mlp_ratio: float = 4,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if vocab_size < 1 or block_size < 1 or num_layers < 0:
            raise ValueError(f"TinyGPT: vocab_size and block_size must be positive and num_layers "
                             f">= 0, got {vocab_size}, {block_size}, {num_layers}")
        self.vocab_size = int(vocab_size)
        self.block_size = int(block_size)
        self.embed_dim = int(embed_dim)
        self.token_embedding = Embedding(vocab_size, embed_dim, generator=generator)
        self.position_embedding = LearnedPositionalEmbedding(block_size, embed_dim, generator=generator)
        self.drop = Dropout(dropout, generator=generator)
        self.blocks = ModuleList([
            TransformerBlock(embed_dim, num_heads, mlp_ratio=mlp_ratio, dropout=dropout,
                             generator=generator)
            for _ in range(num_layers)
        ])
        self.ln_f = LayerNorm(embed_dim)
        self.head = Dense(embed_dim, vocab_size, bias=False, generator=generator)
        self._init_weights(num_layers, generator)

    def _init_weights(self, num_layers: int, generator: np.random.Generator | None) -> None:
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)
            elif name.startswith("ln") or ".ln" in name:
                continue  # LayerNorm weights stay 1
            elif name.endswith("out_proj.weight") or name.endswith("fc2.weight"):
                init.normal_(p, 0.0, std / math.sqrt(2 * max(num_layers, 1)), generator)
            else:
                init.normal_(p, 0.0, std, generator)

    def forward(self, idx: Any, targets: Any = None, cache: KVCache | None = None) -> Any:
        """Logits of the next token at every position.

        Args:
            idx: token ids ``(batch, T)`` with ``T <= block_size``.
            targets: optional ids ``(batch, T)`` (usually ``idx`` shifted left by one).
            cache: a :class:`KVCache` of the tokens before ``idx`` (generation): ``idx`` then
                holds only the new tokens, at positions ``cache.length`` onwards, and their
                keys and values are added to the cache.

        Returns:
            ``logits`` ``(batch, T, vocab)``; with ``targets``, ``(logits, loss)`` where loss is
            :func:`cross_entropy` (positions whose target is -100 are skipped).
        """
        ids = _indices(idx, self.vocab_size, f"TinyGPT(vocab_size={self.vocab_size})")
        if ids.ndim != 2:
            raise ValueError(f"TinyGPT: idx must have shape (batch, T), got {ids.shape}")
        start = 0 if cache is None else cache.length
        if start + ids.shape[1] > self.block_size:
            cached = f" after {start} cached tokens" if start else ""
            raise ValueError(f"TinyGPT: a sequence of {ids.shape[1]} tokens{cached} is longer "
                             f"than the block_size of {self.block_size}")
        x = self.drop(self.position_embedding(self.token_embedding(ids), start=start))
        if cache is None:
            for block in self.blocks:
                x = block(x, is_causal=True)
        else:
            for block, layer in zip(self.blocks, cache.layers):
                x = block(x, is_causal=True, cache=layer)
            cache.length += ids.shape[1]
        batch, length, _ = x.shape
        logits = self.head(self.ln_f(x).reshape(batch * length, -1)).reshape(batch, length, -1)
        if targets is None:
            return logits
        return logits, cross_entropy(logits, targets)

    def generate(self, idx: Any, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, greedy: bool = False,
                 generator: np.random.Generator | None = None, use_cache: bool = True) -> Tensor:
        """Extend ``idx`` by ``max_new_tokens`` tokens, each sampled from the model's prediction.

        Runs in eval mode without recording a graph (the mode is restored afterwards). Only the
        last ``block_size`` tokens are fed back in. With ``use_cache`` (the default) a
        :class:`KVCache` keeps every layer's keys and values, so each step runs only the newest
        token; once the context is full the last ``block_size`` tokens are recomputed, as
        without the cache. The tokens are the same either way.

        Args:
            idx: the prompt, ids ``(batch, T)`` (or ``(T,)`` for one sequence).
            max_new_tokens: how many tokens to add.
            temperature: divide the logits by this before sampling (see :func:`sample_next_token`).
            top_k: sample among the ``top_k`` most likely tokens only.
            greedy: always take the most likely token.
            generator: numpy Generator for the draws (the same seed gives the same tokens).
            use_cache: keep the keys and values of earlier tokens instead of recomputing them.

        Returns:
            int64 ids ``(batch, T + max_new_tokens)`` (``(T + max_new_tokens,)`` for a 1-D prompt).
        """
        ids = _indices(idx, self.vocab_size, "TinyGPT.generate").astype(np.int64)
        single = ids.ndim == 1
        if single:
            ids = ids[None, :]
        if ids.ndim != 2 or ids.shape[1] < 1:
            raise ValueError(f"TinyGPT.generate: the prompt must have shape (batch, T) with T >= 1, "
                             f"got {np.shape(idx)}")
        if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
            raise ValueError(f"TinyGPT.generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        was_training = self.training
        previous = is_grad_enabled()
        set_grad_enabled(False)
        self.eval()
        try:
            cache = None
            for _ in range(int(max_new_tokens)):
                if not use_cache:
                    logits = self.forward(ids[:, -self.block_size:]).data[:, -1, :]
                elif cache is None or cache.length >= self.block_size:
                    # first step, or the context is full (every position shifts): start afresh
                    cache = KVCache(len(self.blocks))
                    logits = self.forward(ids[:, -self.block_size:], cache=cache).data[:, -1, :]
                else:
                    logits = self.forward(ids[:, -1:], cache=cache).data[:, -1, :]
                nxt = sample_next_token(logits, temperature, top_k, greedy, generator)
                ids = np.concatenate([ids, nxt[:, None]], axis=1)
        finally:
            self.train(was_training)
            set_grad_enabled(previous)
        return Tensor(ids[0] if single else ids)
