"""Fused elementwise kernels equal their unfused references; the Tensor ops differentiate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.kernels import (
    BIAS_RELU_OP,
    GELU_TANH_OP,
    bias_relu,
    bias_relu_chunked,
    bias_relu_fused,
    bias_relu_unfused,
    gelu_tanh,
    gelu_tanh_chunked,
    gelu_tanh_fused,
    gelu_tanh_grad,
    gelu_tanh_unfused,
)
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.testing import float_arrays, numerical_grad, shapes


def gelu_reference(x):
    """The formula, term by term, in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def test_gelu_known_values():
    x = np.array([-3.0, -1.0, 0.0, 1.0, 3.0])
    expected = [-0.0036373920817, -0.158808, 0.0, 0.841192, 2.99636260792]
    for fn in (gelu_tanh_unfused, gelu_tanh_fused, gelu_tanh_chunked):
        np.testing.assert_allclose(fn(x), expected, rtol=1e-5, atol=1e-9)


@given(float_arrays(shapes(min_dims=0, max_dims=3, max_side=9), dtype=np.float64, low=-8, high=8))
@settings(max_examples=60, deadline=None)
def test_gelu_versions_equal_the_formula(x):
    expected = gelu_reference(x)
    np.testing.assert_allclose(gelu_tanh_unfused(x), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gelu_tanh_unfused(x, cube=True), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gelu_tanh_fused(x), expected, rtol=1e-12, atol=1e-14)
    # chunks of 3 elements: the last chunk is ragged, every element still done exactly once
    np.testing.assert_allclose(gelu_tanh_chunked(x, chunk_bytes=24), expected, rtol=1e-12,
                               atol=1e-14)


def test_gelu_float32_stays_float32():
    x = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    for y in (gelu_tanh_unfused(x), gelu_tanh_fused(x), gelu_tanh_chunked(x, chunk_bytes=100)):
        assert y.dtype == np.float32
    np.testing.assert_allclose(gelu_tanh_chunked(x, chunk_bytes=100), gelu_reference(x),
                               rtol=2e-6, atol=1e-6)


def test_bias_relu_float32_stays_float32():
    x = np.random.default_rng(0).standard_normal((64, 33)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal(33).astype(np.float32)
    for y in (bias_relu_unfused(x, b), bias_relu_fused(x, b), bias_relu_chunked(x, b)):
        assert y.dtype == np.float32


def test_gelu_out_buffers_are_filled_and_checked():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((10, 7)).astype(np.float32)
    out = np.full_like(x, np.nan)
    assert gelu_tanh_fused(x, out) is out
    np.testing.assert_allclose(out, gelu_reference(x), rtol=2e-6, atol=1e-6)
    out2 = np.full_like(x, np.nan)
    assert gelu_tanh_chunked(x, out2, chunk_bytes=8) is out2
    np.testing.assert_array_equal(out2, out)
    with pytest.raises(ValueError, match="overlap"):
        gelu_tanh_fused(x, x)
    with pytest.raises(ValueError, match="shape"):
        gelu_tanh_chunked(x, np.empty((3,), np.float32))
    with pytest.raises(ValueError, match="chunk_bytes"):
        gelu_tanh_chunked(x, chunk_bytes=0)


def test_bias_relu_out_buffer_is_filled_and_checked():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((10, 7)).astype(np.float32)
    b = rng.standard_normal(7).astype(np.float32)
    out3 = np.full_like(x, np.nan)
    assert bias_relu_fused(x, b, out3) is out3
    np.testing.assert_array_equal(out3, np.maximum(x + b, 0))
    with pytest.raises(ValueError, match="C-contiguous float32 array of shape"):
        bias_relu_fused(x, b, np.empty((7, 10), np.float32).T)


@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 500), st.integers(0, 2**31 - 1))
@settings(max_examples=60, deadline=None)
def test_bias_relu_versions_equal_the_definition(rows, channels, chunk_bytes, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, channels))
    b = rng.standard_normal(channels)
    expected = np.where(x + b > 0, x + b, 0.0)
    np.testing.assert_array_equal(bias_relu_unfused(x, b), expected)
    np.testing.assert_array_equal(bias_relu_fused(x, b), expected)
    np.testing.assert_array_equal(bias_relu_chunked(x, b, chunk_bytes=chunk_bytes), expected)


def test_bias_relu_chunked_channels_last_and_refusals():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5, 5, 8)).astype(np.float32)  # NHWC activations
    b = rng.standard_normal(8).astype(np.float32)
    np.testing.assert_array_equal(bias_relu_chunked(x, b, chunk_bytes=64), np.maximum(x + b, 0))
    with pytest.raises(ValueError, match="leading axis"):
        bias_relu_chunked(x, rng.standard_normal((4, 1, 1, 8)))


@given(float_arrays(shapes(min_dims=1, max_dims=2, max_side=5), dtype=np.float64, low=-4, high=4))
@settings(max_examples=30, deadline=None)
def test_gelu_grad_matches_finite_differences(x):
    (numeric,) = numerical_grad(lambda v: gelu_reference(v).sum(), [x])
    np.testing.assert_allclose(gelu_tanh_grad(x), numeric, rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- Tensor ops
def test_bias_relu_op_records_its_node_and_differentiates():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((6, 4)), requires_grad=True)
    b = Tensor(rng.standard_normal(4), requires_grad=True)
    y = bias_relu(x, b)
    np.testing.assert_array_equal(y.data, np.maximum(x.data + b.data, 0))
    assert y.requires_grad and y._node.op == BIAS_RELU_OP
    grad = rng.standard_normal((6, 4))
    gx, gb = get_derivative(BIAS_RELU_OP)(grad, y._node)
    nx, nb = numerical_grad(lambda xv, bv: (np.maximum(xv + bv, 0) * grad).sum(),
                            [x.data, b.data])
    np.testing.assert_allclose(gx, nx, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, nb, rtol=1e-6, atol=1e-8)
    assert gb.shape == (4,)
    with pytest.raises(ValueError, match="does not broadcast"):
        bias_relu(x, Tensor(np.zeros(3)))


def test_gelu_op_records_its_node_and_differentiates():
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    y = gelu_tanh(x)
    assert y.dtype == np.float32 and y._node.op == GELU_TANH_OP
    np.testing.assert_allclose(y.data, gelu_reference(x.data), rtol=2e-6, atol=1e-6)
    grad = rng.standard_normal((3, 5)).astype(np.float32)
    (gx,) = get_derivative(GELU_TANH_OP)(grad, y._node)
    assert gx.dtype == np.float32
    (numeric,) = numerical_grad(lambda v: (gelu_reference(v) * grad).sum(), [x.data])
    np.testing.assert_allclose(gx, numeric, rtol=1e-3, atol=1e-4)
    assert gelu_tanh(Tensor(np.ones(2))).requires_grad is False


def test_bias_relu_lifts_a_float64_bias_array_in_float64():
    """A raw float64 bias keeps its precision (it is not rounded to float32 on the way in)."""
    x = Tensor(np.array([[0.1, -0.2, 0.3]]), dtype=np.float64)
    b = np.array([1 / 3, 1 / 7, -0.1])
    out = bias_relu(x, b)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), np.maximum(x.numpy() + b, 0.0))
