"""Dense (Linear): y = x Wᵀ + b, PyTorch's weight layout and initialisation, clear shape errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.layers import Dense, Linear, Parameter, fused_linear, fused_linear_enabled
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.testing import assert_close, float_arrays


def test_linear_is_dense():
    assert Linear is Dense


def test_parameters_have_pytorch_layout():
    layer = Dense(784, 128)
    assert [(n, p.shape) for n, p in layer.named_parameters()] == [("weight", (128, 784)),
                                                                  ("bias", (128,))]
    assert all(isinstance(p, Parameter) and p.dtype == np.float32 for p in layer.parameters())
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert repr(layer) == "Dense(in_features=784, out_features=128, bias=True)"


@settings(max_examples=30, deadline=None)
@given(
    lead=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 6),
    bias=st.booleans(),
    data=st.data(),
)
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "lesson"])
def test_dense_forward_matches_numpy(fused, lead, n_in, n_out, bias, data):
    layer = Dense(n_in, n_out, bias=bias)
    x = data.draw(float_arrays(tuple(lead) + (n_in,), low=-5, high=5))
    with fused_linear(fused):
        y = layer(Tensor(x))
    assert y.shape == tuple(lead) + (n_out,)
    expected = x.astype(np.float64) @ layer.weight.data.T.astype(np.float64)
    if bias:
        expected = expected + layer.bias.data
    assert_close(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "lesson"])
def test_dense_forward_on_a_batch_by_hand(fused):
    layer = Dense(3, 2)
    layer.weight.data[...] = [[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]
    layer.bias.data[...] = [10.0, -1.0]
    with fused_linear(fused):
        y = layer(Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))
        assert y.tolist() == [[8.0, 2.0], [10.0, -1.0]]
        assert y.dtype == np.float32
        assert layer(np.array([1.0, 2.0, 3.0])).tolist() == [8.0, 2.0]  # arrays are accepted


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "lesson"])
def test_dense_forward_without_bias(fused):
    layer = Dense(3, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]
    layer.weight.data[...] = 1
    with fused_linear(fused):
        assert layer(Tensor([[1.0, 2.0, 3.0]])).tolist() == [[6.0, 6.0]]
    assert repr(layer) == "Dense(in_features=3, out_features=2, bias=False)"


def test_wrong_input_size_names_the_layer_and_sizes():
    layer = Dense(784, 128)
    with pytest.raises(ValueError, match="Dense\\(784→128\\) expected last dimension 784, got 100"):
        layer(Tensor(np.zeros((32, 100))))
    with pytest.raises(ValueError, match="Dense\\(784→128\\) expected last dimension 784"):
        layer(Tensor(1.0))
    with pytest.raises(ValueError, match="positive"):
        Dense(0, 3)


def test_dense_forward_records_a_graph_for_autograd():
    layer = Dense(2, 2)
    y = layer(Tensor([[1.0, 2.0]]))
    assert y.grad_fn is not None  # the parameters require grad, so the ops were recorded


def test_dense_forward_fused_and_lesson_paths_give_the_same_bits():
    """The reference's fused op is the same maths: the same product, then the same addition."""
    rng = np.random.default_rng(0)
    layer = Dense(7, 5)
    x = Tensor(rng.standard_normal((2, 3, 7)).astype(np.float32))
    assert fused_linear_enabled()  # the reference (this source tree) runs the fused op
    fused = layer(x)
    with fused_linear(False):
        lesson = layer(x)
    assert fused_linear_enabled()  # restored
    assert fused.shape == lesson.shape == (2, 3, 5)
    np.testing.assert_array_equal(fused.data, lesson.data)
    assert fused._node.inputs[0]._node.op == "linear.fused"  # (2·3, 5) reshaped back


def test_default_init_is_pytorchs_uniform():
    manual_seed(0)
    n_in = 400
    layer = Dense(n_in, 300)
    bound = 1 / math.sqrt(n_in)
    w, b = layer.weight.data, layer.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.98 * bound  # it does use the whole range
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.05)  # U(-b, b) has variance b²/3
    assert abs(w.mean()) < 0.05 * bound


def test_xavier_init_option():
    manual_seed(0)
    layer = Dense(300, 200, init="xavier")
    bound = math.sqrt(6 / 500)
    assert np.abs(layer.weight.data).max() <= bound
    assert layer.weight.data.var() == pytest.approx(2 / 500, rel=0.05)
    with pytest.raises(ValueError, match="unknown init"):
        Dense(2, 2, init="magic")


def test_seeding_makes_layers_reproducible():
    manual_seed(42)
    a = Dense(5, 4)
    manual_seed(42)
    b = Dense(5, 4)
    c = Dense(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(b.weight.data, c.weight.data)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(Dense(5, 4, generator=g1).weight.data,
                                  Dense(5, 4, generator=g2).weight.data)


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.int32, np.float16])
def test_dense_forward_computes_in_the_weights_dtype(dtype):
    layer = Dense(3, 2)
    layer.weight.data[...] = [[1.0, 0.5, -1.0], [0.25, 0.25, 2.0]]
    layer.bias.data[...] = [0.1, -0.2]
    raw = np.array([[1, 2, 3], [-4, 0, 8]])
    want = layer(Tensor(raw.astype(np.float32)))
    for x in (Tensor(raw.astype(dtype), dtype=dtype), raw.astype(dtype)):
        y = layer(x)  # cast to float32 first (PyTorch refuses the mix; the rule is one cast)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y.numpy(), want.numpy())


def test_dense_forward_in_float64_when_the_weights_are_float64():
    layer = Dense(2, 1)
    layer.weight.data = np.array([[0.1, 0.2]])
    layer.bias.data = np.array([1 / 3])
    y = layer(Tensor([[1.0, 1.0]]))  # a float32 input is lifted to the weights' float64
    assert y.dtype == np.float64 and y.numpy()[0, 0] == (0.1 + 0.2) + 1 / 3
