"""The KV cache: the same logits and the same tokens as recomputing the whole prefix."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.attention import KVCache, LayerCache, MultiHeadAttention, TinyGPT
from tinytorch.core.tensor import Tensor, set_grad_enabled


def _model(seed=0, **kw):
    cfg = dict(vocab_size=11, block_size=8, embed_dim=16, num_heads=2, num_layers=2)
    cfg.update(kw)
    model = TinyGPT(**cfg, generator=np.random.default_rng(seed))
    for p in model.parameters():  # sharper predictions, so sampled tokens vary
        p.data *= 20
    return model.eval()


def test_kv_cache_logits_of_each_new_token_match_the_full_forward():
    model = _model()
    ids = np.random.default_rng(1).integers(0, 11, (3, 7))
    previous = set_grad_enabled(False)
    try:
        full = model(ids).numpy()
        cache = KVCache(len(model.blocks))
        first = model(ids[:, :3], cache=cache).numpy()        # a prompt of 3 tokens at once
        steps = [model(ids[:, t:t + 1], cache=cache).numpy() for t in range(3, 7)]
    finally:
        set_grad_enabled(previous)
    np.testing.assert_allclose(first, full[:, :3], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full[:, 3:], rtol=1e-4, atol=1e-5)
    assert cache.length == 7 and all(layer.length == 7 for layer in cache.layers)


@pytest.mark.parametrize("greedy", [True, False])
def test_kv_cache_cached_and_uncached_generation_give_identical_tokens(greedy):
    model = _model(seed=2)
    prompt = np.array([[1, 2], [3, 4]])
    # 12 new tokens with a context of 8: the cache fills, then the window slides
    cached = model.generate(prompt, 12, greedy=greedy, generator=np.random.default_rng(5),
                            use_cache=True).numpy()
    plain = model.generate(prompt, 12, greedy=greedy, generator=np.random.default_rng(5),
                           use_cache=False).numpy()
    np.testing.assert_array_equal(cached, plain)
    assert len(set(cached[0, 2:].tolist())) > 1  # not a degenerate run of one token


def test_kv_cache_attention_appends_and_sees_every_earlier_position():
    mha = MultiHeadAttention(8, 2, batch_first=True, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).normal(size=(1, 5, 8)).astype(np.float32)
    full = mha(x, is_causal=True)[0].numpy()
    layer = LayerCache()
    head = mha(x[:, :2], is_causal=True, cache=layer)[0].numpy()
    tail = mha(x[:, 2:], is_causal=True, cache=layer)[0].numpy()  # 3 new queries after 2 cached
    np.testing.assert_allclose(np.concatenate([head, tail], axis=1), full, rtol=1e-5, atol=1e-6)
    assert layer.length == 5 and layer.keys.shape == (1, 2, 5, 4)


def test_kv_cache_errors_name_the_problem():
    model = _model()
    cache = KVCache(len(model.blocks))
    model(np.zeros((1, 6), dtype=np.int64), cache=cache)
    with pytest.raises(ValueError, match="after 6 cached tokens is longer than the block_size of 8"):
        model(np.zeros((1, 3), dtype=np.int64), cache=cache)
    layer = LayerCache()
    layer.append(Tensor(np.zeros((1, 2, 3, 4), np.float32)), Tensor(np.zeros((1, 2, 3, 4), np.float32)))
    with pytest.raises(ValueError, match="do not extend the cached"):
        layer.append(Tensor(np.zeros((2, 2, 1, 4), np.float32)), Tensor(np.zeros((2, 2, 1, 4), np.float32)))
