"""Gradient clipping by global norm: one bad batch must not throw the weights away.

    total = ‖(g₁, g₂, …, gₙ)‖            the norm of all gradients together, as one vector
    gᵢ ← gᵢ · min(1, max_norm / (total + 1e-6))
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from tinytorch.core.tensor import Tensor, from_numpy

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients in place so that their combined norm is at most ``max_norm``.

    Call it between ``loss.backward()`` and ``optimizer.step()``. Parameters without a
    gradient are skipped.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` to clip.
        max_norm: the largest allowed total norm.
        norm_type: which p-norm (2 by default; ``float("inf")`` for the largest entry).
        error_if_nonfinite: raise if the total norm is nan or inf (otherwise the gradients
            become nan/inf too, and the caller can skip the step).

    Returns:
        The total norm of the gradients *before* clipping, as a 0-d Tensor.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: invalid max_norm={max_norm} (must be >= 0)")
    if norm_type <= 0:
        raise ValueError(f"clip_grad_norm_: invalid norm_type={norm_type} (must be > 0)")
    grads = [p.grad.data for p in parameters if p.grad is not None]
    dtype = grads[0].dtype if grads else np.dtype(np.float32)
    if not grads:
        return from_numpy(np.zeros((), dtype=dtype))
    ### BEGIN SOLUTION
    ### HINT: the norm of the per-tensor norms is the norm of everything; then scale every
    ### HINT: gradient in place by min(1, max_norm / (total + 1e-6))
    if norm_type == float("inf"):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        per_tensor = [np.sum(np.abs(g.astype(np.float64)) ** norm_type) for g in grads]
        total = float(np.sum(per_tensor)) ** (1.0 / norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of the gradients is {total}; pass "
            "error_if_nonfinite=False to clip anyway"
        )
    scale = max_norm / (total + 1e-6)
    if not scale >= 1.0:  # also when the norm is nan: then every gradient becomes nan
        with np.errstate(invalid="ignore"):
            for g in grads:
                g *= g.dtype.type(scale)
    ### END SOLUTION
    return from_numpy(np.asarray(total, dtype=dtype))
