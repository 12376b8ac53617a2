"""Track 2: norm_layer (GroupNorm is module 06's), residual blocks, soft targets, the schedule,
and the pair harness."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tinytorch.capstone.extensions import (GroupNorm, ResidualBlock, WarmupCosine, group_norm,
                                           make_blocks, mixup, norm_layer, one_hot, smooth_labels,
                                           warmup_cosine_factor)
from tinytorch.capstone.extensions.experiments import (PAIRS, RunConfig, build_net, pairs_markdown,
                                                       run_pairs, train_run)
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import cross_entropy


def test_extensions_group_norm_is_module_06s():
    from tinytorch.core import spatial
    assert GroupNorm is spatial.GroupNorm and group_norm is spatial.group_norm


def test_norm_layer_kinds():
    assert type(norm_layer("batch", 8)).__name__ == "BatchNorm2d"
    gn = norm_layer("group", 12, groups=8)  # 8 does not divide 12: the largest that does, 6
    assert isinstance(gn, GroupNorm) and gn.num_groups == 6
    assert type(norm_layer("none", 8)).__name__ == "Identity"
    with pytest.raises(ValueError, match="unknown kind"):
        norm_layer("layer", 8)


def test_residual_block_adds_the_shortcut():
    manual_seed(0)
    x = Tensor(np.random.default_rng(3).standard_normal((2, 4, 6, 6)).astype(np.float32))
    block = ResidualBlock(4, 4, norm="none")
    block.eval()
    expected = np.maximum(block.body(x).data + x.data, 0)
    np.testing.assert_allclose(block(x).data, expected, rtol=1e-5, atol=1e-6)
    for p in block.body.parameters():  # no body: the block passes relu(x) through
        p.data[...] = 0
    np.testing.assert_allclose(block(x).data, np.maximum(x.data, 0))
    plain = ResidualBlock(4, 4, norm="none", residual=False)
    for p in plain.body.parameters():
        p.data[...] = 0
    np.testing.assert_allclose(plain(x).data, 0)


def test_residual_block_projection_and_gradient_flow():
    manual_seed(0)
    block = ResidualBlock(4, 8, stride=2, norm="group")
    x = Tensor(np.random.default_rng(4).standard_normal((2, 4, 8, 8)).astype(np.float32),
               requires_grad=True)
    out = block(x)
    assert out.shape == (2, 8, 4, 4)
    out.sum().backward()
    assert x.grad is not None and np.abs(x.grad.data).sum() > 0
    assert [b.body[0].stride for b in make_blocks((4, 4, 8), "none", True)] == [(1, 1), (1, 1), (2, 2)]


def test_soft_targets_smooth_labels_and_one_hot():
    y = np.array([0, 2, 1])
    np.testing.assert_array_equal(one_hot(y, 3), np.eye(3)[[0, 2, 1]])
    t = smooth_labels(y, 4, 0.2)
    np.testing.assert_allclose(t.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(t[0], [0.85, 0.05, 0.05, 0.05], rtol=1e-6)
    assert t.dtype == np.float32
    logits = Tensor(np.random.default_rng(5).standard_normal((3, 4)).astype(np.float32))
    a = cross_entropy(logits, smooth_labels(y, 4, 0.1)).item()
    b = cross_entropy(logits, y, label_smoothing=0.1).item()
    assert a == pytest.approx(b, rel=1e-6)
    with pytest.raises(ValueError):
        smooth_labels(y, 4, 1.5)
    with pytest.raises(ValueError, match="labels must be in"):
        one_hot(np.array([4]), 4)


def test_soft_targets_mixup_mixes_inputs_and_targets_alike():
    x = np.random.default_rng(6).standard_normal((6, 3, 2, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 3, 4, 5])
    mixed, targets, lam = mixup(Tensor(x), y, 6, alpha=0.4, rng=np.random.default_rng(7))
    rng = np.random.default_rng(7)  # the same draws, in the same order
    assert lam == rng.beta(0.4, 0.4)
    perm = rng.permutation(6)
    np.testing.assert_allclose(mixed.data, lam * x + (1 - lam) * x[perm], rtol=1e-6)
    np.testing.assert_allclose(targets, lam * np.eye(6)[y] + (1 - lam) * np.eye(6)[y[perm]], rtol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1, rtol=1e-6)
    assert mixed.dtype == np.float32 and targets.dtype == np.float32
    with pytest.raises(ValueError):
        mixup(x, y, 6, alpha=0)


def test_warmup_cosine_factor():
    f = lambda t: warmup_cosine_factor(t, total_steps=110, warmup_steps=10, min_ratio=0.1)  # noqa: E731
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55)  # half-way down the cosine: (1 + 0.1) / 2
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)
    assert warmup_cosine_factor(50, 100) == pytest.approx(0.5)
    values = [f(t) for t in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_warmup_cosine_scheduler_sets_the_rate():
    p = Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = SGD([p], lr=0.2)
    sched = WarmupCosine(opt, total_steps=20, warmup_steps=4)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(20):
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    assert rates[0] == pytest.approx(0.05) and rates[3] == pytest.approx(0.2)
    assert rates[20] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        WarmupCosine(opt, total_steps=5, warmup_steps=5)


def test_build_net_for_every_pair():
    x = Tensor(np.zeros((2, 3, 32, 32), np.float32))
    for _, before, after in PAIRS.values():
        for changes in (before, after):
            cfg = RunConfig(**{**changes, "widths": (4, 8)})
            assert build_net(cfg)(x).shape == (2, 10)


def test_pairs_on_a_tiny_cifar(tiny_cifar, tmp_path):
    base = RunConfig(widths=(4, 8), epochs=1, train_images=64, test_images=20, batch_size=32)
    result = run_pairs(["mixup", "label_smoothing"], base, tiny_cifar, str(tmp_path), progress=False)
    assert len(result["runs"]) == 3  # the shared baseline ran once
    pair = result["pairs"]["mixup"]
    assert pair["before"] == result["pairs"]["label_smoothing"]["before"]
    for run in result["runs"].values():
        assert 0 <= run["test_acc"] <= 1 and math.isfinite(run["test_loss"])
        assert run["train_images"] == 64 and run["test_images"] == 20
    saved = json.loads((tmp_path / "result.json").read_text())
    assert set(saved["pairs"]) == {"mixup", "label_smoothing"}
    report = (tmp_path / "report.md").read_text()
    assert "| mixup |" in report and "| label_smoothing |" in report
    assert pairs_markdown(result) == report
    with pytest.raises(ValueError, match="unknown pair"):
        run_pairs(["nope"], base, tiny_cifar)


def test_a_run_is_reproducible(tiny_cifar):
    cfg = RunConfig(widths=(4, 8), epochs=1, train_images=64, test_images=20, batch_size=32,
                    mixup=0.2, schedule="cosine")
    a, b = train_run(cfg, tiny_cifar, progress=False), train_run(cfg, tiny_cifar, progress=False)
    assert a["history"][0]["train_loss"] == b["history"][0]["train_loss"]
    assert a["test_loss"] == b["test_loss"]
