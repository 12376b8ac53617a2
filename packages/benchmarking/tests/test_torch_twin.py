"""The same model in TinyTorch and PyTorch: weights copied, outputs and gradients verified,
then timed side by side (structure only: no timed assertions). Skipped without torch, except
the check that a missing torch gives a clear message."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from tinytorch.core.benchmarking import (MODELS, TorchNotInstalled, build_tinytorch, get_model_spec,
                                         import_torch, layer, sample_batch)
from tinytorch.core.benchmarking import torch_twin
from tinytorch.core.benchmarking.models import ModelSpec


def test_missing_torch_gives_a_clear_message(monkeypatch):
    real = importlib.import_module

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ModuleNotFoundError("No module named 'torch'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(torch_twin.importlib, "import_module", no_torch)
    with pytest.raises(TorchNotInstalled, match=r"pip install torch==2\.13\.0"):
        import_torch()
    with pytest.raises(TorchNotInstalled):
        torch_twin.compare_with_torch(get_model_spec("mlp"))
    assert issubclass(TorchNotInstalled, ImportError)


def test_specs_build_in_tinytorch():
    for name, spec in MODELS.items():
        model = build_tinytorch(spec)
        x, y = sample_batch(spec, 2)
        assert model(x).shape == (2, spec.num_classes), name
        assert y.shape == (2,) and y.dtype == np.int64
    with pytest.raises(ValueError):
        layer("Conv3d", 1, 1, 1)
    with pytest.raises(ValueError):
        get_model_spec("resnet")


@pytest.mark.torch
@pytest.mark.parametrize("name", list(MODELS))
def test_twins_match(name):
    torch = pytest.importorskip("torch")
    spec = get_model_spec(name)
    model = build_tinytorch(spec, seed=3)
    twin = torch_twin.build_torch(spec, torch)
    assert list(twin.state_dict()) == list(model.state_dict())
    torch_twin.copy_weights(model, twin, torch)
    x, y = sample_batch(spec, 4, seed=1)
    check = torch_twin.verify_twins(model, twin, x, y)
    assert check.passed, str(check)
    assert check.output_diff < 1e-4 and check.grad_diff < 1e-3
    assert "match" in str(check)


@pytest.mark.torch
def test_verification_catches_different_weights():
    torch = pytest.importorskip("torch")
    spec = get_model_spec("mlp")
    model = build_tinytorch(spec, seed=0)
    twin = torch_twin.build_torch(spec, torch)  # torch's own random weights: not copied
    x, y = sample_batch(spec, 4)
    check = torch_twin.verify_twins(model, twin, x, y)
    assert not check.passed and "MISMATCH" in str(check)


@pytest.mark.torch
def test_compare_with_torch_structure():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    spec = ModelSpec("tiny", (6,), (layer("Dense", 6, 5), layer("ReLU"), layer("Dense", 5, 3)), 3)
    result = torch_twin.compare_with_torch(spec, batch=4, rounds=3, min_time=0.0, threads=1)
    assert torch.get_num_threads() == threads  # restored
    assert result.torch_threads == 1 and result.verification.passed
    assert list(result.results) == ["latency", "throughput", "train"]
    train = result.results["train"]
    assert (train.change.a, train.change.b) == ("PyTorch", "TinyTorch")
    assert train.work == 4 and result.results["latency"].work == 1
    md = result.to_markdown()
    assert md.count("\n| latency |") == 1 and "Checked before timing: match" in md
    d = result.to_dict()
    assert d["kind"] == "torch_comparison" and d["verification"]["passed"] is True
    with pytest.raises(ValueError):
        torch_twin.compare_with_torch(spec, modes=("inference",))
