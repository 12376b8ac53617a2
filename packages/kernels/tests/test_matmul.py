"""Matrix multiplication kernels equal np.matmul."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.kernels import gflops, matmul_blocked, matmul_flops, matmul_loops
from tinytorch.core.tensor import Tensor


def _pair(rng, m, k, n, dtype=np.float32):
    return (rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))


def test_matmul_loops_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    b = np.array([[5.0, 6.0], [7.0, 8.0]], np.float32)
    out = matmul_loops(a, b)
    np.testing.assert_array_equal(out, [[19.0, 22.0], [43.0, 50.0]])
    assert out.dtype == np.float32


@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_matmul_loops_equal_matmul(m, k, n, seed):
    a, b = _pair(np.random.default_rng(seed), m, k, n, np.float64)
    np.testing.assert_allclose(matmul_loops(a, b), a @ b, rtol=1e-12, atol=1e-12)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.integers(1, 17),
       st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_matmul_blocked_equals_matmul_for_any_block(m, k, n, block, seed):
    """Including sizes that are not multiples of the block (ragged edge tiles)."""
    a, b = _pair(np.random.default_rng(seed), m, k, n, np.float64)
    np.testing.assert_allclose(matmul_blocked(a, b, block), a @ b, rtol=1e-12, atol=1e-12)


def test_matmul_blocked_float32_and_out():
    a, b = _pair(np.random.default_rng(0), 70, 50, 33)
    out = np.full((70, 33), 123.0, np.float32)  # stale contents must be cleared
    res = matmul_blocked(a, b, 16, out=out)
    assert res is out and res.dtype == np.float32
    np.testing.assert_allclose(res, a @ b, rtol=1e-5, atol=1e-5)
    # a block larger than the matrices is a single np.dot
    np.testing.assert_allclose(matmul_blocked(a, b, 1000), a @ b, rtol=1e-5, atol=1e-5)


def test_matmul_blocked_accepts_tensors():
    a, b = _pair(np.random.default_rng(1), 4, 3, 5)
    np.testing.assert_allclose(matmul_blocked(Tensor(a), Tensor(b), 2), a @ b, rtol=1e-5,
                               atol=1e-6)


def test_matmul_loops_accepts_tensors():
    a, b = _pair(np.random.default_rng(1), 4, 3, 5)
    np.testing.assert_allclose(matmul_loops(Tensor(a), Tensor(b)), a @ b, rtol=1e-5, atol=1e-6)


def test_errors_name_the_problem():
    a = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"inner dimensions differ: \(3, 4\) @ \(3, 4\)"):
        matmul_loops(a, a)
    with pytest.raises(ValueError, match="2-D"):
        matmul_blocked(np.ones(3), a)
    with pytest.raises(ValueError, match="block"):
        matmul_blocked(a, a.T, 0)
    with pytest.raises(ValueError, match="out has shape"):
        matmul_blocked(a, a.T, 2, out=np.empty((4, 4)))


def test_flop_counts():
    assert matmul_flops(2, 3, 4) == 48
    assert gflops(2e9, 0.5) == 4.0
    assert gflops(1.0, 0.0) == float("inf")
