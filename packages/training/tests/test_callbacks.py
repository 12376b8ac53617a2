"""EarlyStopping and BestModel, driven epoch by epoch with chosen metric values."""

from __future__ import annotations

import math
import types

import numpy as np
import pytest

from tinytorch.core.layers import Dense
from tinytorch.core.training import BestModel, Callback, EarlyStopping, load_checkpoint


def fake_trainer(model=None):
    return types.SimpleNamespace(stop_training=False, model=model)


def run(callback, values, key="val_loss", trainer=None):
    """Feed one value per epoch; return the epoch after which training stopped (or None)."""
    trainer = trainer or fake_trainer()
    for epoch, value in enumerate(values, start=1):
        callback.on_epoch_end(trainer, epoch, {key: value})
        if trainer.stop_training:
            return epoch
    return None


def test_early_stopping_waits_patience_epochs_without_improvement():
    # best at epoch 2; epochs 3, 4, 5 do not improve -> stop after epoch 5 with patience 3
    es = EarlyStopping("val_loss", patience=3)
    assert run(es, [1.0, 0.5, 0.6, 0.55, 0.7, 0.1]) == 5
    assert es.best == 0.5 and es.stopped_epoch == 5


def test_early_stopping_patience_resets_on_improvement():
    es = EarlyStopping("val_loss", patience=2)
    assert run(es, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.86]) == 7
    assert es.best == 0.8


def test_early_stopping_min_delta():
    # each epoch improves by 0.05 < min_delta 0.1: not an improvement
    assert run(EarlyStopping("val_loss", patience=2, min_delta=0.1), [1.0, 0.95, 0.9, 0.85]) == 3
    assert run(EarlyStopping("val_loss", patience=2, min_delta=0.01), [1.0, 0.95, 0.9, 0.85]) is None


def test_early_stopping_modes():
    rising = [0.5, 0.6, 0.7, 0.8]
    assert run(EarlyStopping("val_acc", patience=1), rising, "val_acc") is None  # auto: max
    assert run(EarlyStopping("val_acc", patience=1, mode="min"), rising, "val_acc") == 2
    assert run(EarlyStopping("score", patience=1, mode="max"), rising, "score") is None
    assert run(EarlyStopping("score", patience=1), rising, "score") == 2  # auto: min
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_early_stopping_names_a_missing_metric():
    with pytest.raises(KeyError, match="'val_loss' is not in the epoch logs.*val_loader"):
        EarlyStopping("val_loss").on_epoch_end(fake_trainer(), 1, {"train_loss": 1.0})


def test_early_stopping_state_round_trip():
    es = EarlyStopping("val_loss", patience=3)
    run(es, [1.0, 2.0])
    fresh = EarlyStopping("val_loss", patience=3)
    fresh.load_state_dict(es.state_dict())
    assert (fresh.best, fresh.bad_epochs) == (1.0, 1)
    assert run(fresh, [3.0, 3.0]) == 2  # 1 + 2 bad epochs = patience


def weights_of(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_best_model_restores_the_best_weights(tmp_path):
    model = Dense(3, 2)
    trainer = fake_trainer(model)
    bm = BestModel("val_acc", path=str(tmp_path / "best.npz"))
    snapshots = []
    for epoch, acc in enumerate([0.3, 0.7, 0.5, 0.6], start=1):
        model.weight.data += 1.0  # "training" changes the weights in place every epoch
        snapshots.append(weights_of(model))
        bm.on_epoch_end(trainer, epoch, {"val_acc": acc})
    assert bm.best == 0.7 and bm.best_epoch == 2
    # the kept state is a copy: later in-place updates did not change it
    np.testing.assert_array_equal(bm.best_state["weight"], snapshots[1]["weight"])
    assert not np.array_equal(model.weight.data, snapshots[1]["weight"])
    bm.on_train_end(trainer)
    for k, v in snapshots[1].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)
    saved = load_checkpoint(tmp_path / "best.npz")
    assert saved["epoch"] == 2 and saved["val_acc"] == 0.7
    np.testing.assert_array_equal(saved["model"]["weight"], snapshots[1]["weight"])


def test_best_model_without_restore_and_min_mode():
    model = Dense(2, 1)
    trainer = fake_trainer(model)
    bm = BestModel("val_loss", restore=False)
    for epoch, loss in enumerate([0.9, 0.4, 0.6], start=1):
        model.bias.data += 1.0
        bm.on_epoch_end(trainer, epoch, {"val_loss": loss})
    assert bm.best_epoch == 2 and bm.best == 0.4
    last = model.bias.data.copy()
    bm.on_train_end(trainer)
    np.testing.assert_array_equal(model.bias.data, last)  # restore=False leaves the last weights


def test_best_model_state_round_trip():
    model = Dense(2, 1)
    bm = BestModel("val_loss")
    bm.on_epoch_end(fake_trainer(model), 1, {"val_loss": 0.5})
    fresh = BestModel("val_loss")
    fresh.load_state_dict(bm.state_dict())
    assert fresh.best == 0.5 and fresh.best_epoch == 1
    np.testing.assert_array_equal(fresh.best_state["weight"], bm.best_state["weight"])
    fresh.on_epoch_end(fake_trainer(model), 2, {"val_loss": 0.7})
    assert fresh.best_epoch == 1


def test_base_callback_does_nothing():
    cb = Callback()
    t = fake_trainer()
    cb.on_train_begin(t)
    cb.on_epoch_begin(t, 0)
    cb.on_batch_end(t, 1, {"loss": 1.0})
    cb.on_epoch_end(t, 1, {})
    cb.on_train_end(t)
    assert cb.state_dict() == {} and not t.stop_training
    assert math.isinf(EarlyStopping("val_loss").best)
