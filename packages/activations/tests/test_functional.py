"""The activation functions: values against float64 references, stability, softmax axes, graph.

References are computed here, in float64 numpy, from the textbook formulas (written in a
stable way where the formula itself would overflow).
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import (
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import assert_close, float_arrays, shapes

PROPS = settings(max_examples=40, deadline=None)
DTYPES = st.sampled_from([np.float32, np.float64])


# ----------------------------------------------------------------------------- references
def ref_sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -np.asarray(a, dtype=np.float64)))


def ref_gelu(a):
    a = np.asarray(a, dtype=np.float64)
    return 0.5 * a * (1.0 + np.vectorize(math.erf)(a / math.sqrt(2.0)))


def ref_gelu_tanh(a):
    a = np.asarray(a, dtype=np.float64)
    return 0.5 * a * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * a**3)))


def ref_softmax(a, axis):
    a = np.asarray(a, dtype=np.float64)
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_log_softmax(a, axis):
    a = np.asarray(a, dtype=np.float64)
    s = a - a.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


ELEMENTWISE = [
    ("relu", relu, lambda a: np.maximum(a, 0.0)),
    ("leaky", leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a)),
    ("sigmoid", sigmoid, ref_sigmoid),
    ("tanh", tanh, np.tanh),
    ("gelu", gelu, ref_gelu),
    ("gelu_tanh", lambda x: gelu(x, approximate="tanh"), ref_gelu_tanh),
]
IDS = [e[0] for e in ELEMENTWISE]


# ----------------------------------------------------------------------------- elementwise values
@pytest.mark.parametrize("name, fn, ref", ELEMENTWISE, ids=IDS)
@PROPS
@given(data=st.data(), dtype=DTYPES)
def test_elementwise_matches_reference(name, fn, ref, data, dtype):
    a = data.draw(float_arrays(dtype=dtype, low=-20, high=20))
    out = fn(Tensor(a, dtype=dtype))
    assert isinstance(out, Tensor)
    assert out.shape == a.shape and out.dtype == dtype
    # the erf that Tensor uses is accurate to ~1.5e-7: loosen float64's tolerance for GELU
    t = tol(dtype) if name != "gelu" else dict(rtol=1e-5, atol=1e-6)
    assert_close(out, ref(a), **t)


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (relu, [-2.0, -0.0, 0.0, 3.5], [0.0, 0.0, 0.0, 3.5]),
        (leaky_relu, [-2.0, 0.0, 3.5], [-0.02, 0.0, 3.5]),
        (sigmoid, [0.0, math.log(3.0)], [0.5, 0.75]),
        (tanh, [0.0, math.atanh(0.5)], [0.0, 0.5]),
        (gelu, [-1.0, 0.0, 1.0, 2.0],
         [-0.15865525393145707, 0.0, 0.8413447460685429, 1.9544997361036416]),
        (lambda x: gelu(x, "tanh"), [0.0, 1.0], [0.0, 0.8411919906082768]),
    ],
    ids=["relu", "leaky", "sigmoid", "tanh", "gelu", "gelu_tanh"],
)
def test_known_values(fn, x, expected):
    assert_close(fn(Tensor(x, dtype=np.float64)), np.array(expected), rtol=1e-6, atol=1e-7)


def test_leaky_slope_is_configurable():
    out = leaky_relu(Tensor([-10.0, -1.0, 0.0, 4.0]), negative_slope=0.2)
    assert_close(out, [-2.0, -0.2, 0.0, 4.0])
    assert out.dtype == np.float32


def test_sigmoid_symmetry_and_range():
    a = np.linspace(-30, 30, 241, dtype=np.float32)
    s = sigmoid(Tensor(a)).numpy()
    assert np.all((s >= 0) & (s <= 1))
    assert_close(s + sigmoid(Tensor(-a)).numpy(), np.ones_like(a), atol=1e-6)
    assert np.all(np.diff(s) >= 0), "sigmoid must be non-decreasing"
    # far in the left tail the result is small but *relatively* accurate (no 1 - (1 - tiny))
    assert sigmoid(Tensor([-30.0])).item() == pytest.approx(math.exp(-30), rel=1e-5)


def test_gelu_tanh_approximation_is_close_to_exact_but_different():
    a = np.linspace(-4, 4, 81, dtype=np.float64)
    exact = gelu(Tensor(a, dtype=np.float64)).numpy()
    approx = gelu(Tensor(a, dtype=np.float64), approximate="tanh").numpy()
    assert np.max(np.abs(exact - approx)) < 1e-3
    assert np.max(np.abs(exact - approx)) > 1e-5


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        gelu(Tensor([1.0]), approximate="sigmoid")


# ----------------------------------------------------------------------------- stability
LARGE = np.array([-1e4, -1e3, -100.0, 0.0, 100.0, 1e3, 1e4], dtype=np.float32)
LARGE_EXPECTED = {
    "relu": [0, 0, 0, 0, 100, 1e3, 1e4],
    "leaky": [-100, -10, -1, 0, 100, 1e3, 1e4],
    "sigmoid": [0, 0, 0, 0.5, 1, 1, 1],
    "tanh": [-1, -1, -1, 0, 1, 1, 1],
    "gelu": [0, 0, 0, 0, 100, 1e3, 1e4],
    "gelu_tanh": [0, 0, 0, 0, 100, 1e3, 1e4],
}


@pytest.mark.parametrize("name, fn, ref", ELEMENTWISE, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_are_finite_without_warnings(name, fn, ref, dtype):
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        out = fn(Tensor(LARGE, dtype=dtype)).numpy()
    assert np.all(np.isfinite(out))
    assert_close(out, np.array(LARGE_EXPECTED[name], dtype=np.float64), rtol=1e-6, atol=1e-30)


def test_softmax_family_is_stable_for_large_inputs():
    x = Tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [88.0, 89.0, 90.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        p = softmax(x).numpy()
        lp = log_softmax(x).numpy()
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(lp))
    assert_close(p[0], [1.0, 0.0, 0.0])
    assert_close(p[1], [1 / 3, 1 / 3, 1 / 3])
    assert_close(p[2], ref_softmax([88.0, 89.0, 90.0], -1))
    assert_close(lp[0], [0.0, -2e4, -1e4])
    assert_close(lp[1], np.full(3, -math.log(3.0)))


# ----------------------------------------------------------------------------- softmax axes
@st.composite
def array_and_axis(draw, dtype=np.float32):
    shape = draw(shapes(min_dims=1, max_dims=4))
    a = draw(float_arrays(shape, dtype=dtype, low=-50, high=50))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return a, axis


@PROPS
@given(case=array_and_axis(), dtype=DTYPES)
def test_softmax_matches_reference_and_sums_to_one(case, dtype):
    a, axis = case
    p = softmax(Tensor(a, dtype=dtype), dim=axis)
    assert p.dtype == dtype and p.shape == a.shape
    assert_close(p, ref_softmax(a, axis), **tol(dtype))
    sums = p.numpy().sum(axis=axis, dtype=np.float64)
    eps = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sums, 1.0, atol=a.shape[axis] * eps)


@PROPS
@given(case=array_and_axis(), dtype=DTYPES)
def test_log_softmax_matches_reference(case, dtype):
    a, axis = case
    lp = log_softmax(Tensor(a, dtype=dtype), axis=axis)
    assert lp.dtype == dtype and lp.shape == a.shape
    assert_close(lp, ref_log_softmax(a, axis), rtol=1e-5, atol=1e-5 if dtype == np.float32 else 1e-12)
    assert np.all(lp.numpy() <= 0)


@PROPS
@given(case=array_and_axis(dtype=np.float64), shift=st.floats(-100, 100))
def test_softmax_ignores_a_constant_shift(case, shift):
    a, axis = case
    p = softmax(Tensor(a, dtype=np.float64), axis).numpy()
    q = softmax(Tensor(a + shift, dtype=np.float64), axis).numpy()
    np.testing.assert_allclose(p, q, rtol=1e-9, atol=1e-12)


def test_softmax_default_is_the_last_axis_and_dim_equals_axis():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 3
    assert_close(softmax(Tensor(a)), ref_softmax(a, -1))
    assert_close(softmax(Tensor(a), dim=0), ref_softmax(a, 0))
    assert_close(softmax(Tensor(a), axis=0), ref_softmax(a, 0))
    assert_close(softmax(Tensor(a), 0, axis=0), ref_softmax(a, 0))
    assert_close(log_softmax(Tensor(a), dim=0), ref_log_softmax(a, 0), atol=1e-6)


def test_softmax_axis_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        softmax(x, dim=2)
    with pytest.raises(ValueError, match="out of range"):
        log_softmax(x, dim=-3)
    with pytest.raises(ValueError, match="only one"):
        softmax(x, dim=0, axis=1)
    with pytest.raises(TypeError):
        softmax(x, dim=0.5)


def test_softmax_of_a_scalar_is_one():
    assert softmax(Tensor(3.0)).item() == 1.0
    assert log_softmax(Tensor(3.0), dim=0).item() == 0.0
    assert softmax(Tensor(3.0)).shape == ()


# ----------------------------------------------------------------------------- inputs and dtypes
def test_relu_accepts_lists_and_keeps_integer_dtypes():
    assert relu([-1.0, 2.0]).tolist() == [0.0, 2.0]
    r = relu(Tensor(np.array([-3, 0, 4], dtype=np.int64)))
    assert r.dtype == np.int64 and r.tolist() == [0, 0, 4]


def test_relu_passes_nan_through_like_pytorch():
    out = relu(Tensor([np.nan, -1.0])).numpy()
    assert np.isnan(out[0]) and out[1] == 0.0


def test_sigmoid_accepts_arrays_and_integer_tensors():
    assert_close(sigmoid(np.zeros(3)), [0.5, 0.5, 0.5])
    s = sigmoid(Tensor([0, 1]))
    assert s.dtype == np.float32
    assert_close(s, ref_sigmoid([0.0, 1.0]))


def test_softmax_of_integer_tensors_is_float32():
    assert softmax(Tensor([[1, 1]])).dtype == np.float32


# ----------------------------------------------------------------------------- graph recording
def graph_leaves(t):
    """The tensors at the bottom of t's recorded graph that require grad."""
    found, stack, seen = [], [t], set()
    while stack:
        u = stack.pop()
        if id(u) in seen:
            continue
        seen.add(id(u))
        if u._node is None:
            if u.requires_grad:
                found.append(u)
        else:
            stack.extend(u._node.inputs)
    return found


ALL = ELEMENTWISE + [
    ("softmax", softmax, None),
    ("log_softmax", log_softmax, None),
    ("softmax_dim0", lambda x: softmax(x, dim=0), None),
]


@pytest.mark.parametrize("name, fn, ref", ALL, ids=[a[0] for a in ALL])
def test_built_from_recorded_tensor_ops(name, fn, ref):
    """The result hangs off a graph that leads back to the input: autograd can differentiate it."""
    x = Tensor(np.linspace(-3, 3, 12).reshape(3, 4), requires_grad=True)
    out = fn(x)
    assert out.grad_fn is not None, f"{name} did not record its computation"
    leaves = graph_leaves(out)
    assert len(leaves) == 1 and leaves[0] is x


@pytest.mark.parametrize("fn", [relu, sigmoid, gelu, softmax],
                         ids=["relu", "sigmoid", "gelu", "softmax"])
def test_no_graph_without_requires_grad(fn):
    assert fn(Tensor([1.0, -1.0])).grad_fn is None
