"""Gradients of module 07 (attention) checked by central differences with module 09's gradcheck.

Attention is written before autograd exists; these tests prove it trains once autograd is
installed: scaled dot-product attention (with every kind of mask), MultiHeadAttention,
LayerNorm, Embedding (repeated ids, padding_idx), the transformer block and TinyGPT's loss —
with respect to the inputs *and* every parameter, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.attention import (
    Embedding,
    LayerNorm,
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    TinyGPT,
    TransformerBlock,
    causal_mask,
    cross_entropy,
    gelu,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
)
from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def module_gradcheck(module, inputs, forward, atol=1e-6, rtol=1e-4):
    """gradcheck ``forward(module, *inputs)`` w.r.t. the float inputs and every parameter.

    The module's parameters are made float64; during each call of ``fn`` they are swapped for
    the leaves gradcheck built (bypassing Module registration) and put back afterwards.
    """
    slots = []
    for _, m in module.named_modules():
        for name, p in m._parameters.items():
            if p is not None:
                p.data = p.data.astype(np.float64)
                slots.append((m, name, p))
    n_in = len(inputs)
    leaves: list = []

    def fn(*tensors):
        if not leaves and tensors and tensors[0].requires_grad:
            leaves.extend(tensors)  # the call whose gradients gradcheck reads
        for (m, name, _), leaf in zip(slots, tensors[n_in:]):
            object.__setattr__(m, name, leaf)
        try:
            return forward(module, *tensors[:n_in])
        finally:
            for m, name, p in slots:
                object.__setattr__(m, name, p)

    ok = gradcheck(fn, list(inputs) + [p.data for _, _, p in slots], atol=atol, rtol=rtol)
    # guard against a vacuous pass: every parameter really was used and got a gradient
    for (m, name, _), leaf in zip(slots, leaves[n_in:]):
        assert leaf.grad is not None and np.abs(leaf.grad.numpy()).max() > 0, f"{name} got no gradient"
    return ok


# ----------------------------------------------------------------------------- SDPA
def _qkv(seed=0, lq=4, lk=5, d=3, dv=2, batch=(2,)):
    r = _rng(seed)
    return (r.standard_normal(batch + (lq, d)), r.standard_normal(batch + (lk, d)),
            r.standard_normal(batch + (lk, dv)))


@pytest.mark.parametrize("kind", ["none", "causal", "bool", "float", "bool+causal", "dead row", "padding"])
def test_sdpa_gradients(kind):
    q, k, v = _qkv(lq=5 if kind != "padding" else 4, lk=5)
    r = _rng(1)
    mask, causal = None, False
    if kind == "causal":
        causal = True
    elif kind in ("bool", "bool+causal"):
        mask = r.random((5, 5)) > 0.4
        mask[:, 0] = True
        causal = kind == "bool+causal"
    elif kind == "float":
        mask = r.standard_normal((2, 5, 5))
        mask[0, 1, 2] = -np.inf
    elif kind == "dead row":
        mask = np.ones((5, 5), dtype=bool)
        mask[3] = False
    elif kind == "padding":
        q = q[:, None]
        k, v = k[:, None], v[:, None]
        mask = padding_mask([2, 5]).numpy()
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask=mask, is_causal=causal),
                     [q, k, v])


def test_sdpa_gradient_reaches_a_learned_additive_mask():
    q, k, v = _qkv(lq=3, lk=4)
    bias = _rng(2).standard_normal((3, 4))
    assert gradcheck(lambda a, b, c, m: scaled_dot_product_attention(a, b, c, mask=m, is_causal=True),
                     [q, k, v, bias])


def test_sdpa_with_dropout_has_the_gradient_of_its_mask():
    q, k, v = _qkv()
    # the same generator state on every call: the same dropout mask, so a fixed function
    assert gradcheck(lambda a, b, c: scaled_dot_product_attention(
        a, b, c, dropout_p=0.3, generator=np.random.default_rng(5)), [q, k, v])


def test_masked_softmax_and_gelu_gradients():
    s = _rng(3).standard_normal((2, 3, 4)) * 3
    assert gradcheck(lambda x: masked_softmax(x, causal_mask(3, 4), scale=0.7), [s])
    assert gradcheck(lambda x: gelu(x), [s])
    assert gradcheck(lambda x: gelu(x, approximate="none"), [s])


def test_fully_masked_row_gets_zero_gradient():
    q, k, v = (Tensor(a, dtype=np.float64, requires_grad=True) for a in _qkv(lq=3, lk=3))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out = scaled_dot_product_attention(q, k, v, mask=mask)
    (out * out).sum().backward()
    assert np.isfinite(q.grad.numpy()).all() and (q.grad.numpy()[:, 1] == 0).all()


# ----------------------------------------------------------------------------- modules
@pytest.mark.parametrize("mode", ["self", "self causal", "cross", "masked", "no bias"])
def test_multi_head_attention_gradients(mode):
    r = _rng(4)
    mha = MultiHeadAttention(6, 2, bias=mode != "no bias", batch_first=True, generator=r)
    if mha.in_proj_bias is not None:
        mha.in_proj_bias.data[...] = r.standard_normal(18) * 0.1
    x = r.standard_normal((2, 3, 6))
    if mode == "cross":
        kv = r.standard_normal((2, 4, 6))
        assert module_gradcheck(mha, [x, kv], lambda m, a, b: m(a, b)[0])
        return
    blocked = pad = None
    if mode == "masked":  # PyTorch's module convention: True = masked out
        blocked = r.random((4, 3, 3)) < 0.3  # (batch · heads, L_q, L_k)
        blocked[..., 0] = False
        pad = np.array([[False, False, True], [False, False, False]])
    causal = mode == "self causal"
    assert module_gradcheck(mha, [x], lambda m, a: m(a, attn_mask=blocked, key_padding_mask=pad,
                                                     is_causal=causal)[0])


def test_layer_norm_gradients():
    r = _rng(5)
    ln = LayerNorm(5)
    ln.weight.data[...] = r.standard_normal(5)
    ln.bias.data[...] = r.standard_normal(5)
    assert module_gradcheck(ln, [r.standard_normal((3, 5)) * 2 + 1], lambda m, a: m(a))
    ln2 = LayerNorm((2, 3), elementwise_affine=False)
    assert gradcheck(lambda a: ln2(a), [r.standard_normal((4, 2, 3))])


def test_embedding_gradient_is_a_scatter_add():
    emb = Embedding(6, 3, generator=_rng(6))
    ids = np.array([[1, 4, 1], [1, 0, 5]])  # id 1 three times: its row gets three gradients
    assert module_gradcheck(emb, [], lambda m: m(ids))
    emb.weight.data = emb.weight.data.astype(np.float32)
    emb.zero_grad()
    out = emb(ids)
    g = _rng(7).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    expected = np.zeros((6, 3), dtype=np.float32)
    np.add.at(expected, ids, g)
    np.testing.assert_allclose(emb.weight.grad.numpy(), expected, rtol=1e-6)
    assert (emb.weight.grad.numpy()[[2, 3]] == 0).all()


def test_embedding_padding_row_gets_no_gradient():
    emb = Embedding(5, 2, padding_idx=0, generator=_rng(8))
    emb.weight.data[0] = 7.0  # like torch: the padding row's value is used, but never trained
    out = emb([[0, 2, 0, 3]])
    np.testing.assert_array_equal(out.numpy()[0, 0], [7.0, 7.0])
    out.sum().backward()
    assert (emb.weight.grad.numpy()[0] == 0).all()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[[2, 3]], 1.0)


def test_positional_encodings_gradients():
    r = _rng(9)
    learned = LearnedPositionalEmbedding(6, 4, generator=r)
    assert module_gradcheck(learned, [r.standard_normal((2, 5, 4))], lambda m, a: m(a))
    sinus = SinusoidalPositionalEncoding(4, max_len=6)
    assert gradcheck(lambda a: sinus(a) * a, [r.standard_normal((2, 5, 4))])


@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_transformer_block_gradients(approximate):
    r = _rng(10)
    block = TransformerBlock(4, 2, mlp_ratio=2, approximate=approximate, generator=r)
    for p in block.parameters():
        p.data[...] += 0.1 * r.standard_normal(p.shape)
    x = r.standard_normal((2, 3, 4))
    assert module_gradcheck(block, [x], lambda m, a: m(a, is_causal=True))


def test_tiny_gpt_loss_gradients():
    r = _rng(11)
    model = TinyGPT(vocab_size=5, block_size=4, embed_dim=4, num_heads=2, num_layers=1, generator=r)
    for p in model.parameters():
        p.data[...] += 0.2 * r.standard_normal(p.shape)
    idx = r.integers(0, 5, (2, 4))
    targets = r.integers(0, 5, (2, 4))
    targets[0, 0] = -100
    assert module_gradcheck(model, [], lambda m: cross_entropy(m(idx), targets))
