"""Losses against PyTorch 2.13, values and gradients, every reduction: the class losses with
weight= / ignore_index= / label_smoothing= / (N, C, d1, ...) scores, BCE with logits with
weight= and pos_weight=, and L1, smooth L1, Huber, BCE on probabilities, KL divergence."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import (BCELoss, CrossEntropyLoss, HuberLoss, KLDivLoss,  # noqa: E402
                                     L1Loss, NLLLoss, SmoothL1Loss, binary_cross_entropy,
                                     binary_cross_entropy_with_logits, cross_entropy,
                                     huber_loss, kl_div, l1_loss, nll_loss, smooth_l1_loss)

REDUCTIONS = ["mean", "sum", "none"]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def run_both(ours, theirs, x, seed=0):
    """Forward and backward (a random seed for "none", 1 for a scalar) in both frameworks."""
    a = Tensor(x, dtype=x.dtype, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    g = (np.random.default_rng(seed).standard_normal(yb.shape) if yb.ndim else np.array(1.0))
    g = g.astype(x.dtype)
    ya.backward(g)
    yb.backward(torch.from_numpy(g))
    return ya.data, yb.detach().numpy(), a.grad.data, b.grad.numpy()


def check(ours, theirs, x, dtype):
    ya, yb, ga, gb = run_both(ours, theirs, x.astype(dtype))
    assert ya.shape == yb.shape
    np.testing.assert_allclose(ya, yb, **TOL[dtype])
    np.testing.assert_allclose(ga, gb, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 4), (2, 5, 3, 2)], ids=["2d", "3d", "4d"])
def test_cross_entropy_weight_ignore_index_nd(shape, smoothing, reduction, dtype):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape) * 3
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    t.reshape(-1)[::4] = -100  # ignored positions
    w = rng.random(shape[1]) + 0.1
    for weight in (None, w):
        tw = None if weight is None else torch.tensor(weight, dtype=torch.float64 if dtype == np.float64 else torch.float32)
        check(lambda a: cross_entropy(a, t, weight=weight, reduction=reduction, label_smoothing=smoothing),
              lambda b: F.cross_entropy(b, torch.tensor(t), weight=tw, reduction=reduction,
                                        label_smoothing=smoothing), x, dtype)
        check(lambda a: CrossEntropyLoss(weight, ignore_index=-100, reduction=reduction,
                                         label_smoothing=smoothing)(a, t),
              lambda b: torch.nn.CrossEntropyLoss(tw, reduction=reduction,
                                                  label_smoothing=smoothing)(b, torch.tensor(t)),
              x, dtype)
        logp = torch.log_softmax(torch.tensor(x), 1).numpy()
        check(lambda a: nll_loss(a, t, weight=weight, reduction=reduction),
              lambda b: F.nll_loss(b, torch.tensor(t), weight=tw, reduction=reduction), logp, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ignore_index_other_than_the_default_and_soft_targets_with_weight(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 4))
    t = rng.integers(0, 4, 8)
    t[[1, 5]] = 2
    check(lambda a: cross_entropy(a, t, ignore_index=2, label_smoothing=0.1),
          lambda b: F.cross_entropy(b, torch.tensor(t), ignore_index=2, label_smoothing=0.1), x, dtype)
    check(lambda a: NLLLoss(ignore_index=2, reduction="sum")(a, t),
          lambda b: torch.nn.NLLLoss(ignore_index=2, reduction="sum")(b, torch.tensor(t)), x, dtype)
    q = rng.random((8, 4)).astype(dtype)
    q /= q.sum(1, keepdims=True)
    w = (rng.random(4) + 0.2).astype(dtype)
    check(lambda a: cross_entropy(a, q, weight=w, label_smoothing=0.2),
          lambda b: F.cross_entropy(b, torch.tensor(q), weight=torch.tensor(w), label_smoothing=0.2),
          x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_weight_and_pos_weight(reduction, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3)) * 4
    x[0] = [1e4, -1e4, 0.0]
    t = rng.random((5, 3)).astype(dtype)
    w = rng.random((5, 1)).astype(dtype)
    pw = np.array([1.0, 2.0, 0.5], dtype)
    check(lambda a: binary_cross_entropy_with_logits(a, t, weight=w, reduction=reduction, pos_weight=pw),
          lambda b: F.binary_cross_entropy_with_logits(b, torch.tensor(t), weight=torch.tensor(w),
                                                       reduction=reduction, pos_weight=torch.tensor(pw)),
          x, dtype)


def _regression_pair(dtype):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 6)) * 2
    t = (x + rng.standard_normal((4, 6)) * np.array([0.1, 0.5, 1.0, 2.0, 5.0, 0.0])).astype(dtype)
    x[0, :3] = t[0, :3] + np.array([0.5, -0.5, 1.0])  # exactly at beta / delta = 0.5 and 1
    return x, t


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_smooth_l1_huber(reduction, dtype):
    x, t = _regression_pair(dtype)
    tt = torch.tensor(t)
    check(lambda a: l1_loss(a, t, reduction), lambda b: F.l1_loss(b, tt, reduction=reduction), x, dtype)
    check(lambda a: L1Loss(reduction)(a, t), lambda b: torch.nn.L1Loss(reduction=reduction)(b, tt), x, dtype)
    for beta in (1.0, 0.5, 0.0):
        check(lambda a: smooth_l1_loss(a, t, reduction, beta),
              lambda b: F.smooth_l1_loss(b, tt, reduction=reduction, beta=beta), x, dtype)
    check(lambda a: SmoothL1Loss(reduction, 0.5)(a, t),
          lambda b: torch.nn.SmoothL1Loss(reduction=reduction, beta=0.5)(b, tt), x, dtype)
    for delta in (1.0, 0.5, 3.0):
        check(lambda a: huber_loss(a, t, reduction, delta),
              lambda b: F.huber_loss(b, tt, reduction=reduction, delta=delta), x, dtype)
    check(lambda a: HuberLoss(reduction, 2.0)(a, t),
          lambda b: torch.nn.HuberLoss(reduction=reduction, delta=2.0)(b, tt), x, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_on_probabilities(reduction, dtype):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.01, 0.99, (4, 5))
    t = rng.random((4, 5)).astype(dtype)
    t[0, :2] = [0.0, 1.0]
    w = rng.random(5).astype(dtype)
    check(lambda a: binary_cross_entropy(a, t, reduction=reduction),
          lambda b: F.binary_cross_entropy(b, torch.tensor(t), reduction=reduction), p, dtype)
    check(lambda a: BCELoss(w, reduction)(a, t),
          lambda b: torch.nn.BCELoss(torch.tensor(w), reduction=reduction)(b, torch.tensor(t)), p, dtype)


def test_bce_on_probabilities_clamps_its_logs_like_pytorch():
    p = np.array([0.0, 1.0, 0.5, 1e-50])
    t = np.array([1.0, 0.0, 1.0, 0.0])
    ours = binary_cross_entropy(Tensor(p, dtype=np.float64), t, reduction="none").numpy()
    theirs = F.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert np.isfinite(ours).all() and ours[0] == 100.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, dtype):
    rng = np.random.default_rng(9)
    x = torch.log_softmax(torch.tensor(rng.standard_normal((4, 6))), 1).numpy()
    q = rng.random((4, 6))
    q[0, :2] = 0.0  # zero-probability targets contribute 0
    q /= q.sum(1, keepdims=True)
    target = (np.log(np.where(q > 0, q, 1e-300)) if log_target else q).astype(dtype)
    check(lambda a: kl_div(a, target, reduction, log_target),
          lambda b: F.kl_div(b, torch.tensor(target), reduction=reduction, log_target=log_target),
          x, dtype)
    check(lambda a: KLDivLoss(reduction, log_target)(a, target),
          lambda b: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(b, torch.tensor(target)),
          x, dtype)
