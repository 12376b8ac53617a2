"""The losses beyond the lesson (L1, smooth L1, Huber, BCE, KL) and the class losses' PyTorch
options (weight=, ignore_index=, (N, C, d1, ...)): hand-computed values, finite-difference
gradients, errors. Against PyTorch: integration/test_losses_torch.py."""

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (BCELoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                                     NLLLoss, SmoothL1Loss, binary_cross_entropy,
                                     cross_entropy, huber_loss, kl_div, l1_loss, nll_loss,
                                     smooth_l1_loss)

D = np.array([-3.0, -0.75, -0.2, 0.0, 0.3, 0.9, 2.5])  # prediction - target


def test_regression_losses_by_hand():
    p, t = Tensor(D, dtype=np.float64), np.zeros(7)
    np.testing.assert_allclose(l1_loss(p, t, "none").numpy(), np.abs(D))
    smooth = np.where(np.abs(D) < 0.5, 0.5 * D ** 2 / 0.5, np.abs(D) - 0.25)
    np.testing.assert_allclose(smooth_l1_loss(p, t, "none", beta=0.5).numpy(), smooth)
    huber = np.where(np.abs(D) < 2.0, 0.5 * D ** 2, 2.0 * (np.abs(D) - 1.0))
    np.testing.assert_allclose(huber_loss(p, t, "none", delta=2.0).numpy(), huber)
    assert L1Loss()(p, t).item() == pytest.approx(np.abs(D).mean())
    assert SmoothL1Loss("sum", 0.5)(p, t).item() == pytest.approx(smooth.sum())
    assert HuberLoss(delta=2.0)(p, t).item() == pytest.approx(huber.mean())
    np.testing.assert_array_equal(smooth_l1_loss(p, t, "none", beta=0.0).numpy(), np.abs(D))


@pytest.mark.parametrize("fn", [lambda x: smooth_l1_loss(x, np.zeros(7), beta=0.5),
                                lambda x: huber_loss(x, np.zeros(7), delta=2.0),
                                lambda x: l1_loss(x, np.zeros(7), "sum")])
def test_regression_losses_gradcheck(fn):
    x = Tensor(D + 0.013, dtype=np.float64, requires_grad=True)  # away from the kinks
    assert gradcheck(fn, [x])


def test_bce_and_kl_by_hand_and_gradcheck():
    p = np.array([0.1, 0.5, 0.8, 0.99])
    t = np.array([0.0, 1.0, 0.3, 1.0])
    want = -(t * np.log(p) + (1 - t) * np.log1p(-p))
    np.testing.assert_allclose(binary_cross_entropy(Tensor(p, dtype=np.float64), t, reduction="none")
                               .numpy(), want, rtol=1e-12)
    assert BCELoss(weight=np.full(4, 2.0))(Tensor(p, dtype=np.float64), t).item() == \
        pytest.approx(2 * want.mean())
    assert gradcheck(lambda x: binary_cross_entropy(x, t), [Tensor(p, dtype=np.float64, requires_grad=True)])
    logq = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]]))
    target = np.array([[0.0, 0.5, 0.5], [0.3, 0.3, 0.4]])
    terms = np.where(target > 0, target * (np.log(np.where(target > 0, target, 1)) - logq), 0)
    assert kl_div(Tensor(logq, dtype=np.float64), target, "batchmean").item() == pytest.approx(terms.sum() / 2)
    assert KLDivLoss("sum")(Tensor(logq, dtype=np.float64), target).item() == pytest.approx(terms.sum())
    assert kl_div(Tensor(logq, dtype=np.float64), np.log(np.where(target > 0, target, 1e-300)), "sum",
                  log_target=True).item() == pytest.approx(terms.sum())
    assert gradcheck(lambda x: kl_div(x, target, "batchmean"), [Tensor(logq, dtype=np.float64, requires_grad=True)])


def test_class_losses_weight_and_ignore_index_by_hand():
    logits = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 3.0, 0.0], [0.0, 1.0, 2.0]])
    labels = np.array([0, 2, -100, 1])
    w = np.array([1.0, 2.0, 0.5])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    keep = labels != -100
    rows = np.where(keep, labels, 0)
    per = -logp[np.arange(4), rows] * w[rows] * keep
    got = cross_entropy(Tensor(logits, dtype=np.float64), labels, weight=w, reduction="none").numpy()
    np.testing.assert_allclose(got, per, rtol=1e-12)
    assert got[2] == 0
    assert CrossEntropyLoss(w)(Tensor(logits, dtype=np.float64), labels).item() == \
        pytest.approx(per.sum() / (w[rows] * keep).sum())
    assert NLLLoss(w, reduction="sum")(Tensor(logp, dtype=np.float64), labels).item() == pytest.approx(per.sum())
    x = Tensor(logits, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda z: cross_entropy(z, labels, weight=w, label_smoothing=0.1), [x])


def test_class_losses_on_per_position_scores():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((2, 3, 4, 5))  # (N, C, H, W)
    labels = rng.integers(0, 3, (2, 4, 5))
    flat = scores.transpose(0, 2, 3, 1).reshape(-1, 3)
    per_pixel = cross_entropy(Tensor(scores, dtype=np.float64), labels, reduction="none")
    assert per_pixel.shape == (2, 4, 5)
    np.testing.assert_allclose(per_pixel.numpy().reshape(-1),
                               cross_entropy(Tensor(flat, dtype=np.float64), labels.reshape(-1),
                                             reduction="none").numpy(), rtol=1e-12)
    x = Tensor(scores, dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda z: cross_entropy(z, labels), [x])


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="weight has 2 entries for 3 classes"):
        cross_entropy(np.zeros((2, 3)), [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        CrossEntropyLoss(weight=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match=r"label 7 is out of range for 3 classes \(ignore_index=-100\)"):
        nll_loss(np.zeros((2, 3, 4)), np.array([[0, 7, 1, 2], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"expected class labels of shape \(2, 4\)"):
        cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="beta must be >= 0"):
        SmoothL1Loss(beta=-1)
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber_loss(np.zeros(2), np.zeros(2), delta=0)
    with pytest.raises(ValueError, match="batchmean"):
        KLDivLoss("average")
    with pytest.raises(ValueError, match=r"prediction shape \(2,\) != target shape \(3,\)"):
        l1_loss(np.zeros(2), np.zeros(3))
