"""The ``Trainer``: the training loop, written once, with nothing hidden.

Each step is the five lines every framework's loop comes down to:

    logits = model(x)               # forward: the graph is recorded
    loss = loss_fn(logits, y)
    optimizer.zero_grad()           # forget last step's gradients
    loss.backward()                 # autograd fills every parameter's .grad
    optimizer.step()                # move the weights

Around it: a progress bar, validation, a history of every epoch (JSON + CSV), learning-rate
schedules, callbacks, and checkpoints from which a killed run resumes exactly.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Sized
from typing import Any, Iterable

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.optimizers import ReduceLROnPlateau, clip_grad_norm_
from tinytorch.core.tensor import Tensor, default_generator

from .callbacks import Callback
from .checkpoint import (CheckpointError, clean_stale_temps, generator_state, load_checkpoint,
                         save_checkpoint, set_generator_state, temp_path)
from .metrics import RunningMean, accuracy
from .progress import ProgressBar, format_seconds

__all__ = ["Trainer"]


class Trainer:
    """Train, validate, checkpoint and resume a model.

    Args:
        model: the Module to train.
        optimizer: anything with ``zero_grad()``, ``step()``, ``state_dict()`` and
            ``load_state_dict()`` (tinytorch.core.optimizers).
        loss_fn: ``loss_fn(output, target) -> scalar Tensor``.
        scheduler: optional learning-rate scheduler (``step()``, ``state_dict()``); a
            ``ReduceLROnPlateau`` is stepped with the validation loss (else the training loss).
        scheduler_interval: call ``scheduler.step()`` after every "step" or every "epoch".
        callbacks: :class:`Callback` instances (early stopping, best model, ...).
        grad_clip: clip the global gradient norm to this value before each step.
        checkpoint_dir: write ``last.npz`` there after every epoch (atomically).
        log_dir: write ``history.json`` and ``history.csv`` there after every epoch.
        progress: show a progress bar per epoch.
        track_accuracy: compute classification accuracy from the outputs (off for regression).

    Example:
        >>> trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
        >>> history = trainer.fit(train_loader, val_loader, epochs=5)
    """

    def __init__(self, model: Module, optimizer: Any, loss_fn: Any, scheduler: Any = None,
                 scheduler_interval: str = "epoch", callbacks: Iterable[Callback] = (),
                 grad_clip: float | None = None, checkpoint_dir: str | None = None,
                 log_dir: str | None = None, progress: bool = True,
                 track_accuracy: bool = True) -> None:
        if scheduler_interval not in ("step", "epoch"):
            raise ValueError(f"scheduler_interval must be 'step' or 'epoch', got '{scheduler_interval}'")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.scheduler_interval = scheduler_interval
        self.callbacks = list(callbacks)
        self.grad_clip = grad_clip
        self.checkpoint_dir = checkpoint_dir
        self.log_dir = log_dir
        self.progress = progress
        self.track_accuracy = track_accuracy
        self.history: list = []
        self.epoch = 0  # epochs completed
        self.step_count = 0
        self.stop_training = False

    # ------------------------------------------------------------------ one step / one epoch
    def train_step(self, x: Any, y: Any) -> tuple:
        """One optimisation step on a batch; returns (loss value, outputs array).

        ``x`` is a batch of inputs (a Tensor, e.g. (N, features) or (N, C, H, W)) and ``y`` its
        targets. Two pieces to write, around the given nan check: the forward pass (``out``,
        the model's output Tensor, and ``loss``, a 0-d Tensor), then the update — forget the
        previous gradients, backpropagate, clip the global gradient norm to ``self.grad_clip``
        when it is set (``clip_grad_norm_``), and let the optimizer move the weights.

        Raises:
            FloatingPointError: the loss is nan or inf; raised before the update, so the
                weights stay those of the last good step.
        """
        ### BEGIN SOLUTION
        ### HINT: set out = the model's output for x, and loss = self.loss_fn(out, y)
        out = self.model(x)                      # 1. forward: the graph is recorded
        loss = self.loss_fn(out, y)              # 2. how wrong, as one number
        ### END SOLUTION
        value = float(loss.item())
        if not np.isfinite(value):  # a nan/inf step would poison every weight: stop before it
            raise FloatingPointError(
                f"the loss became {value} at epoch {self.epoch + 1}, step {self.step_count + 1}: "
                "lower the learning rate or clip gradients (grad_clip=...)")
        ### BEGIN SOLUTION
        ### HINT: zero the old gradients, backpropagate, clip if self.grad_clip, then update
        self.optimizer.zero_grad()               # 3. forget last step's gradients
        loss.backward()                          # 4. autograd fills every parameter's .grad
        if self.grad_clip is not None:
            clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()                    # 5. move the weights
        ### END SOLUTION
        if self.scheduler is not None and self.scheduler_interval == "step":
            if isinstance(self.scheduler, ReduceLROnPlateau):
                self.scheduler.step(value)  # the batch's loss, for a per-step plateau
            else:
                self.scheduler.step()
        self.step_count += 1
        return value, out.data

    def _lr(self) -> float | None:
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else None

    def train_epoch(self, loader: Iterable, desc: str = "") -> dict:
        """One pass over ``loader`` in training mode; returns loss, accuracy, img/s."""
        self.model.train()
        loss_avg, acc_avg = RunningMean(), RunningMean()
        total = len(loader) if isinstance(loader, Sized) else 0
        bar = ProgressBar(total, desc, enabled=self.progress)
        seen, start = 0, time.perf_counter()
        for x, y in loader:
            loss, out = self.train_step(x, y)
            n = out.shape[0]
            seen += n
            loss_avg.update(loss, n)
            stats = {"loss": loss_avg.value}
            if self.track_accuracy and out.ndim == 2:
                acc_avg.update(accuracy(out, y), n)
                stats["acc"] = acc_avg.value
            stats["img/s"] = seen / max(time.perf_counter() - start, 1e-9)
            bar.update(1, **stats)
            for cb in self.callbacks:
                cb.on_batch_end(self, self.step_count, {"loss": loss})
        elapsed = time.perf_counter() - start
        bar.close()
        return {"loss": loss_avg.value, "acc": acc_avg.value if acc_avg.count else None,
                "img_per_s": seen / max(elapsed, 1e-9), "time": elapsed}

    def evaluate(self, loader: Iterable) -> dict:
        """Loss and accuracy over ``loader`` in eval mode, without building a graph."""
        self.model.eval()
        loss_avg, acc_avg = RunningMean(), RunningMean()
        with no_grad():
            for x, y in loader:
                out = self.model(x)
                n = out.shape[0]
                loss_avg.update(float(self.loss_fn(out, y).item()), n)
                if self.track_accuracy and out.ndim == 2:
                    acc_avg.update(accuracy(out, y), n)
        return {"loss": loss_avg.value, "acc": acc_avg.value if acc_avg.count else None}

    def predict(self, data: Any, batch_size: int = 256) -> np.ndarray:
        """Model outputs (eval mode, no graph) for a loader of (x, y) / x batches or an array."""
        self.model.eval()
        outs = []
        with no_grad():
            if isinstance(data, (Tensor, np.ndarray)):
                arr = data.data if isinstance(data, Tensor) else data
                batches = (Tensor(arr[i:i + batch_size]) for i in range(0, len(arr), batch_size))
            else:
                batches = (b[0] if isinstance(b, (tuple, list)) else b for b in data)
            for x in batches:
                outs.append(self.model(x).data)
        return np.concatenate(outs, axis=0)

    # ------------------------------------------------------------------ the loop
    def fit(self, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 1,
            resume: str | None = None) -> list:
        """Train for ``epochs`` epochs (in total, counting any resumed ones); returns the history.

        Args:
            train_loader: iterable of (inputs, targets) batches.
            val_loader: evaluated after every epoch (val_loss, val_acc in the history).
            epochs: the epoch to stop after.
            resume: path of a checkpoint written by this trainer: continue from it.
        """
        self.stop_training = False
        if resume:
            self.load(resume, train_loader)  # may set stop_training: the run had stopped early
            for folder in {f for f in (self.checkpoint_dir, self.log_dir) if f is not None}:
                clean_stale_temps(folder)  # what a killed save left behind
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while self.epoch < epochs and not self.stop_training:
            for cb in self.callbacks:
                cb.on_epoch_begin(self, self.epoch)
            lr = self._lr()
            train = self.train_epoch(train_loader, desc=f"epoch {self.epoch + 1}/{epochs}")
            row = {"epoch": self.epoch + 1, "train_loss": train["loss"], "train_acc": train["acc"],
                   "lr": lr, "img_per_s": train["img_per_s"], "time": train["time"]}
            if val_loader is not None:
                val = self.evaluate(val_loader)
                row.update(val_loss=val["loss"], val_acc=val["acc"])
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                if isinstance(self.scheduler, ReduceLROnPlateau):  # it follows a measurement
                    self.scheduler.step(row.get("val_loss", row["train_loss"]))
                else:
                    self.scheduler.step()
            self.epoch += 1
            self.history.append(row)
            self._report(row)
            for cb in self.callbacks:
                cb.on_epoch_end(self, self.epoch, row)
            # the checkpoint first, then the history: killed in between, the history on disk
            # never claims an epoch the checkpoint does not hold
            if self.checkpoint_dir:
                self.save(os.path.join(self.checkpoint_dir, "last.npz"), train_loader)
            self._write_logs()
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _report(self, row: dict) -> None:
        if not self.progress:
            return
        parts = [f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}"]
        if row.get("train_acc") is not None:
            parts.append(f"acc {row['train_acc'] * 100:.2f}%")
        if row.get("val_loss") is not None:
            parts.append(f"| val loss {row['val_loss']:.4f}")
        if row.get("val_acc") is not None:
            parts.append(f"acc {row['val_acc'] * 100:.2f}%")
        parts.append(f"| {row['img_per_s']:,.0f} img/s, {format_seconds(row['time'])}")
        print(" ".join(parts), flush=True)

    # ------------------------------------------------------------------ persistence
    def state(self, train_loader: Any = None) -> dict:
        """Everything needed to resume: weights, optimizer, scheduler, RNGs, epoch, history."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "epoch": self.epoch,
            "step_count": self.step_count,
            "history": self.history,
            "rng": {"tinytorch": generator_state(default_generator())},
            "stop_training": self.stop_training,
            "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict()}
                          for cb in self.callbacks],
        }
        if train_loader is not None and hasattr(train_loader, "state_dict"):
            state["rng"]["train_loader"] = train_loader.state_dict()
        return state

    def save(self, path: str, train_loader: Any = None) -> str:
        """Write a resumable checkpoint to ``path`` (atomically)."""
        return save_checkpoint(path, self.state(train_loader))

    def load(self, path: str, train_loader: Any = None) -> None:
        """Restore a checkpoint written by :meth:`save` (model, optimizer, RNGs, epoch...).

        Each callback gets the saved state of the same type (in order), so adding or removing
        a stateless callback between the runs is fine.
        """
        clean_stale_temps(os.path.dirname(os.path.abspath(path)))
        state = load_checkpoint(path, max_bytes=self._checkpoint_limit())
        missing = [k for k in ("model", "optimizer", "epoch", "rng") if k not in state]
        if missing:
            raise CheckpointError(f"{path} is a checkpoint but not a Trainer's: it has no "
                                  f"{', '.join(missing)} (a BestModel file? load its 'model' "
                                  "into the model with model.load_state_dict)")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None and state.get("scheduler") is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        except (KeyError, ValueError, TypeError, IndexError) as err:
            text = str(err)
            text = text if len(text) <= 240 else text[:240] + "..."
            raise CheckpointError(f"{path} does not fit this model and optimizer (saved from "
                                  f"another network or recipe?): {text}") from None
        self.epoch = int(state["epoch"])
        self.step_count = int(state.get("step_count", 0))
        self.history = list(state.get("history", []))
        self.stop_training = bool(state.get("stop_training", False))
        set_generator_state(default_generator(), state["rng"]["tinytorch"])
        loader_state = state["rng"].get("train_loader")
        if loader_state is not None and train_loader is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(loader_state)
        saved = list(state.get("callbacks", []))
        for cb in self.callbacks:
            i = next((i for i, e in enumerate(saved) if e["type"] == type(cb).__name__), None)
            if i is not None:
                cb.load_state_dict(saved.pop(i)["state"])

    def _checkpoint_limit(self) -> int:
        """The most array bytes a checkpoint of this model can hold, with room to spare.

        The model's state once, the optimizer's (Adam: two buffers per parameter), a
        ``BestModel`` copy, the loader's generators: well under 16 times the model's state,
        plus 64 MiB for everything that does not scale with the model.
        """
        state_bytes = sum(np.asarray(v).nbytes for v in self.model.state_dict().values())
        return 16 * state_bytes + (64 << 20)

    def _write_logs(self) -> None:
        if not self.log_dir:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        path = os.path.join(self.log_dir, "history.json")
        tmp = temp_path(path)
        with open(tmp, "w") as f:
            json.dump(self.history, f, indent=1)
        os.replace(tmp, path)
        keys = list(dict.fromkeys(k for row in self.history for k in row))
        path = os.path.join(self.log_dir, "history.csv")
        tmp = temp_path(path)
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.history)
        os.replace(tmp, path)
