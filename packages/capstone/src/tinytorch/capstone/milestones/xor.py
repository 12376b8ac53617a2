"""1969 — XOR: what one layer cannot do, and the hidden layer that does it.

XOR is 1 when exactly one of two bits is 1. No straight line separates {(0,1), (1,0)} from
{(0,0), (1,1)}, so a single layer — whatever its training — gets at most three of the four
points right (Minsky and Papert, *Perceptrons*, 1969). One hidden layer bends the boundary:
Dense(2, 4) · Tanh · Dense(4, 1) gets all four. Both are trained here with the same loss
(binary cross-entropy on the logit) and optimiser, and both results are shown.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import Tanh
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import BCEWithLogitsLoss

from .base import Check, Context, Outcome

__all__ = ["XOR_INPUTS", "XOR_TARGETS", "train_on_xor", "run"]

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_TARGETS = np.array([0, 1, 1, 0], dtype=np.float32)


def train_on_xor(model: Sequential, steps: int = 500, lr: float = 0.05) -> tuple:
    """Train ``model`` on XOR's four points; returns (accuracy, final loss)."""
    if steps < 1:
        raise ValueError(f"train_on_xor: steps must be at least 1, got {steps}")
    opt = Adam(model.parameters(), lr=lr)
    loss_fn = BCEWithLogitsLoss()
    x, y = Tensor(XOR_INPUTS), Tensor(XOR_TARGETS[:, None])
    loss = None
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss is not None  # steps >= 1
    predicted = (model(x).data[:, 0] > 0).astype(np.float32)
    return float(np.mean(predicted == XOR_TARGETS)), float(loss.item())


def run(ctx: Context) -> Outcome:
    """One layer, then one hidden layer, on XOR."""
    manual_seed(ctx.seed)
    single, single_loss = train_on_xor(Sequential([Dense(2, 1)]))
    ctx.log(f"one layer, Dense(2, 1): {single * 100:.0f}% of XOR's four points (loss "
            f"{single_loss:.3f}: it cannot get lower than ln 2 = 0.693 by much)")
    hidden, hidden_loss = train_on_xor(Sequential([Dense(2, 4), Tanh(), Dense(4, 1)]))
    ctx.log(f"one hidden layer, Dense(2, 4) · Tanh · Dense(4, 1): {hidden * 100:.0f}% (loss "
            f"{hidden_loss:.3f})")
    return Outcome([Check("one hidden layer: accuracy", hidden, ">=", 1.0, percent=True),
                    Check("one layer: accuracy", single, "<=", 0.75, percent=True)],
                   {"single_layer_loss": single_loss, "hidden_layer_loss": hidden_loss})
