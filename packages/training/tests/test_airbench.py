"""The airbench recipe's parts: network and init, whitening, optimizer groups, schedule,
lookahead, and the training loop's step budget and whitening-bias freeze."""

import numpy as np
import pytest

from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.spatial import BatchNorm2d, Conv2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training.airbench import (AirbenchTrainer, Mul, airbench94_net,
                                              airbench_lr_factor, airbench_optimizer,
                                              airbench_total_steps)
from tinytorch.core.training.cifar10 import RECIPES, build_model, whitening_filters
from tinytorch.core.training.lookahead import Lookahead, lookahead_decay


def test_airbench_network_layers_and_init():
    manual_seed(0)
    net = build_model(RECIPES["airbench"])
    assert net(Tensor(np.zeros((2, 3, 32, 32), np.float32))).shape == (2, 10)
    assert isinstance(net[-1], Mul) and net[-1].scale == pytest.approx(1 / 9)
    bns = [m for m in net.modules() if isinstance(m, BatchNorm2d)]
    assert len(bns) == 6
    for bn in bns:  # airbench's BatchNorm: no learnable scale, momentum 1 - 0.6, eps 1e-12
        assert not bn.weight.requires_grad and bn.bias.requires_grad
        assert bn.momentum == pytest.approx(0.4) and bn.eps == 1e-12
    assert np.all(net[0].bias.data == 0)  # the whitening conv's bias starts at zero
    convs = [m for m in net.modules() if isinstance(m, Conv2d) and m.kernel_size == (3, 3)]
    assert [c.weight.shape[:2] for c in convs] == [(64, 24), (64, 64), (256, 64), (256, 256),
                                                   (256, 256), (256, 256)]
    for conv in convs:  # dirac: the first c_in filters pass their channel through
        w = conv.weight.data
        c = w.shape[1]
        eye = np.zeros((c, c, 3, 3), np.float32)
        eye[np.arange(c), np.arange(c), 1, 1] = 1
        np.testing.assert_array_equal(w[:c], eye)
        if w.shape[0] > c:  # the other filters keep their random init
            assert np.abs(w[c:]).max() > 0


def test_uncentred_whitening_filters_whiten_the_second_moment():
    rng = np.random.default_rng(0)
    images = (rng.standard_normal((64, 3, 8, 8)) + 0.5).astype(np.float32)
    filters = whitening_filters(images, 2, eps=0.0, center=False, descending=True)
    w = filters[:12].reshape(12, -1).astype(np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(2, 3))
    patches = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, 12).astype(np.float64)
    second = patches.T @ patches / len(patches)  # not centred: airbench's estimate
    np.testing.assert_allclose(w @ second @ w.T, np.eye(12), atol=1e-3)
    np.testing.assert_array_equal(filters[12:], -filters[:12])
    # largest eigenvalue first: its filter has the smallest norm (1/sqrt(lambda))
    norms = np.linalg.norm(w, axis=1)
    assert np.all(np.diff(norms) >= -1e-6)


def test_airbench_lr_factor_is_the_triangle():
    assert airbench_total_steps(48, 9.9) == 476
    assert airbench_lr_factor(0, 476) == pytest.approx(0.2)
    assert airbench_lr_factor(109, 476) == pytest.approx(1.0)  # int(0.23 * 476) = 109
    assert airbench_lr_factor(476, 476) == pytest.approx(0.07)
    assert airbench_lr_factor(54, 476) == pytest.approx(0.2 + 0.8 * 54 / 109)


def test_airbench_optimizer_groups_and_units():
    manual_seed(0)
    net = airbench94_net((8, 8, 8))
    opt = airbench_optimizer(net)
    biases, others = opt.param_groups
    bn_biases = {id(m.bias) for m in net.modules() if isinstance(m, BatchNorm2d)}
    assert {id(p) for p in biases["params"]} == bn_biases
    frozen = {id(net[0].weight)} | {id(m.weight) for m in net.modules() if isinstance(m, BatchNorm2d)}
    assert not frozen & {id(p) for g in opt.param_groups for p in g["params"]}
    lr = 11.5 / (1024 * (1 + 1 / 0.15))
    assert others["lr"] == pytest.approx(lr) and biases["lr"] == pytest.approx(64 * lr)
    decay = 0.0153 * 1024 / (1024 * (1 + 1 / 0.15))  # lr · weight_decay: the same in both
    assert others["lr"] * others["weight_decay"] == pytest.approx(decay)
    assert biases["lr"] * biases["weight_decay"] == pytest.approx(decay)
    assert others["momentum"] == 0.85 and others["nesterov"]


def test_lookahead_averages_then_resets_the_weights():
    w = [np.array([1.0, 2.0], np.float32), np.array(3, np.int64)]
    look = Lookahead(lambda: w)
    w[0][...] = [3.0, 6.0]
    w[1][...] = 7
    look.update(0.75)  # average: 0.75·[1, 2] + 0.25·[3, 6] = [1.5, 3]
    np.testing.assert_allclose(w[0], [1.5, 3.0])
    assert int(w[1]) == 7  # integer counters are not averaged
    w[0][...] = [9.0, 9.0]
    look.update(1.0)  # the weights become the average
    np.testing.assert_allclose(w[0], [1.5, 3.0])
    assert lookahead_decay(476, 476) == pytest.approx(0.95 ** 5)
    assert lookahead_decay(238, 476) == pytest.approx(0.95 ** 5 / 8)
    with pytest.raises(ValueError, match="decay must be in"):
        look.update(1.5)


def test_lookahead_of_a_module_includes_running_statistics():
    bn = BatchNorm2d(2)
    look = Lookahead(bn)
    bn.bias.data[...] = 4.0
    bn.running_mean.data[...] = 2.0
    look.update(0.5)
    np.testing.assert_allclose(bn.bias.data, 2.0)
    np.testing.assert_allclose(bn.running_mean.data, 1.0)


def test_airbench_trainer_stops_at_its_budget_and_freezes_the_whitening_bias():
    manual_seed(0)
    rng = np.random.default_rng(0)
    ds = TensorDataset(rng.standard_normal((16, 3, 32, 32)).astype(np.float32),
                       rng.integers(0, 10, 16))
    loader = DataLoader(ds, batch_size=8, shuffle=True, drop_last=True, seed=0)
    net = airbench94_net((8, 8, 8))
    run = AirbenchTrainer(net, airbench_optimizer(net, batch_size=8), total_steps=3,
                          whiten_bias_epochs=1, lookahead_every=2)
    before = net[0].bias.data.copy()
    first = run.train_epoch(loader)
    assert first["images"] == 16 and run.step == 2 and not run.done
    after_first = net[0].bias.data.copy()
    assert not np.allclose(before, after_first)  # trained in epoch 1
    second = run.train_epoch(loader)
    assert second["images"] == 8 and run.step == 3 and run.done  # stopped mid-epoch
    np.testing.assert_array_equal(net[0].bias.data, after_first)  # frozen from epoch 2
    assert np.isfinite(first["loss"]) and 0 < first["loss"] < 10  # the mean, not the sum
    # the schedule: LambdaLR stepped once per step
    assert run.scheduler.last_epoch == 3
