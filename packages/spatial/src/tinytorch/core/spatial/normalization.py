"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` and ``GroupNorm``, like PyTorch's.

Each channel is normalised to zero mean and unit variance over the batch (and over H, W or
L), then scaled and shifted by learned γ (``weight``, init 1) and β (``bias``, init 0).

* **Training**: the batch's statistics normalise, and running averages are updated in place:
  ``running ← (1 - momentum)·running + momentum·batch`` — the *unbiased* variance goes into
  ``running_var``, as in PyTorch; with ``momentum=None`` a plain cumulative average is kept.
  ``num_batches_tracked`` counts the updates.
* **Evaluation** (``model.eval()``): the running statistics normalise, so one image's output
  no longer depends on the rest of its batch.

The buffers are named like PyTorch's, so ``state_dict`` keys match:
``weight, bias, running_mean, running_var, num_batches_tracked``.

``learn_scale=False`` keeps γ fixed at 1 (a ``weight`` parameter with ``requires_grad=False``,
as airbench94 sets up PyTorch's layer): the layer learns only the shift β. After a
normalisation γ mostly scales what the next (linear) layer could scale itself, so freezing it
removes a redundant degree of freedom; the state dict keeps PyTorch's keys.

**Group norm** (Wu & He, 2018) takes its statistics per *sample*, over groups of channels, so
it behaves the same for a batch of 2 as of 256, in training and in evaluation, and keeps no
running averages:

    x: (N, C, *) viewed as (N, G, C/G, *)
    μ, σ² = mean and biased variance over (C/G, *), one pair per sample and group
    y = (x - μ) / √(σ² + ε), back to (N, C, *), then γ·y + β per channel

With G = 1 it is layer norm over (C, H, W); with G = C it is instance norm. It is written in
Tensor ops, so the autograd module differentiates it with no rule of its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.layers import Module, Parameter
from tinytorch.core.tensor import Tensor

from .functional import batch_norm

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "group_norm"]


class _BatchNorm(Module):
    _ndims: tuple = ()
    _shapes: str = ""
    # the buffers register_buffer makes in __init__ (None with track_running_stats=False)
    running_mean: Tensor | None
    running_var: Tensor | None
    num_batches_tracked: Tensor | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 learn_scale: bool = True) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, "
                             f"got {num_features!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.learn_scale = bool(learn_scale)
        if not self.learn_scale and not self.affine:
            raise ValueError(f"{type(self).__name__}: learn_scale=False fixes the affine scale at 1; "
                             "it needs affine=True (with affine=False there is no scale at all)")
        self._label = f"{type(self).__name__}({self.num_features})"
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=np.float32),
                                    requires_grad=self.learn_scale)
            self.bias = Parameter(np.zeros(self.num_features, dtype=np.float32))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, np.float32)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, np.float32)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        for buffer, value in ((self.running_mean, 0), (self.running_var, 1),
                              (self.num_batches_tracked, 0)):
            if buffer is not None:  # None: track_running_stats=False
                buffer.data[...] = value

    def reset_parameters(self) -> None:
        """γ = 1, β = 0, and fresh running statistics."""
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x: Any) -> Tensor:
        """Normalise the batch ``x`` (batch statistics in training, running ones in eval).

        Computed in the dtype of γ (or of the running statistics): ``x`` is cast to it.
        """
        x = self.cast_input(x)
        if x.ndim not in self._ndims:
            raise ValueError(f"{self._label} expected {self._shapes} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self._label} expected {self.num_features} channels, got {x.shape[1]} in input "
                f"of shape {x.shape}"
            )
        momentum = 0.0 if self.momentum is None else self.momentum
        counter = self.num_batches_tracked  # None unless track_running_stats
        if self.training and counter is not None:
            counter.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / float(counter.data)
        use_running = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if use_running else None,
            self.running_var if use_running else None,
            self.weight, self.bias,
            training=self.training or not self.track_running_stats,
            momentum=momentum, eps=self.eps,
        )

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}"
                + ("" if self.learn_scale else ", learn_scale=False"))


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) features or (N, C, L) sequences, per channel C.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: weight of each new batch in the running averages (None: cumulative average).
        affine: learn γ and β.
        track_running_stats: keep running averages (else always use batch statistics).
        learn_scale: learn γ (else γ stays 1 and only β is learned; needs ``affine``).
    """

    _ndims = (2, 3)
    _shapes = "a 2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) feature maps, per channel C.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: weight of each new batch in the running averages (None: cumulative average).
        affine: learn γ and β.
        track_running_stats: keep running averages (else always use batch statistics).
        learn_scale: learn γ (else γ stays 1 and only β is learned; needs ``affine``).
    """

    _ndims = (4,)
    _shapes = "a 4-D (N, C, H, W)"


def group_norm(x: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise ``x`` per sample over groups of ``C / num_groups`` channels (``F.group_norm``).

    ``y = (x - μ) / √(σ² + eps) · γ + β``, μ and σ² (biased) per sample and group of channels.

    Args:
        x: input ``(N, C, *)``.
        num_groups: G; must divide C.
        weight: optional γ, shape ``(C,)``.
        bias: optional β, shape ``(C,)``.
        eps: added to the variance.

    Shape:
        ``(N, C, *)`` -> the same.

    Example:
        >>> y = group_norm(Tensor(np.arange(8.0).reshape(1, 4, 2)), 2)
        >>> print(np.round(y.numpy()[0, :2], 3))    # channels 0 and 1: group 0
        [[-1.342 -0.447]
         [ 0.447  1.342]]
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected (N, C, ...) input, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels cannot be split into {num_groups!r} groups; "
                         "num_groups must divide the channel count")
    spatial = x.shape[2:]
    shape = (1, c) + (1,) * len(spatial)  # γ and β broadcast per channel
    ### BEGIN SOLUTION
    ### HINT: reshape to (N, G, C/G, *spatial); mean and biased variance over every axis from 2
    ### HINT: on (keepdims=True); normalise, reshape back to x's shape; then γ and β as `shape`
    grouped = x.reshape(n, num_groups, c // num_groups, *spatial)
    axes = tuple(range(2, grouped.ndim))
    mean = grouped.mean(axis=axes, keepdims=True)
    centred = grouped - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    y = (centred / (var + eps).sqrt()).reshape(*x.shape)
    if weight is not None:
        y = y * weight.reshape(*shape)
    if bias is not None:
        y = y + bias.reshape(*shape)
    return y
    ### END SOLUTION


class GroupNorm(Module):
    """Group normalisation of ``(N, C, *)`` inputs, as ``torch.nn.GroupNorm``.

    ``y = (x - E[x]) / √(Var[x] + eps) · γ + β``, statistics per sample and group of channels.

    Args:
        num_groups: G; ``num_channels`` must be divisible by it.
        num_channels: C.
        eps: added to the variance.
        affine: learn a per-channel scale γ (``weight``, ones) and shift β (``bias``, zeros).

    Shape:
        ``(N, C, *)`` -> the same.

    Example:
        >>> gn = GroupNorm(2, 4)
        >>> y = gn(Tensor(np.arange(32, dtype=np.float32).reshape(2, 4, 2, 2)))
        >>> round(float(y.data[0, :2].mean()), 6), round(float(y.data[0, :2].std()), 3)
        (0.0, 1.0)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True) -> None:
        super().__init__()
        for name, v in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"GroupNorm: {name} must be a positive int, got {v!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels cannot be split into "
                             f"{num_groups} groups; num_groups must divide num_channels")
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

    def reset_parameters(self) -> None:
        """γ = 1, β = 0."""
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def forward(self, x: Any) -> Tensor:
        """Normalise ``x`` (N, C, ...) per sample and group, in the dtype of γ (x is cast)."""
        x = self.cast_input(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm({self.num_groups}, {self.num_channels}) expected "
                             f"(N, {self.num_channels}, ...) input, got shape {x.shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
