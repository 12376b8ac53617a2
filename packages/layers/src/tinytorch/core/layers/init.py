"""Weight initialisation: the scale of the first random weights decides whether a deep net
trains at all. Each function fills a Parameter in place and returns it.

* Xavier/Glorot (tanh, sigmoid): keep the variance of activations *and* of gradients about
  the same from layer to layer — Var(w) = 2 / (fan_in + fan_out).
* Kaiming/He (ReLU): ReLU zeroes half its inputs, so double the variance — Var(w) = 2 / fan_in.

Uniform variants draw from U(-b, b), whose variance is b²/3. Randomness comes from the
generator passed in, or tinytorch's default one (``tinytorch.core.tensor.manual_seed``).
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor, default_generator

__all__ = ["fan_in_and_out", "uniform_", "normal_", "zeros_", "ones_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "calculate_gain"]


def fan_in_and_out(shape: tuple) -> tuple:
    """(fan_in, fan_out) of a weight: (out, in) for Dense, (out, in, kh, kw) for Conv2d."""
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance for a given nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "sigmoid", "identity", "conv1d", "conv2d", "conv3d",
                        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        return 1.0
    if nonlinearity == "selu":
        return 0.75
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"unknown nonlinearity '{nonlinearity}'")


def _fan(shape: tuple, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _fill(t: Tensor, values: np.ndarray) -> Tensor:
    t.data[...] = values.astype(t.data.dtype, copy=False)
    return t


def uniform_(t: Tensor, low: float = 0.0, high: float = 1.0, generator=None) -> Tensor:
    """Fill with U(low, high)."""
    g = generator or default_generator()
    return _fill(t, g.uniform(low, high, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std²)."""
    g = generator or default_generator()
    return _fill(t, g.normal(mean, std, size=t.shape))


def zeros_(t: Tensor) -> Tensor:
    """Fill with 0."""
    t.data[...] = 0
    return t


def ones_(t: Tensor) -> Tensor:
    """Fill with 1."""
    t.data[...] = 1
    return t


def xavier_uniform_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Xavier/Glorot uniform: fill ``t`` with U(-b, b), b = gain · √(6 / (fan_in + fan_out)).

    Args:
        t: a weight of at least 2 dimensions, (out, in) or (out, in, kh, kw); filled in place.
        gain: the nonlinearity's factor (:func:`calculate_gain`).

    Returns:
        ``t``. Its variance is b²/3 = gain² · 2 / (fan_in + fan_out).
    """
    fan_in, fan_out = fan_in_and_out(t.shape)
    ### BEGIN SOLUTION
    ### HINT: U(-b, b) has variance b²/3; choose b so that b²/3 = gain² · 2 / (fan_in + fan_out)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    ### END SOLUTION
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Xavier/Glorot normal: fill ``t`` with N(0, std²), std = gain · √(2 / (fan_in + fan_out)).

    Args:
        t: a weight of at least 2 dimensions; filled in place.
        gain: the nonlinearity's factor (:func:`calculate_gain`).

    Returns:
        ``t``.
    """
    fan_in, fan_out = fan_in_and_out(t.shape)
    ### BEGIN SOLUTION
    ### HINT: the standard deviation is the square root of the variance you want (math.sqrt)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    ### END SOLUTION
    return normal_(t, 0.0, std, generator)


def kaiming_uniform_(t: Tensor, a: float = 0.0, nonlinearity: str = "leaky_relu",
                     mode: str = "fan_in", generator=None) -> Tensor:
    """Kaiming/He uniform: fill ``t`` with U(-b, b), b = gain · √(3 / fan).

    Args:
        t: a weight of at least 2 dimensions; filled in place.
        a: negative slope of the leaky ReLU (the ``param`` of :func:`calculate_gain`).
            PyTorch's Linear/Conv default is a = √5, which gives b = 1/√fan_in.
        nonlinearity: name looked up by :func:`calculate_gain`.
        mode: "fan_in" (keeps the forward activations' variance) or "fan_out" (the gradients').

    Returns:
        ``t``. Its variance is b²/3 = gain² / fan (2 / fan for ReLU).
    """
    fan = _fan(t.shape, mode)
    ### BEGIN SOLUTION
    ### HINT: gain = calculate_gain(nonlinearity, a); fan is already the one ``mode`` asks for
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    ### END SOLUTION
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(t: Tensor, a: float = 0.0, nonlinearity: str = "relu",
                    mode: str = "fan_in", generator=None) -> Tensor:
    """Kaiming/He normal: fill ``t`` with N(0, std²), std = gain / √fan.

    Args:
        t: a weight of at least 2 dimensions; filled in place.
        a: negative slope of the leaky ReLU (passed to :func:`calculate_gain`).
        nonlinearity: name looked up by :func:`calculate_gain` (default "relu": gain √2).
        mode: "fan_in" or "fan_out".

    Returns:
        ``t``. For ReLU its variance is 2 / fan.
    """
    fan = _fan(t.shape, mode)
    ### BEGIN SOLUTION
    ### HINT: the same gain as kaiming_uniform_; variance gain²/fan, so std is gain over √fan
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    ### END SOLUTION
    return normal_(t, 0.0, std, generator)
