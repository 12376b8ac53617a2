"""MLP: the layers it builds, their names, and a forward pass checked against numpy by hand."""

import numpy as np
import pytest

from tinytorch.core.activations import GELU, LeakyReLU, ReLU, Tanh
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense, Dropout
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.testing import assert_close


def kinds(model):
    return [type(m).__name__ for m in model]


def test_mlp_structure_and_names():
    model = MLP(784, [256, 128], 10)
    assert isinstance(model, Sequential)
    assert kinds(model) == ["Dense", "ReLU", "Dense", "ReLU", "Dense"]
    assert [(k, v.shape) for k, v in model.state_dict().items()] == [
        ("0.weight", (256, 784)), ("0.bias", (256,)),
        ("2.weight", (128, 256)), ("2.bias", (128,)),
        ("4.weight", (10, 128)), ("4.bias", (10,)),
    ]
    assert model.hidden_sizes == (256, 128) and model.in_features == 784 and model.out_features == 10
    assert repr(model).startswith("MLP(\n  (0): Dense(in_features=784, out_features=256, bias=True)\n"
                                  "  (1): ReLU()\n")


def test_mlp_dropout_goes_after_each_hidden_activation():
    model = MLP(20, [16, 8], 4, dropout=0.25)
    assert kinds(model) == ["Dense", "ReLU", "Dropout", "Dense", "ReLU", "Dropout", "Dense"]
    assert model[2].p == 0.25
    assert list(model.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias",
                                        "6.weight", "6.bias"]


def test_mlp_hidden_sizes_forms():
    assert kinds(MLP(4, 8, 2)) == ["Dense", "ReLU", "Dense"]
    assert kinds(MLP(4, [], 2)) == ["Dense"]
    assert (MLP(4, (), 2)[0].in_features, MLP(4, (), 2)[0].out_features) == (4, 2)
    for bad in ([0], [-3], [2.5]):
        with pytest.raises(ValueError, match="positive"):
            MLP(4, bad, 2)
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, [3], 2, dropout=1.0)


def test_mlp_activation_choices():
    assert kinds(MLP(4, [3, 3], 2, activation=Tanh))[1::2][:2] == ["Tanh", "Tanh"]
    assert kinds(MLP(4, [3], 2, activation="gelu"))[1] == "GELU"
    assert kinds(MLP(4, [3], 2, activation=None)) == ["Dense", "Dense"]
    leaky = MLP(4, [3], 2, activation=lambda: LeakyReLU(0.2))
    assert leaky[1].negative_slope == 0.2
    shared = GELU(approximate="tanh")
    model = MLP(4, [3, 3], 2, activation=shared)
    assert model[1] is shared and model[3] is shared
    # a class gives each hidden layer its own instance
    model = MLP(4, [3, 3], 2)
    assert model[1] is not model[3]
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(4, [3], 2, activation="swish")
    with pytest.raises(TypeError):
        MLP(4, [3], 2, activation=3)


def numpy_mlp(x, params, hidden_act):
    """The forward pass, by hand: h = act(h @ W.T + b) for each hidden layer, then a last affine map."""
    h = x.astype(np.float64)
    n = len(params)
    for i, (w, b) in enumerate(params):
        h = h @ w.astype(np.float64).T + b.astype(np.float64)
        if i < n - 1:
            h = hidden_act(h)
    return h


def test_mlp_forward_on_flattened_mnist_batch_matches_numpy():
    manual_seed(0)
    model = MLP(784, [128, 64], 10)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(32, 28, 28)).astype(np.float32) / 255.0
    x = images.reshape(32, 784)  # flattened MNIST-shaped batch
    out = model(Tensor(x))
    assert out.shape == (32, 10) and out.dtype == np.float32
    params = [(model[i].weight.data, model[i].bias.data) for i in (0, 2, 4)]
    expected = numpy_mlp(x, params, lambda h: np.maximum(h, 0.0))
    assert_close(out, expected, rtol=1e-4, atol=1e-5)


def test_mlp_forward_with_tanh_and_dropout_in_eval_matches_numpy():
    model = MLP(784, [50], 10, activation=Tanh, dropout=0.5)
    x = np.random.default_rng(1).standard_normal((16, 784)).astype(np.float32)
    model.eval()
    out = model(Tensor(x))
    params = [(model[0].weight.data, model[0].bias.data), (model[3].weight.data, model[3].bias.data)]
    assert_close(out, numpy_mlp(x, params, np.tanh), rtol=1e-4, atol=1e-5)
    model.train()
    assert not np.allclose(model(Tensor(x)).data, out.data)


def test_an_mlp_loads_into_the_equivalent_sequential():
    mlp = MLP(6, [5, 4], 3)
    seq = Sequential([Dense(6, 5), ReLU(), Dense(5, 4), ReLU(), Dense(4, 3)])
    seq.load_state_dict(mlp.state_dict())
    x = Tensor(np.random.default_rng(2).standard_normal((7, 6)))
    np.testing.assert_array_equal(seq(x).data, mlp(x).data)


def test_mlp_is_seedable():
    manual_seed(3)
    a = MLP(5, [4], 2)
    manual_seed(3)
    b = MLP(5, [4], 2)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)


def test_mlp_dropout_layers_are_real_dropouts():
    model = MLP(3, [3], 3, dropout=0.1)
    assert isinstance(model[2], Dropout) and isinstance(model[1], ReLU)
