"""The scratch-buffer pool's former home: it now lives in :mod:`tinytorch.core.tensor.runtime`.

This module only re-exports the same objects (``WORKSPACE`` here *is* the runtime's pool), so
code and tests that import ``tinytorch.core.tensor.workspace`` keep working. New code imports
from ``tinytorch.core.tensor.runtime``.
"""

from .runtime import WORKSPACE, Workspace, clear_workspace

__all__ = ["Workspace", "WORKSPACE", "clear_workspace"]
