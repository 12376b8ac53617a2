"""Unstructured magnitude pruning: masks, thresholds, sparsity counts, masks kept while training."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import ReLU
from tinytorch.core.compression import (MaskedOptimizer, PruningCallback, PruningMasks,
                                        global_magnitude_masks, magnitude_mask,
                                        prunable_weights, prune_magnitude, sparsity_report)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CrossEntropyLoss, Trainer, cross_entropy


def _distinct(shape, seed=0):
    """Weights with distinct magnitudes (no ties), random signs."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    mags = rng.permutation(n).astype(np.float32) + 1.0
    return (mags * rng.choice([-1.0, 1.0], n)).reshape(shape).astype(np.float32)


# ------------------------------------------------------------------ one layer
@given(st.integers(1, 300), st.floats(0.0, 1.0))
@settings(max_examples=60, deadline=None)
def test_magnitude_mask_removes_exactly_the_smallest(n, sparsity):
    w = _distinct((n,), seed=n)
    keep = magnitude_mask(w, sparsity)
    assert keep.shape == w.shape and keep.dtype == bool
    k = int(round(sparsity * n))
    assert (~keep).sum() == k
    if 0 < k < n:
        assert np.abs(w[~keep]).max() < np.abs(w[keep]).min()


def test_magnitude_mask_keeps_shape_and_edges():
    w = _distinct((4, 3, 2, 2))
    assert magnitude_mask(w, 0.0).all()
    assert not magnitude_mask(w, 1.0).any()
    keep = magnitude_mask(w, 0.5)
    assert keep.shape == (4, 3, 2, 2) and (~keep).sum() == 24
    # the 24 smallest magnitudes are 1..24
    assert sorted(np.abs(w[~keep]).tolist()) == list(np.arange(1.0, 25.0))


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half", True])
def test_magnitude_mask_rejects_bad_sparsity(bad):
    with pytest.raises(ValueError, match="sparsity"):
        magnitude_mask(np.ones(4), bad)


# ------------------------------------------------------------------ global vs per layer
def test_global_masks_threshold_spans_layers():
    small = np.linspace(0.01, 0.99, 50).astype(np.float32)   # all below 1
    large = np.linspace(10.0, 20.0, 50).astype(np.float32)   # all above 10
    masks, threshold = global_magnitude_masks([small, large], 0.5)
    # one threshold: the 50 smallest of all 100 are exactly the first layer
    assert not masks[0].any() and masks[1].all()
    assert threshold == pytest.approx(0.99)
    per_layer = [magnitude_mask(small, 0.5), magnitude_mask(large, 0.5)]
    assert (~per_layer[0]).sum() == 25 and (~per_layer[1]).sum() == 25


def test_global_masks_remove_exact_count_below_threshold():
    arrays = [_distinct((7, 5), 1), _distinct((3, 3, 2, 2), 2) * 0.1, _distinct((40,), 3) * 3]
    total = sum(a.size for a in arrays)
    masks, threshold = global_magnitude_masks(arrays, 0.6)
    removed = np.concatenate([np.abs(a[~m]) for a, m in zip(arrays, masks)])
    kept = np.concatenate([np.abs(a[m]) for a, m in zip(arrays, masks)])
    assert removed.size == round(0.6 * total)
    assert removed.max() == pytest.approx(threshold)
    assert kept.min() >= threshold


def _model():
    return Sequential([Conv2d(3, 4, 3), ReLU(), Conv2d(4, 6, 3), ReLU(),
                       Dense(6, 20), ReLU(), Dense(20, 3)])


def test_prune_magnitude_global_counts_zeros_in_the_weights():
    model = _model()
    biases = {n: p.data.copy() for n, p in model.named_parameters() if n.endswith("bias")}
    masks = prune_magnitude(model, 0.6, scope="global")
    report = sparsity_report(model)
    total = sum(p.data.size for _, p in prunable_weights(model))
    assert report.size == total
    assert report.zeros == round(0.6 * total)
    assert report.sparsity == pytest.approx(round(0.6 * total) / total)
    assert masks.sparsity == pytest.approx(report.sparsity)
    # one threshold: every removed magnitude is below every kept one, across layers
    for name, (param, mask) in masks.params.items():
        assert np.all(param.data[~mask] == 0)
        assert np.all(np.abs(param.data[mask]) >= masks.threshold)
    # biases are never pruned
    for n, p in model.named_parameters():
        if n.endswith("bias"):
            np.testing.assert_array_equal(p.data, biases[n])


def test_prune_magnitude_per_layer_gives_each_layer_its_fraction():
    model = _model()
    prune_magnitude(model, 0.7, scope="layer")
    report = sparsity_report(model)
    for name, _, zeros, size in report.layers:
        assert zeros == round(0.7 * size), name
    global_model = _model()
    prune_magnitude(global_model, 0.7, scope="global")
    fractions = sparsity_report(global_model).layer_sparsity()
    # the global threshold does not spread the zeros evenly
    assert max(fractions.values()) - min(fractions.values()) > 0.05


def test_prune_magnitude_per_layer_dict_and_errors():
    model = _model()
    prune_magnitude(model, {"0.weight": 0.5, "6.weight": 0.9}, scope="layer")
    frac = sparsity_report(model).layer_sparsity()
    assert frac["0.weight"] == pytest.approx(round(0.5 * 108) / 108)
    assert frac["6.weight"] == pytest.approx(round(0.9 * 60) / 60)
    assert frac["2.weight"] == 0.0
    with pytest.raises(KeyError, match="9.weight"):
        prune_magnitude(model, {"9.weight": 0.5}, scope="layer")
    with pytest.raises(ValueError, match="scope"):
        prune_magnitude(model, 0.5, scope="channel")


def test_sparsity_report_counts_existing_zeros_and_prints():
    model = Sequential([Dense(4, 5), ReLU(), Dense(5, 2)])
    model[0].weight.data[...] = 1.0
    model[0].weight.data[0, :3] = 0.0
    model[2].weight.data[...] = 0.0
    model[0].bias.data[...] = 0.0
    report = sparsity_report(model)
    assert report.layers[0][2:] == (3, 20)
    assert report.layers[1][2:] == (10, 10)
    assert report.zeros == 13 and report.size == 30
    everything = sparsity_report(model, all_parameters=True)
    assert everything.zeros == 13 + 5 + int((model[2].bias.data == 0).sum())
    text = str(report)
    assert "total" in text and "43.33%" in text


# ------------------------------------------------------------------ masks stay applied
def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = rng.integers(0, 3, n)
    return x, y


def test_fine_tuning_without_masks_revives_pruned_weights():
    model = Sequential([Dense(6, 10), ReLU(), Dense(10, 3)])
    prune_magnitude(model, 0.5)
    opt = SGD(model.parameters(), lr=0.1)
    x, y = _data()
    opt.zero_grad()
    cross_entropy(model(Tensor(x)), y).backward()
    opt.step()
    assert sparsity_report(model).sparsity < 0.5  # which is why the masks must be re-applied


@pytest.mark.parametrize("make_opt", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: Adam(ps, lr=0.01),
])
def test_apply_masks_in_masked_optimizer_keeps_zeros(make_opt):
    model = Sequential([Dense(6, 10), ReLU(), Dense(10, 3)])
    masks = prune_magnitude(model, 0.6)
    zeros_before = {n: ~m for n, m in masks.masks().items()}
    kept_before = {n: p.data[m].copy() for n, (p, m) in masks.params.items()}
    opt = MaskedOptimizer(make_opt(model.parameters()), masks)
    x, y = _data()
    for _ in range(5):
        opt.zero_grad()
        cross_entropy(model(Tensor(x)), y).backward()
        opt.step()
    for name, (param, mask) in masks.params.items():
        assert np.all(param.data[zeros_before[name]] == 0)
        assert not np.allclose(param.data[mask], kept_before[name])  # the rest did train
    assert sparsity_report(model).zeros == round(0.6 * 90)
    assert opt.param_groups is opt.optimizer.param_groups  # everything else is delegated


def test_apply_masks_gradients_too():
    model = Sequential([Dense(6, 4)])
    masks = prune_magnitude(model, 0.5)
    x, y = _data()
    cross_entropy(model(Tensor(x)), np.minimum(y, 3)).backward()
    masks.apply(grads=True)
    (param, mask), = masks.params.values()
    assert np.all(param.grad.data[~mask] == 0)
    assert np.any(param.grad.data[mask] != 0)


def test_apply_masks_in_pruning_callback_keeps_zeros():
    model = Sequential([Dense(6, 10), ReLU(), Dense(10, 3)])
    masks = prune_magnitude(model, 0.75, scope="layer")
    x, y = _data(64)
    loader = [(Tensor(x[i:i + 16]), y[i:i + 16]) for i in range(0, 64, 16)]
    trainer = Trainer(model, SGD(model.parameters(), lr=0.2, momentum=0.9), CrossEntropyLoss(),
                      callbacks=[PruningCallback(masks)], progress=False)
    trainer.fit(loader, epochs=2)
    for name, _, zeros, size in sparsity_report(model).layers:
        assert zeros == round(0.75 * size), name


def test_pruning_masks_validates_shapes():
    model = Sequential([Dense(3, 2)])
    with pytest.raises(ValueError, match="shape"):
        PruningMasks({"0.weight": (model[0].weight, np.ones((3, 2), bool))})
