"""The dense layer's fused op, ``tinytorch.core.tensor.fused.linear``: its derivative (registered
next to its forward in module 02) against central differences and against the composite
``x @ w.T + b``, and the weight's gradient in the weight's own (row-major) layout."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.fused import LINEAR_FUSED, linear

FAST = settings(deadline=None, max_examples=30)
side = st.integers(1, 5)


def rand(shape, seed):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)


@FAST
@given(n=side, k=side, m=side, bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_linear_fused_matches_finite_differences(n, k, m, bias, seed):
    inputs = [rand((n, k), seed), rand((m, k), seed + 1)] + ([rand((m,), seed + 2)] if bias else [])
    assert gradcheck(lambda *t: linear(*t), inputs)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_fused_gives_the_composite_gradients(bias):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)]
    g = rng.standard_normal((6, 3))
    results = []
    for fused in (True, False):
        x, w, b = (Tensor(a, dtype=np.float32, requires_grad=True) for a in arrays)
        b = b if bias else None
        y = linear(x, w, b) if fused else (x @ w.T + b if bias else x @ w.T)
        assert (y._node.op == LINEAR_FUSED) == fused
        y.backward(g)
        results.append([y.data, x.grad.data, w.grad.data] + ([b.grad.data] if bias else []))
    for a, c in zip(*results):
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)


def test_linear_fused_weight_gradient_is_row_major_like_the_weight():
    # (x.T @ g).T, what the composite path's transpose hands back, is column-major; an
    # optimizer's update mixing the two layouts runs several times slower.
    x = Tensor(np.ones((8, 5), np.float32))
    w = Tensor(np.ones((3, 5), np.float32), requires_grad=True)
    linear(x, w).sum().backward()
    assert w.grad.data.flags.c_contiguous
    np.testing.assert_array_equal(w.grad.data, np.full((3, 5), 8.0))
    assert x.grad is None  # an input that needs no gradient gets none (and costs no GEMM)


def test_linear_fused_without_grad_records_nothing():
    w = Tensor(np.ones((3, 5), np.float32))
    y = linear(Tensor(np.ones((2, 5), np.float32)), w, Tensor(np.ones(3, np.float32)))
    assert y._node is None and y.tolist() == [[6.0, 6.0, 6.0]] * 2


def test_linear_fused_split_across_threads_gives_the_one_thread_result(monkeypatch):
    # 256 rows × a 96×128 weight, with the split threshold lowered (the real one is tuned to
    # the machine): two runtime threads each take a block of rows (forward, input gradient)
    # and of output units (weight gradient).
    import tinytorch.core.tensor.fused as fused
    from tinytorch.core.tensor.runtime import threads

    monkeypatch.setattr(fused, "_SPLIT_GEMM", 0)
    monkeypatch.setattr(fused, "_SPLIT_WORK", 0)
    calls = []
    real = fused.parallel_for
    monkeypatch.setattr(fused, "parallel_for", lambda n, fn: calls.append(n) or real(n, fn))

    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((256, 128)), rng.standard_normal((96, 128)), rng.standard_normal(96)]
    g = rng.standard_normal((256, 96)).astype(np.float32)
    results = []
    for n in (1, 2):
        with threads(n):
            x, w, b = (Tensor(a, dtype=np.float32, requires_grad=True) for a in arrays)
            y = linear(x, w, b)
            y.backward(g)
        results.append([y.data, x.grad.data, w.grad.data, b.grad.data])
    assert results[1][2].flags.c_contiguous
    assert len(calls) >= 3  # forward, input gradient and weight gradient really were split
    for one, two in zip(*results):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-5)
