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
# # Module 14 — Benchmarking: measure a model, and say what the numbers mean
#
# "My model runs in 12 ms" is not a measurement. Which input, which batch size, after how many
# warm-up calls, how many repeats, which statistic, on how busy a machine — and is 12 ms good?
# This module answers with code you write:
#
# * **the work**: FLOPs of every layer, from its settings and shapes — so time can be turned
#   into FLOP/s and held against what the machine can do;
# * **the statistics**: percentiles for latency tails, confidence intervals (Student's t and
#   the bootstrap) for means and medians, and a verdict — *regression*, *improvement*,
#   *negligible* or *no significant difference* — that refuses to call noise a result;
# * **the load**: MLPerf's server scenario — queries arriving at random (Poisson) times,
#   queueing counted.
#
# This lesson practises what it teaches: every timing below comes after warm-up calls, is
# repeated, is summarised by a median or a percentile with its spread, and is printed next to
# the machine's load average. Given: the profiler's hooks, the t distribution's quantiles, the
# A/B harness, the reports. Measured tables are in the [README](https://tinytorch.github.io/tinytorch/modules/benchmarking/).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("benchmarking")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import os
import time

import numpy as np

rng = np.random.default_rng(0)

def load():
    """The 1-minute load average per CPU: near 0 idle, >= 1 means every core is busy."""
    return os.getloadavg()[0] / os.cpu_count()

# %% [markdown]
# ## Build
#
# ### Exercise 1 — layer_flops: the work of Dense, Conv2d and pooling
#
# **File:** `src/tinytorch/core/benchmarking/flops.py`: `dense_flops`, `conv2d_flops`,
# `max_pool2d_flops`, `avg_pool2d_flops`.
#
# Conventions: a multiply-add is 2 FLOPs; an add, multiply, compare or divide is 1.
# * Dense: `rows · out_features` outputs, each a dot product of length `in_features`, plus a
#   bias add when `bias`.
# * Conv2d: `N·C_out·H_out·W_out` outputs, each over `(C_in / groups)·kh·kw` taps, plus the bias.
# * Max-pool: the max of `kh·kw` values is `kh·kw − 1` comparisons per output. Average-pool:
#   `kh·kw − 1` adds and one divide.

# %%
check("benchmarking", "layer_flops")

# %% [markdown]
# ### Exercise 2 — norm_flops and attention_flops
#
# **File:** `flops.py`.
#
# * `norm_flops(elements, batch_statistics, affine)`: computing the statistics (mean and
#   variance) costs 4 per element, but only when they come from the batch (training mode);
#   normalising `(x − μ)/σ` costs 2; the affine `γ·x̂ + β` another 2 when present.
# * `attention_flops(batch, len_q, len_k, embed_dim, num_heads, bias)`: the Q, K, V projections
#   (`2·B·L·E·E` each, over `L_q` for queries and `L_k` for keys and values, plus a bias add per
#   projected element), the scores `2·B·L_q·L_k·E`, scaling one per score
#   (`B·H·L_q·L_k`), the softmax `ACTIVATION_FLOPS["softmax"]` per score, and the weighted sum
#   `2·B·L_q·L_k·E`. The output projection is a Dense child, counted on its own.

# %%
check("benchmarking", "norm_flops", k="norm_flops or attention_flops")

# %% [markdown]
# ### Exercise 3 — module_flops: which rule counts this layer?
#
# **File:** `flops.py`, function `module_flops(module, inputs, output)`.
#
# `_RULES` is a list of `(layer_type, rule)`, newest registration first; a rule turns a call
# (`module, inputs, output`) into its FLOPs. The per-activation table `ACTIVATION_FLOPS` and
# `activation_flops` are given (conventions, not ideas). Find the rule in **two passes**: an
# exact `type(module) is layer_type` first, then the first `isinstance` match — so a rule you
# register for your own `Dense` subclass beats `Dense`'s, while an unregistered subclass still
# gets its parent's. No match: `None` (the profiler shows "?").

# %%
check("benchmarking", "module_flops")

# %% [markdown]
# ### Exercise 4 — percentile: the tail, not the average
#
# **File:** `src/tinytorch/core/benchmarking/stats.py`, function `percentile(values, q)`.
#
# Users feel the slow queries: a p99 of 80 ms means one request in a hundred waits that long,
# whatever the mean. With the sorted values `v[0..n−1]` (given), the q-th percentile sits at
# position `q/100·(n − 1)`; between two values, on the line joining them (numpy's default).

# %%
check("benchmarking", "percentile")

# %% [markdown]
# Try it on a sample shaped like real latencies — most queries fast, a long tail of slow ones
# (lognormal draws, in ms). Compare the mean with p50 and p99:

# %%
from tinytorch.core.benchmarking import percentile

fake_ms = rng.lognormal(mean=np.log(10.0), sigma=0.6, size=1000)
print(f"mean {fake_ms.mean():.2f} ms, " + ", ".join(
    f"p{q} {percentile(fake_ms, q):.2f} ms" for q in (50, 90, 99, 99.9)))

# %% [markdown]
# ### Exercise 5 — t_interval and bootstrap: how sure are we?
#
# **File:** `stats.py`.
#
# * `t_interval(values, level)`: mean ± `t·s/√n`, with `s` the sample standard deviation
#   (`ddof=1`) and `t = t_quantile((1 + level)/2, n − 1)` (given). Right for few runs (3–30)
#   of roughly normal noise; with 3 runs `t` is 4.3, not 1.96 — few runs buy wide intervals.
# * `bootstrap_interval(values, statistic, level, resamples)`: resample the data with
#   replacement `resamples` times (`rng.integers(0, n, size=(resamples, n))` indexes them all
#   at once), compute the statistic of each row (`_apply_rows`, given), and take the
#   `(1 − level)/2` and `(1 + level)/2` percentiles of those — with *your* `percentile`. Works
#   for a median or a p99, where no formula exists.

# %%
check("benchmarking", "t_interval", k="t_interval or bootstrap")

# %% [markdown]
# ### Exercise 6 — verdict: refuse to call noise a result
#
# **File:** `stats.py`, function `verdict(low, high, estimate, threshold, higher_is_better)`.
#
# `low..high` is the interval of a relative change of B against A (+0.12 = B's metric 12%
# larger). In this order: the interval contains 0 → `"no significant difference"`; the
# estimate is smaller than `threshold` in size → `"negligible"`; otherwise `"regression"` when
# B is worse (larger, for a time; smaller, when `higher_is_better`), else `"improvement"`.

# %%
check("benchmarking", "verdict")

# %% [markdown]
# ### Exercise 7 — poisson and server: queries that do not wait for you
#
# **File:** `src/tinytorch/core/benchmarking/scenarios.py`.
#
# * `poisson_arrivals(n, rate, seed)`: gaps between arrivals are exponential with mean
#   `1/rate`: `gap = −ln(U)/rate` for `U` uniform in (0, 1] (`1 − rng.random(n)`); arrivals
#   are the running sum.
# * `_run_server(...)`: one FIFO worker. While queries remain: `now = clock() − origin`; if the
#   next query has not arrived, `sleep` until it does; take every query that has arrived by
#   `now` (at most `max_batch`), run them as one batch, and record each one's batch start,
#   finish and size. Latency is finish − *scheduled* arrival: a late server is queueing, as a
#   client sees it. The tests drive it with a fake clock and a fake sleep.

# %%
check("benchmarking", "poisson", k="poisson or server")

# %% [markdown]
# ## Use — benchmark a small CNN, fairly
#
# One model, 32×32 RGB inputs. First the *work*, then the *time* per layer (the profiler runs
# a warm-up step, forgets it, and averages three steps).

# %%
from tinytorch.core.activations import ReLU
from tinytorch.core.benchmarking import (ab_compare, offline, profile, single_stream, server,
                                         t_interval, tinytorch_predictor)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import cross_entropy

manual_seed(0)
model = Sequential([Conv2d(3, 16, 3, padding=1), ReLU(), MaxPool2d(2),
                    Conv2d(16, 32, 3, padding=1), ReLU(), MaxPool2d(2),
                    Flatten(), Dense(32 * 8 * 8, 10)])
images = rng.standard_normal((256, 3, 32, 32)).astype(np.float32)
labels = rng.integers(0, 10, 256)

print(f"load per CPU before: {load():.2f}")
prof = profile(model, images[:32], cross_entropy, labels[:32], steps=3, warmup=1)
print(prof.summary())

# %% [markdown]
# **Latency of one query at a time** (single-stream): 10 warm-up queries, then 150 timed
# ones. The percentiles come with bootstrap intervals from your code.

# %%
import matplotlib.pyplot as plt

predict = tinytorch_predictor(model)
single = single_stream(predict, images, queries=150, warmup=10, name="cnn")
print(single.to_markdown())
print(f"load per CPU: {load():.2f}")
lat_ms = np.asarray(single.latencies) * 1e3
plt.figure(figsize=(5, 2.8))
plt.hist(lat_ms, bins=30)
for key, value in single.percentiles.items():
    plt.axvline(value * 1e3, color="k", linestyle=":")
    plt.text(value * 1e3, plt.ylim()[1] * 0.9, key)
plt.xlabel("latency of one query (ms)")
plt.ylabel("queries")
plt.show()

# %% [markdown]
# **Throughput vs batch size** (offline): per batch size, 5 runs of 3 batches after a warm-up
# batch; the median, and a t-interval over the runs.

# %%
sizes = [1, 4, 16, 64]
results = [offline(predict, images, batch_size=b, batches=3, runs=5, name=f"batch {b}")
           for b in sizes]
for r in results:
    print(r.to_markdown().strip())
plt.figure(figsize=(5, 2.8))
plt.errorbar(sizes, [r.interval.estimate for r in results],
             yerr=[[r.interval.estimate - r.interval.low for r in results],
                   [r.interval.high - r.interval.estimate for r in results]], marker="o")
plt.xscale("log", base=2)
plt.xlabel("batch size")
plt.ylabel("images / s (mean, 95% CI)")
plt.show()
print(f"load per CPU: {load():.2f}")

# %% [markdown]
# A wide interval (one can even reach below zero) means the runs disagree: the t-interval
# assumes roughly normal noise, and a busy machine's noise is not. The median is the robust
# figure; more runs, or a quieter machine, narrow the interval.
#
# **A/B: does recording the graph cost anything at inference?** Both contenders run in
# alternated rounds; the verdict comes from your `t_interval` on per-round log ratios and your
# `verdict`. An **A/A test** — the same function twice — shows what the method says when
# nothing differs.

# %%
x32 = Tensor(images[:32])
forward_graph = lambda: model(x32)          # noqa: E731 — records a graph (requires_grad weights)
forward_plain = lambda: predict(images[:32])  # noqa: E731 — no_grad, eval mode
model.train()
ab = ab_compare({"no_grad": forward_plain, "graph recorded": forward_graph},
                title="forward, batch 32", rounds=9, min_time=0.02)
print(ab.change.message())
aa = ab_compare({"no_grad": forward_plain, "no_grad again": forward_plain},
                title="A/A", rounds=9, min_time=0.02)
print(aa.change.message())
print(f"load per CPU: {load():.2f}")

# %% [markdown]
# **Server**: Poisson arrivals at half the rate one stream sustains, then at 1.5× — watch the
# p99 once queries start to queue.

# %%
capacity = single.qps
for factor in (0.5, 1.5):
    res = server(predict, images, target_qps=factor * capacity, queries=120, max_batch=8,
                 latency_bound=0.1, name=f"{factor}x capacity")
    p = res.percentiles
    print(f"{factor}x of {capacity:.0f} q/s: achieved {res.achieved_qps:.0f} q/s, mean batch "
          f"{np.mean(res.batch_sizes):.2f}, p50 {p['p50'] * 1e3:.2f} ms, p99 {p['p99'] * 1e3:.2f} ms")

# %% [markdown]
# ## Reflect
#
# 1. The profiler's FLOP/s column differs from layer to layer by a large factor. Which layers
#    are far from the machine's GEMM speed, and why (how much arithmetic per byte moved)?
# 2. Why does the single-stream report a p99 and not only the mean? When would the mean look
#    fine while users complain?
# 3. What did the A/A test say? If it had said "regression", what would that tell you about
#    the machine, and about every other verdict in this notebook?
# 4. **Systems:** how many repeats does a claim need? Below, 20 timed runs of one forward pass
#    (after warm-up); the width of the 95% t-interval using the first 3, 5, 10 and 20 of them.
#    Predict how the width scales with n before you run it.

# %%
for _ in range(3):   # warm-up
    predict(images[:32])
runs = []
for _ in range(20):
    t0 = time.perf_counter()
    predict(images[:32])
    runs.append(time.perf_counter() - t0)
for n in (3, 5, 10, 20):
    ci = t_interval(runs[:n])
    print(f"n = {n:2d}: mean {ci.estimate * 1e3:6.2f} ms, 95% CI width {(ci.high - ci.low) * 1e3:6.2f} ms "
          f"({(ci.high - ci.low) / ci.estimate:.1%} of the mean)")
print(f"load per CPU: {load():.2f}")
