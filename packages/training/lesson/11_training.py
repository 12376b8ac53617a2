# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 11 — Training: the loop that makes a model learn
#
# You have Tensors, layers, a data pipeline, gradients and optimizers. Training ties them
# together, and needs three more things, which you write here:
#
# * **losses** — how wrong the model is, as one number autograd can differentiate: mean
#   squared error, negative log-likelihood, cross-entropy (with label smoothing), binary
#   cross-entropy from logits that never overflows;
# * **metrics** — how well it does, for humans: accuracy, top-k accuracy, the confusion matrix;
# * **the loop** — `Trainer.train_step` (the five lines at the heart of every framework),
#   early stopping, and checkpoints written so that a crash never leaves a half-written file.
#
# Given: the rest of the `Trainer` (`fit` with validation, history, learning-rate schedules and
# callbacks, `evaluate`/`predict` without a graph, the progress bar, `save`/`load` of
# everything a resumed run needs), `load_checkpoint`, the `BestModel` callback, and the CIFAR-10
# recipes behind `tito train cifar10`. Here everything trains on a small generated problem, in
# seconds. The [README](https://tinytorch.github.io/tinytorch/modules/training/) is the reference (API, the CIFAR-10 recipes and results).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("training")   # autoreload on; says whether YOUR version or the reference is installed

# %% [markdown]
# The problem for the lesson: three interleaved spiral arms in the plane, one class each. No
# straight line separates them, so a linear model fails and a small MLP has to bend its decision
# boundaries around the arms.

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from tinytorch.core.dataloader import DataLoader, TensorDataset
from tinytorch.core.dense import MLP
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor, manual_seed


def spirals(n, seed):
    """n points (n, 2) float32 on three noisy spiral arms, and their arm (0, 1, 2)."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 3, n)
    r = rng.uniform(0.15, 1.0, n)
    angle = 2 * np.pi * arm / 3 + 8.0 * r + rng.normal(0, 0.15, n)
    x = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + rng.normal(0, 0.06, (n, 2))
    return x.astype(np.float32), arm


x_train, y_train = spirals(900, seed=0)
x_val, y_val = spirals(300, seed=1)
print(f"train {x_train.shape} {x_train.dtype}, val {x_val.shape}; class counts "
      f"{np.bincount(y_train).tolist()}")

# %% [markdown]
# ## Build — losses
#
# All four are written in **Tensor ops**, so `loss.backward()` differentiates them with module
# 09's derivatives, nothing extra to write. `reduction` is `"mean"` (a 0-d Tensor), `"sum"`, or
# `"none"` (one loss per sample); the given `_reduce(per_item, reduction)` applies it. The
# argument checks (shapes, label ranges, integer labels) are given and run before your code.
#
# ### Exercise 1 — mse: mean squared error
#
# **File:** `src/tinytorch/core/training/losses.py`, **function:**
# `mse_loss(prediction, target, reduction)` = mean over every entry of `(prediction - target)²`.
# For regression; its gradient `2 (prediction - target) / n` is the error itself, scaled.

# %%
check("training", "mse")

# %% [markdown]
# ### Exercise 2 — nll: negative log-likelihood
#
# **Function:** `nll_loss(log_probs, target, *, reduction)`. `log_probs` `(N, C)` holds
# log-probabilities; `labels` `(N,)` the true classes (int64, checked). The loss of sample i is
# `-log_probs[i, labels[i]]`: pick one entry per row with fancy indexing,
# `log_probs[np.arange(N), labels]` — module 02 records it, and its derivative scatters the
# gradient back to exactly those entries.

# %%
check("training", "nll")

# %% [markdown]
# ### Exercise 3 — cross_entropy: from raw logits, with label smoothing
#
# **Function:** `cross_entropy(logits, target, *, reduction, label_smoothing)`. The stable
# `logp = logits.log_softmax(axis=-1)` is computed for you (never `softmax(x).log()`: a tiny
# probability rounds to 0, and log 0 = -inf), and so is the soft-target case. For class labels:
#
#     nll = -logp[i, labels[i]]                       (exercise 2's picking)
#     loss = (1 - ε) · nll + ε · mean over classes of (-logp[i, c])      (label smoothing ε)
#
# Smoothing spreads ε of the target's probability evenly over all classes, so the model is not
# pushed towards infinitely confident logits.

# %%
check("training", "cross_entropy")

# %%
from tinytorch.core.training import cross_entropy

logits = Tensor([[2.0, 0.5, -1.0], [1000.0, 0.0, -1000.0]], requires_grad=True)
loss = cross_entropy(logits, [0, 1])
loss.backward()
print(f"mean loss {loss.item():.2f}: the second sample, confidently wrong, costs about 1000, "
      f"finite; the gradient is (softmax - one_hot) / N:\n{logits.grad.numpy().round(3)}")
print("with label smoothing 0.1:", round(cross_entropy(logits, [0, 1], label_smoothing=0.1).item(), 2))

# %% [markdown]
# ### Exercise 4 — bce: binary cross-entropy from logits, for any logit
#
# **Function:** `binary_cross_entropy_with_logits(logits, target, *, reduction, pos_weight)`, for
# yes/no outputs: `-[w·t·log σ(x) + (1 - t)·log(1 - σ(x))]`, with `w` = `pos_weight` (or 1).
# Computing σ(x) first fails at x = ±100 (σ rounds to exactly 0 or 1; log gives -inf). Instead:
#
#     -log σ(x) = softplus(-x)      -log(1 - σ(x)) = softplus(x)
#     softplus(x) = max(x, 0) + log(1 + e^(-|x|))      (e^(-|x|) ≤ 1: never overflows)
#
# Use `x.maximum(0)` for max(x, 0), `abs()`, `exp()`, `log1p()`; not `relu`: at the tie x = 0,
# `maximum`'s gradient is ½, which makes softplus'(0) = σ(0) = ½ exactly.

# %%
check("training", "bce")

# %% [markdown]
# ## Build — metrics
#
# Metrics are measurements, not part of the graph: they take scores (a Tensor or an array)
# and labels, and return plain numbers. Shapes are checked for you.
#
# ### Exercise 5 — accuracy: accuracy and top_k_accuracy
#
# **File:** `src/tinytorch/core/training/metrics.py`. `accuracy(logits, labels)`: the fraction
# of rows whose highest score is the true label (a float; 0.0 for an empty batch).
# `top_k_accuracy(logits, labels, k)`: the fraction whose label is among the k highest scores —
# `np.argpartition(-x, k - 1, axis=1)[:, :k]` finds them without sorting the whole row.

# %%
check("training", "accuracy")

# %% [markdown]
# ### Exercise 6 — confusion: who is mistaken for whom
#
# **Function:** `confusion_matrix(predictions, labels, num_classes)` → an int64 `(n, n)`
# array, `m[i, j]` = how many samples of true class i were predicted as j (scores are turned
# into predicted classes for you). One call of `np.add.at(m, (labels, predictions), 1)` counts
# every pair; `m[labels, predictions] += 1` would count a repeated pair only once.

# %%
check("training", "confusion")

# %% [markdown]
# ## Build — the loop
#
# ### Exercise 7 — train_step: forward, loss, backward, step
#
# **File:** `src/tinytorch/core/training/trainer.py`, **method:** `Trainer.train_step(x, y)`,
# two blocks around a given check:
#
# 1. `out` = the model's output for `x`; `loss` = `self.loss_fn(out, y)` (a 0-d Tensor). The
#    given code then refuses a nan/inf loss *before* the update, so the weights stay those of
#    the last good step.
# 2. Zero the old gradients (`self.optimizer.zero_grad()` — gradients accumulate otherwise),
#    `loss.backward()`, clip the global norm to `self.grad_clip` when it is set
#    (`clip_grad_norm_`, module 10), then `self.optimizer.step()`.
#
# The schedule step, the step counter and the return value are given; `fit` calls this for
# every batch and adds validation, history, callbacks and checkpoints.

# %%
check("training", "train_step")

# %%
from tinytorch.core.training import CrossEntropyLoss, Trainer, accuracy

manual_seed(0)
model = MLP(2, [64, 64], 3)
trainer = Trainer(model, Adam(model.parameters(), lr=0.01), CrossEntropyLoss(), progress=False)
xb, yb = Tensor(x_train[:64]), y_train[:64]
for step in range(5):
    loss, out = trainer.train_step(xb, yb)
    print(f"step {step}: loss {loss:.4f}, accuracy on the batch {accuracy(out, yb):.2f}")

# %% [markdown]
# ### Exercise 8 — early_stopping: stop when validation stops improving
#
# **File:** `src/tinytorch/core/training/callbacks.py`, **method:**
# `EarlyStopping.on_epoch_end(trainer, epoch, logs)`. `value` is this epoch's monitored metric
# (e.g. `val_loss`). If `_better(self.mode, value, self.best, self.min_delta)`, it becomes
# `self.best` and the count `self.bad_epochs` restarts at 0; otherwise the count grows, and
# when it reaches `self.patience`, set `trainer.stop_training = True` and
# `self.stopped_epoch = epoch`. (`fit` checks the flag before each epoch.)

# %%
check("training", "early_stopping")

# %% [markdown]
# ### Exercise 9 — checkpoint: save everything, atomically
#
# **File:** `src/tinytorch/core/training/checkpoint.py`, **function:**
# `save_checkpoint(path, state)`. A checkpoint is a nested dict (weights, optimizer and
# scheduler state, random generator states, epoch, history). Given: `flatten_state(state,
# arrays)`, which moves every array into `arrays` and leaves a JSON-able structure with
# references — so loading needs no pickle, and a checkpoint file can never run code. You write:
#
# 1. `structure = {"format": FORMAT_VERSION, "state": flatten_state(state, arrays)}`, stored as
#    `arrays["__structure__"] = np.array(json.dumps(structure))`;
# 2. `np.savez` into the temporary file `tmp` **in the same directory** (given: `.<name>.tmp-<pid>`,
#    a name the next save recognises and removes if a killed process left it behind), flushed
#    and `os.fsync`ed, then `os.replace(tmp, path)` — one atomic rename, so a crash leaves
#    either the old checkpoint or the new one, never half of one;
# 3. on any exception (even Ctrl-C: `except BaseException`), delete the temporary file and
#    re-raise.

# %%
check("training", "checkpoint")

# %%
from tinytorch.core.training import load_checkpoint, save_checkpoint

workdir = Path(tempfile.mkdtemp(prefix="lesson11-"))
path = save_checkpoint(workdir / "step5", trainer.state())
entries = np.load(path).files
print(f"{Path(path).name}: {Path(path).stat().st_size / 1024:.0f} KiB, {len(entries)} entries "
      f"({entries[:3]} ... '__structure__'); epoch {load_checkpoint(path)['epoch']}, "
      f"{trainer.step_count} steps")

# %% [markdown]
# ## Use — train a classifier on the spirals, and watch it learn
#
# A 2 → 64 → 64 → 3 MLP with Adam and a cosine learning-rate schedule (module 10), 40 epochs
# of 900 points in batches of 32, validated after every epoch; a callback records the loss of
# every single step (your `train_step`'s return value), and `EarlyStopping` watches the
# validation loss.

# %%
from tinytorch.core.optimizers import CosineAnnealingLR
from tinytorch.core.training import Callback, EarlyStopping, confusion_matrix


class StepLosses(Callback):
    def __init__(self):
        self.losses = []

    def on_batch_end(self, trainer, step, logs):
        self.losses.append(logs["loss"])


def spiral_run(batch_size=32, epochs=40, checkpoint_dir=None, extra=()):
    manual_seed(0)
    model = MLP(2, [64, 64], 3)
    opt = Adam(model.parameters(), lr=0.01)
    trainer = Trainer(model, opt, CrossEntropyLoss(), scheduler=CosineAnnealingLR(opt, T_max=epochs),
                      callbacks=list(extra), checkpoint_dir=checkpoint_dir, progress=False)
    train = DataLoader(TensorDataset(x_train, y_train), batch_size=batch_size, shuffle=True, seed=0)
    val = DataLoader(TensorDataset(x_val, y_val), batch_size=300)
    return trainer, train, val


steps, stopper = StepLosses(), EarlyStopping("val_loss", patience=8)
trainer, train, val = spiral_run(extra=[steps, stopper])
start = time.perf_counter()
history = trainer.fit(train, val, epochs=40)
seconds = time.perf_counter() - start
last = history[-1]
print(f"{len(history)} epochs, {len(steps.losses)} steps in {seconds:.1f} s "
      f"({last['img_per_s']:,.0f} samples/s); stopped early: {stopper.stopped_epoch is not None}")
print(f"final: train loss {last['train_loss']:.3f}, acc {last['train_acc']:.1%} | "
      f"val loss {last['val_loss']:.3f}, acc {last['val_acc']:.1%}")

fig, (ax_step, ax_epoch, ax_map) = plt.subplots(1, 3, figsize=(14, 4))
ax_step.plot(steps.losses, lw=0.6, alpha=0.6, label="each step")
window = 28
ax_step.plot(np.arange(window - 1, len(steps.losses)),
             np.convolve(steps.losses, np.ones(window) / window, "valid"), label="mean of 28")
ax_step.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="loss per step")
ax_step.legend()
epochs = [row["epoch"] for row in history]
ax_epoch.plot(epochs, [row["train_loss"] for row in history], marker=".", label="train")
ax_epoch.plot(epochs, [row["val_loss"] for row in history], marker=".", label="validation")
ax_epoch.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss per epoch")
ax_epoch.legend()
gx, gy = np.meshgrid(np.linspace(-1.1, 1.1, 200), np.linspace(-1.1, 1.1, 200))
grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)
regions = trainer.predict(grid, batch_size=10_000).argmax(axis=1).reshape(gx.shape)
arms = ListedColormap(["tab:red", "tab:blue", "tab:green"])   # one colour per arm, in both
ax_map.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5, 2.5], cmap=arms, alpha=0.25)
ax_map.scatter(x_val[:, 0], x_val[:, 1], c=y_val, cmap=arms, vmin=0, vmax=2, s=8)
ax_map.set(title="decision regions (validation points)", aspect="equal")
plt.tight_layout(); plt.show()
print("confusion matrix on validation (rows: true arm, columns: predicted):")
print(confusion_matrix(trainer.predict(x_val), y_val, num_classes=3))

# %% [markdown]
# A checkpoint is only useful if resuming from it gives the run you would have had. Train 6
# epochs in one go; then train 3, "crash", and let a brand-new trainer resume from `last.npz`
# up to epoch 6. Same seeds, same data order, same Adam moments, same point on the schedule:

# %%
unbroken, train_a, val_a = spiral_run()
unbroken.fit(train_a, val_a, epochs=6)
first, train_b, val_b = spiral_run(checkpoint_dir=str(workdir / "run"))
first.fit(train_b, val_b, epochs=3)
resumed, train_c, val_c = spiral_run(checkpoint_dir=str(workdir / "run"))
resumed.fit(train_c, val_c, epochs=6, resume=str(workdir / "run" / "last.npz"))
gap = max(float(np.abs(unbroken.model.state_dict()[k] - resumed.model.state_dict()[k]).max())
          for k in unbroken.model.state_dict())
print(f"largest weight difference, unbroken vs resumed after 6 epochs: {gap}")

# %% [markdown]
# ## Reflect
#
# 1. **Batch size and speed.** A bigger batch means fewer steps per epoch and more samples per
#    second (less Python overhead per sample), but each step is a different amount of learning.
#    Measure both for one epoch each:

# %%
for bs in (8, 32, 128, 900):
    trainer, train, val = spiral_run(batch_size=bs)
    rows = trainer.fit(train, val, epochs=3)
    best = min(row["time"] for row in rows)   # the quickest of the 3 epochs: the least disturbed
    print(f"batch {bs:4d}: {len(train):3d} steps/epoch, {900 / best:8,.0f} samples/s, "
          f"{best * 1e3:6.1f} ms/epoch, val acc after 3 epochs {rows[-1]['val_acc']:.1%}")

# %% [markdown]
#    Which batch size gets the best validation accuracy after 3 epochs, and which is fastest per
#    epoch? What would you try to get both (hint: the learning rate, module 10)?
# 2. The per-step loss curve is noisy while the per-epoch curve is smooth. Where does the noise
#    come from, and why is a little of it harmless — even useful?
# 3. `train_step` raises on a nan loss *before* `backward` and `step`. What would one nan
#    gradient do to the weights, and to every step after it?
# 4. `save_checkpoint` writes to a temporary file and renames it. What could a reader of
#    `last.npz` see if it wrote to `last.npz` directly and the machine lost power mid-write?
