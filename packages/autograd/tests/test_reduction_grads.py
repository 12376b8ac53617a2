"""Finite-difference checks of reductions (with axis / keepdims) and of softmax/log-softmax."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import numerical_grad, shapes

FAST = settings(deadline=None, max_examples=30)
seeds = st.integers(0, 2**32 - 1)


def rand(shape, seed, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def distinct(shape, seed):
    """Values at least 0.1 apart (a random permutation of a grid): no ties for max/min."""
    n = int(np.prod(shape, dtype=np.int64))
    perm = np.random.default_rng(seed).permutation(n)
    return (perm * 0.1 - 0.05 * n).reshape(shape)


@st.composite
def shape_and_axis(draw, min_dims=0, max_dims=3):
    """A shape, and an axis argument valid for it: None, an int (maybe negative) or a tuple."""
    shape = draw(shapes(min_dims, max_dims, max_side=4))
    nd = len(shape)
    if nd == 0:
        return shape, None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-nd, nd - 1))
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return shape, tuple(axes)


REDUCTIONS = {
    "sum": lambda a, axis, keep: a.sum(axis=axis, keepdims=keep),
    "mean": lambda a, axis, keep: a.mean(axis=axis, keepdims=keep),
    "max": lambda a, axis, keep: a.max(axis=axis, keepdims=keep),
    "min": lambda a, axis, keep: a.min(axis=axis, keepdims=keep),
    "var": lambda a, axis, keep: a.var(axis=axis, keepdims=keep),
    "std": lambda a, axis, keep: a.std(axis=axis, keepdims=keep),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@FAST
@given(sa=shape_and_axis(), seed=seeds, keep=st.booleans())
def test_reduce_over_any_axes(name, sa, seed, keep):
    shape, axis = sa
    x = distinct(shape, seed) if name in ("max", "min") else rand(shape, seed)
    if name in ("var", "std"):
        reduced = shape if axis is None else [shape[a] for a in np.atleast_1d(axis)]
        if int(np.prod(reduced)) < 2:
            return  # the variance of one number is 0 — and the std is not differentiable there
    fn = REDUCTIONS[name]
    assert gradcheck(lambda a: fn(a, axis, keep), [x])


@pytest.mark.parametrize("ddof", [0, 1])
def test_reduce_var_with_ddof_and_pytorch_spelling(ddof):
    x = rand((3, 4), 11)
    assert gradcheck(lambda a: a.var(axis=1, ddof=ddof), [x])
    assert gradcheck(lambda a: a.std(dim=0, keepdim=True, unbiased=bool(ddof)), [x])


def test_reduce_dim_and_keepdim_spellings():
    assert gradcheck(lambda a: a.sum(dim=(0, 2), keepdim=True), [rand((2, 3, 2), 1)])
    assert gradcheck(lambda a: a.mean(dim=-1), [rand((2, 3), 2)])


def test_reduce_sum_and_mean_gradients_by_hand():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.sum(axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    x.grad = None
    x.mean(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3), 1 / 3))


def test_reduce_max_shares_the_gradient_equally_among_ties():
    x = Tensor([[1.0, 3.0, 3.0], [5.0, 2.0, 5.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    y = Tensor([2.0, 0.0, 2.0, 2.0], requires_grad=True)
    y.min().backward()
    np.testing.assert_array_equal(y.grad.data, [0.0, 1.0, 0.0, 0.0])
    z = Tensor([2.0, 0.0, 2.0, 2.0], requires_grad=True)
    z.max().backward()
    np.testing.assert_allclose(z.grad.data, [1 / 3, 0.0, 1 / 3, 1 / 3])


def test_reduce_std_of_a_constant_slice_has_zero_gradient():
    x = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    t.std(axis=1).sum().backward()
    np.testing.assert_array_equal(t.grad.data[0], [0.0, 0.0, 0.0])  # PyTorch's 0, not nan
    # the other row against central differences of numpy's std
    want = numerical_grad(lambda r: float(np.std(r)), [x[1]])[0]
    np.testing.assert_allclose(t.grad.data[1], want, rtol=1e-6)
    c = Tensor(np.full((2, 2), 5.0), requires_grad=True)
    c.std().backward()
    assert c.grad.tolist() == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("axis", [0, -1])
def test_reduce_0d_tensor_along_axis_0_or_minus_1(axis):
    for name, slope in (("sum", 1.0), ("mean", 1.0), ("max", 1.0), ("min", 1.0),
                        ("var", 0.0), ("std", 0.0)):
        x = Tensor(3.0, requires_grad=True)
        getattr(x, name)(axis=axis).backward()
        assert x.grad.shape == () and x.grad.item() == slope, name
    for fn in (lambda a: a.sum(axis), lambda a: a.mean(dim=axis, keepdim=True),
               lambda a: a.max(axis=axis) * a, lambda a: a.var(axis) + a):
        assert gradcheck(fn, [np.array(1.5)])


# ---------------------------------------------------------------- softmax family
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@FAST
@given(shape=shapes(1, 3, max_side=4), seed=seeds, data=st.data())
def test_softmax_and_log_softmax(name, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = rand(shape, seed, -3.0, 3.0)
    assert gradcheck(lambda a: getattr(a, name)(axis=axis), [x])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor_has_zero_gradient(name):
    x = Tensor(0.7, requires_grad=True)
    (getattr(x, name)(axis=-1) * 3.0).backward()  # softmax of one value is the constant 1
    assert x.grad.item() == 0.0
    assert gradcheck(lambda a: getattr(a, name)(0), [np.array(0.7)])


def test_log_softmax_gradient_is_finite_for_huge_logits():
    x = Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    x.log_softmax(axis=-1)[0, 0].backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0, 0.0]], atol=1e-6)
    y = Tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    y.log_softmax(axis=-1)[0, 1].backward()
    np.testing.assert_allclose(y.grad.data, [[-1.0, 1.0, 0.0]], atol=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    logits = rand((4, 5), 3)
    labels = np.array([0, 3, 3, 1])
    x = Tensor(logits, dtype=np.float64, requires_grad=True)
    loss = -x.log_softmax(axis=1)[np.arange(4), labels].mean()
    loss.backward()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    p[np.arange(4), labels] -= 1
    np.testing.assert_allclose(x.grad.data, p / 4, rtol=1e-10)
