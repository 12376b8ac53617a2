# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 07 — Attention: from token ids to a tiny GPT
#
# A convolution mixes each pixel with its fixed neighbours. **Attention** lets every token of a
# sequence decide, from the data, which other tokens to read: token i asks a question (its
# *query*), every token j offers a label (its *key*) and a content (its *value*), and token i
# receives the average of the values weighted by how well each key answers its query:
#
#     Attention(Q, K, V) = softmax(Q Kᵀ / √d) V
#
# That one line, repeated over several heads and stacked with LayerNorm and an MLP, is the
# transformer. You build it bottom-up, in the order the data flows: ids → vectors → positions →
# masks → softmax → attention → heads → normalisation → the block → sampling the next token.
#
# Given: the layers around your functions (`MultiHeadAttention`'s projections, `FeedForward`,
# `TinyGPT`, `generate`), the argument checks, and the derivatives of the three fused ops (masked
# softmax, layer norm, GELU), so everything trains once module 09 is installed. The
# [README](https://tinytorch.github.io/tinytorch/modules/attention/) is the reference.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("attention")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinytorch.core.tensor import Tensor, manual_seed

text = "attention is all you need, said the paper; the rest is engineering."
vocab = sorted(set(text))
to_id = {ch: i for i, ch in enumerate(vocab)}
ids = np.array([to_id[ch] for ch in text])
print(f"{len(text)} characters, vocabulary of {len(vocab)}: {''.join(vocab)!r}")
print("as ids:", ids[:20], "...")

# %% [markdown]
# ## Build
#
# The files are in your workspace under `src/tinytorch/core/attention/`.
#
# ### Exercise 1 — embedding_lookup: an id becomes a vector
#
# **File:** `embedding.py`. **Function:** `Embedding.forward(idx)`: ids of any shape `(*)` →
# vectors `(*, embedding_dim)`, row `id` of `self.weight` (num_embeddings, embedding_dim) for
# each id. That is indexing: `self.weight[ids]`, a Tensor op ("getitem"), so in training the
# gradient flows into exactly the rows that were read. It is the same as multiplying a one-hot
# vector by the weight, without building the one-hot matrix.
#
# Given: `ids`, the input checked to be integers in range (the error names the bad id), and the
# `padding_idx` handling after your block.

# %%
check("attention", "embedding_lookup")

# %%
from tinytorch.core.attention import Embedding

manual_seed(0)
emb = Embedding(len(vocab), 16)
vectors = emb(Tensor(ids[None, :]))
print(vectors.shape, "| the two 't's of 'attention' share one row:",
      np.array_equal(vectors.numpy()[0, 1], vectors.numpy()[0, 2]))

# %% [markdown]
# ### Exercise 2 — sinusoidal: where each token is
#
# **File:** `embedding.py`. **Function:** `sinusoidal_table(max_len, embed_dim)` → float32
# `(max_len, embed_dim)`. Attention itself ignores order (shuffle the keys with their values and
# nothing changes), so position must be written into the vectors. Column pair (2i, 2i+1) holds
# sin and cos of `pos · ω_i` with ω_i = 10000^(−2i / embed_dim): fast turns in the first columns,
# slow ones in the last. An odd width ends with one sin column. Compute in float64, return
# float32.
#
# Given: `SinusoidalPositionalEncoding`, which adds the first L rows to a (…, L, E) input.

# %%
check("attention", "sinusoidal")

# %%
from tinytorch.core.attention import sinusoidal_table

table = sinusoidal_table(64, 32)
plt.figure(figsize=(7, 2.8))
plt.imshow(table.T, aspect="auto", cmap="RdBu")
plt.xlabel("position")
plt.ylabel("column")
plt.colorbar()
plt.title("sinusoidal_table(64, 32): every position a distinct code")
plt.show()

# %% [markdown]
# ### Exercise 3 — causal_mask: no peeking ahead
#
# **File:** `masks.py`. **Function:** `causal_mask(size_query, size_key=None)` → bool Tensor
# `(size_query, size_key)`, True where query i may read key j, i.e. j ≤ i. A language model
# predicts token i+1 from tokens 0..i; if it could read i+1 the task would be copying. With
# more keys than queries the diagonal starts at the top-left (PyTorch's `is_causal`).
# Broadcast an `arange` column against an `arange` row: no loop. Given: the size checks.

# %%
check("attention", "causal_mask")

# %%
from tinytorch.core.attention import causal_mask

print(causal_mask(4).numpy().astype(int), "\n")
print(causal_mask(2, 4).numpy().astype(int))

# %% [markdown]
# ### Exercise 4 — masked_softmax: weights that sum to one
#
# **File:** `functional.py`. **Function:** `masked_softmax(scores, mask=None, scale=1.0)` →
# weights of the scores' shape: `softmax(scores · scale + mask)` over the last axis.
#
# * a **bool** mask (True = attend): blocked scores become −∞; a **float** mask is added;
# * **stable**: subtract each row's max before `exp` — scores of 10⁴ must not overflow;
# * a row with *every* key blocked has max −∞: use 0 as its max and 1 as its sum, so it comes
#   out all zeros instead of NaN (a padded query in a batch does exactly this).
#
# Work in numpy on one fresh array (`x` is the scores' float data, `m` the mask as an array or a
# Tensor). Given: the shape checks and the op's registered derivative below the block, which
# is why this one function is written on arrays rather than with Tensor ops.

# %%
check("attention", "masked_softmax")

# %%
from tinytorch.core.attention import masked_softmax

big = Tensor(np.array([[1000.0, 999.0, -1000.0]], dtype=np.float32))
with np.errstate(over="ignore", invalid="ignore"):
    e = np.exp(big.numpy())
    print("textbook softmax:", e / e.sum(-1, keepdims=True))
print("yours           :", masked_softmax(big).numpy())
print("every key masked:", masked_softmax(big, np.zeros((1, 3), dtype=bool)).numpy())

# %% [markdown]
# ### Exercise 5 — dot_product_attention: softmax(Q Kᵀ / √d) V
#
# **File:** `functional.py`. **Function:** `scaled_dot_product_attention(q, k, v, mask=None,
# is_causal=False, dropout_p=0.0, return_weights=False, scale=None, generator=None)`:
# q `(*batch, L_q, d)`, k `(*batch, L_k, d)`, v `(*batch, L_k, d_v)` → `(*batch, L_q, d_v)`.
#
# Your block: scores = `q @ k.transpose(-2, -1)` (L_q × L_k); weights = `masked_softmax(scores,
# m, scale)`; when `dropout_p > 0`, `dropout(weights, dropout_p, generator)` (given); out =
# weights @ v. Why √d: the dot product of two random d-dimensional vectors has standard
# deviation √d, and softmax of large scores is nearly one-hot, with vanishing gradients.
#
# Given: every check, `m` (your causal mask merged with `mask` when `is_causal`), and the default
# `scale` = 1/√d.

# %%
check("attention", "dot_product_attention")

# %%
from tinytorch.core.attention import scaled_dot_product_attention

x5 = Tensor(np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32))
out, w = scaled_dot_product_attention(x5, x5, x5, is_causal=True, return_weights=True)
print("causal self-attention weights (row = query):\n", np.round(w.numpy(), 2))
print("output", out.shape, "| rows sum to", w.numpy().sum(-1))

# %% [markdown]
# ### Exercise 6 — split_heads: several attentions side by side
#
# **File:** `multihead.py`. **Functions:** `split_heads(x, num_heads)`: (batch, L, E) → (batch,
# H, L, E/H), head h taking features h·d..(h+1)·d; and `merge_heads(x)`, its inverse. One
# `reshape` and one `permute` each. With the heads as a batch axis, your attention runs all of
# them in one call: each head attends with its own slice of the features.
#
# Given: `MultiHeadAttention` — the query/key/value/output projections (Dense layers, PyTorch's
# parameter names) around your split → attention → merge. It is PyTorch's
# `nn.MultiheadAttention`: `batch_first=False` unless you ask (we ask), it always returns
# `(output, weights)`, and its boolean `attn_mask` / `key_padding_mask` mean **True = masked
# out** — the opposite of your `masked_softmax`'s True = attend (PyTorch has both conventions:
# the function keeps, the module blocks). A float mask is added in both, so it reads the same.

# %%
check("attention", "split_heads")

# %%
from tinytorch.core.attention import MultiHeadAttention

mha = MultiHeadAttention(embed_dim=16, num_heads=4, batch_first=True)
out, weights = mha(vectors, vectors, vectors, is_causal=True)
print("multi-head self-attention:", vectors.shape, "->", out.shape,
      "| weights averaged over heads:", weights.shape)

# %% [markdown]
# ### Exercise 7 — layer_norm: each token's vector, normalised
#
# **File:** `normalization.py`. **Function:** `layer_norm(x, normalized_dims, weight, bias, eps)`:
# over the last `normalized_dims` axes (`axes`, given) of each token,
# `(x − mean) / √(var + eps) · weight + bias`, the variance biased (divide by n). Unlike batch norm
# (module 06) the statistics are per token, so nothing depends on the batch and inference needs
# no running averages. Keep `xhat` and `rstd` = 1/√(var + eps): the given backward uses them.
# Work on the array `a`; the given `make_result` records the op.

# %%
check("attention", "layer_norm")

# %% [markdown]
# ### Exercise 8 — transformer_block: attention, MLP, and two residual paths
#
# **File:** `transformer.py`. **Function:** `TransformerBlock.forward(x, *, attn_mask,
# key_padding_mask, is_causal, cache)`, the pre-norm block of GPT-2:
#
#     h = ln1(x)
#     x = x + drop(attn(h, h, h, need_weights=False, attn_mask=..., key_padding_mask=...,
#                       is_causal=..., cache=...)[0])
#     x = x + mlp(ln2(x))
#
# (`attn` returns `(output, weights)`, as PyTorch's does; `cache` is the KV cache of
# generation, see `kvcache.py`: pass it on to the attention, with the masks — PyTorch's
# convention, True = masked out — and `is_causal`; `mask=` is also passed on, so the old
# True = attend keyword gets the attention's explanation instead of a silent misreading.)
#
# The residual additions keep a direct path from the input to the output, so a deep stack starts
# close to the identity and its gradients reach the first layers. Given: the sub-layers, built in
# `__init__`.

# %%
check("attention", "transformer_block")

# %% [markdown]
# ### Exercise 9 — sample_next_token: from scores to a choice
#
# **File:** `gpt.py`. **Function:** `sample_next_token(logits, temperature, top_k, greedy,
# generator)`: logits `(batch, vocab)` → int64 ids `(batch,)`.
#
# * `greedy`: the argmax;
# * otherwise divide by `temperature` (< 1 sharper, > 1 flatter); with `top_k`, keep the k largest
#   logits and set the rest to −∞ (`np.argpartition` finds them without a full sort);
# * softmax (subtract the max), then draw u ~ U(0, 1) per row **from `g`** and take the first
#   token whose cumulative probability exceeds u — the same seed, the same text.
#
# Given: the checks of the arguments, and `TinyGPT.generate`, which calls your function once per
# new token.

# %%
check("attention", "sample_next_token")

# %%
from tinytorch.core.attention import sample_next_token

logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
for temperature in (0.5, 1.0, 2.0):
    draws = sample_next_token(np.repeat(logits, 4000, axis=0), temperature=temperature,
                              generator=np.random.default_rng(0))
    print(f"temperature {temperature}: frequencies {np.bincount(draws, minlength=4) / 4000}")

# %% [markdown]
# ## Use: a "previous token" head, by hand
#
# Trained transformers contain heads that simply look one position back. Sinusoidal codes make
# such a head a *linear* map: shifting a position by one turns each (sin, cos) pair by the same
# angle ω_i, whatever the position. So set the queries to the position codes turned back by one
# step, the keys to the codes themselves, the values to the characters (one-hot), and let your
# causal attention do the rest: each token should come out as its predecessor.

# %%
L, d = len(text), 32
pe = sinusoidal_table(L, d).astype(np.float64)
omega = 10000.0 ** (-np.arange(0, d, 2) / d)
turn_back = np.zeros((d, d))
for i, w in enumerate(omega):                       # (sin, cos) of p·ω  ->  of (p − 1)·ω
    turn_back[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(w), -np.sin(w)], [np.sin(w), np.cos(w)]]
queries = (pe @ turn_back.T).astype(np.float32)
keys = pe.astype(np.float32)
values = np.eye(len(vocab), dtype=np.float32)[ids]  # one-hot characters
out, w = scaled_dot_product_attention(queries, keys, values, is_causal=True, scale=8.0,
                                      return_weights=True)
shifted = "".join(vocab[j] for j in out.numpy().argmax(-1))
print("input  :", text)
print("output :", " " + shifted[1:])
print(f"weight on the previous position: {np.mean(w.numpy()[np.arange(1, L), np.arange(L - 1)]):.3f}")

plt.figure(figsize=(4.5, 4))
plt.imshow(w.numpy()[:24, :24], cmap="magma")
plt.xlabel("key position")
plt.ylabel("query position")
plt.title("your attention weights: one step back")
plt.show()

# %% [markdown]
# And the whole stack, end to end: an untrained `TinyGPT` (given) built from your embedding,
# attention, heads, layer norm and blocks, generating with your sampler. Its text is noise until
# modules 09–11 train it (`examples/train_char_gpt.py` does, on a text file).

# %%
from tinytorch.core.attention import TinyGPT

manual_seed(0)
gpt = TinyGPT(vocab_size=len(vocab), block_size=32, embed_dim=32, num_heads=4, num_layers=2)
prompt = Tensor(ids[None, :8])
sample = gpt.generate(prompt, max_new_tokens=24, temperature=1.0, generator=np.random.default_rng(1))
print(f"{gpt.num_parameters():,} parameters |", repr("".join(vocab[i] for i in sample.numpy()[0])))

# %% [markdown]
# ## Reflect
#
# 1. Why is the scale 1/√d and not 1/d? What happens to the softmax, and to its gradient, if you
#    forget it and d = 512?
# 2. A fully masked row gives zeros, not NaN. Where does such a row occur in practice, and what
#    would one NaN do to a whole training step?
# 3. Layer norm normalises each token, batch norm each channel over the batch. Why is layer norm
#    the one used in language models (think of a batch of one, and of padded sequences)?
# 4. **Systems:** the scores are an L × L matrix per head. Measure the time and the memory of the
#    weights as the sequence grows. What limits the context length of a transformer?

# %%
rng = np.random.default_rng(0)
for length in (64, 128, 256, 512):
    q = Tensor(rng.standard_normal((1, 4, length, 32)).astype(np.float32))
    times = []
    for _ in range(3):                              # the best of three: a shared machine is noisy
        start = time.perf_counter()
        out, weights = scaled_dot_product_attention(q, q, q, is_causal=True, return_weights=True)
        times.append(time.perf_counter() - start)
    ms = min(times) * 1e3
    print(f"L = {length:4d}: {ms:7.2f} ms, attention weights {weights.numpy().nbytes / 2**20:6.2f} MiB "
          f"(4 heads), output {out.numpy().nbytes / 2**20:5.2f} MiB")
