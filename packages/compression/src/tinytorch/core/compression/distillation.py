"""Knowledge distillation: train a small student to imitate a big teacher.

A trained teacher knows more than the labels say: for a picture of a cat it gives "dog" a
higher probability than "truck". Hinton, Vinyals and Dean (2015) train the student on
those *soft targets*, softened further by a temperature T:

    loss = α · T² · KL( softmax(t / T) ‖ softmax(s / T) ) + (1 - α) · CE(s, y)

with t the teacher's logits, s the student's, y the labels. The T² keeps the soft term's
gradient the same size whatever T is (its gradient carries a 1/T, and the soft
probabilities' differences another ~1/T). KL is averaged over the batch ("batchmean").

:class:`DistillationLoss` is written in Tensor ops (log_softmax, multiply, sum, mean), so
``loss.backward()`` reaches the student's weights through tinytorch-autograd; the teacher's
logits are constants (no gradient flows into the teacher). :func:`distill` is the recipe: a
training loop in which the frozen teacher labels each batch on the fly.
"""

from __future__ import annotations

import time
from collections.abc import Sized
from typing import Any, Iterable

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.optimizers import SGD, OneCycleLR
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import RunningMean, accuracy, cross_entropy

__all__ = ["distillation_loss", "DistillationLoss", "distill", "evaluate_accuracy"]


def _log_softmax_np(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def distillation_loss(student_logits: Tensor, teacher_logits: Any, targets: Any,
                      temperature: float = 4.0, alpha: float = 0.9) -> Tensor:
    """α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1-α)·CE(s, y), averaged over the batch.

    Args:
        student_logits: (N, C) Tensor (gradients flow into it).
        teacher_logits: (N, C) Tensor or array (treated as a constant).
        targets: (N,) integer class labels.
        temperature: T > 0; higher T gives softer teacher probabilities.
        alpha: weight of the soft (teacher) term in [0, 1]; 1 - alpha weights the labels.

    Returns:
        a scalar Tensor of the student's dtype, differentiable with respect to
        ``student_logits``. ``KL(p‖q) = Σ_c p_c (log p_c - log q_c)``, summed over classes and
        averaged over the batch; ``alpha == 1`` leaves out the cross-entropy term entirely.
    """
    if not isinstance(student_logits, Tensor):
        student_logits = Tensor(student_logits)
    t = np.asarray(teacher_logits.data if isinstance(teacher_logits, Tensor) else teacher_logits)
    if t.shape != student_logits.shape or student_logits.ndim != 2:
        raise ValueError(f"distillation_loss: student logits {student_logits.shape} and teacher "
                         f"logits {t.shape} must both be (batch, classes)")
    if temperature <= 0:
        raise ValueError(f"distillation_loss: temperature must be > 0, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation_loss: alpha must be in [0, 1], got {alpha}")
    dtype = student_logits.dtype
    ### BEGIN SOLUTION
    ### HINT: the teacher side is numpy (a constant); the student side must stay Tensor ops
    log_p_teacher = _log_softmax_np(t.astype(np.float64) / float(temperature))
    p_teacher = np.exp(log_p_teacher)
    log_p_student = (student_logits / float(temperature)).log_softmax(axis=1)
    p_t, log_p_t = Tensor(p_teacher, dtype=dtype), Tensor(log_p_teacher, dtype=dtype)
    kl = (p_t * (log_p_t - log_p_student)).sum(axis=1).mean()
    soft = kl * float(alpha * temperature * temperature)  # Python floats take the tensor's dtype
    if alpha == 1.0:
        return soft
    hard = cross_entropy(student_logits, targets)
    return soft + hard * float(1.0 - alpha)
    ### END SOLUTION


class DistillationLoss(Module):
    """Hinton's distillation loss as a module: ``loss_fn(student_logits, teacher_logits, y)``.

    Args:
        temperature: T > 0 (2–8 is typical).
        alpha: weight of the soft term; 1 - alpha weights the ordinary cross-entropy.
    """

    def __init__(self, temperature: float = 4.0, alpha: float = 0.9) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"DistillationLoss: temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"DistillationLoss: alpha must be in [0, 1], got {alpha}")
        self.temperature = float(temperature)
        self.alpha = float(alpha)

    def forward(self, student_logits: Tensor, teacher_logits: Any, targets: Any) -> Tensor:
        return distillation_loss(student_logits, teacher_logits, targets, self.temperature,
                                 self.alpha)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, alpha={self.alpha}"


def evaluate_accuracy(model: Any, loader: Iterable) -> float:
    """Top-1 accuracy of ``model`` (a Module or anything callable) over ``loader``."""
    if hasattr(model, "eval"):
        model.eval()
    correct = RunningMean()
    with no_grad():
        for x, y in loader:
            out = model(x)
            out = out.data if isinstance(out, Tensor) else np.asarray(out)
            correct.update(accuracy(out, y), out.shape[0])
    return float(correct.value)


def distill(teacher: Module, student: Module, train_loader: Iterable, epochs: int = 1,
            temperature: float = 4.0, alpha: float = 0.9, lr: float = 0.05,
            momentum: float = 0.9, weight_decay: float = 5e-4, optimizer: Any = None,
            max_steps: int | None = None, progress: bool = True) -> list:
    """Train ``student`` to imitate ``teacher`` (frozen, eval mode) on ``train_loader``.

    Each step: the teacher's logits for the batch (no graph), the student's (with a graph),
    :class:`DistillationLoss`, backward, optimizer step. By default the optimizer is SGD with
    Nesterov momentum and a one-cycle schedule over all steps.

    Args:
        teacher: the trained model.
        student: the model to train (modified in place).
        train_loader: iterable of (inputs, labels) batches (with ``len`` for the schedule).
        epochs: passes over ``train_loader``.
        temperature: T of the loss.
        alpha: weight of the soft term.
        lr: peak learning rate of the default optimizer.
        momentum: momentum of the default optimizer.
        weight_decay: weight decay of the default optimizer (weights only, not biases/BN).
        optimizer: your own optimizer instead (then no schedule is used).
        max_steps: stop after this many steps in total (e.g. for a quick test).
        progress: print one line per epoch.

    Returns:
        one dict per epoch: loss, train accuracy, img/s, seconds.
    """
    loss_fn = DistillationLoss(temperature, alpha)
    scheduler = None
    if optimizer is None:
        decay = [p for p in student.parameters() if p.ndim > 1]
        no_decay = [p for p in student.parameters() if p.ndim <= 1]
        optimizer = SGD([{"params": decay, "weight_decay": weight_decay},
                         {"params": no_decay, "weight_decay": 0.0}],
                        lr=lr, momentum=momentum, nesterov=True)
        per_epoch = len(train_loader) if isinstance(train_loader, Sized) else None
        total = per_epoch * epochs if per_epoch else None
        if max_steps is not None:
            total = min(total, max_steps) if total else max_steps
        if total:
            scheduler = OneCycleLR(optimizer, max_lr=lr, total_steps=total, pct_start=0.2,
                                   anneal_strategy="linear", cycle_momentum=False,
                                   div_factor=10.0, final_div_factor=100.0)
    teacher.eval()
    history, steps = [], 0
    for epoch in range(epochs):
        student.train()
        loss_avg, acc_avg = RunningMean(), RunningMean()
        start, seen = time.perf_counter(), 0
        for x, y in train_loader:
            if max_steps is not None and steps >= max_steps:
                break
            ### BEGIN SOLUTION
            ### HINT: teacher logits under no_grad() (a constant: .data); the student's with a graph
            ### HINT: then loss_fn(student_logits, teacher_logits, y), zero_grad, backward, step
            with no_grad():
                teacher_logits = teacher(x).data
            student_logits = student(x)
            loss = loss_fn(student_logits, teacher_logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            ### END SOLUTION
            if scheduler is not None and steps + 1 < scheduler.total_steps:
                scheduler.step()
            steps += 1
            n = student_logits.shape[0]
            seen += n
            loss_avg.update(float(loss.item()), n)
            acc_avg.update(accuracy(student_logits.data, y), n)
        elapsed = time.perf_counter() - start
        row = {"epoch": epoch + 1, "loss": loss_avg.value, "train_acc": acc_avg.value,
               "img_per_s": seen / max(elapsed, 1e-9), "time": elapsed}
        history.append(row)
        if progress:
            print(f"distill epoch {epoch + 1}/{epochs}: loss {row['loss']:.4f}, train acc "
                  f"{row['train_acc'] * 100:.2f}%, {row['img_per_s']:.0f} img/s", flush=True)
        if max_steps is not None and steps >= max_steps:
            break
    return history
