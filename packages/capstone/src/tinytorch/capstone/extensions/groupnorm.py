"""Group normalisation (Wu & He, 2018), written in Tensor ops so autograd differentiates it.

Batch norm normalises each channel over the batch; its statistics are noisy for small batches
and differ between training and evaluation. Group norm normalises each *sample* over groups of
channels, so it behaves the same for a batch of 2 as of 256, in training and in evaluation:

    x: (N, C, H, W) -> view as (N, G, C/G, H, W)
    μ, σ² = mean and variance over (C/G, H, W), one pair per sample and group
    y = (x - μ) / sqrt(σ² + ε), back to (N, C, H, W), then γ·y + β per channel

With G = 1 it is layer norm over (C, H, W); with G = C it is instance norm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor

__all__ = ["GroupNorm", "group_norm"]


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise ``x`` (N, C, ...) over groups of ``C / num_groups`` channels, per sample.

    For each sample n and group g, μ and σ² are the mean and the (biased) variance over the
    group's ``C / G`` channels and every spatial position; ``y = (x - μ) / sqrt(σ² + eps)``.
    Then, when given, ``weight`` (γ, shape (C,)) scales and ``bias`` (β, shape (C,)) shifts
    each channel. Returns a Tensor of ``x``'s shape, built from Tensor ops (reshape, mean,
    arithmetic, sqrt) so that autograd differentiates it.

    Raises:
        ValueError: ``x`` has fewer than 2 dimensions, or C is not divisible by ``num_groups``.
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected (N, C, ...) input, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels cannot be split into {num_groups} groups")
    spatial = x.shape[2:]
    ### BEGIN SOLUTION
    ### HINT: reshape to (N, G, C/G, *spatial), take mean and variance over every axis from 2
    ### HINT: on (keepdims=True), normalise, reshape back; γ and β broadcast as (1, C, 1, 1)
    grouped = x.reshape(n, num_groups, c // num_groups, *spatial)
    axes = tuple(range(2, grouped.ndim))
    mean = grouped.mean(axis=axes, keepdims=True)
    centred = grouped - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    y = (centred / (var + eps).sqrt()).reshape(*x.shape)
    if weight is not None:
        shape = (1, c) + (1,) * len(spatial)
        y = y * weight.reshape(*shape)
        if bias is not None:
            y = y + bias.reshape(*shape)
    return y
    ### END SOLUTION


class GroupNorm(Module):
    """Group normalisation of (N, C, ...) inputs (PyTorch's ``nn.GroupNorm`` arguments).

    Args:
        num_groups: G; ``num_channels`` must be divisible by it.
        num_channels: C.
        eps: added to the variance.
        affine: learn a per-channel scale γ (ones) and shift β (zeros).

    Example:
        >>> gn = GroupNorm(2, 4)
        >>> y = gn(Tensor(np.arange(32, dtype=np.float32).reshape(2, 4, 2, 2)))
        >>> round(float(y.data[0, :2].mean()), 6), round(float(y.data[0, :2].std()), 3)
        (0.0, 1.0)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels cannot be split into "
                             f"{num_groups} groups")
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = float(eps)
        self.affine = bool(affine)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=np.float32))
            self.bias = Parameter(np.zeros(num_channels, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        """Normalise ``x`` (N, C, ...) per sample and group of channels."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) expected "
                             f"(N, {self.num_channels}, ...) input, got shape {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
