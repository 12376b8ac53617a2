"""ONNX export: refusals (which need no onnx), the missing-extra message, and — when the onnx
package is installed — the graph checked and run by onnx's own reference evaluator.
(integration/test_mlops_onnx.py runs the files in onnxruntime, where CI installs it.)"""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, Module
from tinytorch.core.mlops import export_onnx
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor


class Doubler(Module):
    def forward(self, x):
        return x * 2.0


@pytest.mark.parametrize("model,x,words", [
    (Sequential([Dense(2, 2), Doubler()]), np.ones((1, 2)), ["layer '1' is a Doubler"]),
    (Sequential([Conv2d(1, 2, 3), AdaptiveAvgPool2d(4)]), np.ones((1, 1, 7, 7)),
     ["layer '1' AdaptiveAvgPool2d(4)", "5×5", "unequal windows"]),
    (Sequential([Dense(2, 3), BatchNorm1d(3, track_running_stats=False)]), np.ones((4, 2)),
     ["layer '1'", "track_running_stats=False"]),
    (Sequential([Flatten(0)]), np.ones((2, 3)), ["Flatten(start_dim=0)"]),
])
def test_unsupported_models_are_refused_before_onnx_is_needed(model, x, words, tmp_path,
                                                              monkeypatch):
    _without_onnx(monkeypatch)
    with pytest.raises((TypeError, ValueError)) as err:
        export_onnx(model, x, tmp_path / "m.onnx")
    for word in words:
        assert word in str(err.value)


def _without_onnx(monkeypatch):
    real_import = builtins.__import__

    def blocked(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", blocked)


def test_missing_onnx_names_the_extra(tmp_path, monkeypatch):
    _without_onnx(monkeypatch)
    with pytest.raises(ImportError, match=r"pip install 'tinytorch-mlops\[onnx\]'"):
        export_onnx(MLP(3, [4], 2), np.ones((1, 3)), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_not_a_sequential_is_refused(tmp_path):
    with pytest.raises(TypeError, match="expected a Sequential"):
        export_onnx(Dense(2, 2), np.ones((1, 2)), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="must be a batch"):
        export_onnx(MLP(2, [2], 2), np.ones(2), tmp_path / "m.onnx")


def _randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.modules():
        if isinstance(layer, (BatchNorm1d, BatchNorm2d)) and layer.track_running_stats:
            c = layer.num_features
            layer.running_mean.data[...] = rng.normal(size=c)
            layer.running_var.data[...] = rng.uniform(0.5, 2.0, size=c)
            if layer.affine:
                layer.weight.data[...] = rng.uniform(0.5, 1.5, size=c)
                layer.bias.data[...] = rng.normal(size=c)
    return model


MODELS = {
    "mlp": lambda: (MLP(6, [16, 8], 4, activation=GELU), (5, 6)),
    "cnn": lambda: (Sequential([
        Conv2d(3, 8, 3, stride=1, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2),
        Conv2d(8, 8, 3, stride=2, padding=(1, 0), groups=4, bias=False), BatchNorm2d(8),
        LeakyReLU(0.1), AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        Conv2d(8, 6, 1), Tanh(), AdaptiveAvgPool2d(1), Flatten(), Dropout(0.5), Identity(),
        Dense(6, 12), BatchNorm1d(12), Sigmoid(), Dense(12, 5), GELU("tanh"), Softmax(dim=1),
    ]), (3, 3, 12, 12)),
    "misc": lambda: (Sequential([
        Conv2d(2, 4, 3, padding=1, dilation=1), MaxPool2d(3, stride=2, padding=1, dilation=1),
        AdaptiveAvgPool2d(2), Flatten(1, 2), BatchNorm1d(8), ReLU(), Flatten(), Dense(16, 3),
        LogSoftmax(dim=-1),
    ]), (2, 2, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_exported_graph_matches_with_the_onnx_reference_evaluator(name, tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx.reference import ReferenceEvaluator
    model, shape = MODELS[name]()
    model = _randomize_bn(model).eval()
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    path = export_onnx(model, x, tmp_path / f"{name}.onnx")
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    with no_grad():
        want = model(Tensor(x)).data
    got = ReferenceEvaluator(proto).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    bigger = np.random.default_rng(2).normal(size=(7, *shape[1:])).astype(np.float32)
    with no_grad():
        want = model(Tensor(bigger)).data
    np.testing.assert_allclose(ReferenceEvaluator(proto).run(None, {"input": bigger})[0], want,
                               rtol=1e-4, atol=1e-5)


def test_export_keeps_the_training_flag(tmp_path):
    pytest.importorskip("onnx")
    model = MLP(3, [4], 2).train()
    export_onnx(model, np.ones((1, 3)), tmp_path / "m.onnx")
    assert model.training is True
