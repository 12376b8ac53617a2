"""``gradcheck``: compare autograd's gradients with central differences, in float64.

For an output y = f(x₁, …, xₙ) we check one vector-Jacobian product: pick a fixed random
vector v shaped like y, let L = sum(v · y), get dL/dxᵢ from ``backward`` and, independently,
from (L(x + εeⱼ) - L(x - εeⱼ)) / 2ε for every element j. One backward checks the whole
Jacobian's action, not just a single output.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.numerical import numerical_grad

from .grad_mode import no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Autograd's gradient and the numerical one disagree."""


def _as_leaf(x: Any) -> Tensor:
    arr = np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64)
    return Tensor(arr, dtype=np.float64, requires_grad=True)


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
              raise_exception: bool = True) -> bool:
    """True if autograd's gradients of ``fn`` at ``inputs`` match central differences.

    Args:
        fn: maps the input tensors to one output tensor (any shape).
        inputs: arrays or tensors; each is copied to a float64 leaf that requires grad.
        eps: the finite-difference step.
        atol, rtol: tolerance of the comparison (``np.allclose``).
        seed: seed of the random projection vector v.
        raise_exception: raise :class:`GradcheckError` naming the input and the worst element
            instead of returning False.

    Example:
        >>> gradcheck(lambda a, b: (a * b).sum(), [np.ones(3), np.arange(3.0)])
        True
    """
    leaves = [_as_leaf(x) for x in inputs]
    out = fn(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    v = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(v)
    analytic = [np.zeros(x.shape) if x.grad is None else x.grad.data for x in leaves]

    def projected(*arrays: np.ndarray) -> float:
        with no_grad():
            y = fn(*[Tensor(a, dtype=np.float64) for a in arrays])
        return float(np.sum(v * y.data))

    arrays = [x.data.copy() for x in leaves]
    for i, x in enumerate(arrays):
        if np.shape(analytic[i]) != x.shape:
            raise GradcheckError(
                f"gradcheck: input {i} has shape {x.shape} but its gradient has shape "
                f"{np.shape(analytic[i])}"
            )
    # central differences of L = sum(v · f(x)), element by element: the tensor module's helper
    numerics = numerical_grad(projected, arrays, eps=eps)
    ok = True
    for i, (x, numeric) in enumerate(zip(arrays, numerics)):
        if not np.allclose(analytic[i], numeric, atol=atol, rtol=rtol):
            ok = False
            if raise_exception:
                err = np.abs(analytic[i] - numeric)
                worst = np.unravel_index(np.argmax(err), err.shape) if err.ndim else ()
                raise GradcheckError(
                    f"gradcheck: input {i} (shape {x.shape}): autograd gives "
                    f"{np.asarray(analytic[i])[worst]:.6g} at index {worst} but central "
                    f"differences give {numeric[worst]:.6g} (max abs error {err.max():.3g})"
                )
    return ok
