"""FLOP formulas against counts worked out by hand, layer type by layer type, and parameters."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.activations import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.attention import GELU as AttentionGELU
from tinytorch.core.attention import (Embedding, LayerNorm, MultiHeadAttention, TransformerBlock)
from tinytorch.core.benchmarking import (ACTIVATION_FLOPS, activation_flops,
                                         adaptive_avg_pool2d_flops, attention_flops,
                                         avg_pool2d_flops, conv2d_flops, count_parameters,
                                         dense_flops, max_pool2d_flops, module_flops, norm_flops,
                                         register_flop_rule)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Module
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor


def run(layer, *shape):
    x = Tensor(np.zeros(shape, dtype=np.float32))
    out = layer(x)
    return module_flops(layer, (x,), out)


# ------------------------------------------------------------------ the formulas, by hand
def test_layer_flops_dense_by_hand():
    # 4 rows x 3 outputs; each is a dot product of length 5 (5 multiply-adds = 10 FLOPs)
    # plus one bias add
    assert dense_flops(4, 5, 3) == 4 * 3 * 10 + 12 == 132
    assert dense_flops(4, 5, 3, bias=False) == 120
    assert dense_flops(32, 784, 128) == 6_426_624


def test_layer_flops_conv2d_by_hand():
    # the reference CNN's first conv, one image: 32x32x32 outputs, 27 taps each
    assert conv2d_flops((1, 32, 32, 32), 3, (3, 3)) == 32768 * 54 + 32768 == 1_802_240
    assert conv2d_flops((1, 32, 32, 32), 3, (3, 3), bias=False) == 1_769_472
    # groups divide the channels each output sees: 8 in, 4 groups -> 2 channels x 1x3 taps
    assert conv2d_flops((2, 4, 5, 5), 8, (1, 3), groups=4, bias=False) == 2 * 4 * 25 * 2 * 2 * 3


def test_layer_flops_pools_by_hand():
    assert max_pool2d_flops((1, 32, 16, 16), (2, 2)) == 8192 * 3
    assert max_pool2d_flops((2, 1, 3, 3), (3, 2)) == 18 * 5
    assert avg_pool2d_flops((1, 32, 16, 16), (2, 2)) == 8192 * 4
    assert avg_pool2d_flops((2, 1, 3, 3), (3, 2)) == 18 * 6
    # 5 cells into 2 windows: [0, 3) and [2, 5) -> 6 cells covered; 4 into 2: 4 cells
    assert adaptive_avg_pool2d_flops((1, 2, 5, 4), (1, 2, 2, 2)) == 2 * 6 * 4
    assert adaptive_avg_pool2d_flops((3, 2, 4, 4), (3, 2, 1, 1)) == 3 * 2 * 16


def test_norm_flops_by_hand():
    assert norm_flops(10, batch_statistics=True) == 80
    assert norm_flops(10, batch_statistics=False) == 40
    assert norm_flops(10, batch_statistics=True, affine=False) == 60
    assert norm_flops(10, batch_statistics=False, affine=False) == 20


def test_activations_by_hand():
    assert activation_flops("relu", 7) == 7
    assert activation_flops("sigmoid", 7) == 28
    assert activation_flops("gelu_tanh", 2) == 18
    assert activation_flops("softmax", 3) == 15
    with pytest.raises(ValueError, match="unknown activation"):
        activation_flops("swish", 3)


def test_attention_flops_by_hand():
    # B=1, L=4, E=8, H=2: projections 3 * 2*4*64 = 1536 (+ 3*32 bias adds), scores 2*16*8,
    # scaling 2 heads * 16 scores, softmax 5 per score, weighted sum 2*16*8
    expected = 1536 + 96 + 256 + 32 + 160 + 256
    assert attention_flops(1, 4, 4, 8, 2) == expected == 2336
    assert attention_flops(1, 4, 4, 8, 2, bias=False) == expected - 96
    # cross-attention: 3 queries, 5 keys
    e, lq, lk, h = 8, 3, 5, 4
    by_hand = (2 * lq * e * e + 4 * lk * e * e + lq * e + 2 * lk * e
               + 2 * lq * lk * e + h * lq * lk + 5 * h * lq * lk + 2 * lq * lk * e)
    assert attention_flops(1, lq, lk, e, h) == by_hand


# ------------------------------------------------------------------ per module type
def test_module_flops_dense():
    assert run(Dense(5, 3), 4, 5) == 132
    assert run(Dense(5, 3), 2, 2, 5) == 132  # leading dims are rows
    assert run(Dense(5, 3, bias=False), 4, 5) == 120


def test_module_flops_without_a_tensor_says_so_in_one_line():
    # a layer's hook saw only plain numbers (no shape): a clear ValueError, not a TypeError
    # from indexing None
    with pytest.raises(ValueError, match="no Tensor or array among a layer's inputs"):
        module_flops(Dense(3, 2), ([1.0, 2.0, 3.0],), [0.0, 0.0])


def test_module_flops_conv_and_pool():
    assert run(Conv2d(3, 32, 3, padding=1), 1, 3, 32, 32) == 1_802_240
    assert run(Conv2d(3, 8, 3, stride=2, bias=False), 2, 3, 9, 9) == 2 * 8 * 4 * 4 * 54
    assert run(MaxPool2d(2), 1, 32, 32, 32) == 8192 * 3
    assert run(AvgPool2d(2), 1, 32, 32, 32) == 8192 * 4
    assert run(AdaptiveAvgPool2d(1), 3, 2, 4, 4) == 96


def test_module_flops_batch_norm_follows_the_mode():
    bn = BatchNorm2d(3)
    assert run(bn, 2, 3, 4, 4) == 96 * 8
    bn.eval()
    assert run(bn, 2, 3, 4, 4) == 96 * 4
    assert run(BatchNorm1d(3, affine=False), 4, 3) == 12 * 6


def test_module_flops_activations():
    for layer, per in ((ReLU(), 1), (LeakyReLU(), 2), (Sigmoid(), 4), (Tanh(), 1),
                       (GELU(), 5), (GELU("tanh"), 9), (Softmax(dim=-1), 5),
                       (LogSoftmax(dim=-1), 5), (AttentionGELU(), 9), (AttentionGELU("none"), 5)):
        assert run(layer, 3, 4) == 12 * per, type(layer).__name__
    assert set(ACTIVATION_FLOPS) >= {"relu", "sigmoid", "tanh", "gelu", "softmax"}


def test_module_flops_zero_and_dropout():
    assert run(Flatten(), 2, 3, 4) == 0
    drop = Dropout(0.5)
    assert run(drop, 2, 3) == 6
    drop.eval()
    assert run(drop, 2, 3) == 0
    emb = Embedding(10, 4)
    ids = Tensor(np.array([[1, 2, 3]]))
    assert module_flops(emb, (ids,), emb(ids)) == 0


def test_module_flops_attention_and_layernorm():
    mha = MultiHeadAttention(8, 2, batch_first=True)
    assert run(mha, 1, 4, 8) == 2336  # out_proj is a Dense child, counted on its own
    assert run(mha, 4, 8) == 2336     # unbatched
    assert run(MultiHeadAttention(8, 2), 4, 1, 8) == 2336  # PyTorch's default (L, batch, E)
    assert run(LayerNorm(8), 2, 4, 8) == 64 * 8
    block = TransformerBlock(8, 2)
    assert run(block, 1, 4, 8) == 2 * 32  # the two residual adds


def test_module_flops_unknown_type_and_registration():
    class Twice(Module):
        def forward(self, x):
            return x * 2

    layer = Twice()
    assert run(layer, 3) is None
    register_flop_rule(Twice, lambda m, inputs, out: out.data.size)
    assert run(layer, 3) == 3
    with pytest.raises(TypeError):
        register_flop_rule("Twice", lambda m, i, o: 0)


def test_module_flops_subclass_uses_base_rule():
    class MyDense(Dense):
        pass

    assert run(MyDense(5, 3), 4, 5) == 132


# ------------------------------------------------------------------ parameters
def test_parameter_counts():
    assert count_parameters(Dense(784, 128)) == 784 * 128 + 128
    assert count_parameters(Conv2d(3, 32, 3)) == 3 * 32 * 9 + 32
    assert count_parameters(Conv2d(3, 32, 3, bias=False)) == 864
    assert count_parameters(BatchNorm2d(32)) == 64           # running stats are buffers
    assert count_parameters(MultiHeadAttention(8, 2)) == 3 * 64 + 24 + 64 + 8
    assert count_parameters(LayerNorm(8)) == 16
    assert count_parameters(ReLU()) == 0
    model = Sequential([Dense(4, 3), ReLU(), Dense(3, 2)])
    assert count_parameters(model) == 15 + 8
    assert count_parameters(model, recurse=False) == 0
    shared = Dense(4, 4)
    assert count_parameters(Sequential([shared, shared])) == 20  # a shared layer counts once
