"""Modules 03–05 + autograd (09) + optimizers (10): an MLP learns the two-spirals problem.

Nothing in layers, activations or dense knows about autograd or optimizers; installing
tinytorch-autograd makes them trainable, and tinytorch-optimizers moves their weights.
"""

import numpy as np
import pytest

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.dense import MLP
from tinytorch.core.optimizers import SGD, Adam, CosineAnnealingLR, clip_grad_norm_
from tinytorch.core.tensor import Tensor, manual_seed


def two_spirals(n_per_class=200, noise=0.1, seed=0):
    """Two interleaved spirals, 1.5 turns each: not separable by any line or simple curve."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(n_per_class)) * 3 * np.pi  # denser near the centre
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, noise / (3 * np.pi) * 3, (2 * n_per_class, 2))
    y = np.repeat([0, 1], n_per_class)
    order = rng.permutation(2 * n_per_class)
    return x[order].astype(np.float32), y[order]


def cross_entropy(logits, labels):
    return -logits.log_softmax(axis=1)[np.arange(len(labels)), labels].mean()


def accuracy(model, x, y):
    return float((model(Tensor(x)).data.argmax(axis=1) == y).mean())


def train(model, opt, x, y, steps, scheduler=None, clip=None):
    xt = Tensor(x)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = cross_entropy(model(xt), y)
        loss.backward()
        if clip is not None:
            clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("recipe", ["adam", "sgd-momentum"])
def test_mlp_learns_two_spirals(recipe):
    manual_seed(0)
    x, y = two_spirals()
    model = MLP(2, [64, 64], 2, activation=Tanh if recipe == "adam" else ReLU)
    params = list(model.parameters())
    assert all(p.dtype == np.float32 for p in params)
    if recipe == "adam":
        opt = Adam(params, lr=0.02)
        losses = train(model, opt, x, y, 300)
    else:
        opt = SGD(params, lr=0.1, momentum=0.9)
        sched = CosineAnnealingLR(opt, T_max=600, eta_min=0.01)
        losses = train(model, opt, x, y, 600, scheduler=sched, clip=5.0)
    assert accuracy(model, x, y) >= 0.95, f"loss went {losses[0]:.3f} -> {losses[-1]:.3f}"
    assert losses[-1] < 0.25 * losses[0]
    assert all(p.dtype == np.float32 for p in model.parameters())
    x_test, y_test = two_spirals(seed=1)  # fresh points from the same spirals
    assert accuracy(model, x_test, y_test) >= 0.9


def test_a_linear_model_cannot_do_it():
    """The check above is not trivial: without hidden layers the best is near chance."""
    manual_seed(0)
    x, y = two_spirals()
    model = MLP(2, [], 2)
    train(model, Adam(model.parameters(), lr=0.05), x, y, 200)
    assert accuracy(model, x, y) < 0.75
