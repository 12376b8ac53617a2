"""The exact GELU layer runs one fused op: the lesson's function to float rounding, its
derivative against finite differences, the input's memory layout kept, threads or not.

This package comes before autograd, so the derivative is called directly — the rule
registered for the op, given the recorded node — as the engine would call it; backward
through whole models, and create_graph, are tested in integration/test_gelu_fused_grads.py."""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, gelu
from tinytorch.core.activations.fused import GELU_FUSED
from tinytorch.core.activations.fused import gelu as gelu_fused
from tinytorch.core.tensor import Tensor, from_numpy, get_derivative
from tinytorch.core.tensor.numerical import numerical_grad
from tinytorch.core.tensor.runtime import threads

EDGES = [0.0, -0.0, 1e-8, -1e-8, 0.5, -0.5, 3.0, -3.0, 8.0, -8.0, 40.0, -40.0]


def _sample(dtype, shape=(3, 4, 5, 6)):
    x = np.random.default_rng(0).standard_normal(shape) * 3
    x.reshape(-1)[: len(EDGES)] = EDGES
    return x.astype(dtype)


@pytest.mark.parametrize("dtype, tol", [(np.float32, 2e-6), (np.float64, 4e-7)])
def test_fused_gelu_matches_the_lesson_function(dtype, tol):
    x = _sample(dtype)
    fused, lesson = gelu_fused(from_numpy(x)), gelu(from_numpy(x))
    assert fused.data.dtype == dtype
    # the lesson evaluates erf in float64 with the same formula; float32 blocks round on top
    error = np.abs(fused.data.astype(np.float64) - lesson.data) / np.abs(x).clip(1)
    assert error.max() <= tol, f"largest error relative to max(|x|, 1): {error.max():.3g}"
    assert fused.data.reshape(-1)[0] == 0.0 and fused.data.reshape(-1)[10] == 40.0
    assert fused.data.reshape(-1)[11] == 0.0  # -40·Φ(-40) underflows to 0


def _derivative(y, g):
    """The registered derivative of y's op, at its recorded node, for output gradient g."""
    assert y.grad_fn is not None and y.grad_fn.op == GELU_FUSED
    (grad,) = get_derivative(GELU_FUSED)(g, y.grad_fn)
    return grad


def test_fused_gelu_derivative_matches_finite_differences():
    x = _sample(np.float64, (2, 3, 4))
    w = np.random.default_rng(1).standard_normal(x.shape)
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    grad = _derivative(gelu_fused(t), w)
    assert grad.dtype == np.float64

    def f(a):
        return float((gelu(Tensor(a, dtype=np.float64)).data * w).sum())

    (expected,) = numerical_grad(f, [x])
    # the derivative is the exact Φ + xφ, while the function uses erf's approximation (absolute
    # error 1.5e-7), whose own slope differs from the exact one by up to a few 1e-7
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=5e-7)


def test_gelu_layer_records_the_fused_op_and_tanh_keeps_the_lesson_path():
    x = Tensor(_sample(np.float32), requires_grad=True)
    assert GELU()(x)._node.op == GELU_FUSED
    assert GELU("tanh")(x)._node.op != GELU_FUSED
    assert GELU()([[-1, 0, 2]]).data.dtype == np.float32  # lists and ints become float32


def test_channels_last_input_keeps_its_layout_and_values():
    nhwc = _sample(np.float32, (2, 5, 6, 7))
    x = from_numpy(nhwc.transpose(0, 3, 1, 2))  # channels-last memory, NCHW shape
    y = gelu_fused(x)
    assert y.data.strides == x.data.strides
    np.testing.assert_array_equal(y.data, gelu_fused(from_numpy(np.ascontiguousarray(x.data))).data)


def test_big_input_gives_the_same_bits_on_one_and_two_threads():
    x = _sample(np.float32, (8, 16, 32, 32))  # 131k elements per tensor, above the split size
    x = np.concatenate([x, x, x])
    g = np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    results = []
    for n in (1, 2):
        with threads(n):
            y = gelu_fused(Tensor(x, requires_grad=True))
            results.append((y.data.copy(), _derivative(y, g).copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_non_dense_input_is_handled():
    x = _sample(np.float32, (4, 6, 8))[:, ::2, 1::3]  # a strided view, dense in no order
    np.testing.assert_allclose(gelu_fused(from_numpy(x)).data, gelu(from_numpy(x)).data,
                               rtol=0, atol=2e-5)
