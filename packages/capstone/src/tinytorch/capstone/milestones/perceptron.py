"""1957 — Rosenblatt's perceptron: one neuron finds a line that separates two classes.

The perceptron predicts sign(w·x + b). Rosenblatt's rule: for every point it gets wrong, move w
by y·x (and b by y). That is gradient descent on the *perceptron criterion*

    L(w, b) = sum over points of max(0, −y · (w·x + b))

whose gradient is −y·x for each misclassified point and 0 for the others — so the rule needs
nothing but a Dense(2, 1) layer, a ReLU, autograd and SGD. On points a straight line can
separate, the perceptron convergence theorem (Novikoff, 1962) says it stops making mistakes
after finitely many updates: 100% of the points it learned from.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dense
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor, manual_seed

from .base import Check, Context, Outcome

__all__ = ["random_line", "separable_points", "run"]


def random_line(rng: np.random.Generator) -> tuple:
    """A random line ``normal·x + offset = 0`` through the square [-1, 1]²."""
    angle = rng.uniform(0, 2 * np.pi)
    return np.array([np.cos(angle), np.sin(angle)]), rng.uniform(-0.3, 0.3)


def separable_points(n: int, rng: np.random.Generator, line: tuple, margin: float = 0.1) -> tuple:
    """``n`` points in [-1, 1]² labelled ±1 by which side of ``line`` they are on, none closer
    to it than ``margin``."""
    normal, offset = line
    points = np.empty((0, 2))
    while len(points) < n:
        cand = rng.uniform(-1, 1, (2 * n, 2))
        keep = np.abs(cand @ normal + offset) > margin
        points = np.concatenate([points, cand[keep]])[:n]
    labels = np.sign(points @ normal + offset)
    return points.astype(np.float32), labels.astype(np.float32)


def _accuracy(neuron: Dense, x: np.ndarray, y: np.ndarray) -> float:
    scores = neuron(Tensor(x)).data[:, 0]
    return float(np.mean(np.where(scores > 0, 1.0, -1.0) == y))


def run(ctx: Context) -> Outcome:
    """Train one neuron with the perceptron rule until it separates its 200 points."""
    rng = np.random.default_rng(ctx.seed)
    manual_seed(ctx.seed)
    line = random_line(rng)
    x, y = separable_points(200, rng, line)
    x_new, y_new = separable_points(200, rng, line)  # more points from the same two sides
    neuron = Dense(2, 1)
    relu = ReLU()
    opt = SGD(neuron.parameters(), lr=0.1)
    data, target = Tensor(x), Tensor(y[:, None])
    epochs = 0
    for epochs in range(1, 1001):
        # the perceptron criterion: only misclassified points (y·score < 0) contribute
        loss = relu(-(target * neuron(data))).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if _accuracy(neuron, x, y) == 1.0:
            break
    train_acc = _accuracy(neuron, x, y)
    new_acc = _accuracy(neuron, x_new, y_new)
    w = neuron.weight.data[0]
    ctx.log(f"{epochs} epochs of the perceptron rule; the line {w[0]:+.3f}·x1 {w[1]:+.3f}·x2 "
            f"{float(neuron.bias.data[0]):+.3f} = 0")
    ctx.log(f"accuracy on 200 new points from the same two sides: {new_acc * 100:.1f}%")
    return Outcome([Check("accuracy on its 200 points", train_acc, ">=", 1.0, percent=True)],
                   {"epochs": epochs, "accuracy_new_points": new_acc})
