"""CIFAR-10 with nothing but TinyTorch: the data, two networks, and the recipes that train them.

``tito train cifar10`` runs :func:`train_cifar10`. Two recipes:

* ``quick`` (default) — the course's small CNN with batch norm, a few epochs: a few minutes
  on a laptop CPU.
* ``full`` — an airbench-style network (conv-pool-BN blocks, widths 64/256/256), flip and
  2-pixel crop augmentation, label smoothing, a warm-up + linear-decay schedule and
  multi-view test-time augmentation: measured 90.20 % test accuracy after its 18 epochs,
  79 minutes on 2 cores. Each epoch's time and accuracy are printed as it goes; nothing here
  is estimated — the accuracy is measured on the 10,000 real test images at the end.
* ``airbench`` — airbench94 rebuilt faithfully (its network with GELU and scale-free batch
  norm, whitening, dirac init, batch 1024, 9.9 epochs, lookahead, alternating flips, a 64-times
  bias learning rate...): every choice and its source in :mod:`.airbench`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinytorch.core.activations import GELU, ReLU
from tinytorch.core.dataloader import (Compose, DataLoader, RandomCrop,
                                       RandomHorizontalFlip)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten, Module
from tinytorch.core.optimizers import SGD, OneCycleLR
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.runtime import keep_freed_memory

from .airbench import airbench94_model, fit_airbench, prepare_airbench
from .cifar10_parts import (CIFAR10_MEAN, CIFAR10_STD, RunParts, cifar10_normalize,
                            cifar10_splits, init_whitening, whitening_filters, whitening_sample)
from .losses import CrossEntropyLoss
from .plot import plot_history
from .progress import format_seconds
from .trainer import Trainer

__all__ = ["Recipe", "RECIPES", "small_cnn", "airbench_net", "cifar10_loaders", "train_cifar10",
           "cifar10_splits", "cifar10_normalize", "CIFAR10_MEAN", "CIFAR10_STD", "RunParts",
           "init_whitening", "whitening_filters", "whitening_sample"]

# --------------------------------------------------------------------------- networks
def small_cnn(num_classes: int = 10, widths: tuple = (32, 64, 128)) -> Sequential:
    """conv-BN-ReLU-pool ×3 → linear: the course's CIFAR-10 CNN (about 0.3 M parameters)."""
    layers: list = []
    c_in = 3
    for c_out in widths:
        layers += [Conv2d(c_in, c_out, 3, padding=1, bias=False), BatchNorm2d(c_out), ReLU(),
                   MaxPool2d(2)]
        c_in = c_out
    side = 32 // 2 ** len(widths)
    layers += [Flatten(), Dense(c_in * side * side, num_classes)]
    return Sequential(layers)


def _conv_block(c_in: int, c_out: int, act: Any) -> list:
    return [Conv2d(c_in, c_out, 3, padding=1, bias=False), MaxPool2d(2), BatchNorm2d(c_out), act(),
            Conv2d(c_out, c_out, 3, padding=1, bias=False), BatchNorm2d(c_out), act()]


def airbench_net(widths: tuple = (64, 256, 256), num_classes: int = 10,
                 activation: str = "relu") -> Sequential:
    """An airbench94-shaped network: a 2×2 stem conv, three conv-pool-BN blocks, a 3×3 max.

    Shape: (N, 3, 32, 32) → stem (N, 24, 31, 31) → blocks (N, w, 15|7|3, ...) → (N, 10).
    """
    act = GELU if activation == "gelu" else ReLU
    layers: list = [Conv2d(3, 24, 2, padding=0, bias=True), act()]
    c_in = 24
    for c_out in widths:
        layers += _conv_block(c_in, c_out, act)
        c_in = c_out
    layers += [MaxPool2d(3), Flatten(), Dense(c_in, num_classes, bias=False)]
    return Sequential(layers)


def shift_images(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``images`` (N, C, H, W) moved by ``dy`` rows and ``dx`` columns (|dy|, |dx| ≤ 1).

    The image is reflect-padded by one pixel and the window cut one pixel off centre, so the
    uncovered border repeats the image's own pixels rather than black ones.
    """
    if abs(dy) > 1 or abs(dx) > 1:
        raise ValueError(f"shift_images: shifts of at most one pixel, got dy={dy}, dx={dx}")
    h, w = images.shape[-2:]
    padded = np.pad(images, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="reflect")
    return np.ascontiguousarray(padded[:, :, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w])


def tta_logits(forward: Any, images: np.ndarray, level: int = 2) -> np.ndarray:
    """Logits averaged over test-time views of ``images`` (N, C, H, W); ``forward`` maps an
    array of images to an array of logits (so any framework's network can be measured).

    * level 0: the images alone;
    * level 1: the mean over each image and its mirror image;
    * level 2: ½ · (level 1 of the images) + ¼ · (level 1 shifted one pixel down-right)
      + ¼ · (level 1 shifted one pixel up-left) — airbench's multi-crop evaluation.
    """
    if level not in (0, 1, 2):
        raise ValueError(f"tta_logits: level must be 0, 1 or 2, got {level}")

    def with_mirror(x: np.ndarray) -> np.ndarray:
        if level == 0:
            return forward(x)
        return 0.5 * (forward(x) + forward(np.ascontiguousarray(x[..., ::-1])))

    logits = with_mirror(images)
    if level == 2:
        logits = 0.5 * logits + 0.25 * (with_mirror(shift_images(images, 1, 1))
                                         + with_mirror(shift_images(images, -1, -1)))
    return logits


def evaluate_tta(model: Module, loader: Any, level: int = 2) -> float:
    """Test accuracy with test-time augmentation (see :func:`tta_logits` for the levels)."""
    from tinytorch.core.autograd import no_grad

    model.eval()
    correct = total = 0
    with no_grad():
        for x, y in loader:
            logits = tta_logits(lambda a: model(Tensor(a)).data, x.data, level)
            labels = y.data if isinstance(y, Tensor) else np.asarray(y)
            correct += int((logits.argmax(axis=1) == labels).sum())
            total += len(labels)
    return correct / max(total, 1)


# --------------------------------------------------------------------------- data
def cifar10_loaders(root: str | None = None, batch_size: int = 128, augment: bool = True,
                    seed: int = 0, test_batch_size: int = 500, prefetch: int = 2,
                    limit_train: int | None = None, limit_test: int | None = None,
                    crop_padding: int = 4, download: bool = False) -> tuple:
    """(train_loader, test_loader, classes) over the real CIFAR-10 files in ``root``.

    Training batches are flipped and cropped (``crop_padding`` pixels of padding, so shifts of
    up to that many pixels) when ``augment``; both splits are normalised with the training
    set's per-channel mean and std. ``limit_train`` and
    ``limit_test`` keep only the first images of each split (for quick checks). ``download``:
    fetch the dataset when it is missing, and any damaged file of it again.
    """
    train_set, test_set = cifar10_splits(root, batch_size, limit_train, limit_test, download,
                                         "cifar10_loaders")
    # Crop and flip the uint8 pixels (4× less memory traffic), then scale to [0, 1] and normalise.
    normalize = cifar10_normalize()
    if augment:
        train_tf = Compose([RandomCrop(32, padding=crop_padding, seed=seed),
                            RandomHorizontalFlip(seed=seed + 1), normalize])
    else:
        train_tf = normalize
    train = DataLoader(train_set, batch_size=batch_size, shuffle=True, drop_last=True, seed=seed,
                       transform=train_tf, prefetch=prefetch)
    test = DataLoader(test_set, batch_size=test_batch_size, transform=normalize, prefetch=prefetch)
    return train, test, train_set.classes


# --------------------------------------------------------------------------- recipes
@dataclass
class Recipe:
    """Everything that defines a training run (printed and saved with the results)."""

    name: str
    model: str
    epochs: float  # airbench's 9.9: ceil(9.9 · batches) steps, the last epoch cut short
    batch_size: int
    lr: float
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    warmup_fraction: float = 0.2
    augment: bool = True
    crop_padding: int = 4  # random crops shift the image by up to this many pixels
    widths: tuple = field(default_factory=tuple)
    activation: str = "relu"
    whiten: bool = False
    tta: int = 0  # test-time augmentation level for the final measurement (see tta_logits)
    options: dict = field(default_factory=dict)  # what only one model's recipe uses (airbench)


RECIPES = {
    "quick": Recipe("quick", "small_cnn", epochs=4, batch_size=128, lr=0.1, weight_decay=5e-4,
                    label_smoothing=0.0, widths=(32, 64, 128)),
    "full": Recipe("full", "airbench", epochs=18, batch_size=512, lr=0.4, weight_decay=5e-4,
                   label_smoothing=0.2, crop_padding=2, widths=(64, 256, 256), activation="relu",
                   whiten=True, tta=2),
    # airbench94's hyper-parameters in its own (decoupled) units: see .airbench's docstring
    "airbench": Recipe("airbench", "airbench94", epochs=9.9, batch_size=1024, lr=11.5,
                       momentum=0.85, nesterov=True, weight_decay=0.0153, label_smoothing=0.2,
                       warmup_fraction=0.23, crop_padding=2, widths=(64, 256, 256),
                       activation="gelu", whiten=True, tta=2,
                       options={"bias_lr_scale": 64.0, "bn_momentum": 0.4, "bn_eps": 1e-12,
                                "logit_scale": 1 / 9, "whiten_bias_epochs": 3,
                                "lookahead_every": 5, "lr_start": 0.2, "lr_end": 0.07,
                                "flips": "alternating", "translate": "reflect",
                                "loss_reduction": "sum", "whiten_center": False}),
}


def build_model(recipe: Recipe) -> Sequential:
    """The network a recipe names."""
    if recipe.model == "small_cnn":
        return small_cnn(widths=recipe.widths)
    if recipe.model == "airbench":
        return airbench_net(widths=recipe.widths, activation=recipe.activation)
    if recipe.model == "airbench94":
        return airbench94_model(recipe)
    raise ValueError(f"unknown model '{recipe.model}' (small_cnn, airbench, airbench94)")


def recipe_optimizer(model: Module, recipe: Recipe) -> SGD:
    """Nesterov SGD with weight decay on weights only (not on batch-norm or bias vectors)."""
    decay: list[Tensor] = []
    no_decay: list[Tensor] = []
    for p in model.parameters():
        if p.requires_grad:  # the whitening stem is frozen
            (no_decay if p.ndim <= 1 else decay).append(p)
    return SGD([{"params": decay, "weight_decay": recipe.weight_decay},
                {"params": no_decay, "weight_decay": 0.0}],
               lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov)


def recipe_scheduler(optimizer: SGD, recipe: Recipe, steps: int) -> OneCycleLR:
    """One cycle: linear warm-up to ``recipe.lr`` over ``warmup_fraction``, then linear decay."""
    return OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=steps,
                      pct_start=recipe.warmup_fraction, anneal_strategy="linear",
                      cycle_momentum=False, div_factor=10.0, final_div_factor=100.0)


def trainer_epochs(recipe: Recipe) -> int:
    """The recipe's epochs as an int: the Trainer runs whole epochs (only airbench94, with its
    own loop, stops mid-epoch), so ``epochs=4.0`` is 4 and ``epochs=1.5`` is refused."""
    epochs = recipe.epochs
    if epochs != int(epochs) or epochs < 1:
        raise ValueError(f"recipe '{recipe.name}': epochs must be a whole number >= 1 for model "
                         f"'{recipe.model}' (only airbench94 stops mid-epoch), got {epochs}")
    return int(epochs)


def prepare_run(recipe: Recipe, root: str | None = None, seed: int = 0,
                limit_train: int | None = None, limit_test: int | None = None,
                download: bool = False) -> RunParts:
    """Build everything a recipe trains (seed the generators first with ``manual_seed``)."""
    if recipe.model == "airbench94":
        return prepare_airbench(recipe, root, seed, limit_train, limit_test, download)
    train, test, _ = cifar10_loaders(root, recipe.batch_size, recipe.augment, seed,
                                     limit_train=limit_train, limit_test=limit_test,
                                     crop_padding=recipe.crop_padding, download=download)
    model = build_model(recipe)
    if recipe.whiten:
        init_whitening(model, whitening_sample(train.dataset))
    optimizer = recipe_optimizer(model, recipe)
    scheduler = recipe_scheduler(optimizer, recipe, trainer_epochs(recipe) * len(train))
    return RunParts(model, optimizer, scheduler, train, test)


def train_cifar10(recipe: str | Recipe = "quick", root: str | None = None, out_dir: str = "runs/cifar10",
                  epochs: int | None = None, seed: int = 0, progress: bool = True,
                  limit_train: int | None = None, limit_test: int | None = None,
                  resume: str | None = None, download: bool = False,
                  kernels: str | None = None) -> dict:
    """Train a CNN on CIFAR-10 and measure its test accuracy; returns a summary dict.

    Writes ``out_dir/last.npz`` after every epoch (the checkpoint to resume from, also after
    a crash), then ``history.json``/``.csv``; at the end ``summary.json`` and, when matplotlib
    is installed, ``curves.png``. ``download``: fetch CIFAR-10 when it is missing (or a
    damaged file of it again). ``kernels``: tinytorch-spatial's ``fused`` kernels or its
    ``composite`` Tensor-op path; ``None`` picks composite when the student's tinytorch-spatial is
    installed (their own convolution trains) and fused otherwise. The first lines say which ran.
    """
    from tinytorch.core.spatial import fused_kernels

    from .provenance import choose_kernels, kernels_line

    kernels = choose_kernels(kernels)
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe '{recipe}'; choose from {sorted(RECIPES)}")
        recipe = RECIPES[recipe]
    if epochs is not None:
        recipe = Recipe(**{**asdict(recipe), "epochs": int(epochs)})
    keep_freed_memory()  # big batches: reuse freed pages instead of faulting fresh ones (runtime)
    manual_seed(seed)
    parts = prepare_run(recipe, root, seed, limit_train, limit_test, download)
    model, optimizer, scheduler, train, test = (parts.model, parts.optimizer, parts.scheduler,
                                                parts.train, parts.test)
    params = sum(p.data.size for p in model.parameters())
    trainer = Trainer(model, optimizer, CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
                      scheduler=scheduler, scheduler_interval="step", checkpoint_dir=out_dir,
                      log_dir=out_dir, progress=progress)
    print(f"TinyTorch CIFAR-10, recipe '{recipe.name}': {recipe.model} {recipe.widths}, "
          f"{params:,} parameters, {recipe.epochs} epochs of {len(train)} batches of "
          f"{recipe.batch_size}", flush=True)
    print(kernels_line(kernels), flush=True)
    start = time.perf_counter()
    with fused_kernels(kernels == "fused"):
        if recipe.model == "airbench94":  # its own loop: summed loss, lookahead, step budget
            fit_airbench(trainer, recipe, train, resume)
        else:
            trainer.fit(train, None, epochs=trainer_epochs(recipe), resume=resume)
        train_time = time.perf_counter() - start
        checkpoint = os.path.join(out_dir, "last.npz")  # written by the trainer after every epoch
        if not os.path.exists(checkpoint):  # nothing left to train (a finished run resumed)
            trainer.save(checkpoint, train)
        test_metrics = trainer.evaluate(test)
        if recipe.tta:
            test_metrics["acc_plain"] = test_metrics["acc"]
            test_metrics["acc"] = evaluate_tta(model, test, int(recipe.tta))
    total_time = time.perf_counter() - start
    summary = {
        "recipe": asdict(recipe), "seed": seed, "parameters": params, "kernels": kernels,
        "test_accuracy": test_metrics["acc"], "test_loss": test_metrics["loss"],
        "test_accuracy_without_tta": test_metrics.get("acc_plain"),
        "test_images": len(test.dataset), "train_images": len(train.dataset),
        "train_seconds": train_time, "total_seconds": total_time,
        "history": trainer.history, "checkpoint": os.path.abspath(checkpoint),
    }
    try:
        summary["plot"] = os.path.abspath(plot_history(trainer.history, os.path.join(out_dir, "curves.png"),
                                                       f"CIFAR-10, recipe {recipe.name}",
                                                       test_acc=test_metrics["acc"]))
    except ImportError:
        summary["plot"] = None
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    views = {1: "flip", 2: "flip and one-pixel shift"}.get(int(recipe.tta), "")
    tta_note = (f", with {views} test-time augmentation ({test_metrics['acc_plain'] * 100:.2f}% "
                "without)") if recipe.tta else ""
    print(f"test accuracy: {test_metrics['acc'] * 100:.2f}% on {len(test.dataset):,} test images"
          f"{tta_note} (loss {test_metrics['loss']:.4f}); total time {format_seconds(total_time)}",
          flush=True)
    print(f"checkpoint: {summary['checkpoint']}", flush=True)
    print("plot: " + (summary["plot"] or "not written (pip install 'tinytorch-training[plot]' for curves.png)"),
          flush=True)
    return summary


if __name__ == "__main__":  # python -m tinytorch.core.training.cifar10 [quick|full]
    train_cifar10(sys.argv[1] if len(sys.argv) > 1 else "quick")
