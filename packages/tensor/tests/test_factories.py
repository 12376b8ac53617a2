"""Factories: constant, range and random tensors, manual_seed, and the *_like family."""

import numpy as np
import pytest

from tinytorch.core.tensor import (
    Tensor,
    arange,
    default_generator,
    empty,
    eye,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    zeros,
    zeros_like,
)


@pytest.mark.parametrize("make, value", [(zeros, 0.0), (ones, 1.0)])
def test_zeros_ones_both_shape_spellings(make, value):
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32
        assert (t.numpy() == value).all()
    assert make(()).shape == () and make(0).shape == (0,)
    assert make(2, dtype=np.int64).dtype == np.int64
    assert make(2, requires_grad=True).requires_grad


def test_full_and_empty():
    t = full((2, 2), 7)
    assert t.dtype == np.float32 and t.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert full(3, 2.5).tolist() == [2.5, 2.5, 2.5]
    assert full(2, 3, dtype=np.int64).dtype == np.int64
    assert full(2, 1.0, requires_grad=True).requires_grad
    e = empty(3, 4)
    assert e.shape == (3, 4) and e.dtype == np.float32


@pytest.mark.parametrize("bad", [(-1, 2), (2.5,), ("3",)])
def test_bad_shapes_refused(bad):
    with pytest.raises(ValueError, match="shape"):
        zeros(*bad)
    with pytest.raises(ValueError, match="shape"):
        randn(*bad)


def test_arange():
    assert arange(5).tolist() == [0, 1, 2, 3, 4] and arange(5).dtype == np.int64
    assert arange(2, 8, 3).tolist() == [2, 5]
    f = arange(0.0, 1.0, 0.25)
    assert f.dtype == np.float32 and f.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert arange(3, dtype=np.float64).dtype == np.float64
    assert arange(5, 0, -2).tolist() == [5, 3, 1]
    with pytest.raises(ValueError, match="step"):
        arange(0, 3, 0)


def test_linspace_and_eye():
    t = linspace(0, 1, 5)
    assert t.dtype == np.float32 and t.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_array_equal(eye(3).numpy(), np.eye(3, dtype=np.float32))
    assert eye(2, 3).shape == (2, 3) and eye(2, dtype=np.int64).dtype == np.int64


def test_random_factories_ranges_and_dtypes():
    manual_seed(1)
    u = rand(2000)
    assert u.dtype == np.float32 and 0.0 <= u.numpy().min() and u.numpy().max() < 1.0
    assert abs(float(u.numpy().mean()) - 0.5) < 0.05
    n = randn(4000)
    assert n.dtype == np.float32
    assert abs(float(n.numpy().mean())) < 0.1 and abs(float(n.numpy().std()) - 1.0) < 0.1
    assert randn(2, 3).shape == (2, 3) and rand((4,)).shape == (4,)
    assert randn(3, dtype=np.float64).dtype == np.float64
    assert randn(3, requires_grad=True).requires_grad
    r = randint(-2, 3, (500,))
    assert r.dtype == np.int64 and r.numpy().min() == -2 and r.numpy().max() == 2
    assert randint(0, 5, 4).shape == (4,)


def test_manual_seed_makes_draws_reproducible():
    manual_seed(123)
    a = (rand(5), randn(2, 3), randint(0, 100, 6))
    manual_seed(123)
    b = (rand(5), randn(2, 3), randint(0, 100, 6))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    manual_seed(124)
    assert not np.array_equal(rand(5).numpy(), a[0].numpy())
    g = manual_seed(5)
    assert g is default_generator()


def test_generator_argument_is_independent_of_the_default():
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    manual_seed(0)
    a = randn(4, generator=g1)
    randn(10)  # drawing from the default generator does not disturb g2
    b = randn(4, generator=g2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(rand(3, generator=np.random.default_rng(1)).numpy(),
                                  rand(3, generator=np.random.default_rng(1)).numpy())


def test_like_factories_copy_shape_and_dtype():
    x = Tensor(np.ones((2, 3), dtype=np.float64), dtype=np.float64)
    for make in (zeros_like, ones_like, rand_like, randn_like):
        t = make(x)
        assert t.shape == (2, 3) and t.dtype == np.float64, make.__name__
    assert (zeros_like(x).numpy() == 0).all() and (ones_like(x).numpy() == 1).all()
    f = full_like(x, 4.0)
    assert f.dtype == np.float64 and (f.numpy() == 4.0).all()
    # dtype given as a np.dtype instance (e.g. another tensor's .dtype) wins
    for make in (zeros_like, ones_like, rand_like, randn_like):
        assert make(x, dtype=np.dtype(np.float32)).dtype == np.float32, make.__name__
    assert full_like(x, 1, dtype=np.dtype(np.int64)).dtype == np.int64
    i = Tensor([[1, 2]])
    assert zeros_like(i).dtype == np.int64
    assert rand_like(i).dtype == np.float32 and randn_like(i).dtype == np.float32
    assert zeros_like(np.zeros((4, 1))).shape == (4, 1)
    assert ones_like(x, requires_grad=True).requires_grad


def test_like_factories_are_reproducible():
    x = zeros(3, 2)
    manual_seed(9)
    a = randn_like(x)
    manual_seed(9)
    np.testing.assert_array_equal(a.numpy(), randn_like(x).numpy())
