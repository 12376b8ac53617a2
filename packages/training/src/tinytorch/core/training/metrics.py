"""Metrics: accuracy, top-k accuracy, the confusion matrix, and a running average.

Metrics are measurements, not part of the graph: they take logits (Tensor or array) and
labels and return plain Python numbers / numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "confusion_matrix", "RunningMean"]


def _arrays(logits: Any, labels: Any) -> tuple:
    x = np.asarray(getattr(logits, "data", logits))
    y = np.asarray(getattr(labels, "data", labels))
    if x.ndim != 2:
        raise ValueError(f"expected scores of shape (batch, classes), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"expected {x.shape[0]} labels, got labels of shape {y.shape}")
    return x, y.astype(np.int64, copy=False)


def accuracy(logits: Any, labels: Any) -> float:
    """Fraction of rows whose highest score is the true label.

    ``x`` is an (N, C) array of scores (logits or probabilities), ``y`` an int64 array (N,) of
    labels (both checked for you). Returns a Python float in [0, 1]; 0.0 for an empty batch.
    """
    x, y = _arrays(logits, labels)
    ### BEGIN SOLUTION
    ### HINT: argmax along the class axis, compare with y, take the mean of the booleans
    return float(np.mean(x.argmax(axis=1) == y)) if y.size else 0.0
    ### END SOLUTION


def top_k_accuracy(logits: Any, labels: Any, k: int = 5) -> float:
    """Fraction of rows whose true label is among the k highest scores.

    Same inputs as :func:`accuracy`; ``k`` is between 1 and C (checked). A Python float in
    [0, 1] (0.0 for an empty batch); with ``k=1`` it equals :func:`accuracy` (ties aside).
    """
    x, y = _arrays(logits, labels)
    if not 1 <= k <= x.shape[1]:
        raise ValueError(f"top_k_accuracy: k={k} must be between 1 and {x.shape[1]} classes")
    ### BEGIN SOLUTION
    ### HINT: np.argpartition(-x, k - 1, axis=1)[:, :k] holds each row's k best classes
    ### HINT: (in no order, and without sorting all C); then is y[i] among them? (y[:, None])
    top = np.argpartition(-x, k - 1, axis=1)[:, :k]
    return float(np.mean((top == y[:, None]).any(axis=1))) if y.size else 0.0
    ### END SOLUTION


def confusion_matrix(predictions: Any, labels: Any, num_classes: int | None = None) -> np.ndarray:
    """``m[i, j]`` = how many samples of true class i were predicted as class j.

    ``predictions`` may be class indices (N,) or scores (N, C) (turned into indices for you);
    the result is an int64 (n, n) array whose entries sum to N: row i counts the samples of
    true class i, column j those predicted as j, so the diagonal holds the hits.
    """
    p = np.asarray(getattr(predictions, "data", predictions))
    y = np.asarray(getattr(labels, "data", labels)).astype(np.int64)
    if p.ndim == 2:
        p = p.argmax(axis=1)
    p = p.astype(np.int64)
    if p.shape != y.shape:
        raise ValueError(f"confusion_matrix: {p.shape[0]} predictions but {y.shape[0]} labels")
    n = int(max(p.max(initial=-1), y.max(initial=-1)) + 1) if num_classes is None else int(num_classes)
    for what, values in (("label", y), ("prediction", p)):
        bad = values[(values < 0) | (values >= n)]
        if bad.size:
            raise ValueError(f"confusion_matrix: {what} {int(bad[0])} is out of range for {n} classes")
    ### BEGIN SOLUTION
    ### HINT: start from np.zeros((n, n), np.int64) and add 1 at (y[s], p[s]) for every sample;
    ### HINT: m[y, p] += 1 counts a repeated pair only once, np.add.at counts every one
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y, p), 1)
    return m
    ### END SOLUTION


class RunningMean:
    """Weighted running average (e.g. the epoch's loss so far, weighted by batch size)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0

    def update(self, value: float, weight: int = 1) -> None:
        self.total += float(value) * weight
        self.count += weight

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")
