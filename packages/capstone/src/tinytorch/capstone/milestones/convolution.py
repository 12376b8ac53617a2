"""1998 — LeCun's convolutional network, on real photographs (CIFAR-10).

LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) read handwritten cheques with three ideas:
convolutions that share one small kernel across the image, pooling that shrinks it, and a few
dense layers at the end. Here the same shape — C1 5×5 conv, pool, C3 5×5 conv, pool, C5 conv,
then 120 and 84 units and 10 outputs — with batch normalisation (2015) after each conv, trained
on CIFAR-10's 32×32 colour photos with your convolution, pooling and batch norm.

With your tinytorch-spatial installed, the layers run your *composite* code (Tensor ops,
differentiated by autograd) unless ``--kernels fused`` says otherwise; the trained weights are
kept for the 2018 milestone.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DatasetNotFoundError
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import CrossEntropyLoss, Trainer
from tinytorch.core.training.cifar10 import (Recipe, cifar10_loaders, recipe_optimizer,
                                             recipe_scheduler)

from .base import Check, Context, Outcome
from .registry import MilestoneError

__all__ = ["lenet", "RECIPE", "QUICK", "weights_path", "save_weights", "load_weights", "run"]

#: The full run: four epochs over the 50,000 training images, SGD + Nesterov, one cycle.
RECIPE = Recipe("lenet", "lenet", epochs=4, batch_size=128, lr=0.1, weight_decay=5e-4)
#: The quick run: two epochs over the first 1,024 images, measured on 500 test images.
QUICK = {"epochs": 2, "batch_size": 64, "limit_train": 1024, "limit_test": 500}
FULL_MINUTES = 20.0


def lenet(num_classes: int = 10) -> Sequential:
    """LeNet-5's shape for 32×32 RGB, with batch norm: about 0.2 M parameters, 12 MFLOP/image."""
    return Sequential([
        Conv2d(3, 16, 5, padding=2, bias=False), BatchNorm2d(16), ReLU(), MaxPool2d(2),   # C1, S2
        Conv2d(16, 32, 5, padding=2, bias=False), BatchNorm2d(32), ReLU(), MaxPool2d(2),  # C3, S4
        Conv2d(32, 64, 3, padding=1, bias=False), BatchNorm2d(64), ReLU(), MaxPool2d(2),  # C5
        Flatten(), Dense(64 * 4 * 4, 120), ReLU(), Dense(120, 84), ReLU(),               # F6
        Dense(84, num_classes),
    ])


def weights_path(artifacts: Path, quick: bool) -> Path:
    """Where the trained network is kept (one file for the quick run, one for the full)."""
    return Path(artifacts) / f"1998-convolution{'-quick' if quick else ''}.npz"


def save_weights(model: Sequential, path: Path, info: dict) -> None:
    """Every entry of the state dict (running statistics too) and ``info`` as JSON: no pickle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"state/{k}": v for k, v in model.state_dict().items()}  # numpy copies
    np.savez(path, info=np.array(json.dumps(info)), **arrays)


def load_weights(path: Path) -> tuple:
    """``(model, info)`` from a file :func:`save_weights` wrote."""
    with np.load(path, allow_pickle=False) as f:
        info = json.loads(str(f["info"]))
        state = {k[len("state/"):]: f[k] for k in f.files if k.startswith("state/")}
    model = lenet()
    model.load_state_dict(state)
    return model, info


def run(ctx: Context) -> Outcome:
    """Train the LeNet-style network on CIFAR-10 and measure its test accuracy."""
    manual_seed(ctx.seed)
    recipe = RECIPE
    limit_train = limit_test = None  # every image
    if ctx.quick:
        recipe = Recipe(**{**asdict(RECIPE), "epochs": QUICK["epochs"],
                           "batch_size": QUICK["batch_size"]})
        limit_train, limit_test = QUICK["limit_train"], QUICK["limit_test"]
    # Recipe.epochs may be fractional (airbench's 9.9); this one's are whole
    epochs = math.ceil(recipe.epochs)
    try:
        train, test, _ = cifar10_loaders(ctx.data, recipe.batch_size, recipe.augment, ctx.seed,
                                         crop_padding=recipe.crop_padding,
                                         limit_train=limit_train, limit_test=limit_test)
    except DatasetNotFoundError as err:
        first = str(err).strip().splitlines()[0]  # the loader explains at length; one line here
        raise MilestoneError(f"CIFAR-10 is needed: {first} Get it with: tito data fetch cifar10 "
                             "(or pass --data DIR)") from None
    model = lenet()
    optimizer = recipe_optimizer(model, recipe)
    scheduler = recipe_scheduler(optimizer, recipe, epochs * len(train))
    trainer = Trainer(model, optimizer, CrossEntropyLoss(), scheduler=scheduler,
                      scheduler_interval="step", progress=ctx.progress)
    params = sum(p.data.size for p in model.parameters())
    ctx.log(f"LeNet-style CNN, {params:,} parameters: {recipe.epochs} epochs of {len(train)} "
            f"batches of {recipe.batch_size} ({len(train.dataset):,} training images)")
    start = time.perf_counter()
    trainer.fit(train, epochs=epochs)
    train_seconds = time.perf_counter() - start
    result = trainer.evaluate(test)
    minutes = (time.perf_counter() - start) / 60
    images_per_second = recipe.epochs * len(train) * recipe.batch_size / train_seconds
    ctx.log(f"trained at {images_per_second:.0f} images/s ({ctx.kernels} path); test loss "
            f"{result['loss']:.4f} on {len(test.dataset):,} test images")
    path = weights_path(ctx.artifacts, ctx.quick)
    info = {"test_accuracy": result["acc"], "test_images": len(test.dataset),
            "kernels": ctx.kernels, "quick": ctx.quick}
    save_weights(model, path, info)
    ctx.log(f"weights kept for the 2018 milestone: {path}")
    if ctx.quick:
        checks = [Check(f"test accuracy on {len(test.dataset)} images", result["acc"], ">=", 0.25,
                        percent=True)]
    else:
        checks = [Check("test accuracy on the 10,000 test images", result["acc"], ">=", 0.65,
                        percent=True),
                  Check("minutes, training and testing", minutes, "<=", FULL_MINUTES)]
    return Outcome(checks, {"epochs": recipe.epochs, "train_images": len(train.dataset),
                            "test_images": len(test.dataset), "test_loss": result["loss"],
                            "images_per_second": images_per_second, "minutes": minutes,
                            "weights": str(path)})
