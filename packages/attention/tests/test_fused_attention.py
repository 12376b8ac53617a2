"""The reference's fused attention (attention/fused.py): the lesson's
scaled_dot_product_attention as one op. Its forward against the lesson's path, its registered
derivative against central differences (no autograd needed), in cache-sized blocks and across
threads, and the cases it leaves to the lesson's path."""

import numpy as np
import pytest

from tinytorch.core.attention import kernels, scaled_dot_product_attention
from tinytorch.core.attention.fused import ATTENTION_OP, attention_fused, fused_attention
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.runtime import threads
from tinytorch.core.tensor.testing import numerical_grad


def _qkv(rng, batch=(2, 3), lq=5, lk=7, d=8, dv=4, dtype=np.float32):
    return [rng.standard_normal(batch + shape).astype(dtype)
            for shape in ((lq, d), (lk, d), (lk, dv))]


def _masks(rng):
    padding = np.ones((2, 1, 1, 7), bool)
    padding[1, ..., 4:] = False
    rows_dead = np.ones((5, 7), bool)
    rows_dead[2] = False  # a query that may see no key: zero weights, zero output
    return {"none": (None, False), "causal": (None, True), "padding": (padding, False),
            "dead_row": (rows_dead, True), "float": (rng.standard_normal((3, 5, 7)).astype(np.float32), False)}


@pytest.mark.parametrize("case", ["none", "causal", "padding", "dead_row", "float"])
def test_dot_product_attention_fused_matches_the_lesson_path(rng, case):
    q, k, v = _qkv(rng)
    mask, causal = _masks(rng)[case]
    fused = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=mask, is_causal=causal)
    assert fused._node is None  # no input needs grad: nothing recorded
    with fused_attention(False):
        lesson = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=mask,
                                              is_causal=causal)
    assert fused.shape == lesson.shape == (2, 3, 5, 4) and fused.dtype == np.float32
    np.testing.assert_allclose(fused.data, lesson.data, rtol=1e-6, atol=1e-6)
    if case == "dead_row":
        assert not fused.data[:, :, 2].any()


def test_dot_product_attention_fused_records_one_op(rng):
    q, k, v = (Tensor(a, requires_grad=True) for a in _qkv(rng))
    out = scaled_dot_product_attention(q, k, v, is_causal=True)
    assert out._node.op == ATTENTION_OP and out._node.inputs == (q, k, v)
    # the lesson's path where the fused op does not apply
    for kwargs in ({"return_weights": True}, {"dropout_p": 0.5},
                   {"mask": Tensor(np.zeros((5, 7), np.float32), requires_grad=True)}):
        out = scaled_dot_product_attention(q, k, v, **kwargs)
        out = out[0] if isinstance(out, tuple) else out
        assert out._node.op != ATTENTION_OP


@pytest.mark.parametrize("case", ["none", "causal", "padding", "dead_row", "float"])
def test_dot_product_attention_fused_derivative_matches_central_differences(rng, case):
    q, k, v = _qkv(rng, batch=(2, 3), lq=5, lk=7, d=3, dv=2, dtype=np.float64)
    mask, causal = _masks(rng)[case]
    if causal:
        tril = np.tril(np.ones((5, 7), bool))
        mask = tril if mask is None else mask & tril
    if mask is not None and mask.dtype != np.bool_:
        mask = mask.astype(np.float64)
    g = rng.standard_normal((2, 3, 5, 2))
    ts = [Tensor(a, dtype=np.float64, requires_grad=True) for a in (q, k, v)]
    out = attention_fused(*ts, mask, 0.4)
    grads = get_derivative(out._node.op)(g, out._node)
    nums = numerical_grad(
        lambda *arrays: float((attention_fused(*(Tensor(a, dtype=np.float64) for a in arrays),
                                               mask, 0.4).data * g).sum()), [q, k, v])
    for got, num in zip(grads, nums):
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)


def test_dot_product_attention_fused_in_blocks_and_threads_gives_one_block_result(rng, monkeypatch):
    q, k, v = (Tensor(a, requires_grad=True) for a in _qkv(rng, batch=(4, 8), lq=16, lk=16, d=8, dv=8))
    g = rng.standard_normal((4, 8, 16, 8)).astype(np.float32)
    results = []
    for block_elements, n_threads in ((1 << 20, 1), (512, 1), (512, 2)):
        monkeypatch.setattr(kernels, "BLOCK_ELEMENTS", block_elements)  # 2 matrices a block
        with threads(n_threads):
            out = scaled_dot_product_attention(q, k, v, is_causal=True)
            results.append([out.data] + list(get_derivative(out._node.op)(g, out._node)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_fused_rows_match_the_lesson_path(rng, affine, monkeypatch):
    from tinytorch.core.attention import LayerNorm

    ln = LayerNorm(24, elementwise_affine=affine)
    if affine:
        ln.weight.data[...] = rng.standard_normal(24)
        ln.bias.data[...] = rng.standard_normal(24)
    x = (rng.standard_normal((6, 50, 24)) * 3 + 1).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for fused, n_threads in ((False, 1), (True, 1), (True, 2)):
        monkeypatch.setattr(kernels, "BLOCK_ELEMENTS", 24 * 16)  # 16 rows a block: 19 blocks
        with fused_attention(fused), threads(n_threads):
            y = ln(Tensor(x, requires_grad=True))
            results.append([y.data] + [d for d in get_derivative(y._node.op)(g, y._node)])
    assert len(results[0]) == (4 if affine else 2)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
