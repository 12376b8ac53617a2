"""Reusable scratch buffers for the fused kernels — the pool of module 02.

The pool started here, for the fused kernels' big temporaries. ReLU (module 02) and its
derivative (module 09) need the same thing, and they come before this module, so the pool now
lives in :mod:`tinytorch.core.tensor.workspace`; this module names the same objects, so the
kernels, ReLU and ``clear_workspace()`` all share one pool. How buffers are reused — only when
the pool holds the last reference — is explained there.
"""

from tinytorch.core.tensor.workspace import WORKSPACE, Workspace, clear_workspace

__all__ = ["Workspace", "WORKSPACE", "clear_workspace"]
