"""Loss functions: how wrong the model is, as one number autograd can differentiate.

Each is a Module (``loss_fn(prediction, target)``) with a function twin, written in Tensor
ops so ``loss.backward()`` works through them:

* ``MSELoss``            mean((y - t)²)
* ``CrossEntropyLoss``   -log softmax(logits)[target], from raw logits, with label smoothing
* ``NLLLoss``            -logp[target], when the model already outputs log-probabilities
* ``BCEWithLogitsLoss``  binary cross-entropy from logits, stable for any logit size

The lesson's exercises are the (N, C) case. The options a PyTorch user also reaches for —
``weight=`` (a weight per class), ``ignore_index=`` (targets that count for nothing) and
logits with more axes, ``(N, C, d1, ...)`` (a class score per pixel, per token) — are given,
in :func:`_class_loss_general` at the end of this file, which the two functions hand over to
when they are used. More losses (L1, smooth L1 / Huber, BCE on probabilities, KL divergence)
are in ``losses_more.py``.
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


def nll_loss(log_probs: Tensor, target: Any, *, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: -log_probs[i, target[i]], averaged over the batch.

    ``log_probs`` is an (N, C) Tensor of log-probabilities; ``labels`` (checked and converted
    for you) is an int64 array (N,) of class indices. Per sample the loss is minus the entry of
    its true class; ``reduction`` is "mean" (0-d Tensor), "sum" or "none" (shape (N,)).
    ``weight`` (C,), ``ignore_index`` and (N, C, d1, ...) inputs: as in PyTorch (given, see
    :func:`_class_loss_general`).
    """
    log_probs = _as_tensor(log_probs)
    if _needs_general(log_probs, target, weight, ignore_index):
        return _class_loss_general(log_probs, target, weight, ignore_index, reduction, 0.0,
                                   "nll_loss", from_logits=False)
    labels = _class_targets(log_probs, target, "nll_loss")
    ### BEGIN SOLUTION
    ### HINT: pick one entry per row with fancy indexing: rows np.arange(N), columns labels;
    ### HINT: indexing a Tensor is recorded for autograd; then negate and _reduce
    picked = log_probs[np.arange(labels.shape[0]), labels]
    return _reduce(-picked, _check_reduction(reduction))
    ### END SOLUTION


def cross_entropy(logits: Tensor, target: Any, *, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy from raw logits (the softmax is inside, computed stably).

    ``logits`` is an (N, C) Tensor; ``target`` holds class indices (N,) or class probabilities
    (N, C) (e.g. from mixup; that case is given). Per sample, with ``logp = log_softmax(logits)``,
    the loss is ``-logp[target]``. With label smoothing ε the target becomes
    (1 - ε)·one_hot + ε/C, so loss = (1 - ε)·nll + ε·mean_c(-log p_c) — PyTorch's definition.
    ``reduction``: "mean" (0-d Tensor), "sum" or "none" (shape (N,)). ``weight`` (C,),
    ``ignore_index`` and (N, C, d1, ...) logits: as in PyTorch (given, see
    :func:`_class_loss_general`).
    """
    logits = _as_tensor(logits)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    _check_reduction(reduction)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if not (t.ndim == 2 and t.dtype.kind == "f") and _needs_general(logits, t, weight,
                                                                     ignore_index):
        return _class_loss_general(logits, t, weight, ignore_index, reduction, label_smoothing,
                                   "cross_entropy", from_logits=True)
    logp = logits.log_softmax(axis=-1)
    if t.ndim == 2 and t.dtype.kind == "f":  # soft targets: one probability row per sample
        if t.shape != logits.shape:
            raise ValueError(f"cross_entropy: soft targets {t.shape} must match logits {logits.shape}")
        q = t.astype(logits.dtype)
        if label_smoothing:
            q = q * (1 - label_smoothing) + label_smoothing / logits.shape[1]
        if weight is not None:  # PyTorch: each class's term weighted; the mean is over samples
            q = q * _class_weights(weight, logits, "cross_entropy")
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


def binary_cross_entropy_with_logits(logits: Tensor, target: Any, *, weight: Any = None,
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """-[w·t·log σ(x) + (1-t)·log(1-σ(x))], written with softplus(x) = log(1 + e^x).

    -log σ(x) = softplus(-x) and -log(1-σ(x)) = softplus(x), and
    softplus(x) = max(x, 0) + log(1 + e^(-|x|)) never exponentiates a positive number, so
    logits of ±1e4 give exact losses and gradients without overflow. ``pos_weight`` (w,
    broadcast over the last axis) weighs the positive term, as in PyTorch; ``weight``
    (broadcast to the logits) rescales each element's loss.
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
    ### HINT: leave the per-element loss in per_item: the given code below applies the reduction
    tail = (-logits.abs()).exp().log1p()                   # log(1 + e^(-|x|)), never overflows
    loss_pos = target * ((-logits).maximum(0) + tail)       # -t·log σ(x)
    loss_neg = (1 - target) * (logits.maximum(0) + tail)    # -(1-t)·log(1 - σ(x))
    if pos_weight is not None:
        loss_pos = loss_pos * _as_tensor(pos_weight).astype(logits.dtype)
    per_item = loss_pos + loss_neg
    ### END SOLUTION
    if weight is not None:
        per_item = per_item * _as_tensor(weight).astype(logits.dtype)
    return _reduce(per_item, reduction)


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
        weight: a weight per class, shape (C,) (rarer classes weigh more); the mean divides by
            the summed weights of the targets, as in PyTorch.
        ignore_index: targets equal to it count for nothing (padding tokens, unlabelled pixels).
        reduction: "mean", "sum" or "none".
        label_smoothing: ε in [0, 1]; 0.1 is a common choice for image classification.

    Shape:
        logits (N, C) or (N, C, d1, ...); target (N,) / (N, d1, ...) class indices, or
        probabilities shaped like the logits (2-D) -> scalar ("none": the target's shape).
    """

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.weight = None if weight is None else _weight_array(weight, "CrossEntropyLoss")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        self.reduction = _check_reduction(reduction)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return cross_entropy(logits, target, weight=self.weight, ignore_index=self.ignore_index,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}" if self.label_smoothing else ""


class NLLLoss(Module):
    """Negative log-likelihood of log-probabilities (see :func:`nll_loss`)."""

    def __init__(self, weight: Any = None, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.weight = None if weight is None else _weight_array(weight, "NLLLoss")
        self.ignore_index = int(ignore_index)
        self.reduction = _check_reduction(reduction)

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return nll_loss(log_probs, target, weight=self.weight, ignore_index=self.ignore_index,
                        reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy from logits (see :func:`binary_cross_entropy_with_logits`)."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        self.weight = weight
        self.reduction = _check_reduction(reduction)
        self.pos_weight = pos_weight

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return binary_cross_entropy_with_logits(logits, target, weight=self.weight,
                                                reduction=self.reduction,
                                                pos_weight=self.pos_weight)


# ------------------------------------------------------------------ given: PyTorch's options
def _weight_array(weight: Any, name: str) -> np.ndarray:
    """A per-class weight as a 1-D float array (checked: finite, not negative)."""
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.ndim != 1 or w.dtype.kind not in "iuf":
        raise ValueError(f"{name}: weight must be a 1-D array of one number per class, got "
                         f"shape {w.shape} ({w.dtype})")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{name}: weight must be finite and >= 0, got {w.tolist()[:8]}")
    return w


def _class_weights(weight: Any, scores: Tensor, name: str) -> np.ndarray:
    """``weight`` checked against the number of classes (axis 1 of ``scores``)."""
    w = _weight_array(weight, name)
    if w.shape[0] != scores.shape[1]:
        raise ValueError(f"{name}: weight has {w.shape[0]} entries for {scores.shape[1]} classes")
    return w.astype(scores.dtype)


def _needs_general(scores: Tensor, target: Any, weight: Any, ignore_index: int) -> bool:
    """Whether a class loss needs more than the lesson's (N, C) code: a weight, N-d scores, or
    a target equal to ``ignore_index``."""
    if weight is not None or scores.ndim != 2:
        return True
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    return bool(t.size) and t.dtype.kind in "iuf" and bool(np.any(t == ignore_index))


def _class_loss_general(scores: Tensor, target: Any, weight: Any, ignore_index: int,
                        reduction: str, label_smoothing: float, name: str,
                        from_logits: bool) -> Tensor:
    """Cross-entropy (``from_logits``) or NLL with PyTorch's options, written in Tensor ops.

    The classes are axis 1; (N, C, d1, ...) scores are moved to (N·d1·..., C) rows first.
    Per row i with class y_i and w = weight (ones without one):
    ``loss_i = w[y_i] · (-logp[i, y_i])``, and with smoothing ε
    ``(1 - ε) · loss_i + ε/C · Σ_c w_c · (-logp[i, c])``; ignored rows count 0. "mean" divides
    the sum by Σ w[y_i] over the rows not ignored (PyTorch's weighted mean); "none" keeps the
    target's shape.
    """
    _check_reduction(reduction)
    if scores.ndim < 2:
        what = "logits" if from_logits else "log-probabilities"
        raise ValueError(f"{name}: expected {what} of shape (batch, classes) or (batch, "
                         f"classes, d1, ...), got {scores.shape}")
    classes = scores.shape[1]
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    want = (scores.shape[0],) + scores.shape[2:]
    if t.shape != want:
        raise ValueError(f"{name}: expected class labels of shape {want} for scores of shape "
                         f"{scores.shape}, got target of shape {t.shape}")
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(t == np.round(t)):
            t = t.astype(np.int64)
        else:
            raise TypeError(f"{name}: class labels must be integers, got dtype {t.dtype}")
    labels = t.reshape(-1).astype(np.int64)
    keep = labels != ignore_index
    bad = labels[keep & ((labels < 0) | (labels >= classes))]
    if bad.size:
        raise ValueError(f"{name}: label {int(bad[0])} is out of range for {classes} classes "
                         f"(ignore_index={ignore_index})")
    if scores.ndim > 2:  # classes last, then one row per position
        order = (0,) + tuple(range(2, scores.ndim)) + (1,)
        scores = scores.permute(*order).reshape(-1, classes)
    logp = scores.log_softmax(axis=-1) if from_logits else scores
    w = (np.ones(classes, scores.dtype) if weight is None
         else _class_weights(weight, scores, name))
    safe = np.where(keep, labels, 0)
    row_weight = np.where(keep, w[safe], 0).astype(scores.dtype)
    per_row = -logp[np.arange(labels.shape[0]), safe] * row_weight
    if label_smoothing:
        smooth = -(logp * w).sum(axis=1) * keep.astype(scores.dtype)
        per_row = per_row * (1 - label_smoothing) + smooth * (label_smoothing / classes)
    if reduction == "none":
        return per_row.reshape(*t.shape)
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / float(row_weight.sum())
