"""The transformer block: attention to mix information *between* positions, an MLP to process
it *at* each position, each wrapped in a residual connection with LayerNorm in front (pre-norm):

    x = x + Dropout(MultiHeadAttention(LayerNorm(x)))
    x = x + Dropout(Dense(GELU(Dense(LayerNorm(x)))))          hidden size mlp_ratio · E

The residual path ``x + …`` is a highway that gradients travel unchanged through any number of
blocks; each sub-layer only adds a correction to it.

GELU, x·Φ(x), is the smooth ReLU of GPT-2 and BERT. Its exact form needs erf; the tanh form,
0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), is within 1e-3 of it and much cheaper. The block
uses the tanh form through a fused op (its derivative registered below, its row-blocked kernels
in ``kernels.py``); ``gelu(x, approximate="none")`` gives the exact one in Tensor ops.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.layers import Dense, Dropout, Module
from tinytorch.core.tensor import Tensor, make_result, register_derivative

from .kernels import gelu_tanh_backward, gelu_tanh_forward
from .multihead import MultiHeadAttention
from .normalization import LayerNorm

__all__ = ["gelu", "GELU", "FeedForward", "TransformerBlock"]

_GELU_TANH_OP = "attention.gelu_tanh"


def gelu(x: Tensor, approximate: str = "tanh") -> Tensor:
    """GELU: ``x · Φ(x)`` (``approximate="none"``) or its tanh approximation (``"tanh"``).

    Matches ``torch.nn.functional.gelu(x, approximate=...)``.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if approximate == "none":
        return x * 0.5 * ((x * (1.0 / math.sqrt(2.0))).erf() + 1.0)
    if approximate != "tanh":
        raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
    a = x._float_data("gelu")
    out, s = gelu_tanh_forward(a)      # x · σ(2u), σ(2u) = 0.5(1 + tanh u): see kernels.py
    return make_result(out, _GELU_TANH_OP, (x,), s)


@register_derivative(_GELU_TANH_OP)
def _gelu_tanh_backward(g: np.ndarray, node: Any) -> tuple:
    """d/dx = 0.5(1 + t) + 0.5·x·(1 - t²)·√(2/π)(1 + 3·0.044715·x²), t = tanh(u); with
    s = σ(2u) = 0.5(1 + t) that is s + x·s(1 - s)·2√(2/π)(1 + 3·0.044715·x²)."""
    return (gelu_tanh_backward(g, node.inputs[0].data, node.saved),)


class GELU(Module):
    """The GELU activation as a layer (see :func:`gelu`)."""

    def __init__(self, approximate: str = "tanh") -> None:
        super().__init__()
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class FeedForward(Module):
    """The position-wise MLP of a transformer: Dense(E → hidden) · GELU · Dense(hidden → E) · Dropout."""

    def __init__(self, embed_dim: int, hidden_dim: int, dropout: float = 0.0, bias: bool = True,
                 approximate: str = "tanh", generator: np.random.Generator | None = None) -> None:
        super().__init__()
        self.fc1 = Dense(embed_dim, hidden_dim, bias=bias, generator=generator)
        self.act = GELU(approximate)
        self.fc2 = Dense(hidden_dim, embed_dim, bias=bias, generator=generator)
        self.drop = Dropout(dropout, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        # one 2-D (tokens, features) matrix product per layer: faster than a batched one
        flat = x.reshape(-1, x.shape[-1])
        return self.drop(self.fc2(self.act(self.fc1(flat)))).reshape(x.shape)


class TransformerBlock(Module):
    """A pre-norm transformer block: self-attention and an MLP, each with a residual connection.

    Args:
        embed_dim: size E of each token's vector.
        num_heads: attention heads (must divide ``embed_dim``).
        mlp_ratio: the MLP's hidden size is ``mlp_ratio · embed_dim``.
        dropout: dropout on the attention weights and on each sub-layer's output (training only).
        bias: biases in the projections and the MLP.
        approximate: GELU form, ``"tanh"`` (default, fused) or ``"none"`` (exact, erf).
        generator: numpy Generator for the initial weights and dropout masks.

    Shape:
        ``(batch, L, E)`` -> ``(batch, L, E)``

    Example:
        >>> block = TransformerBlock(32, num_heads=4)
        >>> block(Tensor(np.zeros((2, 7, 32), dtype=np.float32)), is_causal=True).shape
        (2, 7, 32)
    """

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: float = 4, dropout: float = 0.0,
                 bias: bool = True, approximate: str = "tanh",
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        hidden = int(round(mlp_ratio * embed_dim))
        if hidden < 1:
            raise ValueError(f"TransformerBlock: mlp_ratio {mlp_ratio} gives no hidden units")
        self.embed_dim = int(embed_dim)
        self.ln1 = LayerNorm(embed_dim)
        self.attn = MultiHeadAttention(embed_dim, num_heads, dropout=dropout, bias=bias,
                                       batch_first=True, generator=generator)
        self.drop = Dropout(dropout, generator=generator)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = FeedForward(embed_dim, hidden, dropout=dropout, bias=bias,
                               approximate=approximate, generator=generator)

    def forward(self, x: Any, *, attn_mask: Any = None, key_padding_mask: Any = None,
                is_causal: bool = False, cache: Any = None, mask: Any = None) -> Tensor:
        """Apply the pre-norm block: ``x + drop(attn(ln1(x)))``, then ``x + mlp(ln2(x))``.

        ``x`` is ``(batch, L, E)`` (or ``(L, E)``) and so is the output. ``attn_mask``,
        ``key_padding_mask`` (PyTorch's convention: a boolean True = **masked out**),
        ``is_causal`` and ``cache`` (a KV cache layer, in generation) go to the attention (see
        MultiHeadAttention; ``mask=``, which meant True = attend, is refused there). The
        sub-layers ``ln1``, ``attn``, ``drop``, ``ln2`` and ``mlp`` are built in ``__init__``;
        ``attn`` is batch first and returns ``(output, weights)``.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        ### BEGIN SOLUTION
        ### HINT: h = ln1(x); x = x + drop(attention of h to itself); the attention returns
        ### HINT: (output, weights): ask for no weights, pass the masks, is_causal and cache on;
        ### HINT: then x = x + mlp(ln2(x))
        h = self.ln1(x)
        out, _ = self.attn(h, h, h, key_padding_mask=key_padding_mask, need_weights=False,
                           attn_mask=attn_mask, is_causal=is_causal, cache=cache, mask=mask)
        x = x + self.drop(out)
        return x + self.mlp(self.ln2(x))
        ### END SOLUTION
