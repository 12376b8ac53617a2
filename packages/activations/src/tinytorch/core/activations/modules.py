"""The activations as layers: ``ReLU()``, ``Softmax(dim=-1)``... for use inside models.

Each class stores its settings and calls the function of the same name, so the math lives in
one place (``functional.py``) — except where a layer runs a fused form of that same function
for speed (``ReLU`` and the exact ``GELU``: :mod:`.fused`), checked against it by the tests. Their ``repr`` matches PyTorch's (``ReLU()``,
``LeakyReLU(negative_slope=0.01)``, ``GELU(approximate='none')``, ``Softmax(dim=-1)``).
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.tensor import Tensor

from .base import Activation
from .functional import (
    GELU_APPROXIMATIONS,
    _float_tensor,
    _resolve_dim,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .fused import gelu as gelu_fused

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax"]


class ReLU(Activation):
    """``max(x, 0)``: the default hidden-layer activation.

    Shape:
        any -> the same shape
    """

    def forward(self, x: Any) -> Tensor:
        return relu(x)


class LeakyReLU(Activation):
    """``x`` for x > 0, ``negative_slope · x`` otherwise (negative inputs keep a small gradient).

    Args:
        negative_slope: the slope for negative inputs.
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Activation):
    """``1 / (1 + exp(-x))``, squashing to (0, 1); stable for inputs of any size."""

    def forward(self, x: Any) -> Tensor:
        return sigmoid(x)


class Tanh(Activation):
    """Hyperbolic tangent, squashing to (-1, 1)."""

    def forward(self, x: Any) -> Tensor:
        return tanh(x)


class GELU(Activation):
    """``x · Φ(x)``, the smooth ReLU of transformers.

    Args:
        approximate: ``"none"`` (exact, with erf) or ``"tanh"`` (the tanh approximation).
    """

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in GELU_APPROXIMATIONS:
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Any) -> Tensor:
        if self.approximate == "none":  # the same function as gelu(x), as one fused op
            return gelu_fused(_float_tensor(x))
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Activation):
    """Normalise along ``dim`` so each slice is a probability distribution (sums to 1).

    Args:
        dim: the axis to normalise over (default: the last).
        axis: numpy's name for ``dim``.
    """

    def __init__(self, dim: int | None = None, *, axis: int | None = None) -> None:
        self.dim = _resolve_dim(dim, axis, "Softmax")

    def forward(self, x: Any) -> Tensor:
        return softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Activation):
    """``log(softmax(x))`` along ``dim``, stable for any input (pairs with NLL loss).

    Args:
        dim: the axis to normalise over (default: the last).
        axis: numpy's name for ``dim``.
    """

    def __init__(self, dim: int | None = None, *, axis: int | None = None) -> None:
        self.dim = _resolve_dim(dim, axis, "LogSoftmax")

    def forward(self, x: Any) -> Tensor:
        return log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
