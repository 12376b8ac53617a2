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
# # Module 16 — Capstone: use the framework like an engineer
#
# Fifteen modules built a framework. The capstone uses it the way engineers use theirs, in five
# tracks, each with a harness that *measures* the result (`tito capstone list`):
#
# * **performance** — how long to 90 % on CIFAR-10? (the speed-run);
# * **extensions** — residual blocks, GroupNorm, mixup, label smoothing, warm-up + cosine:
#   does each new idea help, on the same seed and budget?
# * **systems** — data-parallel training: N processes that compute what one would;
# * **analysis** — TinyTorch against PyTorch, op by op, with confidence intervals;
# * **devtools** — see the autograd graph, flag vanishing gradients, point errors at *your* line.
#
# The harnesses run for minutes to hours (`tito capstone run <track>`); this lesson builds the
# eight pieces they stand on, each small and each checked on its own, then uses them on
# problems that take seconds. The [README](https://tinytorch.github.io/tinytorch/modules/capstone/) has the tracks' commands and results.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("capstone")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import numpy as np

import tinytorch.core.autograd  # noqa: F401  (the engine behind .backward())
from tinytorch.core.tensor import Tensor, manual_seed

rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### Exercise 1 — first_crossings: when did the run get there?
#
# **File:** `src/tinytorch/capstone/speedrun.py`, function `first_crossings(history, thresholds,
# key="test_acc")`.
#
# The speed-run evaluates the test set after every epoch and appends a row
# `{"epoch", "train_seconds", "wall_seconds", "test_acc", ...}` (times cumulative). For each
# threshold return the **first** row whose `key` is `>=` it, as
# `{"epoch", "train_seconds", "wall_seconds", key}`, or `None` if no row reaches it; the result's
# keys are the thresholds as `threshold_key` writes them (`"0.90"`, and `"0.905"` where two
# decimals would not do). A row whose `key` is `None` (no
# evaluation that epoch) never counts. Training time leaves the evaluations out, wall time does
# not: a speed-run reports both, because both are honest answers to different questions.

# %%
check("capstone", "first_crossings")

# %% [markdown]
# ### Given: GroupNorm, from module 06
#
# The extensions track compares a network without normalisation against one with **group
# norm**: statistics per sample over groups of channels, so it behaves the same for a batch of
# 2 as of 256 and in training and evaluation. You wrote it in module 06 (`group_norm`, next to
# batch norm); `norm_layer("group", channels)` (given, `extensions/residual.py`) builds a
# `GroupNorm` from `tinytorch.core.spatial` with the largest group count up to 8 that divides
# the channels.

# %% [markdown]
# ### Exercise 2 — residual_block: learn a correction to the identity
#
# **File:** `src/tinytorch/capstone/extensions/residual.py`, method `ResidualBlock.forward(x)`.
#
# `__init__` (given) builds `self.body` (conv3×3–norm–ReLU–conv3×3–norm), `self.shortcut` (the
# identity, or a 1×1 convolution with its own norm when the channels or the resolution change)
# and `self.act` (ReLU). Return `act(body(x) + shortcut(x))`, or `act(body(x))` when
# `self.residual` is False (the "plain" twin used for before/after comparisons). The `+ x` is
# the whole idea: the block starts as (nearly) the identity, and the gradient reaches earlier
# layers through the addition untouched.

# %%
check("capstone", "residual_block")

# %% [markdown]
# ### Exercise 3 — soft_targets: label smoothing and mixup
#
# **File:** `src/tinytorch/capstone/extensions/mixing.py`, functions `smooth_labels(y,
# num_classes, epsilon)` and `mixup(x, y, num_classes, alpha, rng)`.
#
# Both replace one-hot targets by probability vectors (module 11's `cross_entropy` takes
# (N, C) probabilities). **Label smoothing**: `(1 − ε)·one_hot + ε/C`, float32 — the network is
# never asked for infinitely confident logits. **Mixup**: with λ ~ Beta(α, α) and a permutation
# `perm` (both drawn for you, in that order, so tests can replay them), return
# `x̃ = λ·x + (1 − λ)·x[perm]` with `t = λ·one_hot(y) + (1 − λ)·one_hot(y[perm])`. Cast λ to
# the data's dtype before mixing floats: a float64 λ would promote a float32 batch.

# %%
check("capstone", "soft_targets")

# %% [markdown]
# ### Exercise 4 — warmup_cosine: a learning-rate schedule
#
# **File:** `src/tinytorch/capstone/extensions/schedules.py`, function
# `warmup_cosine_factor(t, total_steps, warmup_steps, min_ratio)` — the rate at step t as a
# fraction of the base rate:
#
# $$f(t) = \begin{cases} (t+1)/W & t < W \\ r + (1-r)\,\tfrac{1}{2}\big(1 + \cos\frac{\pi (t-W)}{T-W}\big) & W \le t < T \\ r & t \ge T \end{cases}$$
#
# with W = `warmup_steps` (0: no warm-up), T = `total_steps`, r = `min_ratio`. The
# `WarmupCosine` scheduler that multiplies each base rate by it is given.

# %%
check("capstone", "warmup_cosine")

# %%
import matplotlib.pyplot as plt

from tinytorch.capstone.extensions import warmup_cosine_factor

steps = np.arange(300)
plt.figure(figsize=(6, 2.5))
for warmup, ratio in [(0, 0.0), (30, 0.0), (30, 0.1)]:
    plt.plot(steps, [warmup_cosine_factor(t, 300, warmup, ratio) for t in steps],
             label=f"W={warmup}, min_ratio={ratio}")
plt.xlabel("step")
plt.ylabel("lr / base lr")
plt.legend()
plt.show()

# %% [markdown]
# ### Exercise 5 — data_parallel: split the batch, sum the gradients
#
# **File:** `src/tinytorch/capstone/distributed/data_parallel.py`, functions
# `shard_slice(n, rank, size)` and `allreduce_gradients(params, comm, weight, bucket)`.
#
# Every rank holds the whole model and trains on its slice of each global batch.
# `shard_slice` gives rank r its **contiguous** slice of n items over `size` ranks, lengths
# differing by at most one, the first `n % size` ranks taking the extra item (10 over 3 ranks:
# 0:4, 4:7, 7:10). `allreduce_gradients` makes every rank's gradients the gradient of the mean
# loss over the *global* batch, in **one** message: copy each `p.grad.data` (zeros when `None`)
# into its slice of the float32 `bucket`, multiply by `weight` (this rank's share of the global
# batch), `comm.allreduce_sum(bucket)`, then give each parameter a new gradient
# `Tensor(its slice reshaped, dtype=p.data.dtype)`. The bucket's allocation, the communicators
# (MPI, or threads for tests) and `DataParallel` around it are given.

# %%
check("capstone", "data_parallel")

# %% [markdown]
# ### Exercise 6 — walk_graph: everything a loss was computed from
#
# **File:** `src/tinytorch/capstone/devtools/graphviz.py`, function `walk_graph(root)`.
#
# Every op on a tensor that requires grad leaves `t._node` (module 02; `None` on a leaf) whose
# `.inputs` are the tensors it was made from. Return `(tensors, edges)`: each tensor reachable
# from `root` **once** (a set of `id`s already seen; `root` first), and one edge
# `(id(input), id(output))` per input of each node — twice for `x * x`. Use a stack, not
# recursion: a long training graph is deeper than Python's recursion limit. `to_dot` (given)
# draws what you return.

# %%
check("capstone", "walk_graph")

# %%
from tinytorch.capstone.devtools import op_counts, to_dot
from tinytorch.core.dense import MLP
from tinytorch.core.training import cross_entropy

manual_seed(0)
mlp = MLP(16, [32], 4)
loss = cross_entropy(mlp(Tensor(rng.normal(size=(8, 16)).astype(np.float32))),
                     rng.integers(0, 4, 8))
print("ops recorded:", dict(op_counts(loss)))
print("\n".join(to_dot(loss, names=dict(mlp.named_parameters())).splitlines()[:6]), "\n...")

# %% [markdown]
# ### Exercise 7 — monitor: the numbers behind the flags
#
# **File:** `src/tinytorch/capstone/devtools/monitor.py`, functions `activation_stats(values)`
# and `classify_gradient(norm, vanishing, exploding)`.
#
# `activation_stats` returns `{"mean", "std", "max_abs", "zero_fraction"}` over all elements, as
# Python floats (population std; the fraction of elements exactly 0; all four 0.0 for an empty
# array). `classify_gradient` returns `"non-finite"` for nan/inf (test it first: every
# comparison with nan is False), `"exploding"` above `exploding`, `"vanishing"` below
# `vanishing`, else `"ok"` (the bounds themselves are ok). `TrainingMonitor` (given) hooks every
# layer and calls them.

# %%
check("capstone", "monitor")

# %% [markdown]
# ### Exercise 8 — pinpoint: errors at your line
#
# **File:** `src/tinytorch/capstone/devtools/errors.py`, function `user_frame(tb, roots)`.
#
# A shape error is raised deep inside a layer, but the line to fix is the one in *your* code
# that called the model. Walk `traceback.extract_tb(tb)` from the outermost frame inward,
# remembering the last frame of user code — neither framework (`is_framework_file(f.filename,
# roots)`) nor standard library (`_is_stdlib(f.filename, stdlib)`); at the first framework
# frame after one, return the remembered frame. Return `None` when the error never passed from
# user code into the framework. `pinpoint()` (given) appends `at your line ...` to the message.

# %%
check("capstone", "pinpoint")

# %%
from tinytorch.capstone.devtools import pinpoint

try:
    with pinpoint():
        mlp(Tensor(np.zeros((2, 12), np.float32)))     # 12 features; the MLP wants 16
except ValueError as err:
    print(err)

# %% [markdown]
# ## Use
#
# ### Does the gradient reach the first block?
#
# Twelve of your `ResidualBlock`s, and their plain twin of the same depth (`residual=False`),
# on a batch of small random images; once without normalisation and once with the
# `group_norm` you wrote in module 06. Your monitor reads the gradient norm of each block's first convolution after
# one backward pass.

# %%
from tinytorch.capstone.devtools import TrainingMonitor
from tinytorch.capstone.extensions import ResidualBlock
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten

depth = 12
images = rng.normal(size=(16, 8, 8, 8)).astype(np.float32)
labels = rng.integers(0, 10, 16)
fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
for ax, norm in zip(axes, ["none", "group"]):
    for residual, marker in [(True, "o-"), (False, "s-")]:
        manual_seed(0)
        net = Sequential([ResidualBlock(8, 8, norm=norm, residual=residual)
                          for _ in range(depth)] + [Flatten(), Dense(8 * 8 * 8, 10)])
        with TrainingMonitor(net) as monitor:
            cross_entropy(net(Tensor(images)), labels).backward()
        norms = [r.grad_norms["weight"] for r in monitor.check() if r.name.endswith("body.0")]
        name = "residual" if residual else "plain"
        ax.semilogy(range(1, depth + 1), norms, marker, label=name)
        print(f"norm={norm:5s} {name:8s} block 1: {norms[0]:8.2g}   block {depth}: "
              f"{norms[-1]:8.2g}   largest/smallest: {max(norms) / min(norms):5.1f}")
    ax.set(title=f"norm = {norm}", xlabel="block (1 = nearest the input)")
    ax.legend()
axes[0].set_ylabel("‖∇ first conv weight‖")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Two ranks train exactly like one process
#
# Two ranks as two threads (`ThreadGroup`), starting from *different* random weights (the
# broadcast of rank 0's fixes that), each seeing half of every batch — against one process on the whole
# batches, with your `shard_slice` and `allreduce_gradients` in between.

# %%
from tinytorch.capstone.distributed import DataParallel, SingleProcess, ThreadGroup
from tinytorch.core.optimizers import SGD

batches = [(rng.normal(size=(12, 16)).astype(np.float32), rng.integers(0, 4, 12))
           for _ in range(5)]


def make_model(seed):
    manual_seed(seed)          # the global generator: seed it here, not inside the threads
    return MLP(16, [32], 4)


def train(model, comm):
    dp = DataParallel(model, SGD(model.parameters(), lr=0.1, momentum=0.9), cross_entropy, comm)
    losses = [dp.step(Tensor(x), y) for x, y in batches]
    return model.state_dict(), losses


one, one_losses = train(make_model(0), SingleProcess())
ranks = [make_model(0), make_model(1)]    # rank 1 starts elsewhere; the broadcast fixes that
(rank0, losses0), (rank1, _) = ThreadGroup(2).run(lambda comm: train(ranks[comm.rank], comm))
print("losses, one process:", np.round(one_losses, 4))
print("losses, two ranks:  ", np.round(losses0, 4))
print("rank 0 vs rank 1, largest weight difference:",
      max(float(np.abs(rank0[k] - rank1[k]).max()) for k in one))
print("two ranks vs one process:                   ",
      max(float(np.abs(rank0[k] - one[k]).max()) for k in one))

# %% [markdown]
# The ranks agree bit for bit; against one process they differ only by float32 rounding (the
# sum over ranks adds in another order).
#
# ## Reflect
#
# 1. Without normalisation the plain net's gradients all but vanish; with group norm they do
#    not, yet they still change many-fold from block to block. What does each conv–ReLU do to
#    the scale of the signal at this initialisation, and what does the `+ x` change about it?
# 2. With batch norm instead of group norm, two ranks would no longer match one process
#    exactly. Why? (Which statistic is computed over what?)
# 3. Label smoothing with ε = 0.1 and C = 10: what is the smallest cross-entropy a network can
#    reach on a smoothed target, and why is it not 0?
# 4. **Systems: one message or one per parameter?** `allreduce_gradients` packs every
#    gradient into one bucket. Measure the alternative — one `allreduce_sum` per parameter —
#    on a model with many small parameters, with two thread-ranks. Each message costs a
#    synchronisation (here two barriers; over a network, a round trip): how does the cost grow
#    with the number of parameters, and what would change across machines?

# %%
from tinytorch.capstone.distributed import allreduce_gradients

repeats = 50


def model_with_gradients():
    """16 Dense layers (32 parameters), every gradient set; each rank builds its own."""
    params = list(MLP(64, [64] * 15, 10).parameters())
    for p in params:
        p.grad = Tensor(np.ones(p.data.shape, np.float32))
    return params


def per_parameter(comm):
    params = model_with_gradients()
    t0 = time.perf_counter()
    for _ in range(repeats):
        for p in params:
            buf = p.grad.data.reshape(-1) * np.float32(0.5)
            comm.allreduce_sum(buf)
            p.grad = Tensor(buf.reshape(p.data.shape))
    return (time.perf_counter() - t0) / repeats


def one_bucket(comm):
    params, bucket = model_with_gradients(), None
    t0 = time.perf_counter()
    for _ in range(repeats):
        bucket = allreduce_gradients(params, comm, 0.5, bucket)
    return (time.perf_counter() - t0) / repeats


params = model_with_gradients()
print(f"{len(params)} parameters, {sum(p.data.size for p in params):,} numbers, 2 thread-ranks")
for name, fn in [("one message per parameter", per_parameter), ("one bucket", one_bucket)]:
    seconds = max(ThreadGroup(2).run(fn))
    print(f"{name:27s} {1e3 * seconds:6.2f} ms per step")
