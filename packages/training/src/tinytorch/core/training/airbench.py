"""The ``airbench`` recipe: airbench94 (Keller Jordan, 2024) rebuilt from TinyTorch's parts.

airbench94 reaches 94.01 % mean test accuracy on the official CIFAR-10 in 9.9 epochs. Each
choice below, and where it comes from (airbench94's public code, ``legacy/airbench94.py`` of
github.com/KellerJordan/cifar10-airbench, and its paper, arXiv:2404.00498):

* **Network** (``make_net``): a 2×2 conv 3→24 with bias (whitening, below), GELU, then three
  blocks ``conv3×3 → maxpool 2 → BN → GELU → conv3×3 → BN → GELU`` of widths 64/256/256
  (convs without bias, padding 1), a 3×3 max-pool, a linear layer 256→10 without bias, and the
  logits multiplied by 1/9 (``Mul(scaling_factor)``). GELU is the exact (erf) one, nn.GELU().
* **Batch norm** (its ``BatchNorm`` class): no learnable scale (γ = 1, frozen; β learns),
  eps 1e-12, airbench's momentum 0.6 of the *old* statistics, i.e. PyTorch's ``momentum=0.4``.
* **Initialisation** (``Conv.reset_parameters``): PyTorch's default, then each 3×3 conv's
  first ``c_in`` filters set to the identity (``dirac_``); the whitening conv's bias zero.
* **Whitening** (``init_whitening_conv``): the stem's 24 filters are ±eigenvectors / √(λ + 5e-4)
  of the *uncentred* covariance of the 2×2 patches of the first 5,000 (normalised) training
  images, largest eigenvalue first; the weights stay frozen, the bias trains for the first 3
  epochs only (``whiten_bias_epochs``).
* **Optimizer**: SGD, Nesterov momentum 0.85, on the *summed* label-smoothed (0.2) loss of a
  batch of 1024. The decoupled hyper-parameters lr 11.5 and weight decay 0.0153 (per 1024
  examples) become PyTorch's ``lr = 11.5 / (1024 · (1 + 1/(1 - 0.85)))`` and
  ``weight_decay = 0.0153 · 1024 / (1024 · (1 + 1/(1 - 0.85))) / lr``; the batch-norm biases
  get a 64 times larger lr (``bias_scaler``) with their weight decay divided by 64, so their decay
  per step is the same. Two parameter groups; frozen tensors are in neither.
* **Schedule**: ``ceil(9.9 · batches per epoch)`` steps (476 on 50,000 images), the lr factor
  rising linearly from 0.2 to 1 over the first 23 % (``int(0.23 · steps)``), then falling
  linearly to 0.07 (``LambdaLR``, stepped after every batch); the loop stops mid-epoch there.
* **Lookahead**: every 5 steps the floating-point state (weights and BN running statistics)
  is averaged with decay ``0.95⁵ · (step / steps)³`` and reset to the average; after the last
  step the weights are the average (:mod:`.lookahead`).
* **Data**: batch 1024, last partial batch dropped, reshuffled every epoch; each image
  mirrored in alternate epochs (a coin drawn once per image) and translated by up to 2 pixels
  with reflect padding (:mod:`tinytorch.core.dataloader.alternating`). Differences from
  airbench, by necessity: normalisation with this copy's own per-channel mean/std
  (``CIFAR10_MEAN``/``STD``, measured on it) instead of the official data's; airbench draws the
  translation before the epoch's flip, here after (the same distribution); float32, not half.
* **Evaluation**: test-time augmentation level 2 (:func:`.cifar10.tta_logits`).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.dataloader import Compose, DataLoader
from tinytorch.core.dataloader.alternating import AlternatingFlipLoader, RandomTranslate
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten, Module
from tinytorch.core.optimizers import SGD, LambdaLR
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor

from .cifar10_parts import (RunParts, cifar10_normalize, cifar10_splits, init_whitening,
                            whitening_sample)
from .lookahead import Lookahead, lookahead_decay
from .losses import CrossEntropyLoss

__all__ = ["Mul", "airbench94_net", "dirac_init", "airbench_optimizer", "airbench_lr_factor",
           "airbench_loaders", "AirbenchTrainer", "airbench_total_steps", "prepare_airbench",
           "fit_airbench"]


class Mul(Module):
    """``x · scale``: airbench's scaling of the logits (1/9), so they start out small.

    Args:
        scale: the constant factor.
    """

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.scale = float(scale)

    def forward(self, x: Any) -> Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"scale={self.scale:g}"


def airbench94_net(widths: tuple = (64, 256, 256), num_classes: int = 10, bn_momentum: float = 0.4,
                   bn_eps: float = 1e-12, logit_scale: float = 1 / 9) -> Sequential:
    """airbench94's network as one flat Sequential (its layers in order; see the module doc).

    Shape: (N, 3, 32, 32) → stem (N, 24, 31, 31) → blocks (N, w, 15|7|3, ...) → (N, 10).
    """
    def bn(c: int) -> BatchNorm2d:
        return BatchNorm2d(c, eps=bn_eps, momentum=bn_momentum, learn_scale=False)

    layers: list = [Conv2d(3, 24, 2, padding=0, bias=True), GELU()]
    c_in = 24
    for c_out in widths:
        layers += [Conv2d(c_in, c_out, 3, padding=1, bias=False), MaxPool2d(2), bn(c_out), GELU(),
                   Conv2d(c_out, c_out, 3, padding=1, bias=False), bn(c_out), GELU()]
        c_in = c_out
    layers += [MaxPool2d(3), Flatten(), Dense(c_in, num_classes, bias=False), Mul(logit_scale)]
    net = Sequential(layers)
    net[0].bias.data[...] = 0  # the whitening conv's bias starts at zero
    net[0].weight.requires_grad = False  # its weights: the whitening filters, fixed
    dirac_init(net)
    return net


def dirac_init(model: Module) -> None:
    """Set the first ``c_in`` filters of every 3×3 conv to the identity (the rest unchanged).

    Filter i then passes input channel i through unchanged, so a fresh block starts close to
    the identity map and the signal reaches the loss undistorted from the first step.
    """
    for layer in model.modules():
        if isinstance(layer, Conv2d) and layer.kernel_size == (3, 3):
            w = layer.weight.data
            c = min(w.shape[0], w.shape[1])
            w[:c] = 0
            w[np.arange(c), np.arange(c), 1, 1] = 1


def airbench_optimizer(model: Module, lr: float = 11.5, momentum: float = 0.85,
                       weight_decay: float = 0.0153, bias_lr_scale: float = 64.0,
                       batch_size: int = 1024) -> SGD:
    """SGD in airbench's decoupled units, for the batch's *summed* loss (see the module doc).

    Two groups: batch-norm biases (lr × ``bias_lr_scale``) and every other trainable tensor.
    """
    kilostep = 1024 * (1 + 1 / (1 - momentum))
    step_lr = lr / kilostep
    decay = weight_decay * batch_size / kilostep  # the decay per step, the same for both groups
    bias_lr = step_lr * bias_lr_scale
    norm_biases = [m.bias for m in model.modules() if isinstance(m, BatchNorm2d) and m.bias is not None]
    ids = {id(p) for p in norm_biases}
    others = [p for p in model.parameters() if id(p) not in ids and p.requires_grad]
    norm_biases = [p for p in norm_biases if p.requires_grad]
    return SGD([{"params": norm_biases, "lr": bias_lr, "weight_decay": decay / bias_lr},
                {"params": others, "lr": step_lr, "weight_decay": decay / step_lr}],
               lr=step_lr, momentum=momentum, nesterov=True)


def airbench_lr_factor(step: int, total_steps: int, warmup: float = 0.23, start: float = 0.2,
                       end: float = 0.07) -> float:
    """The lr multiplier at ``step``: ``start`` → 1 over ``int(warmup · total)`` steps, → ``end``."""
    up = int(total_steps * warmup)
    if step < up:
        frac = step / up
        return start * (1 - frac) + frac
    frac = (step - up) / (total_steps - up)
    return (1 - frac) + end * frac


def airbench_loaders(root: str | None, batch_size: int = 1024, seed: int = 0,
                     translate: int = 2, test_batch_size: int = 1000, prefetch: int = 2,
                     limit_train: int | None = None, limit_test: int | None = None,
                     download: bool = False) -> tuple:
    """(train, test): alternating flips and reflect-padded translations; normalised like
    :func:`.cifar10.cifar10_loaders` (this copy's mean and std)."""
    train_set, test_set = cifar10_splits(root, batch_size, limit_train, limit_test, download,
                                         "airbench_loaders")
    normalize = cifar10_normalize()
    train_tf = Compose([RandomTranslate(32, translate, seed=seed), normalize])
    train = AlternatingFlipLoader(train_set, flip_seed=seed + 1, batch_size=batch_size,
                                  shuffle=True, drop_last=True, seed=seed, transform=train_tf,
                                  prefetch=prefetch)
    test = DataLoader(test_set, batch_size=test_batch_size, transform=normalize, prefetch=prefetch)
    return train, test


class AirbenchTrainer:
    """airbench's training loop: summed loss, per-step schedule, lookahead, a step budget.

    Args:
        model: the network (its ``model[0]`` the whitening conv).
        optimizer: from :func:`airbench_optimizer`.
        total_steps: optimizer steps of the whole run (training stops there, mid-epoch).
        label_smoothing: of the cross-entropy.
        whiten_bias_epochs: epochs during which the whitening conv's bias trains.
        lookahead_every: steps between lookahead updates.
    """

    def __init__(self, model: Sequential, optimizer: SGD, total_steps: int,
                 label_smoothing: float = 0.2, whiten_bias_epochs: int = 3,
                 lookahead_every: int = 5) -> None:
        self.model, self.optimizer, self.total_steps = model, optimizer, int(total_steps)
        self.scheduler = LambdaLR(optimizer, lambda s: airbench_lr_factor(s, self.total_steps))
        self.loss_fn = CrossEntropyLoss(label_smoothing=label_smoothing, reduction="sum")
        self.whiten_bias_epochs = int(whiten_bias_epochs)
        self.every = int(lookahead_every)
        self.lookahead = Lookahead(model)
        self.step = 0
        self.epoch = 0

    @property
    def done(self) -> bool:
        """Whether the step budget is spent."""
        return self.step >= self.total_steps

    def train_epoch(self, loader: Any) -> dict:
        """One epoch (or what is left of the budget); returns mean loss, accuracy, time, images."""
        self.model[0].bias.requires_grad = self.epoch < self.whiten_bias_epochs
        self.model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        for x, y in loader:
            out = self.model(x)
            loss = self.loss_fn(out, y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            labels = y.data if isinstance(y, Tensor) else np.asarray(y)
            loss_sum += float(loss.item())
            correct += int((out.data.argmax(axis=1) == labels).sum())
            seen += len(labels)
            if self.step % self.every == 0:
                self.lookahead.update(lookahead_decay(self.step, self.total_steps))
            if self.done:
                self.lookahead.update(1.0)  # the weights become the average
                break
        self.epoch += 1
        return {"loss": loss_sum / max(seen, 1), "acc": correct / max(seen, 1),
                "time": time.perf_counter() - start, "images": seen}


def airbench_total_steps(batches_per_epoch: int, epochs: float) -> int:
    """``ceil(batches · epochs)``: airbench's 9.9 epochs of 48 batches are 476 steps."""
    return int(math.ceil(batches_per_epoch * epochs))


def airbench94_model(recipe: Any) -> Sequential:
    """The airbench recipe's network: :func:`airbench94_net` with the recipe's options."""
    o = recipe.options
    return airbench94_net(recipe.widths, bn_momentum=o["bn_momentum"], bn_eps=o["bn_eps"],
                          logit_scale=o["logit_scale"])


def prepare_airbench(recipe: Any, root: str | None, seed: int, limit_train: int | None,
                      limit_test: int | None, download: bool) -> Any:
    """The :class:`.cifar10_parts.RunParts` of the airbench recipe (no scheduler: the trainer's)."""
    train, test = airbench_loaders(root, recipe.batch_size, seed, recipe.crop_padding,
                                   limit_train=limit_train, limit_test=limit_test, download=download)
    model = airbench94_model(recipe)
    init_whitening(model, whitening_sample(train.dataset), center=recipe.options["whiten_center"],
                   descending=True)
    optimizer = airbench_optimizer(model, recipe.lr, recipe.momentum, recipe.weight_decay,
                                   recipe.options["bias_lr_scale"], recipe.batch_size)
    return RunParts(model, optimizer, None, train, test)


def fit_airbench(trainer: Any, recipe: Any, train: Any, resume: str | None = None) -> None:
    """Train ``trainer``'s model like airbench94 (:class:`AirbenchTrainer`), one history row
    per epoch in ``trainer.history``; the checkpoint and logs written at the end."""
    if resume:
        raise ValueError("the airbench recipe cannot resume (its lookahead average is not "
                         "checkpointed): start it again without --resume")
    o = recipe.options
    run = AirbenchTrainer(trainer.model, trainer.optimizer,
                          airbench_total_steps(len(train), recipe.epochs), recipe.label_smoothing,
                          o["whiten_bias_epochs"], o["lookahead_every"])
    for epoch in range(1, math.ceil(recipe.epochs) + 1):
        stats = run.train_epoch(train)
        row = {"epoch": epoch, "train_loss": stats["loss"], "train_acc": stats["acc"],
               "img_per_s": stats["images"] / max(stats["time"], 1e-9), "time": stats["time"]}
        trainer.history.append(row)
        trainer.epoch = epoch
        trainer._report(row)
        if run.done:
            break
    if trainer.checkpoint_dir:  # the final (averaged) weights; epochs are minutes, not hours
        trainer.save(os.path.join(trainer.checkpoint_dir, "last.npz"), train)
    trainer._write_logs()
