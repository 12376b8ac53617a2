"""Modules 03–05 are differentiable once autograd (09) is installed: finite-difference checks.

Activations, Dense, Dropout, Sequential and MLP are written with Tensor ops only; these tests
run ``tinytorch.core.autograd.gradcheck`` (float64 central differences) on each of them, with
respect to their inputs and to their parameters.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from tinytorch.core.activations import (
    GELU,
    LeakyReLU,
    LogSoftmax,
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
from tinytorch.core.autograd import gradcheck
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense, Dropout, Module
from tinytorch.core.tensor import Tensor


def away_from_zero(rng, shape, low=0.05, high=3.0):
    """Random values with |x| in [low, high]: finite differences stay off the kinks at 0."""
    mag = rng.uniform(low, high, size=shape)
    return mag * rng.choice([-1.0, 1.0], size=shape)


ELEMENTWISE = {
    "relu": relu,
    "leaky_relu": lambda x: leaky_relu(x, 0.1),
    "sigmoid": sigmoid,
    "tanh": tanh,
    "gelu": gelu,
    "gelu_tanh": lambda x: gelu(x, approximate="tanh"),
    "ReLU": ReLU(),
    "LeakyReLU": LeakyReLU(0.2),
    "Sigmoid": Sigmoid(),
    "Tanh": Tanh(),
    "GELU": GELU(),
    "GELU_tanh": GELU("tanh"),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_activation_gradients(name):
    rng = np.random.default_rng(0)
    x = away_from_zero(rng, (3, 4))
    assert gradcheck(ELEMENTWISE[name], [x])


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_activation_gradients_at_large_inputs(name):
    x = np.array([-1e4, -500.0, -40.0, 40.0, 500.0, 1e4])
    assert gradcheck(ELEMENTWISE[name], [x])


def test_sigmoid_gradient_at_zero_is_a_quarter():
    """The stable formula must not lose the slope at 0 (it builds -|x| with where, not abs)."""
    assert gradcheck(sigmoid, [np.array([0.0, -0.0])])
    x = Tensor(np.zeros(3), dtype=np.float64, requires_grad=True)
    sigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 0.25)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("which", ["softmax", "log_softmax", "Softmax", "LogSoftmax"])
def test_softmax_family_gradients_along_every_axis(which, axis):
    fn = {
        "softmax": lambda x: softmax(x, dim=axis),
        "log_softmax": lambda x: log_softmax(x, axis=axis),
        "Softmax": Softmax(dim=axis),
        "LogSoftmax": LogSoftmax(dim=axis),
    }[which]
    x = np.random.default_rng(axis + 5).standard_normal((2, 3, 4)) * 3
    assert gradcheck(fn, [x])


@pytest.mark.parametrize("fn", [softmax, log_softmax], ids=["softmax", "log_softmax"])
def test_softmax_family_gradients_at_large_inputs(fn):
    x = np.array([[1e4, -1e4, 0.0, 3.0], [-1e4, -1e4 + 1.0, -1e4 + 2.0, -1e4], [50.0, 60.0, 70.0, 80.0]])
    assert gradcheck(fn, [x])


# ----------------------------------------------------------------------------- modules
@contextlib.contextmanager
def parameters_replaced(model: Module, names: list, tensors: list):
    """Run ``model`` with some parameters replaced by other tensors (gradcheck's leaves).

    Like ``torch.func.functional_call``: the tensors are installed directly in the owning
    modules' registries (assignment would refuse a plain Tensor in a parameter's place) and
    the originals are put back afterwards.
    """
    saved = []
    for name, t in zip(names, tensors):
        *path, leaf = name.split(".")
        owner = model
        for part in path:
            owner = owner._modules[part]
        saved.append((owner, leaf, owner._parameters[leaf]))
        owner._parameters[leaf] = t
        object.__setattr__(owner, leaf, t)
    try:
        yield
    finally:
        for owner, leaf, p in reversed(saved):
            owner._parameters[leaf] = p
            object.__setattr__(owner, leaf, p)


def check_module(model: Module, x: np.ndarray) -> None:
    """gradcheck of ``model`` with respect to its input and every parameter at once."""
    names = [n for n, _ in model.named_parameters()]
    values = [p.data.astype(np.float64) for _, p in model.named_parameters()]

    def fn(inp, *params):
        with parameters_replaced(model, names, list(params)):
            return model(inp)

    assert gradcheck(fn, [x, *values])


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients(bias):
    rng = np.random.default_rng(1)
    layer = Dense(4, 3, bias=bias)
    check_module(layer, rng.standard_normal((5, 4)))
    check_module(layer, rng.standard_normal(4))  # one sample without a batch dimension
    check_module(layer, rng.standard_normal((2, 3, 4)))  # extra leading dimensions


def test_dense_gradients_against_the_formula():
    """dL/dW = gᵀx, dL/db = Σg, dL/dx = gW for L = Σ g·y."""
    rng = np.random.default_rng(2)
    layer = Dense(4, 3)
    x = Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    g = rng.standard_normal((5, 3)).astype(np.float32)
    layer(x).backward(g)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x.data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(x.grad.data, g @ layer.weight.data, rtol=1e-5, atol=1e-5)


def test_dropout_gradients_with_a_fixed_mask():
    x = np.random.default_rng(3).standard_normal((4, 6))

    def fn(inp):
        # a fresh generator with the same seed: every call draws the same mask
        return Dropout(0.4, generator=np.random.default_rng(11))(inp)

    assert gradcheck(fn, [x])
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    y = fn(t)
    y.sum().backward()
    kept = y.data != 0
    np.testing.assert_allclose(t.grad.data[kept], 1 / 0.6)
    np.testing.assert_array_equal(t.grad.data[~kept], 0)


def test_dropout_in_eval_passes_the_gradient_through():
    d = Dropout(0.5).eval()
    assert gradcheck(d, [np.random.default_rng(4).standard_normal(5)])


def test_sequential_gradients():
    model = Sequential([Dense(4, 5), Tanh(), Dense(5, 3), Sigmoid(), Dense(3, 2), LogSoftmax(dim=1)])
    check_module(model, np.random.default_rng(5).standard_normal((3, 4)))


@pytest.mark.parametrize("activation", [ReLU, Tanh, GELU, "sigmoid"])
def test_mlp_gradients(activation):
    rng = np.random.default_rng(6)
    model = MLP(4, [5, 3], 2, activation=activation)
    for _, p in model.named_parameters():  # keep ReLU's inputs away from its kink at 0
        p.data[...] = away_from_zero(rng, p.shape, 0.1, 1.0)
    check_module(model, away_from_zero(rng, (3, 4), 0.1, 1.0))


def test_mlp_with_dropout_gradients_with_a_fixed_mask():
    model = MLP(4, [6], 2, activation=Tanh, dropout=0.3)
    names = [n for n, _ in model.named_parameters()]
    values = [p.data.astype(np.float64) for _, p in model.named_parameters()]

    def fn(inp, *params):
        model[2].generator = np.random.default_rng(21)  # the same mask on every call
        with parameters_replaced(model, names, list(params)):
            return model(inp)

    assert gradcheck(fn, [np.random.default_rng(7).standard_normal((3, 4)), *values])


def test_backward_fills_every_parameter_grad_and_zero_grad_clears_it():
    model = MLP(6, [5], 3)
    out = log_softmax(model(Tensor(np.random.default_rng(8).standard_normal((4, 6)))), dim=1)
    out.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
