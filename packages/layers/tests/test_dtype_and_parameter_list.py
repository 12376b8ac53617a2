"""Module.to(dtype) / float() / double(), and ParameterList."""

import numpy as np
import pytest

from tinytorch.core.layers import Dense, Module, ModuleList, Parameter, ParameterList
from tinytorch.core.tensor import Tensor


class Net(Module):
    def __init__(self):
        super().__init__()
        self.fc = Dense(3, 2)
        self.blocks = ModuleList([Dense(2, 2)])
        self.scales = ParameterList([np.ones(2)])
        self.register_buffer("mean", Tensor(np.zeros(2, np.float32)))
        self.register_buffer("count", Tensor(np.array(0, np.int64)))

    def forward(self, x):
        return self.blocks[0](self.fc(x)) * self.scales[0] - self.mean


def test_double_casts_every_float_parameter_buffer_and_grad_in_place():
    net = Net()
    weight = net.fc.weight
    before = weight.data.copy()
    weight.grad = Tensor(np.ones((2, 3), np.float32))
    assert net.double() is net
    assert net.fc.weight is weight  # the same Parameter objects
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    assert net.mean.dtype == np.float64 and net.count.dtype == np.int64  # ints stay ints
    assert weight.grad.dtype == np.float64
    np.testing.assert_array_equal(weight.data, before.astype(np.float64))
    out = net(Tensor(np.ones((4, 3)), dtype=np.float64))
    assert out.dtype == np.float64
    net.float()
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    assert net(np.ones((1, 3))).dtype == np.float32


def test_to_refuses_a_non_float_dtype():
    with pytest.raises(TypeError, match="floating-point dtype"):
        Net().to(np.int32)


def test_parameter_list_registers_and_indexes_like_a_list():
    pl = ParameterList([np.ones(3), Parameter(np.zeros(2))])
    pl.append(Tensor(np.full(4, 2.0)))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert all(isinstance(p, Parameter) for p in pl)
    assert pl[-1].shape == (4,) and pl[1].shape == (2,)
    pl[0] = np.full(3, 5.0)
    assert pl.state_dict()["0"].tolist() == [5.0, 5.0, 5.0]
    net = Net()
    assert "scales.0" in net.state_dict()
    with pytest.raises(IndexError, match="index 3 out of range for 3 parameters"):
        pl[3]
    with pytest.raises(TypeError, match="indices must be integers"):
        pl["0"]


def test_dense_takes_a_dtype():
    layer = Dense(4, 3, dtype=np.float64, generator=np.random.default_rng(0))
    same = Dense(4, 3, generator=np.random.default_rng(0))
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    np.testing.assert_array_equal(layer.weight.data, same.weight.data.astype(np.float64))
    assert layer(np.ones((2, 4))).dtype == np.float64
