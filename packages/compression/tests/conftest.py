"""Shared fixtures and small models for tinytorch-compression's tests."""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import manual_seed, set_grad_enabled
from tinytorch.core.tensor.runtime import set_num_threads


@pytest.fixture(autouse=True)
def _defaults():
    """Every test starts with graph recording on, one kernel thread and a fixed seed."""
    grad = set_grad_enabled(True)
    threads = set_num_threads(1)
    manual_seed(0)
    yield
    set_grad_enabled(grad)
    set_num_threads(threads)


def randomize_batchnorm(model, rng):
    """Give every BatchNorm non-trivial γ, β and running statistics (as after training)."""
    for layer in model:
        if isinstance(layer, BatchNorm2d):
            c = layer.num_features
            layer.weight.data[...] = rng.uniform(0.5, 1.5, c)
            layer.bias.data[...] = rng.normal(0, 0.3, c)
            layer.running_mean.data[...] = rng.normal(0, 0.3, c)
            layer.running_var.data[...] = rng.uniform(0.3, 2.0, c)
    return model


def tiny_cnn(rng=None, side=8):
    """conv-BN-ReLU-pool ×2 → Flatten → Dense, on (3, side, side) images."""
    model = Sequential([
        Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2),
        Conv2d(8, 6, 3, padding=1, bias=False), BatchNorm2d(6), ReLU(), MaxPool2d(2),
        Flatten(), Dense(6 * (side // 4) ** 2, 5),
    ])
    randomize_batchnorm(model, rng or np.random.default_rng(0))
    return model.eval()


def tiny_mlp():
    return Sequential([Dense(8, 16), ReLU(), Dense(16, 12), ReLU(), Dense(12, 4)])


@pytest.fixture
def make_cnn():
    """Factory fixture: ``make_cnn(rng=None, side=8)`` builds :func:`tiny_cnn`."""
    return tiny_cnn


@pytest.fixture
def make_mlp():
    """Factory fixture: ``make_mlp()`` builds :func:`tiny_mlp` (8 → 16 → 12 → 4)."""
    return tiny_mlp
