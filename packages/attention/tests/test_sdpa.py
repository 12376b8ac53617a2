"""scaled_dot_product_attention and masked_softmax: values against a numpy reference, masks,
stability, fully masked rows, errors, dropout, and the fused softmax's registered derivative
(checked against central differences — no autograd needed)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.attention import causal_mask, masked_softmax, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.testing import assert_close, numerical_grad

PROPS = settings(max_examples=30, deadline=None)


def _qkv(rng, batch=(2, 3), lq=5, lk=7, d=8, dv=4, dtype=np.float32):
    q = rng.standard_normal(batch + (lq, d)).astype(dtype)
    k = rng.standard_normal(batch + (lk, d)).astype(dtype)
    v = rng.standard_normal(batch + (lk, dv)).astype(dtype)
    return q, k, v


# ----------------------------------------------------------------------------- forward values
def test_dot_product_attention_matches_reference_without_mask(rng, ref):
    q, k, v = _qkv(rng)
    out, w = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), return_weights=True)
    ref_out, ref_w = ref.attention(q, k, v)
    assert out.shape == (2, 3, 5, 4) and w.shape == (2, 3, 5, 7)
    assert out.dtype == np.float32
    assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    assert_close(w, ref_w, rtol=1e-5, atol=1e-6)


def test_dot_product_attention_weights_rows_sum_to_one(rng):
    q, k, v = _qkv(rng)
    _, w = scaled_dot_product_attention(q, k, v, return_weights=True)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
def test_dot_product_attention_boolean_mask_true_means_attend(rng, ref, causal):
    q, k, v = _qkv(rng, lq=6, lk=6)
    mask = rng.random((2, 1, 6, 6)) > 0.3
    mask[..., 0] = True  # every query may see key 0
    out, w = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=Tensor(mask),
                                          is_causal=causal, return_weights=True)
    ref_out, ref_w = ref.attention(q, k, v, mask=mask, causal=causal)
    assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    assert_close(w, ref_w, rtol=1e-5, atol=1e-6)
    allowed = np.broadcast_to(mask, w.shape) & (np.tril(np.ones((6, 6), bool)) if causal else True)
    assert (w.numpy()[~allowed] == 0).all()


def test_dot_product_attention_float_mask_is_added_to_the_scaled_scores(rng, ref):
    q, k, v = _qkv(rng)
    bias = rng.standard_normal((5, 7)).astype(np.float32)
    bias[1, 3] = -np.inf
    out = scaled_dot_product_attention(q, k, v, mask=bias)
    assert_close(out, ref.attention(q, k, v, mask=bias)[0], rtol=1e-5, atol=1e-6)


def test_dot_product_attention_bool_mask_equals_the_additive_mask_with_minus_inf(rng):
    q, k, v = _qkv(rng)
    mask = rng.random((5, 7)) > 0.5
    mask[:, 0] = True
    additive = np.where(mask, 0.0, -np.inf).astype(np.float32)
    assert_close(scaled_dot_product_attention(q, k, v, mask=mask),
                 scaled_dot_product_attention(q, k, v, mask=additive), rtol=1e-6, atol=1e-7)


def test_dot_product_attention_is_causal_equals_an_explicit_tril_mask(rng):
    q, k, v = _qkv(rng, lq=6, lk=6)
    assert_close(scaled_dot_product_attention(q, k, v, is_causal=True),
                 scaled_dot_product_attention(q, k, v, mask=causal_mask(6)), rtol=1e-6, atol=1e-7)


def test_dot_product_attention_causal_output_ignores_the_future(rng):
    q, k, v = _qkv(rng, lq=6, lk=6)
    out = scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    k2, v2 = k.copy(), v.copy()
    k2[..., 4:, :] += 10.0
    v2[..., 4:, :] -= 3.0
    out2 = scaled_dot_product_attention(q, k2, v2, is_causal=True).numpy()
    np.testing.assert_allclose(out[..., :4, :], out2[..., :4, :], rtol=1e-6, atol=1e-6)
    assert not np.allclose(out[..., 4:, :], out2[..., 4:, :])


def test_dot_product_attention_causal_with_fewer_queries_than_keys_is_top_left(rng, ref):
    q, k, v = _qkv(rng, lq=3, lk=5)
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert_close(out, ref.attention(q, k, v, causal=True)[0], rtol=1e-5, atol=1e-6)


def test_dot_product_attention_custom_scale(rng, ref):
    q, k, v = _qkv(rng)
    out = scaled_dot_product_attention(q, k, v, scale=0.05)
    assert_close(out, ref.attention(q, k, v, scale=0.05)[0], rtol=1e-5, atol=1e-6)


def test_dot_product_attention_batch_dimensions_broadcast(rng, ref):
    q = rng.standard_normal((2, 4, 5, 8)).astype(np.float32)
    k = rng.standard_normal((1, 4, 6, 8)).astype(np.float32)
    v = rng.standard_normal((6, 3)).astype(np.float32)
    out = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 4, 5, 3)
    assert_close(out, ref.attention(q, k, v)[0], rtol=1e-5, atol=1e-6)


def test_dot_product_attention_float64_stays_float64(rng):
    q, k, v = (Tensor(a, dtype=np.float64) for a in _qkv(rng, dtype=np.float64))
    assert scaled_dot_product_attention(q, k, v, is_causal=True).dtype == np.float64


# ----------------------------------------------------------------------------- stability
def test_dot_product_attention_fully_masked_rows_give_zeros_not_nan(rng):
    q, k, v = _qkv(rng, lq=4, lk=4)
    mask = np.ones((4, 4), dtype=bool)
    mask[2] = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, w = scaled_dot_product_attention(q, k, v, mask=mask, return_weights=True)
    assert np.isfinite(out.numpy()).all()
    assert (w.numpy()[..., 2, :] == 0).all() and (out.numpy()[..., 2, :] == 0).all()
    np.testing.assert_allclose(w.numpy()[..., [0, 1, 3], :].sum(-1), 1.0, rtol=1e-6)


def test_masked_softmax_fully_masked_rows_with_an_additive_mask():
    bias = np.zeros((3, 3), dtype=np.float32)
    bias[0] = -np.inf
    w = masked_softmax(Tensor(np.ones((3, 3), dtype=np.float32)), bias)
    np.testing.assert_array_equal(w.numpy()[0], 0.0)
    np.testing.assert_allclose(w.numpy()[1:], 1 / 3, rtol=1e-6)


def test_masked_softmax_large_logits_are_stable(ref):
    # scores of ±1e4 would overflow exp() without the max-shift
    rng = np.random.default_rng(7)
    s = (rng.standard_normal((4, 16)) * 1e4).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = masked_softmax(Tensor(s))
    assert np.isfinite(w.numpy()).all()
    assert_close(w, ref.softmax_rows(s), rtol=1e-5, atol=1e-7)


def test_masked_softmax_long_rows_are_accurate(ref):
    rng = np.random.default_rng(8)
    s = (rng.standard_normal((2, 8192)) * 30).astype(np.float32)
    w = masked_softmax(Tensor(s), scale=0.5)
    assert_close(w, ref.softmax_rows(0.5 * s.astype(np.float64)), rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-5)


def test_dot_product_attention_with_large_inputs_is_finite():
    q = np.full((1, 3, 4), 300.0, dtype=np.float32)
    k = np.linspace(-300, 300, 24, dtype=np.float32).reshape(1, 6, 4)
    v = np.arange(12, dtype=np.float32).reshape(1, 6, 2)
    out = scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out.numpy()).all()
    np.testing.assert_allclose(out.numpy()[0, 0], v[0, -1], rtol=1e-5)  # all weight on the largest key


# ----------------------------------------------------------------------------- errors
def test_mask_that_cannot_broadcast_names_both_shapes(rng):
    q, k, v = _qkv(rng)
    with pytest.raises(ValueError, match=r"\(5, 6\).*\(2, 3, 5, 7\)"):
        scaled_dot_product_attention(q, k, v, mask=np.ones((5, 6), dtype=bool))
    with pytest.raises(ValueError, match=r"\(4, 3, 5, 7\).*\(2, 3, 5, 7\)"):
        scaled_dot_product_attention(q, k, v, mask=np.ones((4, 3, 5, 7), dtype=bool))


def test_shape_errors(rng):
    q, k, v = _qkv(rng)
    with pytest.raises(ValueError, match="same last dimension"):
        scaled_dot_product_attention(q, k[..., :5], v)
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(q, k, v[..., :3, :])
    with pytest.raises(ValueError, match="batch dimensions"):
        scaled_dot_product_attention(q, k[:1, :2], v[:1, :2])
    with pytest.raises(ValueError, match="length, dim"):
        scaled_dot_product_attention(np.ones(4, np.float32), k, v)


def test_mask_dtype_errors(rng):
    q, k, v = _qkv(rng)
    with pytest.raises(TypeError, match="boolean"):
        scaled_dot_product_attention(q, k, v, mask=np.ones((5, 7), dtype=np.int64))
    with pytest.raises(TypeError, match="floating point"):
        scaled_dot_product_attention(q.astype(np.int64), k, v)


# ----------------------------------------------------------------------------- dropout
def test_dot_product_attention_dropout_is_reproducible_and_unbiased(rng):
    q, k, v = _qkv(rng, batch=(64,), lq=4, lk=4, dv=3)
    plain = scaled_dot_product_attention(q, k, v).numpy()
    a = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=np.random.default_rng(3))
    b = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), plain)
    # averaged over many masks, dropout with 1/(1-p) scaling leaves the output unchanged
    gen = np.random.default_rng(4)
    mean = np.mean([scaled_dot_product_attention(q, k, v, dropout_p=0.3, generator=gen).numpy()
                    for _ in range(300)], axis=0)
    assert np.abs(mean - plain).mean() < 0.05


def test_dot_product_attention_dropout_weights_are_returned_before_dropout(rng):
    q, k, v = _qkv(rng)
    _, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, return_weights=True,
                                        generator=np.random.default_rng(0))
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-6)


def test_dropout_p_out_of_range(rng):
    q, k, v = _qkv(rng)
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.0)


# ----------------------------------------------------------------------------- properties
@PROPS
@given(lq=st.integers(1, 5), lk=st.integers(1, 6), d=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_dot_product_attention_permuting_keys_and_values_together_changes_nothing(lq, lk, d, seed):
    r = np.random.default_rng(seed)
    q, k, v = (r.standard_normal(s).astype(np.float32) for s in ((2, lq, d), (2, lk, d), (2, lk, 3)))
    perm = r.permutation(lk)
    a = scaled_dot_product_attention(q, k, v).numpy()
    b = scaled_dot_product_attention(q, k[:, perm], v[:, perm]).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@PROPS
@given(lq=st.integers(1, 5), lk=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_dot_product_attention_output_is_a_convex_combination_of_the_values(lq, lk, seed):
    r = np.random.default_rng(seed)
    q, k, v = (r.standard_normal(s).astype(np.float32) for s in ((lq, 4), (lk, 4), (lk, 3)))
    mask = r.random((lq, lk)) > 0.5
    out = scaled_dot_product_attention(q, k, v, mask=mask).numpy()
    for i in range(lq):
        if mask[i].any():
            seen = v[mask[i]]
            assert (out[i] >= seen.min(0) - 1e-5).all() and (out[i] <= seen.max(0) + 1e-5).all()
        else:
            assert (out[i] == 0).all()


# ----------------------------------------------------------------------------- derivative
def _check_softmax_derivative(scores, mask, scale, seed=0):
    """The registered derivative of masked_softmax against central differences (float64)."""
    r = np.random.default_rng(seed)
    x = Tensor(scores, dtype=np.float64, requires_grad=True)
    m = mask
    if isinstance(mask, np.ndarray) and mask.dtype.kind == "f":
        m = Tensor(mask, dtype=np.float64, requires_grad=True)
    y = masked_softmax(x, m, scale)
    g = r.standard_normal(y.shape)
    grads = get_derivative(y.grad_fn.op)(g, y.grad_fn)

    def f_scores(a):
        return float((masked_softmax(Tensor(a, dtype=np.float64), mask, scale).numpy() * g).sum())

    (num,) = numerical_grad(f_scores, [scores])
    np.testing.assert_allclose(grads[0], num, rtol=1e-5, atol=1e-7)
    if isinstance(m, Tensor):
        def f_mask(b):
            return float((masked_softmax(Tensor(scores, dtype=np.float64), b, scale).numpy() * g).sum())

        (num_m,) = numerical_grad(f_mask, [mask])
        fin = np.isfinite(mask)
        np.testing.assert_allclose(grads[1][fin], num_m[fin], rtol=1e-5, atol=1e-7)


def test_masked_softmax_derivative_without_mask():
    s = np.random.default_rng(0).standard_normal((2, 3, 5))
    _check_softmax_derivative(s, None, 0.7)


def test_masked_softmax_derivative_with_bool_mask_and_dead_row():
    r = np.random.default_rng(1)
    s = r.standard_normal((2, 4, 4))
    mask = r.random((4, 4)) > 0.4
    mask[:, 0] = True
    mask[3] = False  # a fully masked row: zero gradient
    _check_softmax_derivative(s, mask, 0.5)


def test_masked_softmax_derivative_reaches_a_float_mask():
    r = np.random.default_rng(2)
    s = r.standard_normal((3, 4, 5))
    bias = r.standard_normal((4, 5))  # broadcast over the batch: its gradient is summed
    bias[0, 1] = -np.inf
    _check_softmax_derivative(s, bias, 1.3)


def test_masked_softmax_records_nothing_without_grad():
    y = masked_softmax(Tensor(np.ones((2, 2), dtype=np.float32)))
    assert y.grad_fn is None and not y.requires_grad
