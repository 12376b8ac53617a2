"""``numerical_grad``: derivatives by central differences — the reference every gradient is
checked against.

Plain numpy, no test dependencies, so that runtime code may use it too: the autograd module's
``gradcheck`` builds on it, and every package's tests reach it through
``tinytorch.core.tensor.testing``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["numerical_grad"]


def numerical_grad(f: Callable[..., float], arrays_in: Sequence[np.ndarray],
                   eps: float = 1e-6) -> list:
    """Central differences of the scalar ``f(*arrays_in)`` with respect to each array (float64).

    Each element is nudged by ±eps in turn: (f(x + eps) - f(x - eps)) / (2 eps).

    Args:
        f: maps the arrays (float64 copies of ``arrays_in``) to a number.
        arrays_in: the point to differentiate at; not modified.
        eps: the step.

    Returns:
        one float64 array per input, of its shape: the derivative of ``f`` by each element.

    Example:
        >>> (g,) = numerical_grad(lambda a: (a ** 2).sum(), [np.array([1.0, -2.0])])
        >>> g.round(6).tolist()
        [2.0, -4.0]
    """
    xs = [np.array(a, dtype=np.float64) for a in arrays_in]
    grads = []
    for x in xs:
        g = np.zeros_like(x)
        flat, gflat = x.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = float(f(*xs))
            flat[i] = old - eps
            minus = float(f(*xs))
            flat[i] = old
            gflat[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads
