"""Shared fixtures of tinytorch-benchmarking's tests: a fake clock, and layers that "take" a
chosen time forward and backward on it, so every timing figure can be checked exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.layers import Module
from tinytorch.core.tensor import make_result, register_derivative

WORK_OP = "benchmarking_tests.work"


class FakeClock:
    """A clock that moves only when told: ``clock()`` reads it, ``advance(s)``/``sleep(s)`` move it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0
        self.sleeps: list = []

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@register_derivative(WORK_OP)
def _work_backward(grad: np.ndarray, node) -> tuple:
    clock, seconds = node.saved
    clock.advance(seconds)
    return (grad,)


class Work(Module):
    """An identity layer that takes ``fwd`` seconds forward and ``bwd`` backward on ``clock``."""

    def __init__(self, clock: FakeClock, fwd: float, bwd: float) -> None:
        super().__init__()
        self.clock, self.fwd, self.bwd = clock, fwd, bwd

    def forward(self, x):
        self.clock.advance(self.fwd)
        return make_result(x.data * 1.0, WORK_OP, (x,), (self.clock, self.bwd))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def work():
    """The :class:`Work` layer class (test files cannot import conftest under importlib mode)."""
    return Work


def pytest_configure(config):
    # so `tito test benchmarking` outside the repository (without its pytest.ini) knows them
    config.addinivalue_line("markers", "torch: compares with PyTorch (skipped without torch)")
