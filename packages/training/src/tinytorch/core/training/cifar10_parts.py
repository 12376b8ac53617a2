"""What the CIFAR-10 recipes share: the data's statistics, splits and normalisation, the
whitening stem, and :class:`RunParts`.

The recipes (:mod:`.cifar10`) and airbench's (:mod:`.airbench`) both import this module, and
:mod:`.cifar10` imports :mod:`.airbench`: imports run one way. :mod:`.cifar10` re-exports
every name here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.dataloader import CIFAR10, Compose, DataLoader, Normalize, ToTensor
from tinytorch.core.dense import Sequential
from tinytorch.core.optimizers import SGD, OneCycleLR

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "RunParts", "cifar10_normalize", "cifar10_splits",
           "init_whitening", "whitening_filters", "whitening_sample"]

# Per-channel statistics of the training images (measured on this copy; see its README).
CIFAR10_MEAN = (0.4913, 0.4821, 0.4465)
CIFAR10_STD = (0.2452, 0.2428, 0.2606)


def cifar10_splits(root: str | None, batch_size: int, limit_train: int | None = None,
                   limit_test: int | None = None, download: bool = False,
                   caller: str = "cifar10_splits") -> tuple:
    """(train_set, test_set): the two CIFAR-10 splits, each cut to its first ``limit`` images.

    Shared by this recipe's loaders and airbench's, which differ only in their augmentation.

    Raises:
        ValueError: the training split holds fewer than ``batch_size`` images (the loaders drop
            the last partial batch, so no step would run); the message starts with ``caller``.
    """
    train_set = CIFAR10(root, train=True, download=download)
    test_set = CIFAR10(root, train=False, download=download)
    for dataset, limit in ((train_set, limit_train), (test_set, limit_test)):
        if limit is not None:
            dataset.data = dataset.data[:limit]
            dataset.targets = dataset.targets[:limit]
    if len(train_set) < batch_size:
        raise ValueError(f"{caller}: {len(train_set)} training images make no full batch "
                         f"of {batch_size} (the last partial batch is dropped)")
    return train_set, test_set


def cifar10_normalize() -> Compose:
    """uint8 pixels to [0, 1], then normalised with :data:`CIFAR10_MEAN` and :data:`CIFAR10_STD`."""
    return Compose([ToTensor(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])


# --------------------------------------------------------------------------- whitening
def whitening_filters(images: np.ndarray, kernel: int = 2, eps: float = 5e-4, center: bool = True,
                      descending: bool = False) -> np.ndarray:
    """Conv filters that whiten ``kernel``×``kernel`` patches of ``images`` (N, C, H, W floats).

    The patches' covariance Σ = V diag(λ) Vᵀ; the filters V / √(λ + eps) make the patch
    features uncorrelated with unit variance, so the first layer starts out seeing "edges and
    colours" instead of raw, highly correlated pixels (the trick behind airbench's speed).
    Each filter is paired with its negative so a following ReLU keeps both signs.
    ``center``: subtract the patches' mean first (airbench94 does not: ``center=False``, the
    second moment instead of the covariance); ``descending``: largest eigenvalue first.
    Returns (2·C·k², C, k, k) float32 weights.
    """
    c = images.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(images, (kernel, kernel), axis=(2, 3))
    patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * kernel * kernel).astype(np.float64)
    if center:
        patches = patches - patches.mean(axis=0)
    cov = patches.T @ patches / len(patches)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    if descending:
        eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    filters = (eigenvectors / np.sqrt(eigenvalues + eps)).T.reshape(-1, c, kernel, kernel)
    return np.concatenate([filters, -filters]).astype(np.float32)


def init_whitening(model: Sequential, images: np.ndarray, **options: Any) -> None:
    """Set the stem conv (``model[0]``) to whitening filters of ``images`` and freeze it
    (``options`` go to :func:`whitening_filters`)."""
    stem = model[0]
    weights = whitening_filters(images, stem.weight.shape[-1], **options)
    if weights.shape != stem.weight.shape:
        raise ValueError(f"init_whitening: the stem conv has weight shape {stem.weight.shape}, "
                         f"whitening gives {weights.shape}")
    stem.weight.data[...] = weights
    stem.weight.requires_grad = False  # fixed, like a preprocessing step


def whitening_sample(dataset: Any, count: int = 5000) -> np.ndarray:
    """The first ``count`` images of ``dataset`` (uint8, N×C×H×W), scaled to [0, 1] and
    normalised like the loaders: what the whitening filters are computed from."""
    images = dataset.data[:count].astype(np.float32) / 255.0
    mean = np.asarray(CIFAR10_MEAN, np.float32)[:, None, None]
    std = np.asarray(CIFAR10_STD, np.float32)[:, None, None]
    return (images - mean) / std


@dataclass
class RunParts:
    """What a recipe trains: the network, its optimizer and schedule, and the data."""

    model: Sequential
    optimizer: SGD
    scheduler: OneCycleLR | None  # None for airbench94: its AirbenchTrainer steps its own
    train: DataLoader
    test: DataLoader
