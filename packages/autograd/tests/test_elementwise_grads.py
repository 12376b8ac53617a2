"""Finite-difference checks of every elementwise derivative, on random shapes.

Hypothesis draws the shapes (and, for binary ops, pairs of shapes that broadcast together)
plus a seed; the values come from that seed, so they are continuous and away from ties.
``gradcheck`` compares autograd's vector-Jacobian product with central differences in
float64, and also insists that each gradient has exactly its input's shape — a broadcast
input's gradient must be summed back.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, maximum, minimum, where
from tinytorch.core.tensor.testing import broadcastable_pair, shapes

FAST = settings(deadline=None, max_examples=30)
seeds = st.integers(0, 2**32 - 1)


def rand(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def away_from(x, point=0.0, gap=0.05):
    """Move values that sit within ``gap`` of a kink out of its way."""
    near = np.abs(x - point) < gap
    return np.where(near, point + 2 * gap, x)


# ---------------------------------------------------------------- binary, broadcasting
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FAST
@given(pair=broadcastable_pair(max_dims=3, max_side=3), seed=seeds)
def test_arith_binary_ops_with_broadcasting(name, pair, seed):
    a = rand(pair[0], seed)
    b = rand(pair[1], seed + 1)
    if name == "div":
        b = np.sign(away_from(b)) * (np.abs(b) + 0.5)  # keep the divisor away from 0
    assert gradcheck(BINARY[name], [a, b])


@FAST
@given(pair=broadcastable_pair(max_dims=3, max_side=3), seed=seeds)
def test_arith_gradients_are_summed_back_to_each_input_shape(pair, seed):
    a = Tensor(rand(pair[0], seed), requires_grad=True)
    b = Tensor(rand(pair[1], seed + 1), requires_grad=True)
    (a * b).backward(np.ones(np.broadcast_shapes(a.shape, b.shape)))  # = (a * b).sum()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # d/da sum(a*b) = b summed over the axes broadcasting stretched a along
    full = np.broadcast_arrays(a.data, b.data)[1]
    expect_a = full.sum(axis=tuple(range(full.ndim - a.ndim))) if full.ndim > a.ndim else full
    for axis, n in enumerate(a.shape):
        if n == 1 and expect_a.shape[axis] != 1:
            expect_a = expect_a.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(a.grad.data, expect_a.reshape(a.shape), rtol=1e-5)


def test_arith_scalar_operands_get_no_gradient_and_python_scalars_broadcast():
    assert gradcheck(lambda a: 3.0 * a - a / 2.0 + 1.0, [rand((2, 3), 0)])
    assert gradcheck(lambda a: 2.0 / a, [rand((4,), 1, 0.5, 2.0)])
    assert gradcheck(lambda a: 1.0 - a, [rand((4,), 1)])


def test_arith_same_tensor_on_both_sides_gets_both_contributions():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).backward(np.ones(3))  # the gradient of (x * x).sum()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    assert gradcheck(lambda a: a * a / (a * a + 1.0), [rand((3,), 5)])


# ---------------------------------------------------------------- pow
@FAST
@given(pair=broadcastable_pair(max_dims=3, max_side=3), seed=seeds)
def test_power_with_tensor_exponent(pair, seed):
    base = rand(pair[0], seed, 0.5, 2.0)
    exponent = rand(pair[1], seed + 1, -2.0, 2.0)
    assert gradcheck(lambda a, e: a ** e, [base, exponent])


@FAST
@given(shape=shapes(0, 3, max_side=4), seed=seeds, power=st.sampled_from([2, 3, 0.5, -1.0, -1.5]))
def test_power_with_scalar_exponent(shape, seed, power):
    x = rand(shape, seed, 0.5, 2.0)
    assert gradcheck(lambda a: a ** power, [x])


def test_power_rpow_differentiates_the_exponent():
    assert gradcheck(lambda e: 2.0 ** e, [rand((3, 2), 3)])


def test_power_exponent_gradient_at_zero_base_is_zero_not_nan():
    a = Tensor([0.0, 2.0], requires_grad=True)
    e = Tensor([2.0, 3.0], requires_grad=True)
    (a ** e).backward(np.ones(2))  # the gradient of (a ** e).sum()
    np.testing.assert_allclose(e.grad.data, [0.0, 8.0 * np.log(2.0)], rtol=1e-6)
    np.testing.assert_allclose(a.grad.data, [0.0, 12.0], rtol=1e-6)


def test_power_zero_exponent_gives_the_base_zero_gradient_even_at_zero():
    x = Tensor([0.0, 1.5, -2.0], requires_grad=True)
    (x ** 0.0).backward(np.ones(3))  # x ** 0 is the constant 1: slope 0, not 0 · 0^(-1) = nan
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
    # the same at the points finite differences can see: (0 ± h) ** 0 == 1
    assert gradcheck(lambda a: a ** 0.0, [np.array([0.0, 1.5, -2.0])])
    e = Tensor([0.0, 2.0], requires_grad=True)
    a = Tensor([0.0, 0.0], requires_grad=True)
    (a ** e).backward(np.ones(2))
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])  # 0·0^-1 and 2·0^1
    np.testing.assert_array_equal(e.grad.data, [0.0, 0.0])


def test_power_exponent_gradient_at_a_negative_base_is_nan_not_zero():
    a = Tensor([-2.0, 2.0], requires_grad=True)
    e = Tensor([2.0, 2.0], requires_grad=True)
    (a ** e).backward(np.ones(2))  # the gradient of (a ** e).sum()
    assert np.isnan(e.grad.data[0])  # ln(-2) does not exist: no silent 0
    np.testing.assert_allclose(e.grad.data[1], 4.0 * np.log(2.0), rtol=1e-6)
    np.testing.assert_allclose(a.grad.data, [-4.0, 4.0])  # the base's slope is fine there
    # the exponent's gradient at a zero base and a positive exponent stays 0, checked by
    # finite differences (0 ** (e ± h) == 0)
    assert gradcheck(lambda ex: Tensor([0.0, 0.0, 2.0], dtype=np.float64) ** ex,
                     [np.array([2.0, 0.5, 1.5])])


def test_arith_mixed_dtypes_give_each_input_a_gradient_of_its_own_dtype():
    x = Tensor([1.0, 2.0], requires_grad=True)  # float32
    (x * Tensor([3, 4])).backward(np.ones(2))   # float32 * int64 computes in float32
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 4.0]
    d = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    arr = np.array([0.1, 1 / 3])
    (d * arr).backward(np.ones(2))  # the array is a float64 tensor: its values, unrounded
    assert d.grad.dtype == np.float64 and d.grad.numpy().tolist() == [0.1, 1 / 3]
    s = Tensor([1.0, 2.0], requires_grad=True)
    (s * arr).backward(np.ones(2))  # float32 with a float64 array computes in float64
    assert s.grad.dtype == np.float32
    np.testing.assert_array_equal(s.grad.numpy(), arr.astype(np.float32))


# ---------------------------------------------------------------- unary
UNARY = {
    "neg": (lambda a: -a, (-2, 2)),
    "exp": (lambda a: a.exp(), (-2, 2)),
    "log": (lambda a: a.log(), (0.2, 3)),
    "log1p": (lambda a: a.log1p(), (-0.5, 3)),
    "sqrt": (lambda a: a.sqrt(), (0.2, 3)),
    "abs": (lambda a: a.abs(), (-2, 2)),
    "tanh": (lambda a: a.tanh(), (-2, 2)),
    "sin": (lambda a: a.sin(), (-3, 3)),
    "cos": (lambda a: a.cos(), (-3, 3)),
    "erf": (lambda a: a.erf(), (-2.5, 2.5)),
    "relu": (lambda a: a.relu(), (-2, 2)),
    "clone": (lambda a: a.clone() * 2.0, (-2, 2)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FAST
@given(shape=shapes(0, 3, max_side=4), seed=seeds)
def test_unary_ops(name, shape, seed):
    fn, (low, high) = UNARY[name]
    x = rand(shape, seed, low, high)
    if name in ("abs", "relu"):
        x = away_from(x)  # not differentiable at 0
    assert gradcheck(fn, [x])


def test_unary_relu_and_abs_have_zero_gradient_at_zero_like_pytorch():
    x = Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (x.relu() + x.abs()).backward(np.ones(3))  # the gradient of their sum
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 2.0])


def test_unary_relu_gradients_in_reused_buffers_are_never_shared():
    # The ReLU layers' op (tinytorch.core.tensor.fused.relu) writes its output and its
    # derivative into pooled buffers (the runtime's workspace). Chained ReLUs, gradients the
    # caller keeps (retain_grad, grad()) and a second backward pass must each see their own
    # values: a buffer is reused only when nothing references it.
    from tinytorch.core.autograd import grad
    from tinytorch.core.tensor.fused import relu
    from tinytorch.core.tensor.runtime import WORKSPACE

    previous, WORKSPACE.min_bytes = WORKSPACE.min_bytes, 0  # pool these small arrays too
    try:
        rng = np.random.default_rng(3)
        a = away_from(rng.standard_normal((6, 5)))
        w = rng.standard_normal((6, 5))
        x = Tensor(a, dtype=np.float64, requires_grad=True)
        h = relu(x * 2.0)
        h.retain_grad()
        k = relu(h - 0.5)
        ones = np.ones((6, 5))  # seeds equal to the gradient of a .sum() of the product
        (k * Tensor(w, dtype=np.float64)).backward(ones, retain_graph=True)
        dk = w * (2 * np.maximum(a, 0) - 0.5 > 0)
        np.testing.assert_array_equal(h.grad.data, dk)
        np.testing.assert_array_equal(x.grad.data, 2 * dk * (a > 0))
        kept = [g.data for g in grad(k * Tensor(w, dtype=np.float64), [h, x], ones, retain_graph=True)]
        again = [g.data for g in grad(k * Tensor(-w, dtype=np.float64), [h, x], ones)]
        np.testing.assert_array_equal(kept[0], dk)
        np.testing.assert_array_equal(kept[1], 2 * dk * (a > 0))
        np.testing.assert_array_equal(again[1], -kept[1])
    finally:
        WORKSPACE.min_bytes = previous


def test_relu_layer_op_and_lesson_op_have_the_same_gradient():
    """The fused op (its own derivative, registered next to its forward) agrees with the
    lesson's "relu" derivative exactly, also at 0 and for float64."""
    from tinytorch.core.tensor.fused import RELU_FUSED, relu
    a = np.array([[-1.5, 0.0, -0.0, 2.0], [3.0, -4.0, 0.5, 1e-30]])
    g = np.arange(8.0).reshape(2, 4) - 3.0
    grads = []
    for forward in (lambda t: t.relu(), relu):
        x = Tensor(a, dtype=np.float64, requires_grad=True)
        y = forward(x)
        y.backward(g)
        grads.append(x.grad.data.copy())
        assert x.grad.dtype == np.float64
    assert relu(Tensor(a, requires_grad=True))._node.op == RELU_FUSED
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(grads[0], g * (a > 0))


def test_erf_derivative_matches_its_formula():
    x = Tensor(np.linspace(-3, 3, 13), dtype=np.float64, requires_grad=True)
    x.erf().sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 / np.sqrt(np.pi) * np.exp(-x.data ** 2), rtol=1e-12)


# ---------------------------------------------------------------- maximum / minimum / clip
@pytest.mark.parametrize("op", [maximum, minimum])
@FAST
@given(pair=broadcastable_pair(max_dims=3, max_side=3), seed=seeds)
def test_piecewise_maximum_minimum_away_from_ties(op, pair, seed):
    # a on whole numbers, b on half-way points (each with a little noise): never within 0.3
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, pair[0]) + rng.uniform(-0.1, 0.1, pair[0])
    b = rng.integers(-2, 3, pair[1]) + 0.5 + rng.uniform(-0.1, 0.1, pair[1])
    assert gradcheck(op, [a, b])


@pytest.mark.parametrize("op", [maximum, minimum])
def test_piecewise_maximum_minimum_split_the_gradient_at_ties(op):
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([1.0, 5.0, 0.0], requires_grad=True)
    op(a, b).sum().backward()
    if op is maximum:
        np.testing.assert_array_equal(a.grad.data, [0.5, 0.0, 1.0])
        np.testing.assert_array_equal(b.grad.data, [0.5, 1.0, 0.0])
    else:
        np.testing.assert_array_equal(a.grad.data, [0.5, 1.0, 0.0])
        np.testing.assert_array_equal(b.grad.data, [0.5, 0.0, 1.0])


def test_piecewise_maximum_with_a_broadcast_scalar_and_with_itself():
    x = Tensor([[-1.0, 0.0], [2.0, 3.0]], requires_grad=True)
    c = Tensor(0.0, requires_grad=True)
    x.maximum(c).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5], [1.0, 1.0]])
    assert c.grad.shape == () and c.grad.item() == 1.5  # one win and one half tie
    y = Tensor([1.0, 2.0], requires_grad=True)
    maximum(y, y).sum().backward()  # every element ties with itself: ½ + ½
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


@FAST
@given(shape=shapes(0, 3, max_side=4), seed=seeds,
       bounds=st.sampled_from([(-0.5, 0.7), (None, 0.3), (-0.2, None)]))
def test_piecewise_clip(shape, seed, bounds):
    lo, hi = bounds
    x = rand(shape, seed)
    for bound in (lo, hi):
        if bound is not None:
            x = away_from(x, bound)
    assert gradcheck(lambda a: a.clip(lo, hi), [x])


def test_piecewise_clip_passes_the_gradient_at_its_bounds_like_pytorch():
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])


# ---------------------------------------------------------------- where, cast
@FAST
@given(shapes3=st.tuples(shapes(0, 3, max_side=3), shapes(0, 3, max_side=3)), seed=seeds)
def test_piecewise_where(shapes3, seed):
    xs, ys = shapes3
    try:
        full = np.broadcast_shapes(xs, ys)
    except ValueError:
        return
    cond = np.random.default_rng(seed).random(full) > 0.5
    assert gradcheck(lambda a, b: where(cond, a, b), [rand(xs, seed), rand(ys, seed + 1)])


def test_piecewise_where_routes_each_element_to_one_side():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([10.0], requires_grad=True)
    where(np.array([True, False, True]), a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cast_passes_the_gradient_back_in_the_inputs_dtype(dtype):
    x = Tensor([1.0, -2.0, 3.0], dtype=dtype, requires_grad=True)
    other = np.float64 if dtype == np.float32 else np.float32
    y = x.astype(other)
    assert y.dtype == other
    (y * y).sum().backward()
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.data, 2 * x.data, rtol=1e-6)
    # linear through the float32 round trip: a large step keeps rounding out of the numbers
    assert gradcheck(lambda a: a.float().double() * 3.0, [rand((2, 3), 7)], eps=1e-2, atol=1e-3)


def test_mod_gradients_match_finite_differences_with_broadcasting():
    # a % b = a - b·floor(a/b): d/da = 1, d/db = -floor(a/b), away from the jumps
    rng = np.random.default_rng(8)
    a = Tensor(rng.uniform(-9, 9, (3, 4)) + 0.013, dtype=np.float64, requires_grad=True)
    b = Tensor(np.array([2.3, -1.7, 3.1, 0.9]), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda x, y: x % y, [a, b])
    (a % b).backward(np.ones((3, 4)))
    np.testing.assert_array_equal(a.grad.data, np.ones((3, 4)))
    np.testing.assert_allclose(b.grad.data, -np.floor(a.data / b.data).sum(axis=0))
