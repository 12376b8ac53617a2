"""Callbacks: small objects the Trainer calls at fixed points of the loop.

    trainer = Trainer(model, opt, loss_fn, callbacks=[EarlyStopping("val_loss", patience=3),
                                                      BestModel("val_acc")])

A callback overrides any of ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
``on_epoch_end`` and ``on_train_end``; each receives the trainer (and the latest logs).
Callbacks that keep state (a patience counter, the best score) also save it in checkpoints
through ``state_dict``/``load_state_dict``, so a resumed run behaves like an unbroken one.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Callback", "EarlyStopping", "BestModel"]


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer: Any) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, trainer: Any, epoch: int) -> None:
        """Before each epoch."""

    def on_batch_end(self, trainer: Any, step: int, logs: dict) -> None:
        """After each optimizer step; logs has the batch's loss."""

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        """After each epoch's validation; logs is that epoch's history row."""

    def on_train_end(self, trainer: Any) -> None:
        """After the last epoch (or an early stop)."""

    def state_dict(self) -> dict:
        """State to keep in checkpoints."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what ``state_dict`` returned."""


def _better(mode: str, value: float, best: float, min_delta: float) -> bool:
    if mode == "min":
        return value < best - min_delta
    return value > best + min_delta


def _mode_for(monitor: str, mode: str) -> str:
    if mode != "auto":
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min', 'max' or 'auto', got '{mode}'")
        return mode
    return "max" if "acc" in monitor else "min"


def _monitored(logs: dict, monitor: str, who: str) -> float:
    if monitor not in logs or logs[monitor] is None:
        raise KeyError(f"{who}: metric '{monitor}' is not in the epoch logs {sorted(logs)} "
                       "(val_* metrics need a val_loader)")
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    Args:
        monitor: a key of the epoch logs, e.g. "val_loss" or "val_acc".
        patience: epochs without improvement to tolerate.
        min_delta: the smallest change that counts as an improvement.
        mode: "min", "max", or "auto" (max for accuracies, min otherwise).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0,
                 mode: str = "auto") -> None:
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.bad_epochs = 0
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        """Count the epochs without improvement; stop the trainer after ``patience`` of them.

        ``value`` is this epoch's monitored metric. It improves on ``self.best`` when
        ``_better(self.mode, value, self.best, self.min_delta)``: then it becomes the new best
        and the count ``self.bad_epochs`` restarts at 0. Otherwise the count grows, and when it
        reaches ``self.patience`` set ``trainer.stop_training = True`` and remember the epoch in
        ``self.stopped_epoch``.
        """
        value = _monitored(logs, self.monitor, "EarlyStopping")
        ### BEGIN SOLUTION
        ### HINT: two branches on _better(...): update best and reset the count, or count one
        ### HINT: more bad epoch and compare it with patience (>=: patience=2 stops on the 2nd)
        if _better(self.mode, value, self.best, self.min_delta):
            self.best = value
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.patience:
                trainer.stop_training = True
                self.stopped_epoch = epoch
        ### END SOLUTION

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])


class BestModel(Callback):
    """Keep the weights of the best epoch by ``monitor``; restore them when training ends.

    Args:
        monitor: a key of the epoch logs ("val_acc", "val_loss", ...).
        path: also save the best weights there (an .npz state dict, written atomically).
        restore: load the best weights into the model at the end of ``fit``.
        mode: "min", "max" or "auto".
    """

    def __init__(self, monitor: str = "val_loss", path: str | None = None, restore: bool = True,
                 mode: str = "auto") -> None:
        self.monitor = monitor
        self.path = path
        self.restore = restore
        self.mode = _mode_for(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_state: dict | None = None

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict) -> None:
        value = _monitored(logs, self.monitor, "BestModel")
        if _better(self.mode, value, self.best, 0.0):
            self.best, self.best_epoch = value, epoch
            self.best_state = trainer.model.state_dict()
            if self.path:
                from .checkpoint import save_checkpoint

                save_checkpoint(self.path, {"model": self.best_state, "epoch": epoch,
                                            self.monitor: value})

    def on_train_end(self, trainer: Any) -> None:
        if self.restore and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]
        self.best_state = state["best_state"]
