"""Structured pruning: remove whole neurons and channels, so the layers really shrink.

Zeroing single weights (:mod:`.pruning`) leaves every array its original size, and numpy
multiplies zeros as fast as anything else. Removing an entire *unit* — a neuron of a Dense
layer, an output channel of a Conv2d — makes the arrays smaller, and the saving compounds:

* layer i loses row ``u`` of its weight (its ``u``-th output) and ``bias[u]``;
* a BatchNorm right after it loses its ``u``-th channel (γ, β, running mean and variance);
* the next weight layer loses the inputs that read unit ``u``: column ``u`` of a Dense, input
  channel ``u`` of a Conv2d — or, behind a ``Flatten``, the whole block of H·W columns that
  came from channel ``u``.

So pruning half the channels of two consecutive convs cuts the second one's FLOPs by about
4×. The model's interface stays: the input layer keeps its inputs and the output layer its
outputs (it is never pruned).

Which units go? The ones with the smallest L1 norm of their weights, scaled by
``|γ| / √(running_var + ε)`` when a BatchNorm follows (the norm of the BN-folded filter) —
Li et al., *Pruning Filters for Efficient ConvNets* (2017). A unit whose weights (after the
BatchNorm) are all exactly zero outputs exactly zero, and removing it changes nothing: the
tests check that the pruned model's outputs equal the original's.

FLOPs are counted, not estimated: :func:`count_flops` runs the model once on a batch of one
and adds 2 · (multiply-accumulates) of every Dense and Conv2d.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from tinytorch.core.activations import GELU, LeakyReLU, ReLU, Sigmoid, Tanh
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, Module
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor

__all__ = ["unit_importance", "prune_units", "prune_structured", "layer_flops", "count_flops",
           "FlopCount"]

_WEIGHT_LAYERS = (Dense, Conv2d)
_NORMS = (BatchNorm1d, BatchNorm2d)
# Layers that act on each channel separately: a removed channel simply is not there.
_PER_CHANNEL = (ReLU, LeakyReLU, Sigmoid, Tanh, GELU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
                Dropout, Identity)


@dataclass
class _Link:
    """What sits between weight layer ``i`` and the next weight layer ``j``."""

    i: int
    j: int
    norms: list            # indices of BatchNorms between them (their channels are sliced)
    flatten: bool          # a Flatten between: the next Dense reads channel-major blocks


def _describe(layer: Any) -> str:
    return type(layer).__name__


def _links(layers: list) -> dict:
    """``{i: _Link}`` for every weight layer that has a next weight layer."""
    weight_idx = [k for k, layer in enumerate(layers) if isinstance(layer, _WEIGHT_LAYERS)]
    links = {}
    for i, j in zip(weight_idx, weight_idx[1:]):
        norms, flatten = [], False
        for k in range(i + 1, j):
            layer = layers[k]
            if isinstance(layer, _NORMS):
                norms.append(k)
            elif isinstance(layer, Flatten):
                flatten = True
            elif not isinstance(layer, _PER_CHANNEL):
                raise TypeError(
                    f"structured pruning: layer {k} ({_describe(layer)}) between layers {i} and "
                    f"{j} may mix channels; only BatchNorm, Flatten and per-channel layers "
                    f"({', '.join(t.__name__ for t in _PER_CHANNEL)}) can sit between two "
                    "weight layers"
                )
        for layer_k in (layers[i], layers[j]):
            if isinstance(layer_k, Conv2d) and layer_k.groups != 1:
                raise ValueError(f"structured pruning: grouped convolutions are not supported "
                                 f"({layer_k._label}, groups={layer_k.groups})")
        links[i] = _Link(i, j, norms, flatten)
    return links


def _n_units(layer: Any) -> int:
    return layer.out_features if isinstance(layer, Dense) else layer.out_channels


def unit_importance(layer: Any, norm: Any = None) -> np.ndarray:
    """The L1 norm of each output unit's weights (a Dense row, a Conv2d filter).

    With the BatchNorm ``norm`` that follows the layer, each norm is scaled by
    ``|γ| / √(running_var + ε)`` — the L1 norm of the BN-folded filter.

    Args:
        layer: a Dense or Conv2d.
        norm: the BatchNorm1d/BatchNorm2d right after it, or None.

    Returns:
        float64 array of shape (units,): ``score[u] = Σ |W[u, ...]|`` (times
        ``|γ_u| / √(var_u + ε)`` with a norm).
    """
    w = layer.weight.data
    ### BEGIN SOLUTION
    ### HINT: reshape w to (units, -1) and sum |w| along axis 1 (in float64): one score per unit
    ### HINT: with a norm, multiply by |γ| / √(running_var + ε); a missing γ or variance counts as 1
    score = np.abs(w).reshape(w.shape[0], -1).sum(axis=1, dtype=np.float64)
    if norm is not None:
        gamma = norm.weight.data if norm.weight is not None else np.ones(w.shape[0])
        var = norm.running_var.data if norm.running_var is not None else np.ones(w.shape[0])
        score = score * np.abs(gamma) / np.sqrt(var.astype(np.float64) + norm.eps)
    return score
    ### END SOLUTION


def _set(param: Any, values: np.ndarray) -> None:
    param.data[...] = values


def _rebuild_out(layer: Any, idx: np.ndarray) -> Any:
    """A copy of ``layer`` with only the output units ``idx``.

    ``idx`` (sorted int array) selects rows of the weight — (out, in) for a Dense,
    (C_out, C_in, kh, kw) for a Conv2d — and entries of the bias. The new layer is built
    above the block with the right shape; the block fills in its values.
    """
    has_bias = layer.bias is not None
    new: Dense | Conv2d
    if isinstance(layer, Dense):
        new = Dense(layer.in_features, len(idx), bias=has_bias)
    else:
        new = Conv2d(layer.in_channels, len(idx), layer.kernel_size, layer.stride, layer.padding,
                     layer.dilation, 1, bias=has_bias)
    ### BEGIN SOLUTION
    ### HINT: output units are the first axis of a Dense or Conv2d weight (and the bias's only axis)
    ### HINT: _set(param, values) copies values into the new layer's parameter
    _set(new.weight, layer.weight.data[idx])
    if has_bias:
        _set(new.bias, layer.bias.data[idx])
    ### END SOLUTION
    new.weight.requires_grad = layer.weight.requires_grad
    return new.train(layer.training)


def _rebuild_in(layer: Any, idx: np.ndarray, flatten: bool, channels_before: int) -> Any:
    """A copy of ``layer`` that reads only the input units ``idx`` of the previous layer.

    A Conv2d keeps input channels ``idx`` (axis 1 of its weight). A Dense keeps the weight
    columns those units feed: column ``u`` itself, or behind a Flatten of
    ``channels_before`` channels of H·W values each, the block ``u·HW ... u·HW + HW - 1``.
    The block computes ``columns``, the int array of Dense weight columns to keep, in order.
    """
    has_bias = layer.bias is not None
    new: Dense | Conv2d
    if isinstance(layer, Conv2d):
        new = Conv2d(len(idx), layer.out_channels, layer.kernel_size, layer.stride, layer.padding,
                     layer.dilation, 1, bias=has_bias)
        columns = idx
        axis = 1
    else:
        block = 1
        if flatten:
            if layer.in_features % channels_before:
                raise ValueError(
                    f"structured pruning: Dense({layer.in_features}→{layer.out_features}) after a "
                    f"Flatten of {channels_before} channels: {layer.in_features} is not a "
                    "multiple of the channel count"
                )
            block = layer.in_features // channels_before
        elif layer.in_features != channels_before:
            raise ValueError(f"structured pruning: Dense expects {layer.in_features} inputs but "
                             f"the previous layer has {channels_before} units")
        ### BEGIN SOLUTION
        ### HINT: Flatten lays (C, H, W) out channel-major: channel c owns columns c·HW ... c·HW+HW-1
        columns = (idx[:, None] * block + np.arange(block)[None, :]).ravel()
        ### END SOLUTION
        new = Dense(len(columns), layer.out_features, bias=has_bias)
        axis = 1
    _set(new.weight, np.take(layer.weight.data, columns, axis=axis))
    if has_bias:
        _set(new.bias, layer.bias.data)
    return new.train(layer.training)


def _rebuild_norm(norm: Any, idx: np.ndarray) -> Any:
    new = type(norm)(len(idx), eps=norm.eps, momentum=norm.momentum, affine=norm.affine,
                     track_running_stats=norm.track_running_stats)
    for name in ("weight", "bias", "running_mean", "running_var"):
        old = getattr(norm, name)
        if old is not None:
            _set(getattr(new, name), old.data[idx])
    if norm.num_batches_tracked is not None:
        new.num_batches_tracked.data[...] = norm.num_batches_tracked.data
    return new.train(norm.training)


def _layers_of(model: Any) -> list:
    if not isinstance(model, Sequential):
        raise TypeError(f"structured pruning works on a Sequential, got {type(model).__name__}")
    return list(model)


def prune_units(model: Sequential, keep: Mapping[int, Any]) -> Sequential:
    """A new, smaller Sequential that keeps only the listed units of some layers.

    Args:
        model: a Sequential of Dense/Conv2d layers with BatchNorm, Flatten, activations and
            pooling between them. It is not modified.
        keep: ``{layer index: indices of the output units to keep}``. The last weight layer
            (the model's output) cannot be pruned.

    Returns:
        a Sequential with the same layers (copies), the named ones narrower, the BatchNorms
        after them and the next weight layers' inputs sliced to match.
    """
    layers = [copy.deepcopy(layer) for layer in _layers_of(model)]
    links = _links(layers)
    for i in sorted(keep):
        if not 0 <= i < len(layers) or not isinstance(layers[i], _WEIGHT_LAYERS):
            raise ValueError(f"prune_units: layer {i} is not a Dense or Conv2d of this model")
        if i not in links:
            raise ValueError(f"prune_units: layer {i} is the last weight layer — the model's "
                             "output — and is never pruned (the interface must not change)")
        n = _n_units(layers[i])
        idx = np.unique(np.asarray(keep[i], dtype=np.int64).ravel())
        if idx.size == 0 or idx[0] < 0 or idx[-1] >= n:
            raise ValueError(f"prune_units: layer {i} has {n} units; keep must be a non-empty "
                             f"subset of 0..{n - 1}, got {keep[i]!r}")
        link = links[i]
        layers[i] = _rebuild_out(layers[i], idx)
        for k in link.norms:
            layers[k] = _rebuild_norm(layers[k], idx)
        layers[link.j] = _rebuild_in(layers[link.j], idx, link.flatten, n)
    return Sequential(layers)


def prune_structured(model: Sequential, amount: float | Mapping[int, float]) -> Sequential:
    """Remove the least important ``amount`` of the units of every hidden weight layer.

    Args:
        model: a Sequential (not modified).
        amount: fraction of units to remove from each Dense/Conv2d except the last, or
            ``{layer index: fraction}``. At least one unit always stays.

    Returns:
        the smaller model (:func:`prune_units` with the units of lowest
        :func:`unit_importance`).
    """
    layers = _layers_of(model)
    links = _links(layers)
    if isinstance(amount, Mapping):
        amounts = {int(i): float(a) for i, a in amount.items()}
    else:
        amounts = {i: float(amount) for i in links}
    keep = {}
    for i, a in amounts.items():
        if i not in links:
            raise ValueError(f"prune_structured: layer {i} is not a prunable hidden weight layer "
                             f"(choose from {sorted(links)})")
        if not 0.0 <= a < 1.0:
            raise ValueError(f"prune_structured: amount for layer {i} must be in [0, 1), got {a}")
        norm = layers[links[i].norms[0]] if links[i].norms and links[i].norms[0] == i + 1 else None
        score = unit_importance(layers[i], norm)
        n_keep = max(1, score.size - int(round(a * score.size)))
        order = np.argsort(-score, kind="stable")  # most important first; ties keep order
        keep[i] = np.sort(order[:n_keep])
    return prune_units(model, keep)


def layer_flops(layer: Any, input_shape: tuple, output_shape: tuple) -> int:
    """FLOPs of one Dense or Conv2d call: 2 × multiply-accumulates (bias adds not counted).

    Args:
        layer: a Dense or Conv2d.
        input_shape: the shape of its input.
        output_shape: the shape of its output.
    """
    ### BEGIN SOLUTION
    ### HINT: each output value costs one multiply-add per input it reads: in_features for a Dense
    ### HINT: for a Conv2d: (in_channels / groups) · kh · kw; FLOPs = 2 · outputs · that
    if isinstance(layer, Dense):
        return 2 * int(np.prod(output_shape)) * layer.in_features
    kh, kw = layer.kernel_size
    return 2 * int(np.prod(output_shape)) * (layer.in_channels // layer.groups) * kh * kw
    ### END SOLUTION


@dataclass
class FlopCount:
    """FLOPs and parameters of a model's Dense/Conv2d layers for one input.

    Attributes:
        layers: ``(name, type, output shape, flops, parameters)`` per layer, in call order.
    """

    layers: list = field(default_factory=list)

    @property
    def total(self) -> int:
        """FLOPs of all counted layers."""
        return sum(row[3] for row in self.layers)

    @property
    def parameters(self) -> int:
        """Weights and biases of all counted layers."""
        return sum(row[4] for row in self.layers)

    def __str__(self) -> str:
        lines = [f"{'layer':<8} {'type':<8} {'output':<18} {'MFLOP':>9} {'params':>9}"]
        for name, kind, shape, flops, params in self.layers:
            lines.append(f"{name:<8} {kind:<8} {str(tuple(shape)):<18} {flops / 1e6:>9.3f} {params:>9,}")
        lines.append(f"{'total':<8} {'':<8} {'':<18} {self.total / 1e6:>9.3f} {self.parameters:>9,}")
        return "\n".join(lines)


def count_flops(model: Module, input_shape: tuple) -> FlopCount:
    """Run ``model`` once on zeros of shape ``(1, *input_shape)`` and count its FLOPs.

    Every Dense and Conv2d reached is counted with :func:`layer_flops`. The model's train/eval
    flags are restored afterwards (it runs in eval mode, so BatchNorm statistics are untouched).

    Args:
        model: any Module.
        input_shape: one example's shape, e.g. ``(3, 32, 32)``.
    """
    count = FlopCount()
    names = {id(m): name for name, m in model.named_modules()}
    removers = []

    def hook(layer: Any, inputs: tuple, output: Any) -> None:
        shape_in, shape_out = inputs[0].shape, output.shape
        params = sum(p.data.size for p in layer.parameters())
        count.layers.append((names.get(id(layer), "?"), type(layer).__name__, shape_out,
                             layer_flops(layer, shape_in, shape_out), params))

    flags = [(m, m.training) for m in model.modules()]
    try:
        for m in model.modules():
            if isinstance(m, _WEIGHT_LAYERS):
                removers.append(m.register_forward_hook(hook))
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((1,) + tuple(input_shape), dtype=np.float32)))
    finally:
        for remove in removers:
            remove()
        for m, flag in flags:
            m.training = flag
    return count
