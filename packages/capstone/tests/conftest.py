"""Shared fixtures: a tiny CIFAR-10 in the official file layout (random pixels, seconds to train)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)

def pytest_configure(config):
    """Register the ``slow`` marker (the repository's pytest.ini does too; the wheel has none)."""
    config.addinivalue_line("markers", "slow: long-running end-to-end tests (the milestones)")


CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """Root of a CIFAR-10 copy with 5 × 52 training and 60 test images of random pixels."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    files = [(f"data_batch_{i}", 52) for i in range(1, 6)] + [("test_batch", 60)]
    for name, n in files:
        batch = {b"batch_label": name.encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [c.encode() for c in CLASSES]}, protocol=2))
    return str(root)
