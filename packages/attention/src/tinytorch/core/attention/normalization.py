"""Layer normalisation: give every token's vector mean 0 and variance 1, then rescale it.

    y = (x - mean(x)) / √(var(x) + eps) · weight + bias        statistics over the last dims

Unlike batch normalisation it uses no statistics of other examples, so it behaves the same in
training and evaluation, for a batch of one, and at every position of a sequence. A transformer
normalises before each sub-layer (the "pre-norm" block) to keep the residual stream's scale
under control as layers are stacked.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions (PyTorch's ``nn.LayerNorm``).

    Args:
        normalized_shape: the size of the last dimension, or a tuple of the last few sizes.
        eps: added to the variance before the square root (keeps a constant input finite).
        elementwise_affine: learn a per-feature ``weight`` (init 1) and ``bias`` (init 0).
        bias: with ``elementwise_affine``, also learn the bias.

    Shape:
        ``(*, *normalized_shape)`` -> the same shape.

    Example:
        >>> ln = LayerNorm(4)
        >>> y = ln(Tensor([[1.0, 2.0, 3.0, 4.0]]))
        >>> [round(float(v), 3) for v in y.numpy()[0]]
        [-1.342, -0.447, 0.447, 1.342]
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape or any(not isinstance(n, (int, np.integer)) or n < 1 for n in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}")
        if eps <= 0:
            raise ValueError(f"LayerNorm: eps must be > 0, got {eps}")
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=np.float32))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        """Normalise each vector over the last ``len(normalized_shape)`` dimensions."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        k = len(self.normalized_shape)
        if x.ndim < k or tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: the input's last {k} dimension(s) must be "
                f"{self.normalized_shape}, got input shape {x.shape}"
            )
        axes = tuple(range(x.ndim - k, x.ndim))
        ### BEGIN SOLUTION
        ### HINT: mean and (biased) variance over `axes` with keepdims=True; (x - mean) / sqrt(var + eps);
        ### HINT: then * weight and + bias when they exist. Tensor ops only, so autograd can follow.
        centered = x - x.mean(axis=axes, keepdims=True)
        var = (centered * centered).mean(axis=axes, keepdims=True)
        y = centered / (var + self.eps).sqrt()
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y
        ### END SOLUTION

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
