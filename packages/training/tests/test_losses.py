"""Losses against values computed by hand in numpy, their gradients, reductions and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss,
                                     binary_cross_entropy_with_logits, cross_entropy, mse_loss,
                                     nll_loss)

LOGITS = np.array([[2.0, 1.0, 0.1],
                   [0.5, 2.5, -1.0],
                   [-0.3, 0.2, 3.0],
                   [1.0, 1.0, 1.0]], dtype=np.float32)
LABELS = np.array([0, 1, 2, 1])


def np_log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


# --------------------------------------------------------------------------- MSE
def test_mse_matches_hand_computed_value_and_gradient():
    p = Tensor(np.array([[1.0, 2.0], [3.0, -1.0]], dtype=np.float32), requires_grad=True)
    t = np.array([[0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    loss = MSELoss()(p, t)
    # squared errors 1, 0, 4, 4 -> mean 2.25
    assert loss.item() == pytest.approx(2.25)
    assert loss.dtype == np.float32
    loss.backward()
    np.testing.assert_allclose(p.grad.data, 2 * (p.data - t) / 4, rtol=1e-6)


def test_mse_reductions():
    p, t = np.array([1.0, 2.0, 4.0], np.float32), np.array([0.0, 0.0, 1.0], np.float32)
    assert mse_loss(p, t, reduction="sum").item() == pytest.approx(1 + 4 + 9)
    np.testing.assert_allclose(mse_loss(p, t, reduction="none").data, [1, 4, 9])
    assert mse_loss(p, t).item() == pytest.approx(14 / 3)


def test_mse_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        mse_loss(np.zeros(3), np.zeros((3, 1)))


# --------------------------------------------------------------------------- cross-entropy
def test_cross_entropy_matches_hand_computed_value():
    expected = -np_log_softmax(LOGITS)[np.arange(4), LABELS]
    loss = CrossEntropyLoss()(Tensor(LOGITS), LABELS)
    assert loss.item() == pytest.approx(expected.mean(), rel=1e-6)
    # the last row has equal logits: its loss is exactly log 3
    assert expected[3] == pytest.approx(np.log(3))


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    x = Tensor(LOGITS, requires_grad=True)
    cross_entropy(x, LABELS).backward()
    softmax = np.exp(np_log_softmax(LOGITS))
    np.testing.assert_allclose(x.grad.data, (softmax - np.eye(3)[LABELS]) / 4, atol=1e-6)


def test_cross_entropy_label_smoothing_hand_computed():
    eps, c = 0.1, 3
    logp = np_log_softmax(LOGITS)
    # the smoothed target (1-eps)*one_hot + eps/C, dotted with -log p
    q = (1 - eps) * np.eye(c)[LABELS] + eps / c
    expected = -(q * logp).sum(axis=1)
    got = CrossEntropyLoss(label_smoothing=eps, reduction="none")(Tensor(LOGITS), LABELS)
    np.testing.assert_allclose(got.data, expected, rtol=1e-6)
    # and it differs from the unsmoothed loss (the smoothing is really applied)
    assert not np.allclose(got.data, -logp[np.arange(4), LABELS])


def test_cross_entropy_soft_targets():
    q = np.array([[0.7, 0.2, 0.1],
                  [0.0, 1.0, 0.0],
                  [0.25, 0.25, 0.5],
                  [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32)
    logp = np_log_softmax(LOGITS)
    expected = -(q * logp).sum(axis=1)
    np.testing.assert_allclose(cross_entropy(LOGITS, q, reduction="none").data, expected, rtol=1e-6)
    # one-hot soft targets give the same loss as the class indices
    assert cross_entropy(LOGITS, np.eye(3, dtype=np.float32)[LABELS]).item() == \
        pytest.approx(cross_entropy(LOGITS, LABELS).item(), rel=1e-6)
    # smoothing applies to soft targets too
    eps = 0.2
    smoothed = -(((1 - eps) * q + eps / 3) * logp).sum(axis=1)
    assert cross_entropy(LOGITS, q, label_smoothing=eps).item() == pytest.approx(smoothed.mean(), rel=1e-6)


def test_cross_entropy_reductions():
    per_item = -np_log_softmax(LOGITS)[np.arange(4), LABELS]
    assert cross_entropy(LOGITS, LABELS, reduction="sum").item() == pytest.approx(per_item.sum(), rel=1e-6)
    none = cross_entropy(LOGITS, LABELS, reduction="none")
    assert none.shape == (4,)
    np.testing.assert_allclose(none.data, per_item, rtol=1e-6)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = cross_entropy(logits, np.array([0, 0]), reduction="none")
    np.testing.assert_allclose(loss.data, [0.0, 2e4], rtol=1e-6)


@pytest.mark.parametrize("labels, error, message", [
    (np.array([[0], [1], [2], [1]]), ValueError, r"4 class labels.*shape \(4, 1\)"),
    (np.array([0, 1, 2]), ValueError, r"4 class labels.*shape \(3,\)"),
    (np.array([0, 1, 3, 1]), ValueError, r"label 3 is out of range for 3 classes"),
    (np.array([0, -1, 2, 1]), ValueError, r"label -1 is out of range"),
    (np.array([0.0, 1.5, 2.0, 1.0]), TypeError, r"must be integers, got dtype float64"),
    (np.array([True, False, True, False]), TypeError, r"must be integers, got dtype bool"),
])
def test_cross_entropy_and_nll_name_the_bad_labels(labels, error, message):
    with pytest.raises(error, match=message):
        cross_entropy(LOGITS, labels)
    with pytest.raises(error, match=message):
        nll_loss(Tensor(LOGITS).log_softmax(axis=1), labels)


def test_cross_entropy_other_errors():
    with pytest.raises(ValueError, match=r"soft targets \(4, 2\) must match logits \(4, 3\)"):
        cross_entropy(LOGITS, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="logits of shape \\(batch, classes\\)"):
        cross_entropy(LOGITS[0], LABELS[:1])
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.5)(Tensor(LOGITS), LABELS)
    with pytest.raises(ValueError, match="reduction must be one of"):
        CrossEntropyLoss(reduction="average")


def test_whole_number_float_labels_are_accepted():
    assert cross_entropy(LOGITS, LABELS.astype(np.float32)).item() == \
        pytest.approx(cross_entropy(LOGITS, LABELS).item())


# --------------------------------------------------------------------------- NLL
def test_nll_picks_minus_the_target_log_probability():
    logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]], dtype=np.float32))
    labels = np.array([1, 2])
    loss = NLLLoss()(Tensor(logp), labels)
    assert loss.item() == pytest.approx(-(np.log(0.25) + np.log(0.8)) / 2, rel=1e-6)
    assert NLLLoss(reduction="sum")(Tensor(logp), labels).item() == \
        pytest.approx(-(np.log(0.25) + np.log(0.8)), rel=1e-6)
    x = Tensor(logp, requires_grad=True)
    nll_loss(x, labels).backward()
    np.testing.assert_allclose(x.grad.data, [[0, -0.5, 0], [0, 0, -0.5]])


def test_cross_entropy_equals_the_negative_log_likelihood_of_log_softmax():
    x = Tensor(LOGITS)
    assert nll_loss(x.log_softmax(axis=1), LABELS).item() == \
        pytest.approx(cross_entropy(x, LABELS).item(), rel=1e-6)


# --------------------------------------------------------------------------- BCE with logits
X_BCE = np.array([[2.0, -1.0, 0.0], [0.0, -3.0, 4.0], [0.0, 1.5, -0.5]], dtype=np.float32)
T_BCE = np.array([[1.0, 0.0, 1.0], [0.3, 1.0, 0.0], [0.0, 0.5, 1.0]], dtype=np.float32)


def np_bce(x, t, w=1.0):
    s = np_sigmoid(x)
    return -(w * t * np.log(s) + (1 - t) * np.log(1 - s))


def test_bce_with_logits_matches_the_definition():
    loss = BCEWithLogitsLoss(reduction="none")(Tensor(X_BCE), T_BCE)
    np.testing.assert_allclose(loss.data, np_bce(X_BCE, T_BCE), rtol=1e-5)
    assert binary_cross_entropy_with_logits(X_BCE, T_BCE).item() == \
        pytest.approx(np_bce(X_BCE, T_BCE).mean(), rel=1e-5)
    assert binary_cross_entropy_with_logits(X_BCE, T_BCE, reduction="sum").item() == \
        pytest.approx(np_bce(X_BCE, T_BCE).sum(), rel=1e-5)


def test_bce_pos_weight_weighs_the_positive_term():
    w = np.array([3.0, 0.5, 2.0], dtype=np.float32)  # one weight per column (class)
    loss = BCEWithLogitsLoss(reduction="none", pos_weight=w)(Tensor(X_BCE), T_BCE)
    np.testing.assert_allclose(loss.data, np_bce(X_BCE, T_BCE, w), rtol=1e-5)
    x = Tensor(X_BCE, requires_grad=True)
    binary_cross_entropy_with_logits(x, T_BCE, reduction="sum", pos_weight=w).backward()
    # d/dx = -w·t·(1-σ) + (1-t)·σ
    s = np_sigmoid(X_BCE)
    np.testing.assert_allclose(x.grad.data, -w * T_BCE * (1 - s) + (1 - T_BCE) * s, rtol=1e-5, atol=1e-7)


def test_bce_gradient_is_sigmoid_minus_target_including_at_zero():
    x = Tensor(X_BCE, requires_grad=True)  # exact zeros: the gradient there is σ(0) - t = 0.5 - t
    binary_cross_entropy_with_logits(x, T_BCE, reduction="sum").backward()
    np.testing.assert_allclose(x.grad.data, np_sigmoid(X_BCE) - T_BCE, rtol=1e-5, atol=1e-7)
    assert x.grad.data[0, 2] == pytest.approx(-0.5)  # t = 1
    assert x.grad.data[1, 0] == pytest.approx(0.2)   # t = 0.3
    assert x.grad.data[2, 0] == pytest.approx(0.5)   # t = 0


def test_bce_huge_logits_are_exact_and_silent():
    x = np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32)
    t = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
    xt = Tensor(x, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = binary_cross_entropy_with_logits(xt, t, reduction="none", pos_weight=2.0)
        loss.sum().backward()
    # right and confident: 0; wrong by 1e4: 1e4 (times the pos_weight for a missed positive)
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e4, 2e4])
    np.testing.assert_allclose(xt.grad.data, [0.0, 0.0, 1.0, -2.0])
    assert np.all(np.isfinite(xt.grad.data))


def test_bce_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"logits \(3, 3\) != target \(3,\)"):
        binary_cross_entropy_with_logits(X_BCE, np.zeros(3))


# --------------------------------------------------------------------------- finite differences
@pytest.mark.parametrize("name", ["mse", "cross_entropy", "cross_entropy_smooth", "cross_entropy_soft", "nll", "bce", "bce_pos"])
def test_loss_gradients_match_finite_differences(name):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4))
    labels = rng.integers(0, 4, size=5)
    soft = rng.dirichlet(np.ones(4), size=5)
    t01 = rng.random((5, 4))
    fns = {
        "mse": lambda a: mse_loss(a, np.ones((5, 4))),
        "cross_entropy": lambda a: cross_entropy(a, labels),
        "cross_entropy_smooth": lambda a: cross_entropy(a, labels, label_smoothing=0.3),
        "cross_entropy_soft": lambda a: cross_entropy(a, soft),
        "nll": lambda a: nll_loss(a.log_softmax(axis=1), labels),
        "bce": lambda a: binary_cross_entropy_with_logits(a, t01),
        "bce_pos": lambda a: binary_cross_entropy_with_logits(a, t01, pos_weight=np.array([1.0, 2, 3, 4])),
    }
    assert gradcheck(fns[name], [x])


def test_a_float64_array_target_keeps_its_precision():
    """An ndarray target is lifted in its own dtype, as every binary op lifts an array."""
    pred = Tensor(np.array([0.1, 0.2, 0.3]), dtype=np.float64)
    target = np.array([1 / 3, 2 / 7, 0.1])
    exact = np.mean((pred.numpy() - target) ** 2)
    loss = mse_loss(pred, target)
    assert loss.dtype == np.float64 and loss.item() == pytest.approx(exact, rel=1e-15, abs=0)
    logits = Tensor(np.array([0.3, -1.2]), dtype=np.float64)
    probs = np.array([1 / 3, 0.7])
    pos_weight = np.array([1 / 7, 2.1])
    z = logits.numpy()
    expected = np.mean(-(pos_weight * probs * np.log(1 / (1 + np.exp(-z)))
                         + (1 - probs) * np.log(1 - 1 / (1 + np.exp(-z)))))
    bce = binary_cross_entropy_with_logits(logits, probs, pos_weight=pos_weight)
    assert bce.item() == pytest.approx(expected, rel=1e-13, abs=0)
