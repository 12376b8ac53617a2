"""Derivative of matmul, including 1-D operands and broadcast batch dimensions.

For C = A @ B:  dA = dC @ Bᵀ  and  dB = Aᵀ @ dC. A 1-D operand is treated as a row (left) or
column (right) matrix, and batch dimensions that were broadcast are summed back.

Each rule follows the contract in ``derivatives/__init__.py``: ``(g, node)`` in, one
gradient array (or None) per input out, each of its input's shape.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.tensor import register_derivative, sum_to_shape
from tinytorch.core.tensor.opnames import MATMUL


@register_derivative(MATMUL)
def matmul_backward(g, node):
    """d(A @ B) = (g @ Bᵀ, Aᵀ @ g)"""
    A, B = node.inputs
    a, b = A.data, B.data
    if a.ndim == 2 and b.ndim == 2:  # the common case, without reshaping
        ### BEGIN SOLUTION
        ### HINT: C = A @ B with A (n, k), B (k, m), g (n, m): dA must be (n, k) and dB (k, m); match the shapes with a transpose
        return (g @ b.T if A.requires_grad else None, a.T @ g if B.requires_grad else None)
        ### END SOLUTION
    if a.ndim == 1 and b.ndim == 1:  # a dot product: g is a scalar
        return (g * b if A.requires_grad else None, g * a if B.requires_grad else None)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = np.expand_dims(g2, -1)
    ga = gb = None
    if A.requires_grad:
        ga = sum_to_shape(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    if B.requires_grad:
        gb = sum_to_shape(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
    return ga, gb
