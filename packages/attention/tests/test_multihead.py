"""MultiHeadAttention: values against a per-head numpy reference, self/cross attention, masks
(PyTorch's module convention: a boolean True = masked out), key_padding_mask, kdim/vdim,
batch_first, head split/merge, parameter layout (PyTorch's names) and errors."""

import numpy as np
import pytest

from tinytorch.core.attention import (MultiheadAttention, MultiHeadAttention, causal_mask, merge_heads,
                                     padding_mask, split_heads)
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import assert_close


def _mha(e=12, h=3, bias=True, seed=0, **kw):
    kw.setdefault("batch_first", True)
    mha = MultiHeadAttention(e, h, bias=bias, generator=np.random.default_rng(seed), **kw)
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
    out, w = mha(Tensor(x), need_weights=False)
    assert w is None
    assert out.shape == (2, 5, 12) and out.dtype == np.float32
    assert_close(out, ref.mha(mha, x, x, x)[0], rtol=1e-4, atol=1e-5)


def test_cross_attention_matches_reference(rng, ref):
    mha = _mha()
    q = rng.standard_normal((2, 4, 12)).astype(np.float32)
    kv = rng.standard_normal((2, 7, 12)).astype(np.float32)
    out, _ = mha(q, kv)
    assert out.shape == (2, 4, 12)
    assert_close(out, ref.mha(mha, q, kv, kv)[0], rtol=1e-4, atol=1e-5)
    value = rng.standard_normal((2, 7, 12)).astype(np.float32)
    assert_close(mha(q, kv, value)[0], ref.mha(mha, q, kv, value)[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["2d", "3d", "4d", "padding", "float", "padding float",
                                  "both"])
def test_masks_match_reference(rng, ref, kind):
    """attn_mask / key_padding_mask as PyTorch's module reads them (bool True = masked out);
    the reference takes the functional form's keep-mask (True = attend) or the additive one."""
    mha = _mha()
    x = rng.standard_normal((2, 5, 12)).astype(np.float32)
    args, keep = {}, None
    if kind == "2d":
        keep = causal_mask(5).numpy()
        args["attn_mask"] = ~keep
    elif kind == "3d":  # PyTorch's (batch * heads, L_q, L_k)
        keep = rng.random((2, 3, 5, 5)) > 0.3
        keep[..., 0] = True
        args["attn_mask"] = ~keep.reshape(6, 5, 5)
    elif kind == "4d":
        keep = rng.random((2, 3, 5, 5)) > 0.3
        keep[..., 1] = True
        args["attn_mask"] = ~keep
    elif kind == "padding":
        keep = padding_mask([3, 5]).numpy()
        args["key_padding_mask"] = ~keep[:, 0, 0]
    elif kind == "padding float":
        bias = rng.standard_normal((2, 5)).astype(np.float32)
        keep = bias[:, None, None, :]
        args["key_padding_mask"] = bias
    elif kind == "float":
        keep = rng.standard_normal((5, 5)).astype(np.float32)
        args["attn_mask"] = keep
    else:  # a causal attn_mask and padding together: blocked where either blocks
        args["attn_mask"] = ~causal_mask(5).numpy()
        args["key_padding_mask"] = np.array([[False] * 3 + [True] * 2, [False] * 5])
        keep = causal_mask(5).numpy() & padding_mask([3, 5]).numpy()
    out, _ = mha(x, **args)
    assert_close(out, ref.mha(mha, x, x, x, mask=keep)[0], rtol=1e-4, atol=1e-5)


def test_a_boolean_attn_mask_blocks_where_true(rng):
    """The convention itself: True = masked out, so masking every key but key 0 copies value 0."""
    mha = _mha(bias=False)
    x = rng.standard_normal((1, 4, 12)).astype(np.float32)
    blocked = np.ones((4, 4), dtype=bool)
    blocked[:, 0] = False
    out, w = mha(x, attn_mask=blocked)
    np.testing.assert_allclose(w.numpy()[0], np.eye(4)[[0, 0, 0, 0]], atol=1e-7)
    only_first, _ = mha(x[:, :1])
    np.testing.assert_allclose(out.numpy(), np.repeat(only_first.numpy(), 4, axis=1), rtol=1e-5,
                               atol=1e-6)


def test_old_mask_keyword_is_refused_with_the_new_name():
    mha = _mha()
    with pytest.raises(ValueError, match=r"attn_mask=~mask"):
        mha(np.zeros((1, 3, 12), np.float32), mask=np.ones((3, 3), bool))


def test_batch_first_false_is_the_default_and_takes_length_first(rng, ref):
    first = _mha(batch_first=True)
    second = _mha(batch_first=False)
    assert MultiHeadAttention(12, 3).batch_first is False
    x = rng.standard_normal((2, 5, 12)).astype(np.float32)
    kv = rng.standard_normal((2, 7, 12)).astype(np.float32)
    a, wa = first(x, kv, kv)
    b, wb = second(x.transpose(1, 0, 2), kv.transpose(1, 0, 2), kv.transpose(1, 0, 2))
    assert b.shape == (5, 2, 12) and wb.shape == (2, 5, 7)  # weights are batch first, as torch's
    np.testing.assert_allclose(b.numpy().transpose(1, 0, 2), a.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(wb.numpy(), wa.numpy(), rtol=1e-6, atol=1e-7)


def test_kdim_vdim_use_separate_projections(rng, ref):
    mha = _mha(kdim=5, vdim=7)
    shapes = {n: p.shape for n, p in mha.named_parameters()}
    assert shapes == {"q_proj_weight": (12, 12), "k_proj_weight": (12, 5),
                      "v_proj_weight": (12, 7), "in_proj_bias": (36,),
                      "out_proj.weight": (12, 12), "out_proj.bias": (12,)}
    q = rng.standard_normal((2, 4, 12)).astype(np.float32)
    k = rng.standard_normal((2, 6, 5)).astype(np.float32)
    v = rng.standard_normal((2, 6, 7)).astype(np.float32)
    out, _ = mha(q, k, v)
    assert_close(out, ref.mha(mha, q, k, v)[0], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"key must have shape \(batch, length, 5\)"):
        mha(q, v, v)
    with pytest.raises(ValueError, match="pass key and value"):
        mha(q)


def test_alias_is_the_same_class():
    assert MultiheadAttention is MultiHeadAttention


def test_is_causal_matches_reference_and_ignores_the_future(rng, ref):
    mha = _mha()
    x = rng.standard_normal((2, 6, 12)).astype(np.float32)
    out = mha(x, is_causal=True)[0].numpy()
    np.testing.assert_allclose(out, ref.mha(mha, x, x, x, causal=True)[0], rtol=1e-4, atol=1e-5)
    y = x.copy()
    y[:, 3:] += 5.0
    np.testing.assert_allclose(mha(y, is_causal=True)[0].numpy()[:, :3], out[:, :3], rtol=1e-5,
                               atol=1e-5)


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
    out, w = mha(x, is_causal=True)
    assert out.shape == (5, 12) and w.shape == (5, 5)
    assert_close(out, ref.mha(mha, x[None], x[None], x[None], causal=True)[0][0], rtol=1e-4, atol=1e-5)


def test_without_bias(rng, ref):
    mha = _mha(bias=False)
    assert mha.in_proj_bias is None and mha.out_proj.bias is None
    assert [n for n, _ in mha.named_parameters()] == ["in_proj_weight", "out_proj.weight"]
    x = rng.standard_normal((2, 4, 12)).astype(np.float32)
    assert_close(mha(x)[0], ref.mha(mha, x, x, x)[0], rtol=1e-4, atol=1e-5)


def test_parameters_have_torchs_names_and_shapes():
    mha = MultiHeadAttention(16, 4)
    assert mha.q_proj_weight is None and mha.k_proj_weight is None
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
    assert not np.allclose(a(x)[0].numpy(), b(x)[0].numpy())
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a(x)[0].numpy(), b(x)[0].numpy())


def test_dropout_only_in_training(rng):
    mha = MultiHeadAttention(8, 2, dropout=0.5, batch_first=True, generator=np.random.default_rng(0))
    x = rng.standard_normal((2, 6, 8)).astype(np.float32)
    mha.eval()
    first = mha(x)[0].numpy()
    np.testing.assert_array_equal(first, mha(x)[0].numpy())
    mha.train()
    assert not np.allclose(mha(x)[0].numpy(), first)


def test_errors():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(8, 2, dropout=1.5)
    with pytest.raises(ValueError, match="add_bias_kv"):
        MultiHeadAttention(8, 2, add_bias_kv=True)
    mha = MultiHeadAttention(8, 2, batch_first=True)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, length, 8\).*\(2, 3, 6\)"):
        mha(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match=r"query must have shape \(length, batch, 8\)"):
        MultiHeadAttention(8, 2)(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(ValueError, match="key"):
        mha(np.zeros((2, 3, 8), np.float32), np.zeros((3, 4, 8), np.float32))
    with pytest.raises(ValueError, match=r"attn_mask must be \(L_q, L_k\) = \(3, 3\).*\(5, 5\)"):
        mha(np.zeros((2, 3, 8), np.float32), attn_mask=np.ones((5, 5), bool))
    with pytest.raises(ValueError, match=r"\(batch \* num_heads, L_q, L_k\) = \(4, 3, 3\)"):
        mha(np.zeros((2, 3, 8), np.float32), attn_mask=np.ones((2, 3, 3), bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must be \(2, 3\)"):
        mha(np.zeros((2, 3, 8), np.float32), key_padding_mask=np.ones((2, 4), bool))
    with pytest.raises(TypeError, match=r"True = masked out"):
        mha(np.zeros((2, 3, 8), np.float32), attn_mask=np.ones((3, 3), np.int64))
