"""Shared fixtures for tinytorch-training's tests."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest


def _write_tiny_cifar(root: Path, train_counts: list, n_test: int, classes: list) -> str:
    """A CIFAR-10 of random pixels in the official file layout under ``root``: five training
    batches of ``train_counts`` images, a test batch of ``n_test``; returns the data root."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, list(train_counts) + [n_test]):
        batch = {b"batch_label": name.encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [c.encode() for c in classes]}, protocol=2))
    return str(root)


@pytest.fixture(scope="session")
def write_tiny_cifar():
    """``write_tiny_cifar(root, train_counts, n_test, classes)``: see :func:`_write_tiny_cifar`."""
    return _write_tiny_cifar
