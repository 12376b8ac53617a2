"""More activations a PyTorch user reaches for: SiLU, ELU, Softplus, Mish, Hardswish, LogSigmoid.

Given, not exercises: each is a few Tensor primitives (``where``, ``exp``, ``log1p``,
``tanh``, arithmetic) on top of the lesson's ``sigmoid``, so each is differentiable once
tinytorch-autograd is installed, and each agrees with ``torch.nn.functional`` in value and
gradient (checked in ``integration/test_layers_torch.py``), at the kinks too.

One trap runs through all of them. ``where(cond, a, b)`` computes *both* branches; the
gradient of the branch not taken is multiplied by 0 — and ``0 · inf`` is NaN. So a branch that
would overflow where it is not used (``exp(x)`` for large x in ELU's negative branch,
``exp(βx)`` in Softplus's smooth branch) is fed a harmless 0 there instead of x.
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.tensor import Tensor, where

from .base import Activation
from .functional import _float_tensor, sigmoid

__all__ = ["silu", "elu", "softplus", "mish", "hardswish", "logsigmoid",
           "SiLU", "ELU", "Softplus", "Mish", "Hardswish", "LogSigmoid"]


def silu(x: Any) -> Tensor:
    """Sigmoid linear unit (swish): ``x · sigmoid(x)``.

    Example:
        >>> round(silu(Tensor([1.0])).item(), 4)
        0.7311
    """
    x = _float_tensor(x)
    return x * sigmoid(x)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for x > 0, ``alpha · (exp(x) - 1)`` otherwise.

    At exactly 0 the gradient is ``alpha`` (the negative branch's), as in PyTorch.

    Example:
        >>> [round(v, 4) for v in elu(Tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    x = _float_tensor(x)
    positive = x > 0
    negative_part = where(positive, 0.0, x)  # exp never sees a large x (see the module notes)
    return where(positive, x, _expm1(negative_part) * float(alpha))


def _expm1(x: Tensor) -> Tensor:
    """``exp(x) - 1`` without the cancellation near 0, from ``tanh``: with ``t = tanh(x/2)``,
    ``exp(x) = (1 + t) / (1 - t)``, so ``exp(x) - 1 = 2t / (1 - t)`` — exact maths, and for
    x <= 0 (t in (-1, 0]) nothing cancels. (``exp(x) - 1`` itself returns 0 for x = -1e-8 in
    float32, a relative error of 100%.)"""
    t = (x * 0.5).tanh()
    return t * 2 / (1 - t)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """A smooth ReLU: ``log(1 + exp(β·x)) / β``, and ``x`` itself where ``β·x > threshold``.

    Above the threshold the two agree to float precision; below it ``log1p`` keeps the tiny
    values of very negative inputs accurate (``log(1 + e)`` would round them to 0).

    Example:
        >>> round(softplus(Tensor([0.0])).item(), 4)
        0.6931
    """
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero (it divides the result)")
    x = _float_tensor(x)
    scaled = x * float(beta)
    linear = scaled > threshold
    smooth = where(linear, 0.0, scaled)  # exp never sees a large β·x
    return where(linear, x, smooth.exp().log1p() / float(beta))


def mish(x: Any) -> Tensor:
    """``x · tanh(softplus(x))``.

    Example:
        >>> round(mish(Tensor([1.0])).item(), 4)
        0.8651
    """
    x = _float_tensor(x)
    return x * softplus(x).tanh()


def hardswish(x: Any) -> Tensor:
    """``x · relu6(x + 3) / 6``: 0 up to -3, ``x`` from 3 on, ``x (x + 3) / 6`` between.

    At -3 and 3 the gradient is the outer piece's (0 and 1), as in PyTorch.

    Example:
        >>> hardswish(Tensor([-4.0, 0.0, 4.0])).tolist()
        [0.0, 0.0, 4.0]
    """
    x = _float_tensor(x)
    middle = x * (x + 3) / 6
    return where(x <= -3, 0.0, where(x >= 3, x, middle))


def logsigmoid(x: Any) -> Tensor:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for any finite x (no log of 0).

    Example:
        >>> round(logsigmoid(Tensor([0.0])).item(), 4)
        -0.6931
    """
    return -softplus(-_float_tensor(x))


# ----------------------------------------------------------------------------- layers
class SiLU(Activation):
    """``x · sigmoid(x)`` (also called swish).

    Shape:
        any -> the same shape
    """

    def forward(self, x: Any) -> Tensor:
        return silu(x)


class ELU(Activation):
    """``x`` for x > 0, ``alpha · (exp(x) - 1)`` otherwise.

    Args:
        alpha: the value the negative side tends to is ``-alpha``.
    """

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def forward(self, x: Any) -> Tensor:
        return elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(Activation):
    """``log(1 + exp(β·x)) / β``, linear where ``β·x > threshold``.

    Args:
        beta: the sharpness (larger is closer to ReLU); non-zero.
        threshold: above ``β·x > threshold`` the output is ``x``.
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        if beta == 0:
            raise ValueError("Softplus: beta must be non-zero (it divides the result)")
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x: Any) -> Tensor:
        return softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Mish(Activation):
    """``x · tanh(softplus(x))``."""

    def forward(self, x: Any) -> Tensor:
        return mish(x)


class Hardswish(Activation):
    """``x · relu6(x + 3) / 6``, a piecewise-quadratic SiLU."""

    def forward(self, x: Any) -> Tensor:
        return hardswish(x)


class LogSigmoid(Activation):
    """``log(sigmoid(x))``, computed as ``-softplus(-x)``."""

    def forward(self, x: Any) -> Tensor:
        return logsigmoid(x)
