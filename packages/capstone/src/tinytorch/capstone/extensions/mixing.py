"""Soft targets: mixup (Zhang et al., 2018) and label smoothing (Szegedy et al., 2016).

Both replace the one-hot target of each image by a probability vector, and train with the
cross-entropy against it (``cross_entropy`` of the training module accepts (N, C) probabilities):

* **label smoothing** keeps 1 - ε on the true class and spreads ε evenly over all C classes:
  the network is never asked for infinitely confident logits;
* **mixup** trains on convex combinations of two images, x̃ = λ·x_i + (1 - λ)·x_j, with the
  same combination of their targets, λ ~ Beta(α, α) once per batch: between the classes the
  network learns to answer in proportion.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["one_hot", "smooth_labels", "mixup"]


def _labels(y: Any) -> np.ndarray:
    return np.asarray(y.data if isinstance(y, Tensor) else y).astype(np.int64).reshape(-1)


def one_hot(y: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """(N,) integer labels -> (N, C) rows with a single 1."""
    labels = _labels(y)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: labels must be in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.shape[0], num_classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def smooth_labels(y: Any, num_classes: int, epsilon: float = 0.1) -> np.ndarray:
    """(N,) labels -> (N, C) targets: (1 - ε)·one_hot + ε / C.

    Each row keeps ``1 - ε + ε/C`` on its true class and ``ε/C`` on every other class, so it
    still sums to 1; ε = 0 gives the one-hot rows back. The result is float32.

    Training on these with plain cross-entropy is exactly
    ``cross_entropy(logits, y, label_smoothing=ε)`` (PyTorch's definition).
    """
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"smooth_labels: epsilon must be in [0, 1], got {epsilon}")
    hot = one_hot(y, num_classes)
    ### BEGIN SOLUTION
    ### HINT: ``hot`` is already the (N, C) one-hot array: one broadcast expression, then float32
    return (hot * (1.0 - epsilon) + epsilon / num_classes).astype(np.float32)
    ### END SOLUTION


def mixup(x: Any, y: Any, num_classes: int, alpha: float = 0.2,
          rng: np.random.Generator | None = None) -> tuple:
    """Mix a batch with a shuffled copy of itself: ``(x̃, soft targets, λ)``.

    λ ~ Beta(α, α) is drawn once for the batch and j = a random permutation of the batch:
    x̃ = λ·x + (1 - λ)·x[j] and t = λ·one_hot(y) + (1 - λ)·one_hot(y[j]). Each row of t
    sums to 1. Returns x̃ as a Tensor of x's dtype and t as a float32 array.

    Args:
        x: (N, ...) inputs (Tensor or array).
        y: (N,) integer labels.
        num_classes: C.
        alpha: the Beta distribution's parameter (small α: λ mostly near 0 or 1).
        rng: numpy Generator (default: a fresh unseeded one).
    """
    if alpha <= 0:
        raise ValueError(f"mixup: alpha must be > 0, got {alpha}")
    rng = rng if rng is not None else np.random.default_rng()
    data = np.asarray(x.data if isinstance(x, Tensor) else x)
    hot = one_hot(y, num_classes)
    lam = float(rng.beta(alpha, alpha))
    perm = rng.permutation(data.shape[0])
    ### BEGIN SOLUTION
    ### HINT: cast λ to the data's dtype (a float64 scalar would promote float32 arrays)
    lam_x = data.dtype.type(lam) if data.dtype.kind == "f" else lam
    mixed = lam_x * data + (1 - lam_x) * data[perm]
    targets = (lam * hot + (1.0 - lam) * hot[perm]).astype(np.float32)
    ### END SOLUTION
    return Tensor(mixed, dtype=data.dtype if data.dtype.kind == "f" else np.float32), targets, lam
