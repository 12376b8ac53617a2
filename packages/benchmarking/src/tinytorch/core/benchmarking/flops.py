"""Counting work: FLOPs per layer type, worked out from the layer's settings and shapes.

A profiler measures *time*; to know whether that time is good you need the *work* it bought.
For a neural network the work is known exactly before anything runs: a ``Dense(784, 128)`` on
a batch of 32 does 32·128 dot products of length 784, whatever machine runs them. Dividing
the work by the measured time gives FLOP/s, which you can hold against the machine's ceiling
(about 130 GFLOP/s for a float32 GEMM on the course machines).

The conventions, used by every formula below:

* a multiply-add counts as **2 FLOPs** (one multiply, one add), so a dot product of length
  ``k`` costs ``2k``;
* an elementwise add, multiply, compare or divide counts 1;
* a transcendental function (exp, tanh, erf) counts 1, although the hardware spends tens of
  instructions on one — the counts say how much arithmetic the model *asks for*;
* reshapes, flattening, indexing and copies count 0 (they move memory, they do not compute).

Each ``*_flops`` function counts the work a layer does *itself*, excluding registered
sub-layers (``MultiHeadAttention``'s ``out_proj`` is a ``Dense`` and is counted as one), so a
model's total is the sum over all its modules. :func:`module_flops` picks the rule for a
module from a registry; :func:`register_flop_rule` adds one for your own layer type.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from tinytorch.core.activations import (GELU, LeakyReLU, LogSoftmax, ModuleBase, ReLU,
                                        Sigmoid, Softmax, Tanh)
from tinytorch.core.attention import (Embedding, FeedForward, LayerNorm,
                                      LearnedPositionalEmbedding, MultiHeadAttention,
                                      SinusoidalPositionalEncoding, TinyGPT, TransformerBlock)
from tinytorch.core.attention import GELU as AttentionGELU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, ModuleDict, ModuleList
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor

__all__ = [
    "dense_flops", "conv2d_flops", "max_pool2d_flops", "avg_pool2d_flops",
    "adaptive_avg_pool2d_flops", "norm_flops", "activation_flops", "attention_flops",
    "ACTIVATION_FLOPS", "module_flops", "register_flop_rule", "count_parameters",
    "numel",
]

FlopRule = Callable[[Any, tuple, Any], "int | None"]


def numel(shape: tuple) -> int:
    """Number of elements of an array of this shape (1 for a scalar's ``()``)."""
    return int(math.prod(int(s) for s in shape))


# --------------------------------------------------------------------------- the formulas
def dense_flops(rows: int, in_features: int, out_features: int, bias: bool = True) -> int:
    """FLOPs of ``y = x Wᵀ + b`` for ``rows`` input vectors (all leading dims multiplied).

    Every output element is a dot product of length ``in_features`` (2 FLOPs per multiply-add)
    plus, with a bias, one add.

    Example:
        >>> dense_flops(rows=32, in_features=784, out_features=128)
        6426624
    """
    ### BEGIN SOLUTION
    ### HINT: outputs = rows · out_features; each costs 2 · in_features, plus 1 for the bias
    outputs = rows * out_features
    return outputs * 2 * in_features + (outputs if bias else 0)
    ### END SOLUTION


def conv2d_flops(output_shape: tuple, in_channels: int, kernel_size: tuple, groups: int = 1,
                 bias: bool = True) -> int:
    """FLOPs of a 2-D convolution producing ``output_shape`` = (N, C_out, H_out, W_out).

    Each output element is a dot product over its receptive field: ``C_in / groups`` channels
    times ``kh · kw`` taps, 2 FLOPs per multiply-add, plus one add for the bias. Padding
    does not change the count (the zeros are multiplied like any other value).

    Example:
        >>> conv2d_flops((1, 32, 32, 32), in_channels=3, kernel_size=(3, 3))
        1802240
    """
    ### BEGIN SOLUTION
    ### HINT: outputs = N · C_out · H_out · W_out; each costs 2 · (C_in / groups) · kh · kw
    kh, kw = kernel_size
    outputs = numel(output_shape)
    per_output = 2 * (in_channels // groups) * kh * kw
    return outputs * per_output + (outputs if bias else 0)
    ### END SOLUTION


def max_pool2d_flops(output_shape: tuple, kernel_size: tuple) -> int:
    """FLOPs of a max-pool: the max of ``kh · kw`` values takes ``kh · kw - 1`` comparisons.

    Example:
        >>> max_pool2d_flops((1, 32, 16, 16), (2, 2))
        24576
    """
    ### BEGIN SOLUTION
    ### HINT: one max per output element; a max of m values needs m - 1 comparisons
    kh, kw = kernel_size
    return numel(output_shape) * (kh * kw - 1)
    ### END SOLUTION


def avg_pool2d_flops(output_shape: tuple, kernel_size: tuple) -> int:
    """FLOPs of an average-pool: ``kh · kw - 1`` adds and one divide per output, so ``kh · kw``.

    Example:
        >>> avg_pool2d_flops((1, 32, 16, 16), (2, 2))
        32768
    """
    ### BEGIN SOLUTION
    ### HINT: per output element: kh·kw - 1 adds to sum the window, and 1 divide
    kh, kw = kernel_size
    return numel(output_shape) * kh * kw
    ### END SOLUTION


def _window_cells(size_in: int, size_out: int) -> int:
    """Total cells covered by adaptive pooling's windows along one axis (window i covers
    ``[floor(i·n/out), ceil((i+1)·n/out))``; the windows overlap when out does not divide n)."""
    return sum(-(-(i + 1) * size_in // size_out) - (i * size_in // size_out)
               for i in range(size_out))


def adaptive_avg_pool2d_flops(input_shape: tuple, output_shape: tuple) -> int:
    """FLOPs of adaptive average pooling: per output, its window's size (adds + one divide).

    Summed over the outputs of one channel that is (cells covered along H) × (along W); for
    windows that tile the input exactly it is just H·W per channel.

    Example:
        >>> adaptive_avg_pool2d_flops((2, 8, 4, 4), (2, 8, 1, 1))
        256
    """
    n, c, h, w = input_shape
    oh, ow = output_shape[2], output_shape[3]
    return n * c * _window_cells(h, oh) * _window_cells(w, ow)


def norm_flops(elements: int, batch_statistics: bool, affine: bool = True) -> int:
    """FLOPs of batch normalisation or layer normalisation over ``elements`` values.

    Per element: computing the statistics costs 1 (the mean's add) + 3 (subtract the mean,
    square, add) = 4, and only happens with batch statistics (BatchNorm in training,
    LayerNorm always); normalising ``(x - μ) · (1/σ)`` costs 2; the affine ``· γ + β`` costs 2.
    The per-channel work (one square root per channel, the running averages) is ignored.

    Example:
        >>> norm_flops(1000, batch_statistics=True), norm_flops(1000, batch_statistics=False)
        (8000, 4000)
    """
    ### BEGIN SOLUTION
    ### HINT: statistics 4 (only with batch statistics) + normalise 2 + affine 2 (if affine)
    per_element = (4 if batch_statistics else 0) + 2 + (2 if affine else 0)
    return elements * per_element
    ### END SOLUTION


ACTIVATION_FLOPS = {
    "relu": 1,          # max(x, 0)
    "leaky_relu": 2,    # compare, multiply
    "sigmoid": 4,       # negate, exp, add 1, divide
    "tanh": 1,          # one transcendental
    "gelu": 5,          # x/√2, erf, +1, ·x, ·0.5
    "gelu_tanh": 9,     # x², x³, ·0.044715, +x, ·√(2/π), tanh, +1, ·x, ·0.5
    "softmax": 5,       # max, subtract, exp, sum, divide
    "log_softmax": 5,   # max, subtract, exp, sum, subtract log-sum
}
"""FLOPs per element of each activation (the conventions of this module's docstring)."""


def activation_flops(kind: str, elements: int) -> int:
    """FLOPs of the activation ``kind`` (a key of :data:`ACTIVATION_FLOPS`) on ``elements`` values.

    Example:
        >>> activation_flops("relu", 1000), activation_flops("softmax", 1000)
        (1000, 5000)
    """
    if kind not in ACTIVATION_FLOPS:
        raise ValueError(f"activation_flops: unknown activation {kind!r} "
                         f"(known: {', '.join(ACTIVATION_FLOPS)})")
    return ACTIVATION_FLOPS[kind] * elements


def attention_flops(batch: int, len_q: int, len_k: int, embed_dim: int, num_heads: int,
                    bias: bool = True) -> int:
    """FLOPs of multi-head attention *without* its output projection (a ``Dense`` child).

    * projections: queries ``2·B·L_q·E·E``, keys and values ``2·B·L_k·E·E`` each, plus one
      bias add per projected element;
    * scores ``Q Kᵀ``: every head does ``L_q · L_k`` dot products of length ``d = E / H``, so
      ``2·B·L_q·L_k·E`` over all heads; scaling them by 1/√d: ``B·H·L_q·L_k``;
    * softmax over the keys: 5 per score (see :data:`ACTIVATION_FLOPS`);
    * the weighted sum of the values: ``2·B·L_q·L_k·E``.

    A mask (causal or padding) does not change the count: the masked scores are computed too.

    Example:
        >>> attention_flops(batch=1, len_q=4, len_k=4, embed_dim=8, num_heads=2)
        2336
    """
    ### BEGIN SOLUTION
    ### HINT: add up projections (+ biases), scores, scaling, softmax and the weighted sum
    e = embed_dim
    projections = 2 * batch * len_q * e * e + 2 * (2 * batch * len_k * e * e)
    if bias:
        projections += batch * len_q * e + 2 * batch * len_k * e
    scores = 2 * batch * len_q * len_k * e
    score_count = batch * num_heads * len_q * len_k
    scale = score_count
    softmax = ACTIVATION_FLOPS["softmax"] * score_count
    weighted_sum = 2 * batch * len_q * len_k * e
    return projections + scores + scale + softmax + weighted_sum
    ### END SOLUTION


# --------------------------------------------------------------------------- per module type
def _shape(value: Any) -> tuple | None:
    if isinstance(value, Tensor):
        return value.shape
    if isinstance(value, np.ndarray):
        return value.shape
    return None


def _first_shape(values: Any) -> tuple:
    """The shape of the first tensor in ``values`` (a tensor, or a tuple/list holding some)."""
    shape = _shape(values)
    if shape is not None:
        return shape
    if isinstance(values, (tuple, list)):
        for v in values:
            shape = _shape(v)
            if shape is not None:
                return shape
    # a layer called on a plain list (or a number): no shape to count from
    raise ValueError(f"module_flops: no Tensor or array among a layer's inputs or output (got "
                     f"{type(values).__name__}); call the layer on a Tensor to count its FLOPs")


def _dense_rule(m: Dense, inputs: tuple, output: Any) -> int:
    shape = _first_shape(inputs)
    rows = numel(shape[:-1])
    return dense_flops(rows, m.in_features, m.out_features, m.bias is not None)


def _conv_rule(m: Conv2d, inputs: tuple, output: Any) -> int:
    return conv2d_flops(_first_shape(output), m.in_channels, m.kernel_size, m.groups,
                        m.bias is not None)


def _max_pool_rule(m: MaxPool2d, inputs: tuple, output: Any) -> int:
    return max_pool2d_flops(_first_shape(output), m.kernel_size)


def _avg_pool_rule(m: AvgPool2d, inputs: tuple, output: Any) -> int:
    return avg_pool2d_flops(_first_shape(output), m.kernel_size)


def _adaptive_rule(m: AdaptiveAvgPool2d, inputs: tuple, output: Any) -> int:
    return adaptive_avg_pool2d_flops(_first_shape(inputs), _first_shape(output))


def _batch_norm_rule(m: Any, inputs: tuple, output: Any) -> int:
    batch_stats = m.training or not m.track_running_stats
    return norm_flops(numel(_first_shape(inputs)), batch_stats, m.affine)


def _layer_norm_rule(m: LayerNorm, inputs: tuple, output: Any) -> int:
    affine = getattr(m, "weight", None) is not None
    return norm_flops(numel(_first_shape(inputs)), True, affine)


def _activation_rule(kind: str) -> FlopRule:
    def rule(m: Any, inputs: tuple, output: Any) -> int:
        return activation_flops(kind, numel(_first_shape(output)))
    return rule


def _gelu_rule(m: Any, inputs: tuple, output: Any) -> int:
    kind = "gelu_tanh" if getattr(m, "approximate", "none") == "tanh" else "gelu"
    return activation_flops(kind, numel(_first_shape(output)))


def _dropout_rule(m: Dropout, inputs: tuple, output: Any) -> int:
    active = m.training and m.p > 0
    return numel(_first_shape(output)) if active else 0  # one multiply by the scaled mask


def _attention_rule(m: MultiHeadAttention, inputs: tuple, output: Any) -> int:
    q = _first_shape(inputs[0])
    # key/value passed positionally are seen; passed by keyword, a hook cannot see them and
    # self-attention (L_k = L_q) is assumed
    k = _shape(inputs[1]) if len(inputs) > 1 else None
    if k is None:
        k = q
    if len(q) == 2:  # unbatched (L, E)
        batch, len_q, len_k = 1, q[0], k[0]
    elif getattr(m, "batch_first", True):  # (batch, L, E)
        batch, len_q, len_k = q[0], q[1], k[1]
    else:  # PyTorch's default layout (L, batch, E)
        batch, len_q, len_k = q[1], q[0], k[0]
    return attention_flops(batch, len_q, len_k, m.embed_dim, m.num_heads,
                           m.in_proj_bias is not None)


def _elementwise_add_rule(m: Any, inputs: tuple, output: Any) -> int:
    return numel(_first_shape(output))  # x + position code


def _residual_rule(m: TransformerBlock, inputs: tuple, output: Any) -> int:
    return 2 * numel(_first_shape(output))  # the two residual adds


def _zero_rule(m: Any, inputs: tuple, output: Any) -> int:
    return 0


_RULES: list = [
    (Dense, _dense_rule),
    (Conv2d, _conv_rule),
    (MaxPool2d, _max_pool_rule),
    (AvgPool2d, _avg_pool_rule),
    (AdaptiveAvgPool2d, _adaptive_rule),
    (BatchNorm1d, _batch_norm_rule),
    (BatchNorm2d, _batch_norm_rule),
    (LayerNorm, _layer_norm_rule),
    (ReLU, _activation_rule("relu")),
    (LeakyReLU, _activation_rule("leaky_relu")),
    (Sigmoid, _activation_rule("sigmoid")),
    (Tanh, _activation_rule("tanh")),
    (GELU, _gelu_rule),
    (AttentionGELU, _gelu_rule),
    (Softmax, _activation_rule("softmax")),
    (LogSoftmax, _activation_rule("log_softmax")),
    (Dropout, _dropout_rule),
    (MultiHeadAttention, _attention_rule),
    (TransformerBlock, _residual_rule),
    (SinusoidalPositionalEncoding, _elementwise_add_rule),
    (LearnedPositionalEmbedding, _elementwise_add_rule),
    (Embedding, _zero_rule),          # a table lookup
    (Flatten, _zero_rule),
    (Identity, _zero_rule),
    (Sequential, _zero_rule),         # containers: their children do the work
    (ModuleList, _zero_rule),
    (ModuleDict, _zero_rule),
    (FeedForward, _zero_rule),        # reshapes around its children
    (TinyGPT, _zero_rule),            # reshapes around its children
]


def register_flop_rule(layer_type: type, rule: FlopRule) -> None:
    """Count ``layer_type``'s own FLOPs with ``rule(module, inputs, output) -> int``.

    ``inputs`` is the tuple of positional arguments the layer was called with, ``output`` what
    it returned. A rule registered later wins over earlier ones for the same type, and a rule
    for a subclass is found before its base class's.
    """
    if not isinstance(layer_type, type):
        raise TypeError(f"register_flop_rule: layer_type must be a class, got {layer_type!r}")
    _RULES.insert(0, (layer_type, rule))


def module_flops(module: Any, inputs: tuple, output: Any) -> int | None:
    """FLOPs ``module`` did itself in one call (children excluded); None for an unknown type.

    The most specific registered type wins: an exact type match first, then the first
    registered base class.

    Args:
        module: the layer that was called.
        inputs: the tuple of positional arguments it was called with.
        output: what it returned.

    Returns:
        ``int(rule(module, inputs, output))`` for the chosen ``(layer_type, rule)`` of
        ``_RULES`` (a list, newest registration first), or None when no entry matches.
    """
    ### BEGIN SOLUTION
    ### HINT: two passes over _RULES: first `type(module) is layer_type`, then isinstance(...)
    ### HINT: why two? a subclass registered later must beat its base class, wherever it sits
    for layer_type, rule in _RULES:
        if type(module) is layer_type:
            return int(rule(module, inputs, output))
    for layer_type, rule in _RULES:
        if isinstance(module, layer_type):
            return int(rule(module, inputs, output))
    return None
    ### END SOLUTION


def count_parameters(module: Any, recurse: bool = True) -> int:
    """Trainable scalars of ``module`` (with ``recurse``, its descendants' too; shared once).

    An activation (the activations module) has none.

    Example:
        >>> count_parameters(Dense(784, 128))
        100480
    """
    if not isinstance(module, ModuleBase):  # a Module or an activation (which has none)
        return 0
    return int(sum(p.data.size for p in module.parameters(recurse=recurse)))
