"""Dropout, Identity, Flatten and the containers' list behaviour."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, ModuleList
from tinytorch.core.tensor import Tensor, manual_seed


# ----------------------------------------------------------------------------- Dropout
def test_dropout_is_the_identity_in_eval():
    d = Dropout(0.5).eval()
    x = Tensor(np.random.default_rng(0).standard_normal((8, 8)))
    assert d(x) is x


def test_dropout_masks_and_scales_in_training():
    p = 0.3
    d = Dropout(p, generator=np.random.default_rng(0))
    x = Tensor(np.full((200, 500), 2.0, dtype=np.float32))
    y = d(x).numpy()
    assert y.dtype == np.float32 and y.shape == x.shape
    kept = y != 0
    # every survivor is scaled by 1/(1-p); the rest are exactly 0
    np.testing.assert_allclose(y[kept], 2.0 / (1 - p), rtol=1e-6)
    assert kept.mean() == pytest.approx(1 - p, abs=0.01)
    # so the expected value of each unit is unchanged
    assert y.mean() == pytest.approx(2.0, rel=0.02)


def test_dropout_preserves_the_expected_value_of_any_input():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(16).astype(np.float32)
    d = Dropout(0.5, generator=np.random.default_rng(2))
    mean = np.mean([d(Tensor(x)).numpy() for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, x, atol=0.1)


def test_dropout_masks_differ_between_calls_and_follow_the_seed():
    d = Dropout(0.5)
    x = Tensor(np.ones(1000))
    manual_seed(5)
    a = d(x).numpy()
    b = d(x).numpy()
    manual_seed(5)
    c = d(x).numpy()
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_dropout_edge_probabilities():
    x = Tensor(np.arange(1.0, 7.0))
    assert Dropout(0.0)(x) is x
    assert Dropout(1.0)(x).tolist() == [0.0] * 6
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="probability"):
            Dropout(bad)
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"


# ----------------------------------------------------------------------------- Identity, Flatten
def test_identity_and_flatten():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert Identity()(x) is x
    assert Flatten()(x).shape == (2, 12)
    assert Flatten(0)(x).shape == (24,)
    assert Flatten(1, 1)(x).shape == (2, 3, 4)
    assert Flatten()(x).tolist()[1][:3] == [12.0, 13.0, 14.0]
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


# ----------------------------------------------------------------------------- ModuleList
def test_module_list_registers_indexes_and_renumbers():
    layers = [Dense(2, 3), ReLU(), Dense(3, 4)]
    ml = ModuleList(layers)
    assert len(ml) == 3 and list(ml) == layers
    assert ml[0] is layers[0] and ml[-1] is layers[2]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(ml[1:], ModuleList) and list(ml[1:]) == layers[1:]
    with pytest.raises(IndexError, match="out of range"):
        ml[3]
    ml.append(Dense(4, 1))
    ml.insert(0, Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Dense", "ReLU", "Dense", "Dense"]
    assert list(ml._modules) == ["0", "1", "2", "3", "4"]
    del ml[0]
    assert list(ml.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias"]
    assert not hasattr(ml, "4")  # the old name is gone
    ml[1] = Dense(3, 3)
    assert [n for n, _ in ml.named_parameters()][2] == "1.weight"
    ml.extend([ReLU(), ReLU()])
    assert len(ml) == 6
    with pytest.raises(NotImplementedError):
        ml(Tensor([1.0]))


def test_module_list_inside_a_model_trains_and_saves():
    from tinytorch.core.layers import Module

    class Stack(Module):
        def __init__(self):
            super().__init__()
            self.layers = ModuleList([Dense(2, 2) for _ in range(3)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    s = Stack()
    assert [n for n, _ in s.named_parameters()][-1] == "layers.2.bias"
    assert s(Tensor(np.ones((4, 2)))).shape == (4, 2)
    s.eval()
    assert not s.layers[1].training


def test_module_list_rejects_non_layers_before_touching_the_list():
    ml = ModuleList([Dense(2, 2), ReLU()])
    for bad in (lambda: ml.append(3), lambda: ml.insert(0, "relu"),
                lambda: ml.__setitem__(1, np.ones(2))):
        with pytest.raises(TypeError, match="ModuleList: entry .* not a layer"):
            bad()
    assert [type(m) for m in ml] == [Dense, ReLU] and list(ml._modules) == ["0", "1"]
    assert ml.pop().__class__ is ReLU and ml.pop(0).__class__ is Dense and len(ml) == 0
