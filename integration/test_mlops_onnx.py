"""ONNX export (tinytorch-mlops) checked against a real second runtime: the exported files run
in onnxruntime and give TinyTorch's outputs within float32 tolerance, for an MLP and for the
course's CIFAR-10 CNN with batch normalisation (and for a model taken through the registry).

CI installs onnx and onnxruntime in the `integration` tox env (tox.ini), where a missing
package is a failure, not a skip. Elsewhere (a developer's machine without them) the tests
are skipped; set TINYTORCH_REQUIRE_ONNX=1 to make that an error too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinytorch.core.activations import GELU, Softmax
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.mlops import ModelRegistry, export_onnx
from tinytorch.core.spatial import BatchNorm2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training.cifar10 import small_cnn

REQUIRED = (os.environ.get("TOX_ENV_NAME") == "integration"
            or os.environ.get("TINYTORCH_REQUIRE_ONNX") == "1")

if REQUIRED:  # in CI a missing runtime must fail loudly
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as err:  # pragma: no cover - a broken CI environment
        raise ImportError(f"{err}: the integration env must install onnx and onnxruntime "
                          "(tox.ini [testenv:integration] deps)") from None
else:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")

RTOL, ATOL = 1e-4, 1e-5  # float32: different summation orders, different libm


def run_onnx(path: str, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the machine is shared; one thread is plenty here
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    return session.run(None, {name: x})[0]


def reference(model, x: np.ndarray) -> np.ndarray:
    with no_grad():
        return model.eval()(Tensor(x)).data


def randomize_batchnorm(model, seed: int = 0):
    """Running statistics and affine parameters away from their 0/1 defaults, as after training."""
    rng = np.random.default_rng(seed)
    for layer in model.modules():
        if isinstance(layer, BatchNorm2d):
            c = layer.num_features
            layer.running_mean.data[...] = rng.normal(0, 0.5, size=c)
            layer.running_var.data[...] = rng.uniform(0.3, 3.0, size=c)
            layer.weight.data[...] = rng.uniform(0.5, 1.5, size=c)
            layer.bias.data[...] = rng.normal(0, 0.3, size=c)
    return model


def test_mlp_in_onnxruntime(tmp_path):
    manual_seed(0)
    model = Sequential([*MLP(32, [64, 32], 10, activation=GELU), Softmax(dim=-1)])
    x = np.random.default_rng(0).normal(size=(16, 32)).astype(np.float32)
    path = export_onnx(model, x, tmp_path / "mlp.onnx")
    np.testing.assert_allclose(run_onnx(path, x), reference(model, x), rtol=RTOL, atol=ATOL)
    one = x[:1]
    np.testing.assert_allclose(run_onnx(path, one), reference(model, one), rtol=RTOL, atol=ATOL)


def test_cifar_cnn_with_batchnorm_in_onnxruntime(tmp_path):
    manual_seed(0)
    model = randomize_batchnorm(small_cnn(widths=(16, 32, 64)))
    x = np.random.default_rng(1).normal(size=(8, 3, 32, 32)).astype(np.float32)
    path = export_onnx(model, x, tmp_path / "cnn.onnx")
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert ops.count("Conv") == 3 and ops.count("BatchNormalization") == 3
    assert "MaxPool" in ops and "Gemm" in ops
    got, want = run_onnx(path, x), reference(model, x)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    assert (got.argmax(axis=1) == want.argmax(axis=1)).all()
    odd = np.random.default_rng(2).normal(size=(3, 3, 32, 32)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(path, odd), reference(model, odd), rtol=RTOL, atol=ATOL)


def test_a_registered_model_exports_the_same(tmp_path):
    manual_seed(1)
    model = randomize_batchnorm(small_cnn(widths=(8, 16, 16)), seed=3)
    x = np.random.default_rng(3).normal(size=(20, 3, 32, 32)).astype(np.float32)
    registry = ModelRegistry(tmp_path / "registry")
    registry.register("cnn", model, metrics={"test_accuracy": 0.5}, data=x, reference_size=10)
    loaded = registry.load("cnn")
    path = export_onnx(loaded, x[:2], tmp_path / "cnn.onnx")
    np.testing.assert_allclose(run_onnx(path, x), reference(model, x), rtol=RTOL, atol=ATOL)
