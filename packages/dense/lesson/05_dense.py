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
# # Module 05 — Dense networks: Sequential and MLP
#
# Module 04 gave you layers that know their own weights. A network is layers feeding each other,
# and most networks are simply a *list* of them: the output of one is the input of the next.
# `Sequential` is that list, made into a layer of its own (so a Sequential can sit inside a
# Sequential); `MLP` writes the most common list for you from its sizes:
# `MLP(784, [128], 10)` is `Sequential(Dense(784, 128), ReLU(), Dense(128, 10))`.
#
# Given: the construction of a Sequential (from a list, from arguments or from a dict of names),
# its list behaviour (`model[0]`, `model[1:]`, `append`, `del`...: a `Sequential` *is* module
# 04's `ModuleList`, plus a `forward`), PyTorch's child names
# "0", "1", "2" (so state dicts line up with `torch.nn.Sequential`), and MLP's argument checks.
# The [README](https://tinytorch.github.io/tinytorch/modules/dense/) is the reference.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("dense")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import numpy as np

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.dense import MLP, Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.tensor import Tensor, manual_seed

manual_seed(0)
model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
print(model)
print("keys, as torch.nn.Sequential names them:", list(model.state_dict()))

# %% [markdown]
# ## Build
#
# ### Exercise 1 — sequential_forward: each output is the next input
#
# **File:** `src/tinytorch/core/dense/sequential.py`. **Function:** `Sequential.forward(x)`.
#
# Feed `x` through the layers in `layers` (given: the list to run) and return the last output;
# with no layers, return `x` itself. Call each layer as `layer(x)`, not `layer.forward(x)`:
# calling runs the forward hooks (`ModuleBase.__call__`, module 03 — activations and modules
# alike).
#
# Why is `layers` given rather than `self._modules.values()`? `_run_order` makes one swap that
# is invisible from outside: a `ReLU()` directly before a 2×2 max-pool (module 06) runs after it,
# since max and ReLU commute — the same numbers and gradients, with ReLU applied to a quarter
# of the values.

# %%
check("dense", "sequential_forward")

# %%
images = np.random.default_rng(0).random((32, 28, 28), dtype=np.float32)
x = Tensor(images.reshape(32, 784))          # flatten each image to 784 numbers
logits = model(x)
by_hand = model[2](model[1](model[0](x)))
print(logits.shape, "| equal to chaining the layers by hand:",
      np.array_equal(logits.numpy(), by_hand.numpy()))
print("the first two layers, as a model of their own:", model[:2](x).shape)

# %% [markdown]
# ### Exercise 2 — mlp: the network from its sizes
#
# **File:** `src/tinytorch/core/dense/mlp.py`. **Function:** `MLP.__init__`, the block that
# fills the list `layers`.
#
# For each hidden width: `Dense(previous width, width)`, then an activation (when
# `make_activation` is not `None`, call it for a fresh one), then `Dropout(dropout)` if
# `dropout > 0`. The last layer is a bare `Dense(previous width, out_features)`: no activation,
# because a loss such as cross-entropy applies its own softmax to the raw scores.
#
# Given: the checks of the sizes and of `dropout`, `hidden` (the hidden widths as a list — an
# int means one hidden layer), `make_activation` (built by `_activation_factory` from a class,
# a name such as `"gelu"`, an instance or `None`), and `super().__init__(layers)`, which turns your
# list into a Sequential.

# %%
check("dense", "mlp")

# %%
mlp = MLP(784, [256, 128], 10, dropout=0.1)
print(mlp)
print(f"{mlp.num_parameters():,} parameters = {mlp.num_parameters() * 4 / 2**20:.2f} MiB of float32")

# %% [markdown]
# ## Use: what can a random hidden layer already do?
#
# Training comes in modules 09–11. But the *last* layer of an MLP is linear, so for a fixed
# hidden layer its best weights are a least-squares problem numpy solves at once. Take
# `MLP(1, [width], 1, activation=Tanh)` with random hidden weights, run `net[:2]` (your
# Sequential, sliced) to get the hidden features of 200 points of a curve, solve for the output
# layer, load it with `load_state_dict`, and plot what the whole network computes.

# %%
import matplotlib.pyplot as plt

xs = np.linspace(-3, 3, 200, dtype=np.float32)[:, None]
target = np.sin(2 * xs) + 0.3 * xs
plt.figure(figsize=(7, 3.5))
plt.plot(xs, target, "k", lw=3, alpha=0.3, label="target")
for width in (3, 10, 50):
    manual_seed(1)
    net = MLP(1, [width], 1, activation=Tanh)
    net[0].weight.data[...] *= 2.0                     # spread the tanh "kinks" over [-3, 3]
    hidden = net[:2](Tensor(xs)).numpy().astype(np.float64)
    design = np.hstack([hidden, np.ones_like(hidden[:, :1])])
    coef, *_ = np.linalg.lstsq(design, target.astype(np.float64), rcond=None)
    state = net.state_dict()
    state["2.weight"], state["2.bias"] = coef[:-1].T.astype(np.float32), coef[-1].astype(np.float32)
    net.load_state_dict(state)
    pred = net(Tensor(xs)).numpy()
    rmse = float(np.sqrt(np.mean((pred - target) ** 2)))
    print(f"width {width:3d}: {net.num_parameters():4d} parameters, RMS error {rmse:.2e}")
    plt.plot(xs, pred, "--", label=f"MLP(1, [{width}], 1): RMS {rmse:.1e}")
plt.legend(fontsize=8)
plt.title("random tanh features + a least-squares output layer")
plt.show()

# %% [markdown]
# ## Reflect
#
# 1. `Sequential` is itself a `Module`, so `Sequential([Sequential([...]), Dense(...)])` works.
#    What are the state-dict keys of the inner layers, and which of your module 04 functions made
#    them?
# 2. Why does the MLP end with a bare Dense and not with a softmax? What would go wrong if the
#    loss applied its softmax to probabilities instead of raw scores?
# 3. In the plot above only the last layer was fitted. What would training the hidden layer add,
#    and how would you expect the error for width 3 to change?
# 4. **Systems:** the parameters of a dense network grow with the *product* of neighbouring
#    widths. Measure memory and forward time for one hidden layer of growing width: do they
#    grow at the same rate? Which layer holds the parameters of an image classifier, and what
#    does that suggest for images larger than 28×28 (module 06's answer: convolutions)?

# %%
xb = Tensor(np.ones((256, 784), dtype=np.float32))
for width in (64, 256, 1024):
    net = MLP(784, [width], 10)
    first = net[0].weight.data.size + net[0].bias.data.size
    net(xb)  # warm up
    start = time.perf_counter()
    for _ in range(5):
        net(xb)
    ms = (time.perf_counter() - start) / 5 * 1e3
    print(f"hidden {width:5d}: {net.num_parameters():9,d} parameters "
          f"({net.num_parameters() * 4 / 2**20:5.2f} MiB, first layer {first / net.num_parameters():.0%}), "
          f"forward of 256 images {ms:6.2f} ms")
