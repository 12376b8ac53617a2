"""Architecture specs: JSON in, the same model out."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, Module
from tinytorch.core.mlops import SpecError, model_from_spec, model_to_spec, register_layer
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor
from tinytorch.core.training.cifar10 import small_cnn


def rebuilt(model):
    spec = json.loads(json.dumps(model_to_spec(model)))  # through real JSON text
    copy = model_from_spec(spec)
    copy.load_state_dict(model.state_dict())
    return copy.eval()


def same_outputs(a, b, x):
    a.eval()
    with no_grad():
        np.testing.assert_array_equal(a(Tensor(x)).data, b(Tensor(x)).data)


def test_mlp_round_trip():
    model = MLP(6, [8, 5], 3, activation=Tanh)
    copy = rebuilt(model)
    assert type(copy) is Sequential and repr(copy) == repr(Sequential(list(model)))
    assert list(copy.state_dict()) == list(model.state_dict())
    same_outputs(model, copy, np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32))


def test_small_cnn_round_trip():
    model = small_cnn(widths=(4, 8, 8))
    for layer in model:
        if isinstance(layer, BatchNorm2d):
            layer.running_mean.data[...] = np.random.default_rng(1).normal(size=layer.num_features)
    copy = rebuilt(model)
    assert list(copy.state_dict()) == list(model.state_dict())
    same_outputs(model, copy, np.random.default_rng(0).normal(size=(2, 3, 32, 32)).astype(np.float32))


def test_every_supported_layer_keeps_its_settings():
    model = Sequential([
        Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=1, groups=2, bias=False),
        BatchNorm2d(6, eps=1e-3, momentum=None, affine=False),
        LeakyReLU(0.2), MaxPool2d(3, stride=1, padding=1, dilation=1),
        AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        AdaptiveAvgPool2d((2, None)), GELU("tanh"), Flatten(1, -1), Dropout(0.3), Identity(),
        Dense(6 * 2 * 9, 10, bias=False), BatchNorm1d(10, track_running_stats=False),
        Sigmoid(), Dense(10, 4), Softmax(dim=1), LogSoftmax(dim=-1),
    ])
    copy = rebuilt(model)
    assert repr(copy) == repr(model)
    x = np.random.default_rng(0).normal(size=(3, 4, 8, 8)).astype(np.float32)
    same_outputs(model, copy, x)


def test_nested_and_named_sequentials_keep_their_keys():
    model = Sequential(OrderedDict([("features", Sequential([Dense(3, 4), ReLU()])),
                                    ("head", Dense(4, 2))]))
    spec = model_to_spec(model)
    assert [c["name"] for c in spec["layers"]] == ["features", "head"]
    copy = rebuilt(model)
    assert list(copy.state_dict()) == ["features.0.weight", "features.0.bias", "head.weight",
                                       "head.bias"]
    same_outputs(model, copy, np.ones((2, 3), np.float32))


class Custom(Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_an_unknown_layer_is_named_and_the_fix_is_given():
    model = Sequential([Dense(2, 2), Custom(2.0)])
    with pytest.raises(SpecError, match=r"layer '1' is a Custom.*register_layer"):
        model_to_spec(model)
    with pytest.raises(SpecError, match="expected a Sequential"):
        model_to_spec(Dense(2, 2))


def test_register_layer_teaches_a_new_type():
    from tinytorch.core.mlops import spec
    register_layer(Custom, lambda m: {"factor": m.factor}, lambda c: Custom(c["factor"]))
    try:
        model = Sequential([Dense(2, 2), Custom(3.0)])
        copy = rebuilt(model)
        assert isinstance(copy[1], Custom) and copy[1].factor == 3.0
        assert "Custom" in spec.supported_layers()
    finally:
        spec._LAYERS.pop("Custom")


def test_bad_specs_are_refused_clearly():
    with pytest.raises(SpecError, match="unsupported spec format"):
        model_from_spec({"format": 99, "type": "Sequential", "layers": []})
    with pytest.raises(SpecError, match="unknown type 'Conv3d'"):
        model_from_spec({"format": 1, "type": "Sequential",
                         "layers": [{"name": "0", "type": "Conv3d", "config": {}}]})


def test_spec_is_plain_json_data():
    spec = model_to_spec(small_cnn())
    text = json.dumps(spec)
    assert json.loads(text) == spec
    assert spec["layers"][0] == {"name": "0", "type": "Conv2d", "config": {
        "in_channels": 3, "out_channels": 32, "kernel_size": [3, 3], "stride": [1, 1],
        "padding": [1, 1], "dilation": [1, 1], "groups": 1, "bias": False}}
    assert [layer["type"] for layer in spec["layers"]][-2:] == ["Flatten", "Dense"]
