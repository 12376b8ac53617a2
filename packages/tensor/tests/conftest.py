"""Shared fixtures for tinytorch-tensor's tests."""

import pytest

from tinytorch.core.tensor import set_grad_enabled


@pytest.fixture(autouse=True)
def _grad_mode_on():
    """Every test starts with graph recording on, and a test that turns it off cannot leak."""
    previous = set_grad_enabled(True)
    yield
    set_grad_enabled(previous)
