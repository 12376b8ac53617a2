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
# # Module 15 — MLOps: a model after training
#
# A trained model in a checkpoint file is not yet a product. Three questions remain, and this
# module answers each with code you write:
#
# * **Which model is this?** A registry stores every version with a *content hash* of each file
#   and a *fingerprint* of the data it was trained on, so a flipped bit or the wrong data set
#   is caught instead of silently served.
# * **Can it survive the outside world?** A server answers `POST /predict`; every request is
#   *validated* before the model sees it, and `/metrics` reports what happened in the text
#   format monitoring systems scrape.
# * **Is the world still the one it was trained on?** *Drift* statistics (PSI and the
#   Kolmogorov–Smirnov test, numpy only) compare live inputs with the training data.
#
# The HTTP handler, the registry's atomic writes and the monitor's sliding window are given:
# they are plumbing. You write the eight pieces where the ideas live. The
# [README](https://tinytorch.github.io/tinytorch/modules/mlops/) is the reference (endpoints, status codes, the registry's layout,
# load measurements).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("mlops")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import json
import os
import tempfile
import time

import numpy as np

work = tempfile.TemporaryDirectory(prefix="lesson-mlops-")   # everything this lesson writes
rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### Exercise 1 — sha256_file: hash a file without loading it
#
# **File:** `src/tinytorch/core/mlops/hashing.py`, function `sha256_file(path, chunk_size)`.
#
# Return the SHA-256 of the file's bytes as 64 hex digits. A weights file can be larger than
# the memory you want to spend on checking it, so read it `chunk_size` bytes at a time and feed
# each chunk to `digest.update(...)` until `f.read` returns `b""` (the end of the file). An
# empty file is legal: its hash is the hash of no bytes. `digest` and the open file are given.

# %%
check("mlops", "sha256_file")

# %% [markdown]
# Try it: one flipped bit changes the whole digest — that is what the registry relies on when
# it re-hashes every file on load.

# %%
from tinytorch.core.mlops import sha256_file

path = os.path.join(work.name, "weights.bin")
blob = bytearray(rng.bytes(200_000))
with open(path, "wb") as f:
    f.write(blob)
before = sha256_file(path)
blob[123_456] ^= 0b1                      # one bit
with open(path, "wb") as f:
    f.write(blob)
after = sha256_file(path)
print(before[:32], "\n" + after[:32])
print("hex digits that differ:", sum(a != b for a, b in zip(before, after)), "of 64")

# %% [markdown]
# ### Exercise 2 — fingerprint: what data was this model trained on?
#
# **File:** `hashing.py`, the loop body of `fingerprint_data(data)`.
#
# `_arrays(data)` (given) walks a tuple/list/dict of arrays or Tensors in a fixed order. For
# each array feed the digest a header — `f"{array.dtype.str}{array.shape};"` encoded, e.g.
# `b"<i4(2,);"` — and then its values as raw bytes in C order. Why the header? The four bytes
# of `int32` zero are also the four bytes of `float32` zero, and a (2, 3) array has the same
# bytes as its (3, 2) reshape: without the header, different data would share a fingerprint.
# A non-contiguous view (`x[:, ::2]`) must hash like its copy: `np.ascontiguousarray`.

# %%
check("mlops", "fingerprint")

# %%
from tinytorch.core.mlops import fingerprint_data

x = np.arange(6, dtype=np.float32).reshape(2, 3)
for label, variant in [("same", x.copy()), ("reshaped", x.reshape(3, 2)),
                       ("as int32", x.view(np.int32)), ("one value +1e-6", x + np.float32(1e-6))]:
    print(f"{label:16s} {fingerprint_data(variant) == fingerprint_data(x)}")

# %% [markdown]
# ### Exercise 3 — check_inputs: every request is wrong until shown otherwise
#
# **File:** `src/tinytorch/core/mlops/validation.py`, function `check_inputs(inputs, input_shape,
# max_batch, has_bools)`.
#
# `parse_predict_request` (given) has already decoded the JSON and found the `inputs` field
# (400 errors). You turn that value into a float32 array of shape `(N, *input_shape)` — or raise
# `RequestError(422, message, reason)`, checking **in this order**: a list (`bad_type`), not
# empty (`empty_batch`), at most `max_batch` samples (`batch_too_large`), not ragged
# (`np.asarray` raises: `bad_shape`), only numbers — numpy would quietly turn `true` into 1,
# so when `has_bools` or the dtype is not int/float, `_first_non_number` (given) names the
# culprit (`bad_dtype`), the sample shape (`bad_shape`), and finally finite after the float32
# cast (`not_finite`: NaN, ±inf, or a number beyond ±3.4e38 that becomes inf). The messages
# must name what was wrong and where: `tests/test_validation.py` lists the words each needs.

# %%
check("mlops", "check_inputs")

# %%
from tinytorch.core.mlops import RequestError, parse_predict_request

for body in [b'{"inputs": [[1, 2], [3, 4]]}', b'{"inputs": [[1, 2], [3]]}',
             b'{"inputs": [[1, "two"]]}', b'{"inputs": [[1, 1e39]]}', b'{"inputs": [[1, 2, 3]]}']:
    try:
        out = parse_predict_request(body, input_shape=(2,))
        print(f"{body.decode():30s} ok {out.dtype} {out.shape}")
    except RequestError as err:
        print(f"{body.decode():30s} {err.status} {err.reason}: {err.message}")

# %% [markdown]
# ### Exercise 4 — render_metrics: the page Prometheus scrapes
#
# **File:** `src/tinytorch/core/mlops/metrics.py`, the loop body of `render_metrics(families)`.
#
# For each `MetricFamily` write `# HELP <name> <help>` (backslash and newline escaped as `\\`
# and `\n`), `# TYPE <name> <type>`, then one line per sample `(suffix, labels, value)`:
# `name+suffix{k1="v1",k2="v2"} value` — label values through `escape_label_value`, **no braces**
# when there are no labels, the value through `_format_value` (both given). The server's
# counters and latency histogram (`ServerMetrics`, given) are turned into families for you.

# %%
check("mlops", "render_metrics")

# %%
from tinytorch.core.mlops import ServerMetrics, parse_metrics

m = ServerMetrics()
for seconds in [0.0008, 0.004, 0.004, 0.03, 0.7]:
    m.observe_request("/predict", 200, seconds)
text = m.render()
print("\n".join(line for line in text.splitlines() if "latency" in line and "bucket" in line))
assert parse_metrics(text)   # and the parser reads your text back

# %% [markdown]
# The buckets are *cumulative*: `le="0.005"` counts every request that took at most 5 ms.
#
# ### Exercise 5 — psi: population stability index
#
# **File:** `src/tinytorch/core/mlops/drift.py`: the end of `psi(reference, current, bins)` and
# `_psi_from_proportions(p, q, eps)`.
#
# Cut the reference at its interior quantiles `1/bins, …, (bins-1)/bins` (`np.quantile`, then
# `np.unique`: ties may merge cut points), so each bin holds about `1/bins` of it — equal
# *probability*, not equal width, so a skewed feature does not leave most bins empty. A value's
# bin is the number of cut points `<= v` (`np.searchsorted(edges, v, side="right")`); the first
# and last bins are open-ended. With `p` and `q` the fractions of reference and current in each
# bin,
#
# $$\mathrm{PSI} = \sum_i (q_i - p_i)\,\ln\frac{q_i}{p_i}$$
#
# with both proportions floored at `eps` (an empty bin would give `ln 0`). Each term is ≥ 0.
# Reading: below 0.1 nothing moved, above 0.2 a significant shift.

# %%
check("mlops", "psi")

# %% [markdown]
# ### Exercise 6 — ks_statistic: the largest gap between two CDFs
#
# **File:** `drift.py`, function `ks_statistic(a, b)` (both samples arrive sorted).
#
# $D = \max_x |F_a(x) - F_b(x)|$, where $F_a(x)$ is the fraction of `a` that is `<= x`. Both
# CDFs are step functions that jump only at sample values, so the maximum is reached at one of
# them: evaluate both CDFs at every value of `a` and `b` (`np.searchsorted(a, x,
# side="right") / len(a)` is $F_a(x)$, vectorised) and take the largest absolute difference.
# No Python loop over the samples.

# %%
check("mlops", "ks_statistic")

# %% [markdown]
# ### Exercise 7 — ks_pvalue: how surprising is that gap?
#
# **File:** `drift.py`, function `kolmogorov_sf(x)`.
#
# If nothing changed, $\sqrt{nm/(n+m)}\,D$ follows the Kolmogorov distribution as the samples
# grow; `ks_2samp` (given) turns your $D$ into a p-value with its survival function
#
# $$Q(x) = 2\sum_{k\ge 1} (-1)^{k-1} e^{-2k^2x^2} \qquad (x \ge 1)$$
#
# That series converges in a few terms for `x >= 1` but not for small `x`; there use the
# equivalent (Jacobi theta) form of the CDF and return one minus it:
# $1 - \frac{\sqrt{2\pi}}{x}\sum_{k\ge1} e^{-(2k-1)^2\pi^2/(8x^2)}$. For `x <= 0` the answer
# is 1. `x` may be an array: use masks, and `k = 1..100` is given as an array. The tables say
# $Q(1.358) = 0.05$.

# %%
check("mlops", "ks_pvalue")

# %% [markdown]
# ## Use
#
# ### Drift, measured by your statistics
#
# A reference sample from "training" (2000 values), and production samples (1000) whose mean
# moves away from it.
# One sample is noisy, so each shift is drawn 20 times: the left plot shows the median PSI,
# the right one how often each test raises the alarm (KS at p < 0.01, PSI above 0.2). At a
# shift of 0 that rate is the false-alarm rate.

# %%
import matplotlib.pyplot as plt

from tinytorch.core.mlops import ks_2samp, psi

shifts = np.linspace(0.0, 0.6, 13)
draws = 20
median_psi, ks_alarm, psi_alarm = [], [], []
for s in shifts:
    psis, pvalues = [], []
    for _ in range(draws):
        reference = rng.normal(size=2000)      # "training" data: a fresh sample each draw
        current = rng.normal(loc=s, size=1000)   # "production": the same law, moved by s
        psis.append(psi(reference, current))
        pvalues.append(ks_2samp(reference, current)[1])
    median_psi.append(np.median(psis))
    ks_alarm.append(np.mean(np.array(pvalues) < 0.01))
    psi_alarm.append(np.mean(np.array(psis) > 0.2))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
ax1.plot(shifts, median_psi, "o-")
ax1.axhline(0.2, color="r", ls="--", label="0.2: significant")
ax1.set(xlabel="shift of the mean (in σ)", ylabel="median PSI", title="population stability index")
ax1.legend()
ax2.plot(shifts, ks_alarm, "o-", label="KS p < 0.01")
ax2.plot(shifts, psi_alarm, "s-", label="PSI > 0.2")
ax2.set(xlabel="shift of the mean (in σ)", ylabel="fraction of draws flagged", title="alarms")
ax2.legend()
plt.tight_layout()
plt.show()


def always_from(rates):
    """The smallest shift from which every draw is flagged ("never" if none)."""
    hits = [s for i, s in enumerate(shifts) if all(r == 1 for r in rates[i:])]
    return f"{hits[0]:.2f} σ" if hits else "never"


print(f"no shift: KS false alarms {ks_alarm[0]:.0%}, PSI {psi_alarm[0]:.0%}; every draw flagged "
      f"from a shift of {always_from(ks_alarm)} (KS), {always_from(psi_alarm)} (PSI)")

# %% [markdown]
# ### Register, serve, break, watch
#
# Now all your pieces at once: register a small model (your `sha256_file` and `fingerprint`),
# serve it on **127.0.0.1** only, on a free port (port 0), send it good and bad requests (your
# `check_inputs`), then production traffic in which feature 2 has moved, and read the drift
# gauges back from `/metrics` (your `render_metrics`, `psi` and `ks_pvalue`). The server is shut
# down in `finally`, whatever happens.

# %%
import urllib.error
import urllib.request

from tinytorch.core.dense import MLP
from tinytorch.core.mlops import ModelRegistry, ModelServer
from tinytorch.core.tensor import manual_seed

manual_seed(0)
x_train = rng.normal(size=(1000, 4)).astype(np.float32)
y_train = rng.integers(0, 3, 1000)
registry = ModelRegistry(os.path.join(work.name, "registry"))
version = registry.register("demo", MLP(4, [16], 3), metrics={"test_accuracy": 0.9},
                            data=(x_train, y_train))
registry.promote("demo", version.version, "production")
print(f"demo v{version.version}: data fingerprint {version.metadata['data']['fingerprint'][:16]}…")


def post(url, payload):
    """(status, decoded JSON) of one POST; urllib raises on 4xx, so catch and read the body."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    try:
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def drift_gauges(url):
    metrics = parse_metrics(urllib.request.urlopen(url + "/metrics", timeout=30).read().decode())
    return {dict(labels)["feature"]: value for (name, labels), value in metrics.items()
            if name == "tinytorch_drift_psi"}


server = ModelServer.from_registry("demo", "production", root=registry.root,
                                   host="127.0.0.1", port=0).start()
try:
    print("serving on", server.url)
    for payload in [{"inputs": x_train[:2].tolist()}, b'{"inputs": [[1, 2, 3, 4]', {"input": []},
                    {"inputs": [[1, 2, 3]]}, {"inputs": [[1, 2, None, 4]]}]:
        status, answer = post(server.url + "/predict", payload)
        print(status, answer.get("predictions", answer.get("error")))
    for _ in range(5):                                          # normal traffic
        post(server.url + "/predict", {"inputs": rng.normal(size=(200, 4)).tolist()})
    calm = drift_gauges(server.url)
    for _ in range(5):                                          # feature 2 moves by 1 σ
        moved = rng.normal(size=(200, 4))
        moved[:, 2] += 1.0
        post(server.url + "/predict", {"inputs": moved.tolist()})
    drifted = drift_gauges(server.url)
finally:
    server.shutdown(timeout=10)
print("server stopped")

features = [f for f in calm if f.startswith("x[")]
positions = np.arange(len(features))
plt.figure(figsize=(6, 3))
plt.bar(positions - 0.2, [calm[f] for f in features], 0.4, label="normal traffic")
plt.bar(positions + 0.2, [drifted[f] for f in features], 0.4, label="after feature 2 moved")
plt.axhline(0.2, color="r", ls="--")
plt.xticks(positions, features)
plt.ylabel("PSI in /metrics")
plt.legend()
plt.show()
print({f: round(drifted[f], 3) for f in features})

# %% [markdown]
# The monitor's window holds the last 1000 samples, so after 1000 drifted ones it sees only
# the new world — and only `x[2]` crosses the line.
#
# ## Reflect
#
# 1. PSI's bins are the reference's quantiles. What would equal-width bins between the
#    reference's min and max do to a long-tailed feature (incomes, pixel noise)?
# 2. The registry hashes every file on load. Who is protected by that hash, and who is not
#    (what could an attacker who can write to the registry folder do)?
# 3. A CIFAR-10 image is 3,072 numbers. Why does the monitor test each channel's mean and
#    standard deviation instead of each pixel? (At α = 0.01, how many of 3,072 pixel-wise tests
#    would raise an alarm on data that did not change at all?)
# 4. **Systems: where does a request's time go?** Before the model runs, the server decodes the
#    JSON and validates it with your `check_inputs`. Measure that cost per image against the
#    forward pass of the course's small CIFAR CNN, for a few batch sizes. What would you change
#    first if the server were too slow: the model or the wire format?

# %%
from tinytorch.core.mlops import Predictor
from tinytorch.core.training.cifar10 import small_cnn

cnn = Predictor(small_cnn())    # what the server runs: eval mode, no_grad, one BLAS thread
cnn.outputs(np.zeros((1, 3, 32, 32), np.float32))   # warm-up: first-call costs not counted
print(f"{'batch':>5} {'JSON kB':>8} {'parse+validate ms/img':>22} {'forward ms/img':>15}")
for batch in [1, 16, 64]:
    images = rng.normal(size=(batch, 3, 32, 32)).astype(np.float32)
    body = json.dumps({"inputs": images.round(4).tolist()}).encode()
    t0 = time.perf_counter()
    x = parse_predict_request(body, (3, 32, 32), max_batch=256)
    t1 = time.perf_counter()
    cnn.outputs(x)
    t2 = time.perf_counter()
    print(f"{batch:5d} {len(body) / 1024:8.0f} {1000 * (t1 - t0) / batch:22.2f} "
          f"{1000 * (t2 - t1) / batch:15.2f}")

# %%
work.cleanup()
