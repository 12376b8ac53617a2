"""Shared fixtures: a tiny CIFAR-10 in the official file layout (random pixels, seconds to train)."""

from __future__ import annotations

import pytest

import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)
from tinytorch.core.dataloader.testing import write_random_cifar10


def pytest_configure(config):
    """Register the ``slow`` marker (the repository's pytest.ini does too; the wheel has none)."""
    config.addinivalue_line("markers", "slow: long-running end-to-end tests (the milestones)")


CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """Root of a CIFAR-10 copy with 5 × 52 training and 60 test images of random pixels."""
    return write_random_cifar10(tmp_path_factory.mktemp("data"), [52] * 5, 60, CLASSES)
