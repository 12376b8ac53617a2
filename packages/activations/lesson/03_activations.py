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
# # Module 03 — Activations: the nonlinearities between layers
#
# Stack two linear layers and you get one linear layer: `W2 (W1 x) = (W2 W1) x`. However deep,
# a stack of them draws only straight decision boundaries. Put a nonlinear function between
# the layers and the stack can approximate almost anything. You write those functions here —
# ReLU, LeakyReLU, Sigmoid, GELU, Softmax and LogSoftmax — with two rules:
#
# * **only Tensor ops** (`where`, `exp`, `erf`, `max`, `sum`, arithmetic), never `np.exp(x.data)`:
#   module 02 records each op, and module 09 knows each op's derivative, so your activations
#   become trainable the day autograd is installed, without an edit;
# * **finite for any input**: an untrained network's logits can be ±10⁴, and float32's
#   `exp(89)` is already `inf`.
#
# Given: the layer classes (`ReLU()`, `Softmax(dim=1)`...) that store their settings and call
# your functions, the `Activation` base class, argument checks and error messages, and `tanh`
# (why: below).
#
# Read `base.py` once: it holds what *every* layer of the course is, weights or not —
# `ModuleBase`: calling it runs `forward` (between any forward hooks), a `training` flag with
# `train()`/`eval()`, and no parameters or children. `Activation` is a `ModuleBase`. Next
# module, `Module` extends the same `ModuleBase` with parameters and children, so a `ReLU()`
# sits in a model like a `Dense` layer without either class knowing about the other — and this
# module, which comes first, never imports a later one. The [README](https://tinytorch.github.io/tinytorch/modules/activations/) is the reference (API, design notes).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("activations")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import numpy as np

from tinytorch.core.tensor import Tensor, where

rng = np.random.default_rng(0)
W1, W2 = Tensor(rng.standard_normal((4, 3))), Tensor(rng.standard_normal((3, 4)))
x = Tensor(rng.standard_normal((5, 4)))
gap = np.abs(((x @ W1) @ W2 - x @ (W1 @ W2)).numpy()).max()
print(f"two linear layers vs their product W1 @ W2: largest difference {gap:.1e}")

# %% [markdown]
# ## Build
#
# All four exercises are in one file of your workspace:
# `src/tinytorch/core/activations/functional.py`. Each function receives `x` already converted
# to a float Tensor; you write what it returns.
#
# ### Given — relu: max(x, 0), the one you wrote in module 02
#
# `relu(x)` returns `x.relu()`: ReLU's maths is module 02's exercise (`MathOps.relu`, one pass
# into a reused buffer, with its own derivative), and every hidden layer of every model calls
# it, so this module uses that op rather than a second, slower copy. Two of its choices matter
# for what follows: at exactly x = 0 the slope is 0 (PyTorch's choice), and a NaN stays NaN
# (every comparison with NaN is False), so a bad value is not hidden.

# %%
from tinytorch.core.activations import relu

z = Tensor([-2.0, -0.0, 0.0, 0.5, np.nan], requires_grad=True)
print(relu(z), "| recorded as:", relu(z).grad_fn)

# %% [markdown]
# ### Exercise 1 — leaky: a small slope for negative inputs
#
# **Function:** `leaky_relu(x, negative_slope=0.01)`: `x` where x > 0, else
# `negative_slope · x`. A dead ReLU unit (always negative input) gets no gradient and never
# recovers; a leaky one still learns. Use `where(cond, a, b)` (module 02, `from
# tinytorch.core.tensor import where`), which picks `a` where `cond` holds and `b` elsewhere;
# its derivative routes the gradient to the branch taken, so your condition *is* your
# derivative. The slope at exactly 0 is
# `negative_slope` here (PyTorch's choice). `maximum(x, slope·x)` gives the same values but
# splits the gradient ½–½ at the tie x = 0; `where` does not.

# %%
check("activations", "leaky")

# %% [markdown]
# ### Exercise 2 — sigmoid: 1 / (1 + e⁻ˣ), without overflow
#
# **Function:** `sigmoid(x)`: values in [0, 1], finite for any finite x.
#
# The textbook formula computes `exp(-x)`, which overflows for x below about −89 in float32.
# Write both halves of the line with `e = exp(-|x|)`, which always lies in (0, 1]:
#
# * x ≥ 0: σ(x) = 1 / (1 + e)
# * x < 0: σ(x) = e / (1 + e)
#
# Build −|x| as `where(x >= 0, -x, x)`, not `-x.abs()`: `abs` has slope 0 at 0 (PyTorch's
# convention), which would make σ'(0) = 0 instead of ¼. The tests also check that far in the
# left tail the answer is *relatively* accurate: σ(−30) ≈ 9.4·10⁻¹⁴, not 0.

# %%
check("activations", "sigmoid")

# %%
from tinytorch.core.activations import sigmoid

big = Tensor([-100.0, -30.0, 0.0, 30.0, 100.0])
with np.errstate(over="ignore"):
    e_big = (-big).exp()
    naive = 1 / (1 + e_big)
print("textbook :", naive.numpy(), " (exp(100) overflowed to", e_big.numpy()[0], ")")
print("yours    :", sigmoid(big).numpy())
print(f"σ(-30) = {sigmoid(Tensor([-30.0])).item():.4e}, and 1 - σ(30) = "
      f"{1 - sigmoid(Tensor([30.0])).item():.4e}")

# %% [markdown]
# **`tanh` is given**, as Tensor's own `tanh`. On paper `tanh(x) = 2σ(2x) − 1`, built from your
# sigmoid. In floating point that subtraction cancels near 0; measure how much:

# %%
from tinytorch.core.activations import tanh

for v in (1e-2, 1e-3, 1e-5):
    t = Tensor([v])
    composed = (sigmoid(t * 2) * 2 - 1).item()
    print(f"x = {v:.0e}: relative error of 2σ(2x) − 1 is {abs(composed / np.tanh(v) - 1):.1e}, "
          f"of Tensor's tanh {abs(tanh(t).item() / np.tanh(v) - 1):.1e}")

# %% [markdown]
# ### Exercise 3 — gelu: x · Φ(x), the smooth ReLU of transformers
#
# **Function:** `gelu(x, approximate="none")`, two blocks:
#
# * exact: `x/2 · (1 + erf(x/√2))` — Φ is the standard normal CDF; module 02's `Tensor.erf()`
#   is accurate to about 1.5·10⁻⁷;
# * `approximate="tanh"`: `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))` (BERT, GPT-2).
#
# The constants `_SQRT_HALF`, `_SQRT_TWO_OVER_PI` and `_GELU_CUBIC` are defined at the top of
# the file. Write x³ as `x * x * x`: at 10⁴ it is 10¹², far below float32's 3.4·10³⁸.

# %%
check("activations", "gelu")

# %% [markdown]
# ### Exercise 4 — softmax: probabilities along an axis, and their logarithm
#
# **Functions:** `softmax(x, dim)` and `log_softmax(x, dim)`; `axis` is already resolved and
# checked, and a 0-d input handled, before your block.
#
# softmax(x) = eˣ / Σ eˣ along `axis`. It does not change when a constant is subtracted from
# the slice, so subtract the slice's maximum: the largest exponent is then e⁰ = 1.
#
# 1. `m = x.max(axis=axis, keepdims=True)` — `keepdims` keeps the axis (size 1), so `x - m`
#    broadcasts;
# 2. **`.detach()` the shift**: it is a constant as far as the result is concerned, so no
#    gradient should flow through it (that is exact, not an approximation);
# 3. `e = (x - m).exp()`, then divide by `e.sum(axis=axis, keepdims=True)`.
#
# log_softmax(x) = s − log Σ eˢ with s = x − max. Never `softmax(x).log()`: a tiny probability
# rounds to 0 and its log is −∞. Losses and attention use module 02's fused `Tensor.softmax` /
# `log_softmax` (the same maths in one op, with a compact derivative); yours spells it out.

# %%
check("activations", "softmax")

# %%
from tinytorch.core.activations import log_softmax, softmax

logits = Tensor([[1000.0, 0.0, -1000.0]])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    naive = logits.exp() / logits.exp().sum(axis=-1, keepdims=True)
    naive_log = softmax(logits).log()
print("naive softmax  :", naive.numpy())
print("your softmax   :", softmax(logits).numpy())
print("log(softmax)   :", naive_log.numpy())
print("your log_softmax:", log_softmax(logits).numpy())

# %% [markdown]
# ## Use — what each activation does to a signal, layer after layer
#
# Send 256 random inputs through 30 random layers (weights ~ N(0, 1/fan_in), no training), with
# each activation in between, and watch the spread of the values. Too small and the signal dies
# (and so will the gradient); too large and it explodes.

# %%
import matplotlib.pyplot as plt

from tinytorch.core.activations import GELU, LeakyReLU, ReLU, Sigmoid, Tanh

grid = Tensor(np.linspace(-4, 4, 401))
fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
for layer in (ReLU(), LeakyReLU(0.1), Sigmoid(), Tanh(), GELU()):
    ax[0].plot(grid.numpy(), layer(grid).numpy(), label=repr(layer))
ax[0].set_title("the activations"); ax[0].legend(fontsize=7); ax[0].grid(alpha=0.3)

width, depth = 128, 30
h0 = Tensor(rng.standard_normal((256, width)))
weights = [Tensor(rng.standard_normal((width, width)) / np.sqrt(width)) for _ in range(depth)]
for layer in (ReLU(), Sigmoid(), Tanh(), GELU()):
    h, spread = h0, []
    for w in weights:
        h = layer(h @ w)
        spread.append(float(h.numpy().std()))
    ax[1].semilogy(range(1, depth + 1), spread, label=repr(layer))
    per_layer = (spread[-1] / spread[0]) ** (1 / (depth - 1))
    print(f"{repr(layer):10s} std after 1 layer {spread[0]:.3f}, after {depth}: {spread[-1]:.2e}"
          f" (x{per_layer:.3f} per layer)")
ax[1].set_xlabel("layer"); ax[1].set_title("std of the activations"); ax[1].legend(fontsize=7)
plt.tight_layout(); plt.show()

# %% [markdown]
# With these weights ReLU's spread shrinks by a factor close to 1/√2 ≈ 0.707 per layer (the
# printed factor): it zeroes half of its inputs, so it keeps half of their energy. That is why
# layers followed by a ReLU use He initialisation, weights ~ N(0, 2/fan_in) (module 04). GELU
# shrinks faster still; sigmoid and tanh settle at a fixed spread instead of dying out.
#
# ## Reflect
#
# 1. **Cost of writing the maths again.** ReLU written with `where`, as you wrote `leaky_relu`,
#    is two Tensor ops (a comparison and a `where`), each writing a new array; module 02's
#    `Tensor.relu()`, which `relu` calls, is one pass into a reused buffer. Measure both on one
#    CNN-sized activation (128 × 32 × 32 × 32 floats):

# %%
act = Tensor(rng.standard_normal((128, 32, 32, 32)).astype(np.float32))
for name, fn in (("relu from where", lambda t: where(t <= 0, 0, t)), ("relu (Tensor.relu)", relu)):
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        fn(act)
        runs.append(time.perf_counter() - start)
    print(f"{name:20s} {min(runs) * 1e3:6.1f} ms for {act.data.nbytes / 2**20:.0f} MiB")

# %% [markdown]
#    A training step of the CIFAR-10 CNN spends far longer in its convolutions; would a ReLU
#    this much slower show in the step time? What does `where` keep for the backward pass that
#    the fused op does not (hint: what does its derivative need to know)?
# 2. `sigmoid` uses `where(x >= 0, -x, x)` for −|x|. Which value would σ'(0) take with
#    `-x.abs()`, and why would a network not notice on random data — but a gradient check would?
# 3. Softmax subtracts the maximum, yet the result does not depend on it. Why is `.detach()`
#    on the maximum exact rather than an approximation, and what would its gradient have been?
# 4. The Use plot: which activation keeps the signal alive over 30 layers with these weights,
#    and what would you change in the weights to keep ReLU's spread at 1?
