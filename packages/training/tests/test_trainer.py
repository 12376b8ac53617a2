"""The Trainer on small problems: it learns, evaluates without a graph, logs, schedules, clips."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Module
from tinytorch.core.optimizers import SGD, StepLR
from tinytorch.core.tensor import Tensor, is_grad_enabled, manual_seed
from tinytorch.core.training import (Callback, CheckpointError, CrossEntropyLoss, EarlyStopping,
                                     MSELoss, Trainer, save_checkpoint)


def blobs(n=96, seed=0):
    """Three Gaussian blobs in 2-D: learnable in a few epochs by a small MLP."""
    rng = np.random.default_rng(seed)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = rng.integers(0, 3, n)
    x = centers[y] + rng.normal(0, 0.5, (n, 2))
    return x.astype(np.float32), y


def loaders(batch_size=16, seed=0):
    x, y = blobs()
    xv, yv = blobs(48, seed=1)
    train = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    val = DataLoader(TensorDataset(xv, yv), batch_size=24)
    return train, val


def mlp(dropout=0.0):
    layers = [Dense(2, 16), ReLU()]
    if dropout:
        layers.append(Dropout(dropout))
    return Sequential(layers + [Dense(16, 3)])


class CountingSGD(SGD):
    """SGD that counts its steps (to prove the Trainer really calls step)."""

    steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_train_step_fit_changes_the_weights_and_the_loss_falls(capsys):
    manual_seed(0)
    train, val = loaders()
    model = mlp()
    opt = CountingSGD(model.parameters(), lr=0.1, momentum=0.9)
    before = weights(model)
    trainer = Trainer(model, opt, CrossEntropyLoss(), progress=False)
    first = trainer.evaluate(val)["loss"]
    history = trainer.fit(train, val, epochs=5)

    assert opt.steps == 5 * len(train) == trainer.step_count
    assert all(p.grad is not None and np.any(p.grad.data != 0) for p in model.parameters())
    for k, v in weights(model).items():
        assert not np.array_equal(v, before[k]), f"{k} did not change"
    losses = [row["train_loss"] for row in history]
    assert len(history) == 5 and [row["epoch"] for row in history] == [1, 2, 3, 4, 5]
    assert losses[-1] < 0.5 * losses[0]
    assert history[-1]["val_loss"] < 0.5 * first
    assert history[-1]["val_acc"] >= 0.9
    assert trainer.evaluate(val)["acc"] == history[-1]["val_acc"]
    assert capsys.readouterr().out == ""  # progress=False prints nothing


def test_fit_prints_progress_and_epoch_summaries(capsys):
    manual_seed(0)
    train, val = loaders()
    model = mlp()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    trainer.fit(train, val, epochs=2)
    captured = capsys.readouterr()
    assert "epoch 1/2" in captured.err and "epoch 2/2" in captured.err  # the bars
    assert f"{len(train)}/{len(train)}" in captured.err and "img/s" in captured.err
    summaries = [line for line in captured.out.splitlines() if line.startswith("epoch")]
    assert len(summaries) == 2
    assert "train loss" in summaries[0] and "| val loss" in summaries[0] and "%" in summaries[0]


class Recorder(Module):
    """Wraps a model and keeps what it returned (to look at the graph of the outputs)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.outputs = []
        self.modes = []

    def forward(self, x):
        out = self.inner(x)
        self.outputs.append(out)
        self.modes.append(self.training)
        return out


def test_evaluate_and_predict_build_no_graph():
    manual_seed(0)
    train, val = loaders()
    model = Recorder(mlp(dropout=0.5))
    losses = []

    def loss_fn(out, y):
        loss = CrossEntropyLoss()(out, y)
        losses.append(loss)
        return loss

    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), loss_fn, progress=False)
    trainer.train_step(*next(iter(train)))
    assert model.outputs[-1].grad_fn is not None and model.modes[-1] is True  # training: a graph
    model.outputs.clear(), losses.clear(), model.modes.clear()

    a = trainer.evaluate(val)
    b = trainer.evaluate(val)
    assert a == b  # eval mode: dropout off, the same numbers twice
    assert model.outputs and all(o.grad_fn is None and not o.requires_grad for o in model.outputs)
    assert losses and all(loss.grad_fn is None for loss in losses)
    assert not any(model.modes)
    assert is_grad_enabled()  # grad mode is back on afterwards
    model.outputs.clear()

    x, _ = blobs(10, seed=3)
    p1 = trainer.predict(x, batch_size=4)
    p2 = trainer.predict(Tensor(x))
    p3 = trainer.predict(DataLoader(TensorDataset(x, np.zeros(10, np.int64)), batch_size=3))
    assert p1.shape == (10, 3) and isinstance(p1, np.ndarray)
    np.testing.assert_allclose(p1, p2, rtol=1e-6)
    np.testing.assert_allclose(p1, p3, rtol=1e-6)
    assert all(o.grad_fn is None for o in model.outputs) and is_grad_enabled()


def test_history_is_written_as_json_and_csv(tmp_path):
    manual_seed(0)
    train, val = loaders()
    model = mlp()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(),
                      log_dir=str(tmp_path / "logs"), progress=False)
    history = trainer.fit(train, val, epochs=3)
    on_disk = json.loads((tmp_path / "logs" / "history.json").read_text())
    assert on_disk == history
    with open(tmp_path / "logs" / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) >= {"epoch", "train_loss", "train_acc", "lr", "val_loss", "val_acc", "img_per_s", "time"}
    for row, h in zip(rows, history):
        assert float(row["val_loss"]) == pytest.approx(h["val_loss"])
        assert float(row["train_acc"]) == pytest.approx(h["train_acc"])
    assert not [p.name for p in (tmp_path / "logs").iterdir() if p.name.startswith(".")]


def test_reduce_lr_on_plateau_follows_the_validation_loss():
    from tinytorch.core.optimizers import ReduceLROnPlateau

    class Recording(ReduceLROnPlateau):
        def step(self, metrics=None):
            received.append(metrics)
            super().step(metrics)

    received = []
    manual_seed(0)
    train, val = loaders(batch_size=32)
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    sched = Recording(opt, patience=0, factor=0.5, threshold=10.0)  # nothing counts as better
    history = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched,
                      progress=False).fit(train, val, epochs=3)
    assert received == pytest.approx([row["val_loss"] for row in history])
    assert [row["lr"] for row in history] == pytest.approx([0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_scheduler_steps_per_epoch_or_per_step(interval):
    manual_seed(0)
    train, _ = loaders(batch_size=32)  # 3 batches per epoch
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    seen = []

    class LrSpy(Callback):
        def on_batch_end(self, trainer, step, logs):
            seen.append(opt.param_groups[0]["lr"])

    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=sched, scheduler_interval=interval,
                      callbacks=[LrSpy()], progress=False)
    history = trainer.fit(train, epochs=2)
    if interval == "epoch":
        assert sched.last_epoch == 2
        assert [row["lr"] for row in history] == pytest.approx([0.1, 0.05])
        assert seen == pytest.approx([0.1] * 3 + [0.05] * 3)
    else:
        assert sched.last_epoch == 6
        assert [row["lr"] for row in history] == pytest.approx([0.1, 0.1 * 0.5 ** 3])
        assert seen == pytest.approx([0.1 * 0.5 ** k for k in range(1, 7)])
    with pytest.raises(ValueError, match="scheduler_interval must be 'step' or 'epoch'"):
        Trainer(model, opt, CrossEntropyLoss(), scheduler=sched, scheduler_interval="batch")


def test_train_step_starts_from_fresh_gradients():
    manual_seed(0)
    model = mlp()
    trainer = Trainer(model, SGD(model.parameters(), lr=0.0), CrossEntropyLoss(), progress=False)
    x, y = blobs(16)
    trainer.train_step(Tensor(x), y)
    first = [p.grad.data.copy() for p in model.parameters()]
    trainer.train_step(Tensor(x), y)  # lr 0: same weights, same batch -> the same gradient
    for p, g in zip(model.parameters(), first):
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-6)  # not 2·g: zero_grad was called


def update_norm(grad_clip):
    manual_seed(0)
    model = mlp()
    before = [p.data.copy() for p in model.parameters()]
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), CrossEntropyLoss(),
                      grad_clip=grad_clip, progress=False)
    x, y = blobs(16)
    trainer.train_step(Tensor(x * 10), y)
    grads = np.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in model.parameters()))
    moved = np.sqrt(sum(float(((p.data - b).astype(np.float64) ** 2).sum())
                        for p, b in zip(model.parameters(), before)))
    return grads, moved


def test_train_step_grad_clip_bounds_the_global_gradient_norm():
    raw, moved_raw = update_norm(None)
    assert raw > 1.0 and moved_raw == pytest.approx(raw, rel=1e-4)  # lr 1: the step is the gradient
    clipped, moved = update_norm(0.25)
    assert clipped == pytest.approx(0.25, rel=1e-4)
    assert moved == pytest.approx(0.25, rel=1e-4)


def test_train_step_non_finite_loss_stops_with_a_clear_error_before_the_update():
    manual_seed(0)
    train, _ = loaders()
    model = mlp()
    calls = []

    def exploding_loss(out, y):
        calls.append(1)
        loss = CrossEntropyLoss()(out, y)
        return loss * float("inf") if len(calls) == 3 else loss

    snapshots = []

    class Snapshot(Callback):
        def on_batch_end(self, trainer, step, logs):
            snapshots.append(weights(trainer.model))

    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), exploding_loss,
                      callbacks=[Snapshot()], progress=False)
    with pytest.raises(FloatingPointError, match=r"the loss became inf at epoch 1, step 3.*learning rate"):
        trainer.fit(train, epochs=1)
    assert trainer.step_count == 2
    for k, v in weights(model).items():  # the bad step did not touch the weights
        np.testing.assert_array_equal(v, snapshots[-1][k])
        assert np.all(np.isfinite(v))


def test_callbacks_can_stop_training():
    manual_seed(0)
    train, val = loaders()
    model = mlp()
    es = EarlyStopping("val_loss", patience=1, min_delta=1e9)  # nothing counts as improving
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), callbacks=[es],
                      progress=False)
    history = trainer.fit(train, val, epochs=10)
    assert len(history) == 2 and trainer.epoch == 2 and es.stopped_epoch == 2


def test_callback_hooks_are_called_in_order():
    manual_seed(0)
    train, _ = loaders(batch_size=48)  # 2 batches
    events = []

    class Log(Callback):
        def on_train_begin(self, trainer):
            events.append("begin")

        def on_epoch_begin(self, trainer, epoch):
            events.append(f"epoch{epoch}")

        def on_batch_end(self, trainer, step, logs):
            assert math.isfinite(logs["loss"])
            events.append(f"step{step}")

        def on_epoch_end(self, trainer, epoch, logs):
            events.append(f"end{epoch}:{logs['epoch']}")

        def on_train_end(self, trainer):
            events.append("done")

    model = mlp()
    Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), callbacks=[Log()],
            progress=False).fit(train, epochs=2)
    assert events == ["begin", "epoch0", "step1", "step2", "end1:1",
                      "epoch1", "step3", "step4", "end2:2", "done"]


def test_train_step_for_regression_without_acc_tracking():
    manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    model = Dense(3, 1)
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), track_accuracy=False,
                      progress=False)
    history = trainer.fit(loader, loader, epochs=20)
    assert history[-1]["train_acc"] is None and history[-1]["val_acc"] is None
    assert history[-1]["val_loss"] < 1e-3
    np.testing.assert_allclose(model.weight.data.ravel(), [1.0, -2.0, 0.5], atol=0.05)


def test_loading_a_file_that_is_not_a_trainer_checkpoint(tmp_path):
    model = mlp()
    path = save_checkpoint(tmp_path / "best.npz", {"model": model.state_dict(), "epoch": 1})
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(), progress=False)
    with pytest.raises(CheckpointError, match="not a Trainer's: it has no optimizer, rng"):
        trainer.load(path)


def test_checkpoint_save_and_load_round_trip(tmp_path):
    manual_seed(0)
    train, val = loaders()
    model = mlp()
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    es = EarlyStopping("val_loss", patience=5)
    trainer = Trainer(model, opt, CrossEntropyLoss(), callbacks=[es], progress=False)
    trainer.fit(train, val, epochs=2)
    path = trainer.save(str(tmp_path / "ck.npz"), train)

    manual_seed(1)
    model2 = mlp()
    opt2 = SGD(model2.parameters(), lr=0.5, momentum=0.9)
    es2 = EarlyStopping("val_loss", patience=5)

    class Stateless(Callback):
        pass

    # callbacks are matched by type: an extra stateless one does not shift the others
    trainer2 = Trainer(model2, opt2, CrossEntropyLoss(), callbacks=[Stateless(), es2], progress=False)
    train2, _ = loaders()
    trainer2.load(path, train2)
    for k, v in weights(model).items():
        np.testing.assert_array_equal(model2.state_dict()[k], v)
    assert opt2.param_groups[0]["lr"] == 0.1
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(opt.state[p]["momentum_buffer"], opt2.state[q]["momentum_buffer"])
    assert trainer2.epoch == 2 and trainer2.step_count == trainer.step_count
    assert trainer2.history == trainer.history
    assert (es2.best, es2.bad_epochs) == (es.best, es.bad_epochs)
    assert train2.epoch == train.epoch == 2
