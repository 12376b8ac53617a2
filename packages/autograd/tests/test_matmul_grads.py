"""Finite-difference checks of matmul: 2-D, 1-D operands on either side, batch broadcasting."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor, matmul

FAST = settings(deadline=None, max_examples=30)
seeds = st.integers(0, 2**32 - 1)
side = st.integers(1, 4)


def rand(shape, seed):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)


@st.composite
def batch_pair(draw):
    """Two batch shapes that broadcast (either may be empty, i.e. a plain matrix)."""
    n = draw(st.integers(0, 2))
    a, b = [], []
    for _ in range(n):
        size = draw(st.integers(1, 3))
        a.append(draw(st.sampled_from([size, 1])))
        b.append(draw(st.sampled_from([size, 1])))
    cut_a, cut_b = draw(st.integers(0, n)), draw(st.integers(0, n))
    return tuple(a[cut_a:]), tuple(b[cut_b:])


@FAST
@given(n=side, k=side, m=side, seed=seeds)
def test_matmul_matrix_times_matrix(n, k, m, seed):
    assert gradcheck(lambda a, b: a @ b, [rand((n, k), seed), rand((k, m), seed + 1)])


@FAST
@given(batches=batch_pair(), n=side, k=side, m=side, seed=seeds)
def test_matmul_batched_with_broadcast_batch_dimensions(batches, n, k, m, seed):
    ba, bb = batches
    a, b = rand(ba + (n, k), seed), rand(bb + (k, m), seed + 1)
    assert gradcheck(matmul, [a, b])


@FAST
@given(batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), k=side, m=side, seed=seeds,
       vector_on_left=st.booleans())
def test_matmul_one_dimensional_operands(batch, k, m, seed, vector_on_left):
    v = rand((k,), seed)
    mat = rand(batch + ((k, m) if vector_on_left else (m, k)), seed + 1)
    if vector_on_left:
        assert gradcheck(lambda x, y: x @ y, [v, mat])
    else:
        assert gradcheck(lambda x, y: x @ y, [mat, v])


@FAST
@given(k=side, seed=seeds)
def test_matmul_dot_product_of_two_vectors(k, seed):
    assert gradcheck(lambda x, y: x @ y, [rand((k,), seed), rand((k,), seed + 1)])


def test_matmul_gradients_by_hand():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = Tensor([[5.0], [6.0]], requires_grad=True)
    (a @ b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [[5.0, 6.0], [5.0, 6.0]])
    np.testing.assert_array_equal(b.grad.data, [[4.0], [6.0]])


@pytest.mark.parametrize("left", [True, False])
def test_matmul_only_the_operand_that_requires_grad_gets_one(left):
    a = Tensor(rand((2, 3), 1), requires_grad=left)
    b = Tensor(rand((3, 2), 2), requires_grad=not left)
    (a @ b).sum().backward()
    assert (a.grad is not None) == left and (b.grad is not None) == (not left)


def test_matmul_of_float32_and_int64_gives_a_float32_gradient():
    w = Tensor([[1.0], [2.0]], requires_grad=True)
    (Tensor([[1, 2], [3, 5]]) @ w).backward(np.ones((2, 1)))  # computed in float32
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [[4.0], [7.0]]
    d = Tensor([[1.0, 1.0]], dtype=np.float64, requires_grad=True)
    (d @ np.array([[0.1], [1 / 3]])).backward(np.ones((1, 1)))  # a float64 array, unrounded
    assert d.grad.dtype == np.float64 and d.grad.numpy().tolist() == [[0.1, 1 / 3]]
