"""The GELU layer's fused op under autograd: its gradient equals the lesson function's, through
backward and under create_graph (the activations package, before autograd, calls the derivative
rule directly)."""

import numpy as np

import tinytorch.core.autograd  # noqa: F401  (the engine)
from tinytorch.core.activations import GELU, gelu
from tinytorch.core.activations.fused import gelu as gelu_fused
from tinytorch.core.autograd import grad
from tinytorch.core.tensor import Tensor


def _sample(dtype, shape):
    x = np.random.default_rng(0).standard_normal(shape) * 3
    x.reshape(-1)[:6] = [0.0, -0.0, 1e-8, -8.0, 40.0, -40.0]
    return x.astype(dtype)


def test_fused_gelu_backward_matches_the_lesson_derivative_in_float32():
    x = _sample(np.float32, (3, 4, 5, 6))
    a, b = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    g = np.random.default_rng(2).standard_normal(x.shape).astype(np.float32)
    gelu(a).backward(g)
    GELU()(b).backward(g)
    assert b.grad.data.dtype == np.float32
    np.testing.assert_allclose(b.grad.data, a.grad.data, rtol=0, atol=2e-6)


def test_fused_gelu_supports_create_graph_like_the_lesson_function():
    x64 = _sample(np.float64, (2, 3, 4))
    second = []
    for fn in (gelu_fused, gelu):
        x = Tensor(x64, dtype=np.float64, requires_grad=True)
        (first,) = grad(fn(x).sum(), [x], create_graph=True)
        (d2,) = grad((first * first).sum(), [x])
        second.append(d2.data)
    np.testing.assert_allclose(second[0], second[1], rtol=1e-5, atol=1e-6)
