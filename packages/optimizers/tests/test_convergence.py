"""Every optimizer, driven by autograd's gradients, finds the minimum of classic test functions."""

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, Adam, AdamW, RMSprop
from tinytorch.core.tensor import Tensor

QUADRATIC = [
    ("sgd", lambda ps: SGD(ps, lr=0.05)),
    ("sgd-momentum", lambda ps: SGD(ps, lr=0.02, momentum=0.9)),
    ("sgd-nesterov", lambda ps: SGD(ps, lr=0.02, momentum=0.9, nesterov=True)),
    ("adam", lambda ps: Adam(ps, lr=0.1)),
    ("adam-amsgrad", lambda ps: Adam(ps, lr=0.1, amsgrad=True)),
    ("adamw", lambda ps: AdamW(ps, lr=0.1, weight_decay=1e-4)),
    ("rmsprop", lambda ps: RMSprop(ps, lr=0.03)),
    ("rmsprop-centered-momentum", lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True)),
]


@pytest.mark.parametrize("name, make", QUADRATIC, ids=[q[0] for q in QUADRATIC])
def test_minimises_an_ill_conditioned_quadratic(name, make):
    target = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]], dtype=np.float32)
    scale = Tensor(np.arange(1.0, 7.0).reshape(2, 3))  # curvatures 1..6
    w = Tensor(np.zeros((2, 3)), requires_grad=True)
    opt = make([w])
    for _ in range(400):
        opt.zero_grad()
        loss = (scale * (w - Tensor(target)) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(w.data, target, atol=2e-2)
    assert w.dtype == np.float32


ROSENBROCK = [
    ("sgd-momentum", lambda ps: SGD(ps, lr=1e-3, momentum=0.9)),
    ("sgd-nesterov", lambda ps: SGD(ps, lr=1e-3, momentum=0.9, nesterov=True)),
    ("adam", lambda ps: Adam(ps, lr=0.05)),
    ("adamw", lambda ps: AdamW(ps, lr=0.05, weight_decay=0.0)),
    ("rmsprop-momentum", lambda ps: RMSprop(ps, lr=1e-3, momentum=0.9)),
    ("rmsprop-centered", lambda ps: RMSprop(ps, lr=1e-3, momentum=0.9, centered=True)),
]


@pytest.mark.parametrize("name, make", ROSENBROCK, ids=[r[0] for r in ROSENBROCK])
def test_finds_the_bottom_of_rosenbrocks_valley(name, make):
    xy = Tensor([-1.5, 2.0], dtype=np.float64, requires_grad=True)
    opt = make([xy])
    for _ in range(1500):
        opt.zero_grad()
        x, y = xy[0], xy[1]
        loss = (1 - x) ** 2 + 100 * (y - x * x) ** 2
        loss.backward()
        opt.step()
    np.testing.assert_allclose(xy.data, [1.0, 1.0], atol=2e-2)


def test_weight_decay_pulls_towards_zero():
    """With a flat loss the only force left is the decay: AdamW shrinks geometrically."""
    w = Tensor([4.0, -4.0], requires_grad=True)
    opt = AdamW([w], lr=0.1, weight_decay=0.5)
    for _ in range(10):
        opt.zero_grad()
        (w * 0.0).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, np.float32([4.0, -4.0]) * 0.95 ** 10, rtol=1e-5)
