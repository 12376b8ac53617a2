"""1986 — backpropagation: a hidden layer learns handwritten digits.

Rumelhart, Hinton and Williams (1986) showed that the chain rule, run backwards through the
network, trains hidden layers. Here an MLP, 64 pixels → 128 ReLU units → 10 digits, learns the
8×8 handwritten digits shipped in this package (1,797 images; 1,437 to learn from, 360 held
out), with your data loader, autograd, optimiser and training loop.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import CrossEntropyLoss, Trainer

from .base import Check, Context, Outcome
from .data import load_digits

__all__ = ["split_digits", "run"]

FULL_EPOCHS, QUICK_EPOCHS = 20, 4


def split_digits(seed: int, test_size: int = 360) -> tuple:
    """``(x_train, y_train, x_test, y_test)``: a seeded shuffle, the last ``test_size`` held out."""
    images, labels = load_digits()
    order = np.random.default_rng(seed).permutation(len(labels))
    train, test = order[:-test_size], order[-test_size:]
    return images[train], labels[train], images[test], labels[test]


def run(ctx: Context) -> Outcome:
    """Train the MLP with SGD and momentum; measure the held-out accuracy."""
    manual_seed(ctx.seed)
    x_train, y_train, x_test, y_test = split_digits(ctx.seed)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True, seed=ctx.seed)
    test = DataLoader(TensorDataset(x_test, y_test), batch_size=360)
    model = Sequential([Dense(64, 128), ReLU(), Dense(128, 10)])
    trainer = Trainer(model, SGD(model.parameters(), lr=0.05, momentum=0.9), CrossEntropyLoss(),
                      progress=ctx.progress)
    epochs = QUICK_EPOCHS if ctx.quick else FULL_EPOCHS
    trainer.fit(train, epochs=epochs)
    result = trainer.evaluate(test)
    ctx.log(f"{epochs} epochs on {len(y_train):,} digits; held-out loss {result['loss']:.4f}")
    threshold = 0.90 if ctx.quick else 0.95
    return Outcome([Check(f"test accuracy on {len(y_test)} held-out digits", result["acc"], ">=",
                          threshold, percent=True)],
                   {"epochs": epochs, "test_loss": result["loss"], "train_images": len(y_train)})
