"""Sequential: construction, forward, PyTorch's child names, list behaviour."""

from collections import OrderedDict

import numpy as np
import pytest

from tinytorch.core.activations import ReLU, Sigmoid, Tanh
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Identity, Module
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.testing import assert_close

SEED_REPR = (
    "Sequential(\n"
    "  (0): Dense(in_features=784, out_features=128, bias=True)\n"
    "  (1): ReLU()\n"
    "  (2): Dense(in_features=128, out_features=10, bias=True)\n"
    ")"
)


def seed_model():
    return Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])


# ----------------------------------------------------------------------------- construction
def test_the_seed_model():
    model = seed_model()
    assert isinstance(model, Module) and len(model) == 3
    assert repr(model) == SEED_REPR
    sd = model.state_dict()
    assert [(k, v.shape) for k, v in sd.items()] == [
        ("0.weight", (128, 784)), ("0.bias", (128,)), ("2.weight", (10, 128)), ("2.bias", (10,)),
    ]
    assert [n for n, _ in model.named_parameters()] == list(sd)
    assert model.num_parameters() == 784 * 128 + 128 + 128 * 10 + 10


def test_every_way_to_build_one_gives_the_same_names():
    layers = [Dense(3, 4), Tanh(), Dense(4, 2)]
    for model in (Sequential(layers), Sequential(*layers), Sequential(tuple(layers)),
                  Sequential(x for x in layers)):
        assert list(model._modules) == ["0", "1", "2"]
        assert list(model) == layers
    named = Sequential(OrderedDict([("fc1", layers[0]), ("act", layers[1]), ("fc2", layers[2])]))
    assert list(named.state_dict()) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert named[2] is layers[2]
    assert len(Sequential()) == 0 and len(Sequential([])) == 0
    assert list(Sequential(Dense(2, 2))._modules) == ["0"]


def test_non_layers_are_rejected():
    with pytest.raises(TypeError, match="entry 1"):
        Sequential([Dense(2, 2), lambda x: x])
    with pytest.raises(TypeError, match="not a layer"):
        Sequential(3)
    with pytest.raises(TypeError):
        seed_model().append("relu")


# ----------------------------------------------------------------------------- forward
def test_sequential_forward_applies_layers_in_order():
    a, b = Dense(3, 4), Dense(4, 2)
    model = Sequential([a, ReLU(), b])
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)))
    hidden = np.maximum(x.data @ a.weight.data.T + a.bias.data, 0)
    expected = hidden @ b.weight.data.T + b.bias.data
    assert_close(model(x), expected, rtol=1e-5, atol=1e-6)
    assert model(x).shape == (5, 2)
    assert Sequential([Sigmoid()])(Tensor([0.0])).tolist() == [0.5]


def test_sequential_forward_order_matters():
    model = Sequential([Dense(1, 1, bias=False), ReLU()])
    model[0].weight.data[...] = -1.0
    assert model(Tensor([[2.0]])).tolist() == [[0.0]]  # relu(-2)
    model2 = Sequential([ReLU(), model[0]])
    assert model2(Tensor([[2.0]])).tolist() == [[-2.0]]  # -relu(2)


def test_sequential_forward_empty_is_the_identity():
    x = Tensor([1.0, 2.0])
    assert Sequential()(x) is x


def test_sequential_forward_train_and_eval_reach_dropout_inside():
    manual_seed(0)
    model = Sequential([Dense(8, 8), Dropout(0.5), ReLU()])
    x = Tensor(np.ones((4, 8)))
    model.eval()
    assert not model[1].training and not model[2].training
    np.testing.assert_array_equal(model(x).data, model(x).data)
    model.train()
    assert model[1].training
    assert not np.array_equal(model(x).data, model(x).data)


# ----------------------------------------------------------------------------- list behaviour
def test_indexing_and_slicing():
    model = seed_model()
    layers = list(model)
    assert model[0] is layers[0] and model[-1] is layers[2] and model[1] is layers[1]
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    with pytest.raises(TypeError):
        model["0"]
    head = model[:2]
    assert isinstance(head, Sequential) and list(head) == layers[:2]
    assert head[0] is model[0]  # the same layer objects (shared weights)
    tail = model[1:]
    assert list(tail._modules) == ["1", "2"]  # names are kept, as in PyTorch
    assert list(tail.state_dict()) == ["2.weight", "2.bias"]
    x = Tensor(np.ones((2, 784)))
    assert_close(tail(head[:1](x)), model(x))
    assert list(model[::-1]) == layers[::-1]


def test_append_extend_insert_delete_pop():
    model = Sequential([Dense(2, 3)])
    assert model.append(ReLU()) is model
    model.extend([Dense(3, 4), Tanh()])
    assert list(model._modules) == ["0", "1", "2", "3"]
    model.insert(1, Identity())
    assert [type(m).__name__ for m in model] == ["Dense", "Identity", "ReLU", "Dense", "Tanh"]
    assert list(model._modules) == ["0", "1", "2", "3", "4"]
    del model[1]
    assert [type(m).__name__ for m in model] == ["Dense", "ReLU", "Dense", "Tanh"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert not hasattr(model, "4")
    assert isinstance(model.pop(), Tanh) and len(model) == 3
    model[1] = Sigmoid()
    assert isinstance(model[1], Sigmoid) and list(model._modules) == ["0", "1", "2"]
    del model[:2]
    assert list(model.state_dict()) == ["0.weight", "0.bias"]
    tail = Sequential([Dense(2, 2), ReLU(), Dense(2, 2)])[1:]
    tail.append(Tanh())  # a slice's names start at 1: the next free one is used
    assert list(tail._modules) == ["1", "2", "3"]


def test_nested_sequentials_get_dotted_names():
    model = Sequential([Sequential([Dense(2, 3), ReLU()]), Dense(3, 1)])
    assert list(model.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias"]
    assert "  (0): Sequential(\n    (0): Dense" in repr(model)


def test_state_dict_round_trip_between_models():
    a, b = seed_model(), seed_model()
    b.load_state_dict(a.state_dict())
    x = Tensor(np.random.default_rng(1).standard_normal((3, 784)))
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_sequential_forward_records_a_graph():
    model = seed_model()
    out = model(Tensor(np.ones((1, 784))))
    assert out.grad_fn is not None


class _Halve(Module):
    """A stand-in for a layer that commutes with ReLU (like module 06's MaxPool2d): it keeps
    every second column, so it records the order it ran in by what it received."""

    relu_commutes = True

    def __init__(self, log):
        super().__init__()
        self.log = log

    def forward(self, x):
        self.log.append(("halve", float(x.data.min())))
        return x[:, ::2]


def test_sequential_forward_runs_relu_before_a_commuting_layer_after_it_with_the_same_result():
    log = []
    model = Sequential(Dense(4, 6), ReLU(), _Halve(log))
    text, keys = repr(model), list(model.state_dict())
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    out = model(x)
    assert log[0][1] < 0  # the halving saw the Dense output, before the ReLU
    written = x
    for layer in model:  # the order as written
        written = layer(written)
    assert out.data.tobytes() == written.data.tobytes()
    assert repr(model) == text and list(model.state_dict()) == keys
    assert [type(m) for m in model][1:] == [ReLU, _Halve]


def test_relu_stays_in_place_next_to_layers_that_make_no_promise_or_have_hooks():
    log = []
    halve = _Halve(log)
    assert Sequential(Dense(2, 2), ReLU(), Tanh())._run_order()[1].__class__ is ReLU
    model = Sequential(Dense(4, 6), ReLU(), halve)
    assert model._run_order()[1] is halve
    halve.register_forward_hook(lambda m, args, out: None)
    assert model._run_order()[2] is halve  # a hook would see a different tensor: no swap

    relu = ReLU()
    model = Sequential(Dense(4, 6), relu, _Halve(log))
    remove = relu.register_forward_pre_hook(lambda m, args: None)
    assert model._run_order()[1] is relu  # a hook on the ReLU itself: no swap either
    remove()
    assert model._run_order()[2] is relu

    class MyReLU(ReLU):  # a subclass may do anything in forward
        pass

    assert Sequential(Dense(4, 6), MyReLU(), _Halve(log))._run_order()[1].__class__ is MyReLU


def test_sequential_is_a_module_list_with_a_forward():
    from tinytorch.core.layers import ModuleList

    model = seed_model()
    assert isinstance(model, ModuleList)
    assert model.pop(1).__class__ is ReLU and list(model._modules) == ["0", "1"]
    with pytest.raises(TypeError, match="Sequential: entry 0 is a str, not a layer"):
        model.insert(0, "relu")
    assert list(model._modules) == ["0", "1"]  # a rejected insert leaves the list as it was
    tail = seed_model()[1:]
    tail.append(Dense(10, 2))
    assert list(tail._modules) == ["1", "2", "3"]  # after a slice's "1", "2": the next free name
