"""Shared fixtures for tinytorch-kernels' tests: a fake clock for the timing harness."""

from __future__ import annotations

import pytest


class FakeClock:
    """A clock that only moves when told to: ``clock()`` reads it, ``advance(s)`` moves it.

    A function under test "takes" s seconds by calling ``clock.advance(s)``, so the harness's
    statistics can be checked exactly, whatever the real machine is doing.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def costs(self, durations):
        """A function that advances the clock by the next of ``durations`` on every call."""
        it = iter(durations)

        def fn(*args):
            self.advance(next(it))
            return args
        return fn


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
