"""Small layers with no weights: Dropout, Identity, Flatten."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, default_generator

from .module import Module

__all__ = ["Dropout", "Identity", "Flatten"]


class Dropout(Module):
    """During training, zero each element with probability ``p`` and scale the rest by 1/(1-p).

    The scaling keeps every unit's expected value unchanged, so evaluation (where dropout is
    the identity) sees activations of the same size as training did.

    Args:
        p: probability of dropping an element, in [0, 1] (1 drops everything).
        generator: numpy Generator for the masks (default: tinytorch's seeded one).

    Shape:
        any -> the same shape
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
                or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be a number in [0, 1], got {p!r}")
        self.p = float(p)
        self.generator = generator

    def forward(self, x: Tensor) -> Tensor:
        """In training: ``x * mask / (1 - p)``, with mask ~ Bernoulli(1 - p) of ``x.shape``.

        The cases p = 0, p = 1 and evaluation mode are handled before the block; the block
        draws the mask from ``g`` (a numpy Generator) and returns a Tensor of ``x``'s shape and
        dtype, made with Tensor ops so autograd sees the multiplication.
        """
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0  # every element dropped (1/(1-p) would divide by zero)
        g = self.generator or default_generator()
        ### BEGIN SOLUTION
        ### HINT: g.random(x.shape, dtype=np.float32) is uniform in [0, 1); keep where it is >= p
        ### HINT: multiply x by a Tensor holding keep · 1/(1-p) in x's dtype (float64 would leak in)
        keep = g.random(x.shape, dtype=np.float32) >= self.p
        scale = np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * Tensor(keep.astype(x.dtype) * scale, dtype=x.dtype)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed layer)."""

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Flatten dimensions ``start_dim``..``end_dim`` (default: all but the batch)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
