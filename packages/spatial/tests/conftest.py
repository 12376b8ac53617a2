"""Shared fixtures for tinytorch-spatial's tests."""

import pytest

from tinytorch.core.spatial import set_fused_kernels
from tinytorch.core.spatial.parallel import set_num_threads
from tinytorch.core.tensor import set_grad_enabled


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
