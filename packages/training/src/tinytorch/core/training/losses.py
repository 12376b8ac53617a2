"""Loss functions: how wrong the model is, as one number autograd can differentiate.

Each is a Module (``loss_fn(prediction, target)``) with a function twin, written in Tensor
ops so ``loss.backward()`` works through them:

* ``MSELoss``            mean((y - t)²)
* ``CrossEntropyLoss``   -log softmax(logits)[target], from raw logits, with label smoothing
* ``NLLLoss``            -logp[target], when the model already outputs log-probabilities
* ``BCEWithLogitsLoss``  binary cross-entropy from logits, stable for any logit size
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

__all__ = ["MSELoss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "mse_loss",
           "cross_entropy", "nll_loss", "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_item: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_item.mean()
    if reduction == "sum":
        return per_item.sum()
    return per_item


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got '{reduction}'")
    return reduction


def _as_tensor(x: Any) -> Tensor:
    """A Tensor as is; a numpy array in its own dtype (a float64 target stays float64, as
    in every binary op); anything else (lists, numbers) by the Tensor constructor's rule."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x, dtype=x.dtype)
    return Tensor(x)


def _class_targets(logits: Tensor, target: Any, name: str) -> np.ndarray:
    """Integer class labels as an int64 array, checked against the logits' shape."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    if logits.ndim != 2:
        raise ValueError(f"{name}: expected logits of shape (batch, classes), got {logits.shape}")
    if t.shape != (logits.shape[0],):
        raise ValueError(
            f"{name}: expected {logits.shape[0]} class labels (shape ({logits.shape[0]},)) for "
            f"logits of shape {logits.shape}, got target of shape {t.shape}"
        )
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(t == np.round(t)):
            t = t.astype(np.int64)
        else:
            raise TypeError(f"{name}: class labels must be integers, got dtype {t.dtype}")
    if t.size and (t.min() < 0 or t.max() >= logits.shape[1]):
        bad = int(t[(t < 0) | (t >= logits.shape[1])][0])
        raise ValueError(f"{name}: label {bad} is out of range for {logits.shape[1]} classes")
    return t.astype(np.int64, copy=False)


def mse_loss(prediction: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((prediction - target)²).

    ``prediction`` and ``target`` are Tensors of the same shape (checked for you). With
    ``reduction="mean"`` the result is a 0-d Tensor, the mean over *every* entry; ``"sum"`` adds
    them up; ``"none"`` keeps the per-entry squared errors (same shape as the inputs). Written in
    Tensor ops, so ``loss.backward()`` gives ``2 (prediction - target) / n`` per entry.
    """
    prediction, target = _as_tensor(prediction), _as_tensor(target)
    if prediction.shape != target.shape:
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} != target shape {target.shape}")
    ### BEGIN SOLUTION
    ### HINT: Tensor ops only (-, *), so autograd sees them; _reduce(per_entry, reduction)
    ### HINT: applies the reduction after _check_reduction(reduction) has validated it
    diff = prediction - target
    return _reduce(diff * diff, _check_reduction(reduction))
    ### END SOLUTION


def nll_loss(log_probs: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -log_probs[i, target[i]], averaged over the batch.

    ``log_probs`` is an (N, C) Tensor of log-probabilities; ``labels`` (checked and converted
    for you) is an int64 array (N,) of class indices. Per sample the loss is minus the entry of
    its true class; ``reduction`` is "mean" (0-d Tensor), "sum" or "none" (shape (N,)).
    """
    log_probs = _as_tensor(log_probs)
    labels = _class_targets(log_probs, target, "nll_loss")
    ### BEGIN SOLUTION
    ### HINT: pick one entry per row with fancy indexing: rows np.arange(N), columns labels;
    ### HINT: indexing a Tensor is recorded for autograd; then negate and _reduce
    picked = log_probs[np.arange(labels.shape[0]), labels]
    return _reduce(-picked, _check_reduction(reduction))
    ### END SOLUTION


def cross_entropy(logits: Tensor, target: Any, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Tensor:
    """Cross-entropy from raw logits (the softmax is inside, computed stably).

    ``logits`` is an (N, C) Tensor; ``target`` holds class indices (N,) or class probabilities
    (N, C) (e.g. from mixup; that case is given). Per sample, with ``logp = log_softmax(logits)``,
    the loss is ``-logp[target]``. With label smoothing ε the target becomes
    (1 - ε)·one_hot + ε/C, so loss = (1 - ε)·nll + ε·mean_c(-log p_c) — PyTorch's definition.
    ``reduction``: "mean" (0-d Tensor), "sum" or "none" (shape (N,)).
    """
    logits = _as_tensor(logits)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_reduction(reduction)
    logp = logits.log_softmax(axis=-1)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.ndim == 2 and t.dtype.kind == "f":  # soft targets: one probability row per sample
        if t.shape != logits.shape:
            raise ValueError(f"cross_entropy: soft targets {t.shape} must match logits {logits.shape}")
        q = t.astype(logits.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / logits.shape[1]
        return _reduce(-(logp * Tensor(q, dtype=logits.dtype)).sum(axis=1), reduction)
    labels = _class_targets(logits, t, "cross_entropy")
    ### BEGIN SOLUTION
    ### HINT: logp (log_softmax, computed stably above) gives nll = -logp[rows, labels];
    ### HINT: with smoothing ε mix in the mean over classes of -logp: (1 - ε)·nll + ε·that
    nll = -logp[np.arange(labels.shape[0]), labels]
    if label_smoothing:
        smooth = -logp.mean(axis=1)
        nll = nll * (1 - label_smoothing) + smooth * label_smoothing
    return _reduce(nll, reduction)
    ### END SOLUTION


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """-[w·t·log σ(x) + (1-t)·log(1-σ(x))], written with softplus(x) = log(1 + e^x).

    -log σ(x) = softplus(-x) and -log(1-σ(x)) = softplus(x), and
    softplus(x) = max(x, 0) + log(1 + e^(-|x|)) never exponentiates a positive number, so
    logits of ±1e4 give exact losses and gradients without overflow. ``pos_weight`` (w,
    broadcast over the last axis) weighs the positive term, as in PyTorch.
    """
    logits, target = _as_tensor(logits), _as_tensor(target)
    if logits.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: logits {logits.shape} != target {target.shape}")
    _check_reduction(reduction)
    target = target.astype(logits.dtype)
    ### BEGIN SOLUTION
    ### HINT: -log σ(x) = softplus(-x) and -log(1 - σ(x)) = softplus(x), where
    ### HINT: softplus(x) = max(x, 0) + log(1 + e^(-|x|)); use x.maximum(0), not relu: at a
    ### HINT: tie its gradient is 1/2, which makes softplus'(0) = σ(0) exactly
    tail = (-logits.abs()).exp().log1p()                   # log(1 + e^(-|x|)), never overflows
    loss_pos = target * ((-logits).maximum(0) + tail)       # -t·log σ(x)
    loss_neg = (1 - target) * (logits.maximum(0) + tail)    # -(1-t)·log(1 - σ(x))
    if pos_weight is not None:
        loss_pos = loss_pos * _as_tensor(pos_weight).astype(logits.dtype)
    return _reduce(loss_pos + loss_neg, reduction)
    ### END SOLUTION


class MSELoss(Module):
    """Mean squared error (see :func:`mse_loss`)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, prediction: Tensor, target: Any) -> Tensor:
        return mse_loss(prediction, target, self.reduction)


class CrossEntropyLoss(Module):
    """Cross-entropy from logits (see :func:`cross_entropy`).

    Args:
        label_smoothing: ε in [0, 1]; 0.1 is a common choice for image classification.
        reduction: "mean", "sum" or "none".

    Shape:
        logits (N, C); target (N,) class indices or (N, C) probabilities -> scalar.
    """

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean") -> None:
        super().__init__()
        self.label_smoothing = float(label_smoothing)
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, self.label_smoothing, self.reduction)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (see :func:`nll_loss`)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return nll_loss(log_probs, target, self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy from logits (see :func:`binary_cross_entropy_with_logits`)."""

    def __init__(self, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.pos_weight = pos_weight

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target, self.reduction, self.pos_weight)
