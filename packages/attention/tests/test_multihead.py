"""MultiHeadAttention: values against a per-head numpy reference, self/cross attention, masks,
head split/merge, parameter layout (PyTorch's names) and errors."""

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention, causal_mask, merge_heads, padding_mask, split_heads
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import assert_close


def _mha(e=12, h=3, bias=True, seed=0):
    mha = MultiHeadAttention(e, h, bias=bias, generator=np.random.default_rng(seed))
    if bias:  # non-zero biases, so the test sees whether they are used
        g = np.random.default_rng(seed + 1)
        mha.in_proj_bias.data[...] = g.standard_normal(mha.in_proj_bias.shape)
        mha.out_proj.bias.data[...] = g.standard_normal(mha.out_proj.bias.shape)
    return mha


def test_split_heads_puts_each_heads_features_together():
    x = np.arange(2 * 3 * 8, dtype=np.float32).reshape(2, 3, 8)
    s = split_heads(Tensor(x), 4)
    assert s.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(s.numpy()[1, 2, 0], x[1, 0, 4:6])  # head 2 = features 4, 5
    np.testing.assert_array_equal(s.numpy()[0, 3, 2], x[0, 2, 6:8])


def test_merge_heads_inverts_split_heads(rng):
    x = rng.standard_normal((3, 5, 12)).astype(np.float32)
    np.testing.assert_array_equal(merge_heads(split_heads(Tensor(x), 3)).numpy(), x)


def test_self_attention_matches_reference(rng, ref):
    mha = _mha()
    x = rng.standard_normal((2, 5, 12)).astype(np.float32)
    out = mha(Tensor(x))
    assert out.shape == (2, 5, 12) and out.dtype == np.float32
    assert_close(out, ref.mha(mha, x, x, x)[0], rtol=1e-4, atol=1e-5)


def test_cross_attention_matches_reference(rng, ref):
    mha = _mha()
    q = rng.standard_normal((2, 4, 12)).astype(np.float32)
    kv = rng.standard_normal((2, 7, 12)).astype(np.float32)
    out = mha(q, kv)
    assert out.shape == (2, 4, 12)
    assert_close(out, ref.mha(mha, q, kv, kv)[0], rtol=1e-4, atol=1e-5)
    value = rng.standard_normal((2, 7, 12)).astype(np.float32)
    assert_close(mha(q, kv, value), ref.mha(mha, q, kv, value)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["2d", "3d", "4d", "padding", "float"])
def test_masks_match_reference(rng, ref, kind):
    mha = _mha()
    x = rng.standard_normal((2, 5, 12)).astype(np.float32)
    if kind == "2d":
        mask = causal_mask(5).numpy()
    elif kind == "3d":
        mask = rng.random((2, 5, 5)) > 0.3
        mask[..., 0] = True
    elif kind == "4d":
        mask = rng.random((2, 3, 5, 5)) > 0.3
        mask[..., 1] = True
    elif kind == "padding":
        mask = padding_mask([3, 5]).numpy()
    else:
        mask = rng.standard_normal((5, 5)).astype(np.float32)
    out = mha(x, mask=mask)
    assert_close(out, ref.mha(mha, x, x, x, mask=mask)[0], rtol=1e-4, atol=1e-5)


def test_is_causal_matches_reference_and_ignores_the_future(rng, ref):
    mha = _mha()
    x = rng.standard_normal((2, 6, 12)).astype(np.float32)
    out = mha(x, is_causal=True).numpy()
    np.testing.assert_allclose(out, ref.mha(mha, x, x, x, causal=True)[0], rtol=1e-4, atol=1e-5)
    y = x.copy()
    y[:, 3:] += 5.0
    np.testing.assert_allclose(mha(y, is_causal=True).numpy()[:, :3], out[:, :3], rtol=1e-5, atol=1e-5)


def test_need_weights(rng, ref):
    mha = _mha()
    x = rng.standard_normal((2, 5, 12)).astype(np.float32)
    out, w = mha(x, need_weights=True)
    _, ref_w = ref.mha(mha, x, x, x)
    assert w.shape == (2, 5, 5)
    assert_close(w, ref_w.mean(axis=1), rtol=1e-4, atol=1e-6)
    _, per_head = mha(x, need_weights=True, average_attn_weights=False)
    assert per_head.shape == (2, 3, 5, 5)
    assert_close(per_head, ref_w, rtol=1e-4, atol=1e-6)


def test_unbatched_input(rng, ref):
    mha = _mha()
    x = rng.standard_normal((5, 12)).astype(np.float32)
    out = mha(x, is_causal=True)
    assert out.shape == (5, 12)
    assert_close(out, ref.mha(mha, x[None], x[None], x[None], causal=True)[0][0], rtol=1e-4, atol=1e-5)


def test_without_bias(rng, ref):
    mha = _mha(bias=False)
    assert mha.in_proj_bias is None and mha.out_proj.bias is None
    assert [n for n, _ in mha.named_parameters()] == ["in_proj_weight", "out_proj.weight"]
    x = rng.standard_normal((2, 4, 12)).astype(np.float32)
    assert_close(mha(x), ref.mha(mha, x, x, x)[0], rtol=1e-4, atol=1e-5)


def test_parameters_have_torchs_names_and_shapes():
    mha = MultiHeadAttention(16, 4)
    shapes = {n: p.shape for n, p in mha.named_parameters()}
    assert shapes == {"in_proj_weight": (48, 16), "in_proj_bias": (48,),
                      "out_proj.weight": (16, 16), "out_proj.bias": (16,)}
    assert all(p.dtype == np.float32 for p in mha.parameters())
    # torch's initialisation: zero biases, Xavier-uniform in-projection
    assert (mha.in_proj_bias.numpy() == 0).all() and (mha.out_proj.bias.numpy() == 0).all()
    bound = np.sqrt(6.0 / (48 + 16))
    assert np.abs(mha.in_proj_weight.numpy()).max() <= bound


def test_state_dict_round_trip(rng):
    a, b = _mha(seed=1), _mha(seed=2)
    x = rng.standard_normal((1, 3, 12)).astype(np.float32)
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_dropout_only_in_training(rng):
    mha = MultiHeadAttention(8, 2, dropout=0.5, generator=np.random.default_rng(0))
    x = rng.standard_normal((2, 6, 8)).astype(np.float32)
    mha.eval()
    first = mha(x).numpy()
    np.testing.assert_array_equal(first, mha(x).numpy())
    mha.train()
    assert not np.allclose(mha(x).numpy(), first)


def test_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=1.5)
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, length, 8\).*\(2, 3, 6\)"):
        mha(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match="key"):
        mha(np.zeros((2, 3, 8), np.float32), np.zeros((3, 4, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(5, 5\).*\(2, 2, 3, 3\)"):
        mha(np.zeros((2, 3, 8), np.float32), mask=np.ones((5, 5), bool))
