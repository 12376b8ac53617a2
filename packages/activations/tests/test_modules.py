"""The activation layers: they call their function, print like PyTorch's, behave like modules."""

import math

import numpy as np
import pytest

from tinytorch.core.activations import (
    GELU,
    Activation,
    LeakyReLU,
    LogSoftmax,
    ModuleBase,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import assert_close

X = Tensor(np.linspace(-4, 4, 24, dtype=np.float32).reshape(2, 3, 4))

PAIRS = [
    (ReLU(), relu),
    (LeakyReLU(), leaky_relu),
    (LeakyReLU(0.3), lambda x: leaky_relu(x, 0.3)),
    (Sigmoid(), sigmoid),
    (Tanh(), tanh),
    (GELU(), gelu),
    (GELU(approximate="tanh"), lambda x: gelu(x, "tanh")),
    (Softmax(), softmax),
    (Softmax(dim=1), lambda x: softmax(x, 1)),
    (Softmax(axis=0), lambda x: softmax(x, 0)),
    (LogSoftmax(), log_softmax),
    (LogSoftmax(dim=-2), lambda x: log_softmax(x, -2)),
]
# test ids carry the exercise names (relu, leaky, sigmoid, gelu, softmax): -k <name> selects them
PAIR_IDS = ["relu", "leaky", "leaky-0.3", "sigmoid", "tanh", "gelu", "gelu-tanh", "softmax",
            "softmax-dim1", "softmax-axis0", "log_softmax", "log_softmax-dim-2"]


@pytest.mark.parametrize("layer, fn", PAIRS, ids=PAIR_IDS)
def test_layer_equals_function(layer, fn):
    expected = fn(X).numpy()
    # the exact GELU layer runs a fused op (activations/fused.py): the same formula evaluated
    # in float32 instead of float64, so it may differ in the last bit or two; the rest are equal
    atol = 5e-7 if isinstance(layer, GELU) and layer.approximate == "none" else 0
    assert_close(layer(X), expected, rtol=0, atol=atol)
    assert_close(layer.forward(X), expected, rtol=0, atol=atol)


X3 = Tensor([-1.0, 0.0, 2.0])
MATH = [
    (lambda: ReLU()(X3), [0.0, 0.0, 2.0]),
    (lambda: LeakyReLU(0.5)(X3), [-0.5, 0.0, 2.0]),
    (lambda: Sigmoid()(X3), [1 / (1 + math.e), 0.5, 1 / (1 + math.exp(-2))]),
    (lambda: Tanh()(X3), np.tanh([-1.0, 0.0, 2.0])),
    (lambda: GELU()(X3), [-0.15865525393145707, 0.0, 1.9544997361036416]),
    (lambda: Softmax(dim=0)(Tensor([[1.0, 0.0], [1.0, 2.0]])),
     [[0.5, 1 / (1 + math.e**2)], [0.5, 1 / (1 + math.e**-2)]]),
    (lambda: LogSoftmax()(Tensor([0.0, 0.0])), [-math.log(2)] * 2),
]


@pytest.mark.parametrize("compute, expected", MATH,
                         ids=["relu", "leaky", "sigmoid", "tanh", "gelu", "softmax", "log_softmax"])
def test_layers_compute_the_math(compute, expected):
    assert_close(compute(), expected)


@pytest.mark.parametrize(
    "layer, text",  # ids: numbers, so that no exercise name (relu, softmax...) selects them
    [
        (ReLU(), "ReLU()"),
        (LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
        (LeakyReLU(0.2), "LeakyReLU(negative_slope=0.2)"),
        (Sigmoid(), "Sigmoid()"),
        (Tanh(), "Tanh()"),
        (GELU(), "GELU(approximate='none')"),
        (GELU("tanh"), "GELU(approximate='tanh')"),
        (Softmax(dim=-1), "Softmax(dim=-1)"),
        (Softmax(dim=1), "Softmax(dim=1)"),
        (Softmax(), "Softmax(dim=-1)"),
        (LogSoftmax(dim=0), "LogSoftmax(dim=0)"),
    ],
    ids=[f"case{i}" for i in range(11)],
)
def test_repr_like_pytorch(layer, text):
    assert repr(layer) == text


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="approximate"):
        GELU("fast")
    with pytest.raises(ValueError, match="only one"):
        Softmax(dim=0, axis=1)


def test_activations_are_weightless_modules():
    for layer, _ in PAIRS:
        assert isinstance(layer, Activation)
        assert list(layer.parameters()) == []
        assert layer.training is True
        assert layer.eval() is layer and layer.training is False
        assert layer.train() is layer and layer.training is True
    assert ReLU().training and not ReLU().eval().training  # the flag is per instance


def test_custom_activation_subclass():
    class Square(Activation):
        def forward(self, x):
            return x * x

    assert Square()(Tensor([3.0])).item() == 9.0
    assert repr(Square()) == "Square()"
    with pytest.raises(NotImplementedError, match="forward"):
        Activation()(Tensor([1.0]))


def test_relu_layer_accepts_arrays_and_is_exact():
    assert ReLU()(np.array([-1.0, 1.0])).tolist() == [0.0, 1.0]
    assert ReLU()(X3).tolist() == [0.0, 0.0, 2.0]


def test_softmax_layer_accepts_lists():
    assert_close(Softmax()([[0.0, 0.0]]), [[0.5, 0.5]])


def test_module_base_registries_are_empty_and_read_only():
    relu = ReLU()
    assert isinstance(relu, ModuleBase)
    assert dict(relu._parameters) == {} and dict(relu._modules) == {} and dict(relu._buffers) == {}
    assert list(relu.named_children()) == [] and list(relu.children()) == []
    assert list(relu.parameters(recurse=False)) == []
    with pytest.raises(TypeError):
        relu._parameters["w"] = Tensor([1.0])  # a weightless layer: nothing can be registered


def test_module_base_hooks_replace_inputs_and_outputs_and_are_removable():
    relu, calls = ReLU(), []
    remove_pre = relu.register_forward_pre_hook(lambda m, args: (args[0] * -1.0,))
    remove = relu.register_forward_hook(lambda m, args, out: calls.append(m) or out * 10.0)
    assert relu(Tensor([-1.0, 2.0])).tolist() == [10.0, 0.0]
    assert calls == [relu]
    remove_pre()
    assert relu(Tensor([-1.0, 2.0])).tolist() == [0.0, 20.0]
    remove()
    assert relu(Tensor([-1.0, 2.0])).tolist() == [0.0, 2.0] and len(calls) == 2
    assert not LeakyReLU()._forward_hooks  # another instance has none
