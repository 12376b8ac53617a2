"""accuracy, top-k accuracy, the confusion matrix and the running mean."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.core.training import RunningMean, accuracy, confusion_matrix, top_k_accuracy

SCORES = np.array([[0.1, 0.7, 0.2],   # predicts 1
                   [0.8, 0.1, 0.1],   # predicts 0
                   [0.3, 0.3, 0.4],   # predicts 2
                   [0.2, 0.5, 0.3],   # predicts 1
                   [0.6, 0.3, 0.1]])  # predicts 0
LABELS = np.array([1, 0, 1, 2, 2])


def test_accuracy_counts_argmax_hits():
    assert accuracy(SCORES, LABELS) == pytest.approx(2 / 5)
    assert accuracy(Tensor(SCORES), Tensor(LABELS)) == pytest.approx(2 / 5)
    assert accuracy(SCORES, [1, 0, 2, 1, 0]) == 1.0


def test_top_k_accuracy():
    assert top_k_accuracy(SCORES, LABELS, k=1) == pytest.approx(accuracy(SCORES, LABELS))
    # ranks of these labels: 1st, 1st, 1st, 3rd, 2nd
    assert top_k_accuracy(SCORES, np.array([1, 0, 2, 0, 1]), k=2) == pytest.approx(4 / 5)
    assert top_k_accuracy(SCORES, np.array([1, 0, 2, 0, 1]), k=3) == 1.0
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 10)), rng.integers(0, 10, 200)
    rank = (x > x[np.arange(200), y][:, None]).sum(axis=1)  # how many scores beat the label's
    for k in (1, 3, 5):
        assert top_k_accuracy(x, y, k=k) == pytest.approx(np.mean(rank < k))


def test_top_k_accuracy_rejects_bad_k():
    with pytest.raises(ValueError, match="k=4 must be between 1 and 3"):
        top_k_accuracy(SCORES, LABELS, k=4)
    with pytest.raises(ValueError, match="k=0"):
        top_k_accuracy(SCORES, LABELS, k=0)


def test_confusion_matrix_by_hand():
    m = confusion_matrix(SCORES, LABELS)
    # rows: true class; columns: predicted class
    expected = np.array([[1, 0, 0],
                         [0, 1, 1],
                         [1, 1, 0]])
    np.testing.assert_array_equal(m, expected)
    assert m.sum() == len(LABELS)
    assert np.trace(m) / m.sum() == pytest.approx(accuracy(SCORES, LABELS))


def test_confusion_matrix_from_indices_and_num_classes():
    m = confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), num_classes=4)
    assert m.shape == (4, 4)
    np.testing.assert_array_equal(m[:2, :2], [[1, 0], [1, 1]])
    assert m[2:].sum() == 0 and m[:, 2:].sum() == 0


def test_confusion_matrix_errors():
    with pytest.raises(ValueError, match="3 predictions but 2 labels"):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="label -1 is out of range for 3 classes"):
        confusion_matrix(np.array([0, 1, 2]), np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="prediction 3 is out of range for 3 classes"):
        confusion_matrix(np.array([0, 3, 2]), np.array([0, 1, 2]), num_classes=3)


def test_metric_shape_errors():
    with pytest.raises(ValueError, match=r"\(batch, classes\)"):
        accuracy(np.zeros(5), LABELS)
    with pytest.raises(ValueError, match="expected 5 labels"):
        accuracy(SCORES, LABELS[:3])


def test_running_mean_weights_by_batch_size():
    r = RunningMean()
    assert math.isnan(r.value)
    r.update(1.0, 3)
    r.update(3.0, 1)
    assert r.value == pytest.approx(1.5)
    assert r.count == 4
