"""A run killed mid-way and resumed from its last checkpoint ends bit-identical to an unbroken one.

Everything random is in play: a shuffling DataLoader with random crops and flips (prefetched in
a thread), Dropout drawing from tinytorch's default generator, batch norm's running statistics,
momentum SGD with a learning-rate schedule, and the state of EarlyStopping and BestModel.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.dataloader import (Compose, DataLoader, RandomCrop, RandomHorizontalFlip,
                                       TensorDataset)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten
from tinytorch.core.optimizers import SGD, OneCycleLR, StepLR
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import default_generator, manual_seed
from tinytorch.core.training import (BestModel, Callback, CrossEntropyLoss, EarlyStopping,
                                     Trainer, load_checkpoint)

SEED = 0
BATCHES = 4  # per epoch


class Killed(Exception):
    """Stands in for the process dying (the machine rebooting, Ctrl-C, an OOM kill)."""


class KillDuring(Callback):
    """Raise in the middle of epoch ``epoch`` (1-based), after ``step`` of its batches."""

    def __init__(self, epoch: int, step: int = 2) -> None:
        self.epoch, self.step, self.seen = epoch, step, 0

    def on_batch_end(self, trainer, step, logs):
        if trainer.epoch + 1 == self.epoch:
            self.seen += 1
            if self.seen == self.step:
                raise Killed(f"killed during epoch {self.epoch}")


def images(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 1, (n, 3, 8, 8)).astype(np.float32)
    x[np.arange(n), y, 2:6, 2:6] += 2.0  # a bright patch in the channel of the class
    return x, y


def make_run(schedule: str, callbacks=(), checkpoint_dir=None):
    """Everything built from scratch from the seed, as a fresh process would."""
    manual_seed(SEED)
    x, y = images(16 * BATCHES, seed=1)
    xv, yv = images(32, seed=2)
    augment = Compose([RandomCrop(8, padding=1, seed=SEED), RandomHorizontalFlip(seed=SEED + 1)])
    train = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=SEED,
                       transform=augment, prefetch=1)
    val = DataLoader(TensorDataset(xv, yv), batch_size=16)
    model = Sequential([Conv2d(3, 4, 3, padding=1, bias=False), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                        Flatten(), Dropout(0.3), Dense(64, 3)])
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    if schedule == "step":
        sched = OneCycleLR(opt, max_lr=0.1, total_steps=4 * BATCHES, anneal_strategy="linear",
                           cycle_momentum=False)
    else:
        sched = StepLR(opt, step_size=1, gamma=0.7)
    trainer = Trainer(model, opt, CrossEntropyLoss(label_smoothing=0.1), scheduler=sched,
                      scheduler_interval=schedule, callbacks=list(callbacks),
                      checkpoint_dir=checkpoint_dir, progress=False)
    return trainer, train, val


def without_timings(history):
    return [{k: v for k, v in row.items() if k not in ("time", "img_per_s")} for row in history]


def assert_bit_identical(a: Trainer, b: Trainer, train_a, train_b):
    wa, wb = a.model.state_dict(), b.model.state_dict()
    assert list(wa) == list(wb)
    for k in wa:  # weights and batch-norm statistics, bit for bit
        assert wa[k].dtype == wb[k].dtype
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sorted(sa) == sorted(sb)
    for k in sa:  # momentum buffers, learning rates
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert a.scheduler.state_dict()["last_epoch"] == b.scheduler.state_dict()["last_epoch"]
    assert without_timings(a.history) == without_timings(b.history)
    assert (a.epoch, a.step_count) == (b.epoch, b.step_count)
    assert train_a.state_dict() == train_b.state_dict()  # the loader and its augmentations' RNGs


@pytest.mark.parametrize("schedule", ["step", "epoch"])
def test_checkpoint_killed_and_resumed_run_is_bit_identical(tmp_path, schedule):
    # 1. the reference: four epochs in one go
    ref, ref_train, ref_val = make_run(schedule)
    ref.fit(ref_train, ref_val, epochs=4)
    ref_rng = default_generator().bit_generator.state

    # 2. the same run, killed in the middle of epoch 3 (after the epoch-2 checkpoint)
    ckdir = str(tmp_path / "ck")
    run, train, val = make_run(schedule, [KillDuring(epoch=3)], ckdir)
    with pytest.raises(Killed):
        run.fit(train, val, epochs=4)
    path = os.path.join(ckdir, "last.npz")
    assert load_checkpoint(path)["epoch"] == 2
    assert run.epoch == 2 and run.step_count == 2 * BATCHES + 2  # it got into epoch 3

    # 3. a new "process": unrelated random draws, then everything rebuilt and resumed
    manual_seed(12345)
    default_generator().random(100)
    resumed, train2, val2 = make_run(schedule, checkpoint_dir=ckdir)
    history = resumed.fit(train2, val2, epochs=4, resume=path)

    assert len(history) == 4
    assert default_generator().bit_generator.state == ref_rng
    assert_bit_identical(ref, resumed, ref_train, train2)
    assert load_checkpoint(path)["epoch"] == 4


def test_checkpoint_resume_restores_the_early_stop_and_best_model_callbacks(tmp_path):
    def callbacks():
        # nothing counts as an improvement (min_delta): stop after epoch 3 (best 1, bad 2 and 3)
        return [EarlyStopping("val_loss", patience=2, min_delta=1e9), BestModel("val_acc")]

    ref, ref_train, ref_val = make_run("epoch", callbacks())
    history = ref.fit(ref_train, ref_val, epochs=6)
    assert len(history) == 3 and ref.callbacks[0].stopped_epoch == 3
    ref_best = ref.callbacks[1]
    ref_rng = default_generator().bit_generator.state

    ckdir = str(tmp_path / "ck")
    run, train, val = make_run("epoch", callbacks() + [KillDuring(epoch=3, step=1)], ckdir)
    with pytest.raises(Killed):
        run.fit(train, val, epochs=6)
    saved = load_checkpoint(os.path.join(ckdir, "last.npz"))
    assert saved["callbacks"][0]["state"]["bad_epochs"] == 1  # mid-patience at the checkpoint

    manual_seed(777)
    resumed, train2, val2 = make_run("epoch", callbacks(), ckdir)
    history2 = resumed.fit(train2, val2, epochs=6, resume=os.path.join(ckdir, "last.npz"))

    # without the restored patience counter, the resumed run would train on to epoch 5 or 6
    assert len(history2) == 3 and resumed.callbacks[0].stopped_epoch == 3
    assert default_generator().bit_generator.state == ref_rng
    best = resumed.callbacks[1]
    assert (best.best, best.best_epoch) == (ref_best.best, ref_best.best_epoch)
    for k, v in ref_best.best_state.items():
        np.testing.assert_array_equal(best.best_state[k], v)
    # both ended by restoring the best epoch's weights: identical models
    assert_bit_identical(ref, resumed, ref_train, train2)

    # resuming the finished, early-stopped run trains nothing more
    again, train3, val3 = make_run("epoch", callbacks())
    assert again.fit(train3, val3, epochs=6, resume=os.path.join(ckdir, "last.npz")) == resumed.history
    assert again.epoch == 3


def test_checkpoint_is_written_before_the_history(tmp_path, monkeypatch):
    """Killed between the two writes, the history on disk never claims an epoch the
    checkpoint does not hold (it was the other way round: one epoch too many)."""
    import json

    ckdir = str(tmp_path / "run")
    run, train, val = make_run("epoch", checkpoint_dir=ckdir)
    run.log_dir = ckdir
    run.fit(train, val, epochs=1)
    real_write_logs = Trainer._write_logs

    def killed_before_the_history(self):
        raise Killed("killed after the checkpoint, before the history")

    monkeypatch.setattr(Trainer, "_write_logs", killed_before_the_history)
    with pytest.raises(Killed):
        run.fit(train, val, epochs=2)
    monkeypatch.setattr(Trainer, "_write_logs", real_write_logs)
    with open(os.path.join(ckdir, "history.json")) as f:
        on_disk = json.load(f)
    assert load_checkpoint(os.path.join(ckdir, "last.npz"))["epoch"] == 2
    assert len(on_disk) == 1  # behind the checkpoint, never ahead of it


def test_checkpoint_resume_removes_what_a_killed_save_left(tmp_path):
    import subprocess
    import sys

    ckdir = tmp_path / "run"
    run, train, val = make_run("epoch", checkpoint_dir=str(ckdir))
    run.fit(train, val, epochs=1)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is free: the save it "ran" was killed
    stale = ckdir / f".last.npz.tmp-{child.pid}"
    stale.write_bytes(b"PK\x03\x04" + bytes(50_000))
    resumed, train2, val2 = make_run("epoch", checkpoint_dir=str(ckdir))
    resumed.load(str(ckdir / "last.npz"), train2)
    assert not stale.exists()
    assert sorted(os.listdir(ckdir)) == ["last.npz"]


def test_checkpoint_of_a_much_larger_model_is_refused_before_reading(tmp_path):
    from tinytorch.core.training import CheckpointError, save_checkpoint

    run, train, val = make_run("epoch")
    huge = {"model": {"w": np.zeros((2048, 2048), np.float32)},  # 16 MiB: not this 0.6 KB model's
            "optimizer": {}, "epoch": 1, "rng": {}}
    save_checkpoint(tmp_path / "huge.npz", {**huge, "extra": [np.zeros(1 << 20) for _ in range(8)]})
    limit = run._checkpoint_limit()
    assert limit < (64 << 20) + 16 * 4096  # 16 x the model's state + 64 MiB
    with pytest.raises(CheckpointError, match=f"more than the {limit:,} a checkpoint of this model"):
        run.load(str(tmp_path / "huge.npz"), train)


def test_checkpoint_of_another_network_is_named(tmp_path):
    from tinytorch.core.training import CheckpointError, save_checkpoint

    run, train, val = make_run("epoch")
    other = run.state(train)
    other["model"] = {"0.weight": np.zeros((9, 9), np.float32)}
    save_checkpoint(tmp_path / "other.npz", other)
    with pytest.raises(CheckpointError, match=r"other\.npz does not fit this model and optimizer"):
        run.load(str(tmp_path / "other.npz"), train)
