"""More losses, as in ``torch.nn``: L1, smooth L1 / Huber, BCE on probabilities, KL divergence.

Given, not exercises: each is a few Tensor ops on top of the lesson's helpers (``_reduce``,
``_as_tensor``), so ``loss.backward()`` works through them, and each agrees with PyTorch in
value and gradient (``integration/test_losses_torch.py``). Every one takes
``reduction="mean" | "sum" | "none"``; :func:`kl_div` also ``"batchmean"`` (the sum divided by
the batch size: the actual KL divergence per sample, which ``"mean"`` is not).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor, where

from .losses import _as_tensor, _check_reduction, _reduce

__all__ = ["L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "KLDivLoss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "kl_div"]

_LOG_FLOOR = -100.0  # PyTorch clamps BCE's logs here, so p = 0 or 1 gives 100, not inf


def _pair(prediction: Any, target: Any, name: str) -> tuple[Tensor, Tensor]:
    """Both as Tensors of one shape, the target in the prediction's (float) dtype."""
    prediction, target = _as_tensor(prediction), _as_tensor(target)
    if prediction.dtype.kind != "f":
        prediction = prediction.astype(np.float32)
    if prediction.shape != target.shape:
        raise ValueError(f"{name}: prediction shape {prediction.shape} != target shape "
                         f"{target.shape}")
    return prediction, target.astype(prediction.dtype)


def l1_loss(prediction: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean(|prediction - target|) (gradient 0 where they are equal)."""
    _check_reduction(reduction)
    prediction, target = _pair(prediction, target, "l1_loss")
    return _reduce((prediction - target).abs(), reduction)


def smooth_l1_loss(prediction: Any, target: Any, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """``0.5 d² / β`` where ``|d| < β``, ``|d| - 0.5 β`` elsewhere (d = prediction - target).

    Quadratic near 0 (a gradient that shrinks as the error does), linear far out (outliers
    pull with a bounded force). ``beta=0`` is the L1 loss.
    """
    _check_reduction(reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    prediction, target = _pair(prediction, target, "smooth_l1_loss")
    d = prediction - target
    if beta == 0:
        return _reduce(d.abs(), reduction)
    small = d.abs().data < beta
    return _reduce(where(small, d * d * (0.5 / beta), d.abs() - 0.5 * beta), reduction)


def huber_loss(prediction: Any, target: Any, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """``0.5 d²`` where ``|d| < δ``, ``δ (|d| - 0.5 δ)`` elsewhere: smooth L1 scaled by δ."""
    _check_reduction(reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    prediction, target = _pair(prediction, target, "huber_loss")
    d = prediction - target
    small = d.abs().data < delta
    return _reduce(where(small, d * d * 0.5, (d.abs() - 0.5 * delta) * delta), reduction)


def binary_cross_entropy(probabilities: Any, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """``-[t · log p + (1 - t) · log(1 - p)]`` from probabilities p in [0, 1].

    Each log is clamped at -100, as PyTorch does, so p = 0 or 1 gives a large finite loss
    rather than inf. Prefer :func:`~.losses.binary_cross_entropy_with_logits` when you have
    logits: it never takes the log of a rounded probability. ``weight`` (broadcast) rescales
    each element's loss.
    """
    _check_reduction(reduction)
    p, t = _pair(probabilities, target, "binary_cross_entropy")
    if p.size and (np.nanmin(p.data) < 0 or np.nanmax(p.data) > 1):
        raise ValueError("binary_cross_entropy: the inputs must be probabilities in [0, 1] "
                         f"(got values from {float(np.nanmin(p.data))} to "
                         f"{float(np.nanmax(p.data))}); for logits use "
                         "binary_cross_entropy_with_logits")
    log_p = _clamped_log(p)
    log_not_p = _clamped_log1m(p)
    per_item = -(t * log_p + (1 - t) * log_not_p)
    if weight is not None:
        per_item = per_item * _as_tensor(weight).astype(p.dtype)
    return _reduce(per_item, reduction)


def _clamped_log(x: Tensor) -> Tensor:
    """``max(log x, -100)``; where x is 0 the log is taken of 1 instead (and then replaced), so
    no -inf enters the graph (its gradient there would be NaN)."""
    tiny = x.data <= np.exp(_LOG_FLOOR)
    safe = where(tiny, 1.0, x)
    return where(tiny, _LOG_FLOOR, safe.log().maximum(_LOG_FLOOR))


def _clamped_log1m(x: Tensor) -> Tensor:
    """``max(log(1 - x), -100)`` as ``log1p(-x)``: exact for tiny x (``log(1 - 1e-50)`` would
    round to 0); where ``1 - x`` is 0 the floor is used directly, as in :func:`_clamped_log`."""
    tiny = (1 - x.data) <= np.exp(_LOG_FLOOR)
    safe = where(tiny, 0.0, x)
    return where(tiny, _LOG_FLOOR, (-safe).log1p().maximum(_LOG_FLOOR))


def kl_div(log_prediction: Any, target: Any, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback–Leibler divergence, pointwise ``t · (log t - input)`` (PyTorch's convention:
    ``input`` holds log-probabilities; ``target`` probabilities, or log-probabilities with
    ``log_target=True``). Where t = 0 the term is 0.

    ``reduction="batchmean"`` divides the sum by the batch size (axis 0): the KL divergence
    per sample. ``"mean"`` divides by the number of elements, as PyTorch does.
    """
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError("reduction must be one of ('mean', 'sum', 'none', 'batchmean'), got "
                         f"'{reduction}'")
    inp, t = _pair(log_prediction, target, "kl_div")
    if log_target:
        per_item = t.exp() * (t - inp)
    else:
        positive = t.data > 0
        log_t = where(positive, t, 1.0).log()  # log 1 = 0 where t = 0: no -inf in the graph
        per_item = where(positive, t * (log_t - inp), 0.0)
    if reduction == "batchmean":
        batch = inp.shape[0] if inp.ndim else 1
        return per_item.sum() / float(batch)
    return _reduce(per_item, reduction)


# ----------------------------------------------------------------------------- modules
class L1Loss(Module):
    """Mean absolute error (see :func:`l1_loss`)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return l1_loss(prediction, target, self.reduction)


class SmoothL1Loss(Module):
    """Quadratic below ``beta``, linear above (see :func:`smooth_l1_loss`)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.reduction = _check_reduction(reduction)
        self.beta = float(beta)

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return smooth_l1_loss(prediction, target, self.reduction, self.beta)


class HuberLoss(Module):
    """Quadratic below ``delta``, linear (slope δ) above (see :func:`huber_loss`)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta}")
        self.reduction = _check_reduction(reduction)
        self.delta = float(delta)

    def forward(self, prediction: Any, target: Any) -> Tensor:
        return huber_loss(prediction, target, self.reduction, self.delta)


class BCELoss(Module):
    """Binary cross-entropy of probabilities (see :func:`binary_cross_entropy`)."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        self.weight = weight
        self.reduction = _check_reduction(reduction)

    def forward(self, probabilities: Any, target: Any) -> Tensor:
        return binary_cross_entropy(probabilities, target, self.weight, self.reduction)


class KLDivLoss(Module):
    """KL divergence of log-probabilities from a target distribution (see :func:`kl_div`)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError("reduction must be one of ('mean', 'sum', 'none', 'batchmean'), "
                             f"got '{reduction}'")
        self.reduction = reduction
        self.log_target = bool(log_target)

    def forward(self, log_prediction: Any, target: Any) -> Tensor:
        return kl_div(log_prediction, target, self.reduction, self.log_target)
