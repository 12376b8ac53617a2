"""Structured pruning: smaller arrays, counted FLOPs, unchanged outputs when removed units were zero."""

import numpy as np
import pytest

from tinytorch.core.activations import LogSoftmax, ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.compression import (count_flops, layer_flops, prune_structured, prune_units,
                                        unit_importance)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import cross_entropy


def _run(model, x):
    model.eval()
    with no_grad():
        return model(Tensor(x)).data


def _zero_units_mlp(model):
    """Zero units 1, 5, 7 of layer 0 and units 0, 3 of layer 2 (weights and biases)."""
    for i, units in ((0, [1, 5, 7]), (2, [0, 3])):
        model[i].weight.data[units] = 0.0
        model[i].bias.data[units] = 0.0
    return model


def test_prune_units_mlp_neurons_removed_outputs_equal(make_mlp):
    model = _zero_units_mlp(make_mlp())
    x = np.random.default_rng(1).normal(size=(10, 8)).astype(np.float32)
    before = _run(model, x)
    pruned = prune_structured(model, {0: 3 / 16, 2: 2 / 12})
    assert [l.weight.shape for l in pruned if isinstance(l, Dense)] == [(13, 8), (10, 13), (4, 10)]
    assert [l.bias.shape for l in pruned if isinstance(l, Dense)] == [(13,), (10,), (4,)]
    assert pruned[0].out_features == 13 and pruned[2].in_features == 13
    np.testing.assert_allclose(_run(pruned, x), before, rtol=1e-5, atol=1e-6)
    # the original is untouched
    assert model[0].weight.shape == (16, 8)
    np.testing.assert_array_equal(_run(model, x), before)


def test_prune_units_keeps_the_named_units(make_mlp):
    model = make_mlp()
    pruned = prune_units(model, {0: [3, 1, 14]})
    np.testing.assert_array_equal(pruned[0].weight.data, model[0].weight.data[[1, 3, 14]])
    np.testing.assert_array_equal(pruned[0].bias.data, model[0].bias.data[[1, 3, 14]])
    np.testing.assert_array_equal(pruned[2].weight.data, model[2].weight.data[:, [1, 3, 14]])
    np.testing.assert_array_equal(pruned[2].bias.data, model[2].bias.data)


def _zero_channels(model, conv_index, channels):
    """Make channels output exactly zero after the conv's BatchNorm (weights, bias, β, μ = 0)."""
    conv, bn = model[conv_index], model[conv_index + 1]
    conv.weight.data[channels] = 0.0
    if conv.bias is not None:
        conv.bias.data[channels] = 0.0
    bn.bias.data[channels] = 0.0
    bn.running_mean.data[channels] = 0.0


def test_prune_units_cnn_channels_through_bn_and_flatten(make_cnn):
    model = make_cnn()
    _zero_channels(model, 0, [2, 5])
    _zero_channels(model, 4, [1])
    x = np.random.default_rng(2).normal(size=(4, 3, 8, 8)).astype(np.float32)
    before = _run(model, x)
    pruned = prune_structured(model, {0: 2 / 8, 4: 1 / 6})
    assert pruned[0].weight.shape == (6, 3, 3, 3) and pruned[0].bias.shape == (6,)
    assert pruned[1].num_features == 6 and pruned[1].running_var.shape == (6,)
    assert pruned[4].weight.shape == (5, 6, 3, 3)
    assert pruned[5].num_features == 5
    assert pruned[9].weight.shape == (5, 5 * 2 * 2)   # Flatten: 4 columns per channel
    np.testing.assert_allclose(_run(pruned, x), before, rtol=1e-5, atol=1e-5)
    # the same model by explicit indices
    explicit = prune_units(model, {0: [0, 1, 3, 4, 6, 7], 4: [0, 2, 3, 4, 5]})
    np.testing.assert_allclose(_run(explicit, x), before, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(explicit[9].weight.data,
                                  model[9].weight.data[:, [0, 1, 2, 3] + list(range(8, 24))])


def test_prune_units_removing_live_units_changes_outputs(make_cnn):
    model = make_cnn()
    x = np.random.default_rng(3).normal(size=(2, 3, 8, 8)).astype(np.float32)
    pruned = prune_structured(model, 0.5)
    assert not np.allclose(_run(pruned, x), _run(model, x), atol=1e-3)
    assert _run(pruned, x).shape == (2, 5)  # the interface is unchanged


def test_unit_importance_l1_and_bn_scaling():
    conv = Conv2d(2, 3, 1, bias=False)
    conv.weight.data[...] = np.array([1.0, -2.0, 0.5, 0.5, 0.0, -3.0]).reshape(3, 2, 1, 1)
    np.testing.assert_allclose(unit_importance(conv), [3.0, 1.0, 3.0])
    bn = BatchNorm2d(3)
    bn.weight.data[...] = [2.0, -1.0, 0.0]
    bn.running_var.data[...] = [3.0, 0.0, 1.0]
    bn.eps = 1.0
    np.testing.assert_allclose(unit_importance(conv, bn), [3.0 * 2 / 2, 1.0 * 1 / 1, 0.0])


def test_prune_structured_removes_least_important():
    model = Sequential([Dense(4, 6), ReLU(), Dense(6, 2)])
    model[0].weight.data[...] = np.arange(1, 7, dtype=np.float32)[[3, 0, 5, 1, 4, 2], None]
    pruned = prune_structured(model, 0.5)   # rows with L1 4·{1, 2, 3} go: units 1, 3, 5
    np.testing.assert_array_equal(pruned[0].weight.data[:, 0], [4, 6, 5])
    np.testing.assert_array_equal(pruned[2].weight.data, model[2].weight.data[:, [0, 2, 4]])


def test_pruned_model_still_trains(make_cnn):
    pruned = prune_structured(make_cnn(), 0.5).train()
    x = np.random.default_rng(4).normal(size=(4, 3, 8, 8)).astype(np.float32)
    cross_entropy(pruned(Tensor(x)), [0, 1, 2, 3]).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in pruned.parameters())


def test_layer_flops_counted_by_hand_and_shrink(make_cnn):
    model = make_cnn()
    flops = count_flops(model, (3, 8, 8))
    conv1 = 2 * (8 * 8 * 8) * (3 * 3 * 3)
    conv2 = 2 * (6 * 4 * 4) * (8 * 3 * 3)
    dense = 2 * 5 * 24
    assert [row[3] for row in flops.layers] == [conv1, conv2, dense]
    assert flops.total == conv1 + conv2 + dense
    assert flops.parameters == sum(p.data.size for l in model if isinstance(l, (Conv2d, Dense))
                                   for p in l.parameters())
    half = prune_structured(model, {0: 0.5, 4: 0.5})   # 8 -> 4 and 6 -> 3 channels
    after = count_flops(half, (3, 8, 8))
    assert [row[3] for row in after.layers] == [
        2 * (4 * 8 * 8) * 27, 2 * (3 * 4 * 4) * (4 * 9), 2 * 5 * 12]
    assert "total" in str(after)


def test_count_flops_leaves_model_state_alone(make_cnn):
    model = make_cnn().train()
    stats = model[1].running_mean.data.copy()
    count_flops(model, (3, 8, 8))
    assert model.training and model[1].training
    np.testing.assert_array_equal(model[1].running_mean.data, stats)
    assert not model[0]._forward_hooks


def test_layer_flops_formulas():
    assert layer_flops(Dense(10, 7), (3, 10), (3, 7)) == 2 * 3 * 7 * 10
    conv = Conv2d(4, 6, (3, 2), groups=2)
    assert layer_flops(conv, (1, 4, 5, 5), (1, 6, 3, 4)) == 2 * (6 * 3 * 4) * (2 * 3 * 2)


def test_structured_pruning_errors(make_mlp, make_cnn):
    with pytest.raises(ValueError, match="output"):
        prune_units(make_mlp(), {4: [0, 1]})
    with pytest.raises(ValueError, match="not a Dense or Conv2d"):
        prune_units(make_mlp(), {1: [0]})
    with pytest.raises(ValueError, match="non-empty"):
        prune_units(make_mlp(), {0: [16]})
    mixing = Sequential([Dense(4, 4), LogSoftmax(), Dense(4, 2)])
    with pytest.raises(TypeError, match="mix channels"):
        prune_structured(mixing, 0.5)
    with pytest.raises(TypeError, match="Sequential"):
        prune_structured(Dense(3, 3), 0.5)
    grouped = Sequential([Conv2d(4, 4, 1, groups=2), Conv2d(4, 2, 1)])
    with pytest.raises(ValueError, match="grouped"):
        prune_structured(grouped, 0.5)
    bad_flatten = Sequential([Conv2d(3, 3, 1), Flatten(), Dense(10, 2)])
    with pytest.raises(ValueError, match="multiple"):
        prune_units(bad_flatten, {0: [0]})


def test_prune_units_through_maxpool_and_relu():
    model = Sequential([Conv2d(2, 4, 1), ReLU(), MaxPool2d(2), Conv2d(4, 3, 1)]).eval()
    model[0].weight.data[1] = 0.0
    model[0].bias.data[1] = 0.0
    x = np.random.default_rng(5).normal(size=(2, 2, 4, 4)).astype(np.float32)
    pruned = prune_units(model, {0: [0, 2, 3]})
    np.testing.assert_allclose(_run(pruned, x), _run(model, x), rtol=1e-5, atol=1e-6)
