"""Shared fixtures for tinytorch-spatial's tests."""

import pytest

from tinytorch.core.spatial import WORKSPACE, set_fused_kernels
from tinytorch.core.tensor import set_grad_enabled
from tinytorch.core.tensor.runtime import set_num_threads


@pytest.fixture(autouse=True)
def _defaults():
    """Every test starts with graph recording on, the fused kernels on and one thread."""
    grad = set_grad_enabled(True)
    fused = set_fused_kernels(True)
    threads = set_num_threads(1)
    yield
    set_grad_enabled(grad)
    set_fused_kernels(fused)
    set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _pool_every_buffer():
    """The workspace normally pools only big arrays; the tests' arrays are small, so pool them
    all — every test then also exercises buffer reuse."""
    previous = WORKSPACE.min_bytes
    WORKSPACE.min_bytes = 0
    yield
    WORKSPACE.min_bytes = previous
