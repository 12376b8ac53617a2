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
# # Module 12 — Compression: the same answers from a smaller model
#
# A trained network is bigger than the function it computes. Four ways to cash that in, and
# each one is *measured* here, never assumed:
#
# * **Magnitude pruning** — set the smallest weights to exactly zero, and keep them zero while
#   fine-tuning. The model compresses well; numpy does not get faster (you will time that).
# * **Structured pruning** — remove whole neurons or channels. The arrays shrink, so FLOPs and
#   time shrink with them.
# * **int8 quantization** — store each weight in one byte instead of four and run the layers
#   in integer arithmetic, exactly.
# * **Distillation** — train a small student on a big teacher's *soft* predictions.
#
# Given (plumbing): the mask bookkeeping (`PruningMasks`, `prune_magnitude`, `MaskedOptimizer`),
# the walk that finds which layer feeds which (`prune_units`), the quantized layers and the
# `.npz` format (`quantize_model`), the optimizer and schedule of `distill`. You write the
# fourteen pieces where the ideas are. Measured CIFAR-10 tables are in the [README](https://tinytorch.github.io/tinytorch/modules/compression/).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("compression")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import copy
import os
import tempfile
import time

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor, manual_seed

manual_seed(0)
work = tempfile.TemporaryDirectory(prefix="lesson-compression-")   # the only place we write
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### Part A — unstructured pruning
#
# #### Exercise 1 — magnitude_mask
#
# **File:** `src/tinytorch/core/compression/pruning.py`, function `magnitude_mask(weight, sparsity)`.
#
# Return a boolean *keep-mask* of `weight`'s shape in which exactly `k = round(sparsity · size)`
# entries are `False`: the `k` smallest `|w|` (ties: any of them). `k` is computed for you.
# Sorting all weights costs O(n log n); `np.argpartition(|w|, k - 1)[:k]` finds the `k`
# smallest in O(n). Careful with `k = 0`. (Checked together with exercise 2.)

# %% [markdown]
# #### Exercise 2 — global_masks
#
# **File:** `pruning.py`, function `global_magnitude_masks(weights, sparsity)`.
#
# One threshold across *all* layers: concatenate every `|w|`, remove the `k` smallest of the
# whole model, cut the long mask back into one mask per weight (same order, same shapes), and
# return `(masks, threshold)` — the threshold being the largest magnitude removed (`0.0` when
# nothing was). A big, redundant layer loses more than a small, crowded one.

# %%
check("compression", "global_masks", k="magnitude_mask or global_masks")

# %% [markdown]
# #### Exercise 3 — sparsity_report
#
# **File:** `pruning.py`, the loop body of `sparsity_report(model)`.
#
# Count the entries of each weight that are *exactly* zero — in the weights themselves, not in
# a mask (a mask says what you intended; the weights say what happened). Checked with exercise 4.

# %% [markdown]
# #### Exercise 4 — apply_masks
#
# **File:** `pruning.py`, method `PruningMasks.apply(grads=False)`.
#
# For every `(param, keep_mask)`: multiply `param.data` by the mask **in place** (`out=`), so
# the optimizer, which holds that very array, sees the zeros; with `grads=True` do the same to
# `param.grad.data` when there is a gradient. `MaskedOptimizer` (given) calls it before and
# after every step — momentum would otherwise bring pruned weights back to life.

# %%
check("compression", "apply_masks", k="sparsity_report or apply_masks")

# %% [markdown]
# ### Part B — structured pruning
#
# #### Exercise 5 — unit_importance
#
# **File:** `src/tinytorch/core/compression/structured.py`, function `unit_importance(layer, norm)`.
#
# One score per output unit (a Dense row, a Conv2d filter): the L1 norm of its weights, in
# float64. When a BatchNorm follows, the unit's real output is scaled by `|γ| / √(var + ε)`:
# multiply by that (a missing γ or variance counts as 1).

# %% [markdown]
# #### Exercise 6 — prune_units
#
# **File:** `structured.py`, the blocks of `_rebuild_out(layer, idx)` and `_rebuild_in(layer,
# idx, flatten, channels_before)`.
#
# Removing unit `u` of layer *i* touches two layers: *i* loses row `u` of its weight and
# `bias[u]` (`_rebuild_out`), and the next weight layer loses the inputs that read `u`
# (`_rebuild_in`). For a Dense behind a `Flatten` of C channels of H·W values, channel `u` owns
# the block of columns `u·HW … u·HW+HW-1`: compute `columns` for all of `idx` at once (an outer
# sum of `idx·HW` and `arange(HW)`). New layers of the right shape are built for you.

# %% [markdown]
# #### Exercise 7 — layer_flops
#
# **File:** `structured.py`, function `layer_flops(layer, input_shape, output_shape)`.
#
# A multiply-add is 2 FLOPs. Every output value of a Dense reads `in_features` inputs; every
# output value of a Conv2d reads `(in_channels / groups) · kh · kw`. Bias adds are not counted.

# %%
check("compression", "layer_flops", k="unit_importance or prune_units or layer_flops")

# %% [markdown]
# ### Part C — int8 quantization
#
# #### Exercise 8 — per_channel
#
# **File:** `src/tinytorch/core/compression/quantization.py`, function
# `quantize_per_channel(weight, axis)`.
#
# Channel c gets `scale_c = max|W_c| / 127` and `q = clip(round(W / scale_c), -127, 127)` as
# int8; an all-zero channel gets scale 1. The weight is already moved so that channels are rows
# of `flat`. Why one scale per channel? After batch-norm folding, one channel's weights can be
# 100× another's: a single scale would round the small channel to zeros.

# %%
check("compression", "per_channel")

# %%
from tinytorch.core.compression import dequantize_per_channel, quantize_per_channel

w = rng.normal(0, 1, (4, 32)).astype(np.float32) * np.array([[1.0], [0.1], [0.01], [5.0]], np.float32)
q, scale = quantize_per_channel(w)
err = np.abs(dequantize_per_channel(q, scale) - w).max(axis=1)
print("per channel: worst error / half a step =", np.round(err / (scale / 2), 3))
tensor_scale = np.abs(w).max() / 127
print("one scale for all: rows rounded to all-zero:",
      int((np.rint(w / tensor_scale) == 0).all(axis=1).sum()), "of 4")

# %% [markdown]
# #### Exercise 9 — calibrate
#
# **File:** `quantization.py`, function `calibrate_qparams(low, high)`.
#
# Activations get one scale per tensor, from the range observed on a few batches. Never
# negative (`low >= 0`, e.g. after a ReLU): uint8, `scale = high / 255`. Otherwise int8,
# `scale = max(|low|, |high|) / 127`. A zero range gets scale 1. Return `QParams(scale, signed)`
# with the scale rounded to float32.

# %% [markdown]
# #### Exercise 10 — fold
#
# **File:** `quantization.py`, function `fold_batchnorm(weight, bias, bn)`.
#
# In eval mode `bn(conv(x)) = γ·(W∗x + b − μ)/σ + β` with `σ = √(var + ε)`: the same as a conv
# with `W' = W·γ/σ` (per output channel) and `b' = (b − μ)·γ/σ + β`. Compute both in float64
# (`mean`, `var`, `gamma`, `beta`, `b` are prepared). Folded, batch norm costs nothing.

# %%
check("compression", "fold", k="calibrate or fold")

# %% [markdown]
# #### Exercise 11 — int_matmul
#
# **File:** `quantization.py`, function `int_matmul(x_int, w_int)`.
#
# The reference integer product. Multiply int8 by int8 in int8 and `100 · 100` wraps around;
# widen both operands to int32 first. (The fast path, exact float32 BLAS on integer values, is
# given: `exact_chunks` proves no partial sum passes 2²⁴, where float32 stops being exact.)

# %% [markdown]
# #### Exercise 12 — requantize
#
# **File:** `quantization.py`, function `requantize(acc, in_scale, weight_scale, bias, out)`.
#
# The int32 accumulator of output channel c is worth `acc · s_in · s_w[c]`, plus `bias[c]`.
# Without `out`, return that as float32 (the logits). With `out`, divide by `out.scale`, round,
# and clip to `[out.qmin, out.qmax]` in `out.dtype` — clipping at 0 for a uint8 output *is* the
# following ReLU. Fold `s_in·s_w/s_out` into one multiplier per channel: one pass, not three.

# %%
check("compression", "requantize", k="int_matmul or requantize")

# %% [markdown]
# ### Part D — distillation
#
# #### Exercise 13 — distill_loss
#
# **File:** `src/tinytorch/core/compression/distillation.py`, function
# `distillation_loss(student_logits, teacher_logits, targets, temperature, alpha)`.
#
# $$\mathcal{L} = \alpha\,T^2\,\mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big) + (1-\alpha)\,\mathrm{CE}(s, y)$$
#
# KL summed over classes, averaged over the batch. The teacher is a constant: compute its
# (log-)probabilities in numpy (`_log_softmax_np` is given). The student side must stay Tensor
# ops (`log_softmax`, `*`, `sum`, `mean`) so `backward()` reaches its weights. Why `T²`? The
# soft term's gradient shrinks like `1/T²`; the factor keeps it the same size for every T.

# %%
check("compression", "distill_loss")

# %% [markdown]
# #### Exercise 14 — distill_step
#
# **File:** `distillation.py`, the body of the loop in `distill(...)`.
#
# One step: the teacher's logits under `no_grad()` (take `.data`: a constant), the student's
# logits with a graph, `loss_fn(student_logits, teacher_logits, y)`, then `zero_grad`,
# `backward`, `step`. Keep the names `student_logits` and `loss`: the lines after the block
# read them.

# %%
check("compression", "distill_step")

# %% [markdown]
# ## Use — compress a trained model, and measure what it costs
#
# A synthetic 10-class problem — each class is four clusters in 32 dimensions, so the boundary
# is not linear; small enough to train in seconds — and a teacher MLP with two hidden layers
# of 256.

# %%
from tinytorch.core.compression import (count_flops, distill, evaluate_accuracy,
                                        prune_magnitude, prune_structured,
                                        quantize_model, sparsity_report)
from tinytorch.core.optimizers import SGD
from tinytorch.core.training import cross_entropy

centres = rng.normal(0, 1, (40, 32)).astype(np.float32)   # cluster k belongs to class k % 10

def make_data(n):
    k = rng.integers(0, 40, n)
    return (centres[k] + rng.normal(0, 0.9, (n, 32))).astype(np.float32), k % 10

x_train, y_train = make_data(4000)
x_test, y_test = make_data(2000)
train_batches = [(Tensor(x_train[i:i + 100]), y_train[i:i + 100]) for i in range(0, 4000, 100)]
test_batches = [(Tensor(x_test[i:i + 500]), y_test[i:i + 500]) for i in range(0, 2000, 500)]

def fit(model, epochs, lr=0.05):
    opt = SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        for x, y in train_batches:
            loss = cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model

start = time.perf_counter()
teacher = fit(Sequential([Dense(32, 256), ReLU(), Dense(256, 256), ReLU(), Dense(256, 10)]), 3)
base_acc = evaluate_accuracy(teacher, test_batches)
print(f"teacher: test accuracy {base_acc:.1%}, trained in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# **Magnitude pruning, global vs per layer**, with no fine-tuning at all:

# %%
import matplotlib.pyplot as plt

levels = [0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98]
curves = {}
for scope in ("global", "layer"):
    curves[scope] = []
    for s in levels:
        m = copy.deepcopy(teacher)
        prune_magnitude(m, s, scope=scope)
        curves[scope].append(evaluate_accuracy(m, test_batches))
m = copy.deepcopy(teacher)
prune_magnitude(m, 0.9, scope="global")
print(sparsity_report(m))

plt.figure(figsize=(5, 3))
for scope, accs in curves.items():
    plt.plot(levels, accs, marker="o", label=scope)
plt.xlabel("fraction of weights set to zero")
plt.ylabel("test accuracy")
plt.legend()
plt.title("magnitude pruning, no fine-tuning")
plt.show()

# %% [markdown]
# The global threshold takes most from the 256×256 layer and spares the 10-way output.
#
# **Structured pruning** removes half the hidden units; FLOPs are counted, not estimated:

# %%
half = prune_structured(teacher, 0.5)
before, after = count_flops(teacher, (32,)), count_flops(half, (32,))
print(after)
print(f"FLOPs {before.total:,} -> {after.total:,} ({after.total / before.total:.2f}x); "
      f"accuracy {base_acc:.1%} -> {evaluate_accuracy(half, test_batches):.1%}")

# %% [markdown]
# **int8**: calibrate on 8 training batches, save, and compare the files and the predictions:

# %%
qmodel = quantize_model(teacher, train_batches, num_batches=8)
int8_path = qmodel.save(os.path.join(work.name, "teacher_int8.npz"))
float_path = os.path.join(work.name, "teacher_float.npz")
np.savez(float_path, **{name: p.data for name, p in teacher.named_parameters()})
with_float = teacher(Tensor(x_test)).data.argmax(1)
with_int8 = qmodel(x_test).data.argmax(1)
print(f"file: float32 {os.path.getsize(float_path):,} B, int8 {os.path.getsize(int8_path):,} B "
      f"({os.path.getsize(int8_path) / os.path.getsize(float_path):.2f}x)")
print(f"accuracy float {base_acc:.1%}, int8 {evaluate_accuracy(qmodel, test_batches):.1%}; "
      f"same prediction on {np.mean(with_float == with_int8):.1%} of test inputs")

# %% [markdown]
# **Distillation**: a student with 16 hidden units, trained on labels alone vs on the
# teacher, with the same number of steps.

# %%
def small():
    manual_seed(1)
    return Sequential([Dense(32, 16), ReLU(), Dense(16, 10)])

from_labels = fit(small(), 3)
student = small()
distill(teacher, student, train_batches, epochs=3, temperature=4.0, alpha=0.9, progress=False)
print(f"teacher {base_acc:.1%} ({sum(p.data.size for p in teacher.parameters()):,} parameters)")
print(f"student from labels {evaluate_accuracy(from_labels, test_batches):.1%}, distilled "
      f"{evaluate_accuracy(student, test_batches):.1%} "
      f"({sum(p.data.size for p in student.parameters()):,} parameters)")

# %% [markdown]
# One run on one seed, clean and plentiful labels: a difference of a point or two is within
# what another seed would give. Distillation pays most where labels are scarce or noisy and
# the teacher's soft targets carry what they miss; the README's CIFAR-10 run is one such case.
#
# ## Reflect
#
# 1. At 90% sparsity the weights are mostly zeros. Is the model faster in numpy? Predict,
#    then run the cell below.
# 2. int8 is a quarter of float32, but the measured file ratio above is not exactly 0.25.
#    What else is in the file (look at `QuantizedSequential.save`), and which of it would
#    matter for a model with ten times fewer weights per layer?
# 3. Compare the two pruning curves at 95%. Which layer does per-layer pruning hurt most (the
#    sparsity report shows where the global threshold cut), and why?
# 4. Why can `requantize` apply the ReLU "for free", and why does that need the output's scale
#    to be calibrated *after* the ReLU?

# %%
dense_w = np.ascontiguousarray(teacher[2].weight.data)   # 256 x 256, all nonzero
sparse_w = np.ascontiguousarray(m[2].weight.data)        # the same layer after 90% global pruning
batch = rng.normal(0, 1, (512, 256)).astype(np.float32)
contenders = {"dense": lambda: batch @ dense_w.T, "pruned": lambda: batch @ sparse_w.T}
times = {name: [] for name in contenders}
for fn in contenders.values():   # warm-up: first calls pay for page faults and BLAS start-up
    fn()
for _ in range(21):              # alternate, so a busy moment hits both alike
    for name, fn in contenders.items():
        t0 = time.perf_counter()
        fn()
        times[name].append(time.perf_counter() - t0)
for name, ts in times.items():
    print(f"{name:7s} median {np.median(ts) * 1e6:7.0f} µs over {len(ts)} runs")
print(f"zeros in the pruned matrix: {np.mean(sparse_w == 0):.0%}")
