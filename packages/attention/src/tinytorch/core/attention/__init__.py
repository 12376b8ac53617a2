"""tinytorch.core.attention: attention and the transformer.

    >>> from tinytorch.core.attention import TinyGPT
    >>> model = TinyGPT(vocab_size=65, block_size=64, embed_dim=128, num_heads=4, num_layers=2)
    >>> model(Tensor(np.zeros((2, 64), dtype=np.int64))).shape
    (2, 64, 65)

Everything here is written in Tensor ops, plus three fused ops (the masked softmax of attention,
LayerNorm and the tanh GELU) that register their own derivatives, so it trains as soon as
tinytorch-autograd is installed. The reference also runs attention itself as one fused op
(``fused.py``; ``fused_attention(False)`` runs the lesson's code).
"""

from .embedding import Embedding, LearnedPositionalEmbedding, SinusoidalPositionalEncoding, sinusoidal_table
from .functional import dropout, masked_softmax, scaled_dot_product_attention
from .fused import fused_attention, fused_attention_enabled, set_fused_attention
from .gpt import TinyGPT, cross_entropy, sample_next_token
from .kvcache import KVCache, LayerCache
from .masks import as_additive, causal_mask, combine_masks, padding_mask
from .multihead import MultiheadAttention, MultiHeadAttention, merge_heads, split_heads
from .normalization import LayerNorm, layer_norm
from .transformer import GELU, FeedForward, TransformerBlock, gelu

__all__ = [
    "scaled_dot_product_attention", "masked_softmax", "dropout",
    "causal_mask", "padding_mask", "combine_masks", "as_additive",
    "MultiHeadAttention", "MultiheadAttention", "split_heads", "merge_heads",
    "LayerNorm", "layer_norm",
    "Embedding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding", "sinusoidal_table",
    "gelu", "GELU", "FeedForward", "TransformerBlock",
    "TinyGPT", "cross_entropy", "sample_next_token", "KVCache", "LayerCache",
    "fused_attention", "fused_attention_enabled", "set_fused_attention",
]
