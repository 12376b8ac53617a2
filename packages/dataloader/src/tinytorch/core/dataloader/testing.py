"""Test support: a tiny CIFAR-10 of random pixels, in the official file layout.

Tests of the packages that train on CIFAR-10 (training, the capstone) need a copy that loads in
milliseconds and trains in seconds; :func:`write_random_cifar10` writes one that
:class:`~tinytorch.core.dataloader.CIFAR10` reads like the real files.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["write_random_cifar10"]


def write_random_cifar10(root: str | os.PathLike, train_counts: Sequence[int], n_test: int,
                         classes: Sequence[str], seed: int = 0) -> str:
    """Write ``root/cifar-10-batches-py``: five training batches of ``train_counts`` images,
    a test batch of ``n_test``, and ``batches.meta`` naming ``classes``; returns ``root``.

    Pixels and labels are random (``numpy.random.default_rng(seed)``, each batch's labels
    drawn before its pixels), so the same arguments write the same bytes.
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, [*train_counts, n_test]):
        batch = {b"batch_label": name.encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, n)],
                 b"data": rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [c.encode() for c in classes]}, protocol=2))
    return str(root)
