"""Initialisers: bounds, variances, fans, gains and seeding."""

import math

import numpy as np
import pytest

from tinytorch.core.layers import Parameter, init
from tinytorch.core.tensor import manual_seed


def weight(*shape):
    return Parameter(np.zeros(shape, dtype=np.float32))


def test_fans_of_dense_and_conv_weights():
    assert init.fan_in_and_out((128, 784)) == (784, 128)
    assert init.fan_in_and_out((32, 3, 3, 3)) == (27, 288)
    with pytest.raises(ValueError, match="2 dimensions"):
        init.fan_in_and_out((5,))


def test_gains_follow_pytorchs_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="softsign"):
        init.calculate_gain("softsign")


def test_weight_init_xavier_uniform_bound_and_variance():
    manual_seed(1)
    w = init.xavier_uniform_(weight(256, 512))
    bound = math.sqrt(6 / (256 + 512))
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.data.var() == pytest.approx(2 / (256 + 512), rel=0.03)
    w2 = init.xavier_uniform_(weight(256, 512), gain=2.0)
    assert np.abs(w2.data).max() <= 2 * bound and np.abs(w2.data).max() > 1.98 * bound


def test_weight_init_xavier_normal_variance():
    manual_seed(2)
    w = init.xavier_normal_(weight(256, 512))
    assert w.data.var() == pytest.approx(2 / (256 + 512), rel=0.03)
    assert abs(w.data.mean()) < 0.01


def test_weight_init_kaiming_uniform_bound_and_variance():
    manual_seed(3)
    w = init.kaiming_uniform_(weight(256, 512), nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 512)  # gain · √(3 / fan_in)
    assert np.abs(w.data).max() <= bound and np.abs(w.data).max() > 0.99 * bound
    assert w.data.var() == pytest.approx(2 / 512, rel=0.03)  # He: Var = 2 / fan_in
    w = init.kaiming_uniform_(weight(256, 512), nonlinearity="relu", mode="fan_out")
    assert w.data.var() == pytest.approx(2 / 256, rel=0.03)
    w = init.kaiming_uniform_(weight(256, 512), a=math.sqrt(5))  # PyTorch's Linear default
    assert np.abs(w.data).max() <= 1 / math.sqrt(512)
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(weight(2, 2), mode="fan_sideways")


def test_weight_init_kaiming_normal_variance():
    manual_seed(4)
    w = init.kaiming_normal_(weight(256, 512))
    assert w.data.var() == pytest.approx(2 / 512, rel=0.03)
    w = init.kaiming_normal_(weight(64, 32, 3, 3), mode="fan_out")
    assert w.data.var() == pytest.approx(2 / (64 * 9), rel=0.05)


def test_fill_in_place_and_keep_dtype():
    w = weight(3, 4)
    arr = w.data
    assert init.uniform_(w, -1, 1) is w and w.data is arr and w.dtype == np.float32
    assert init.zeros_(w).data.sum() == 0
    assert init.ones_(w).data.sum() == 12
    init.normal_(w, 5.0, 0.0)
    assert np.all(w.data == 5.0)


def test_weight_init_seeding_and_generators():
    manual_seed(123)
    a = init.xavier_uniform_(weight(4, 4)).data.copy()
    manual_seed(123)
    b = init.xavier_uniform_(weight(4, 4)).data.copy()
    np.testing.assert_array_equal(a, b)
    c = init.kaiming_normal_(weight(4, 4), generator=np.random.default_rng(9)).data.copy()
    d = init.kaiming_normal_(weight(4, 4), generator=np.random.default_rng(9)).data.copy()
    np.testing.assert_array_equal(c, d)
    assert not np.array_equal(a, c)
