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
# # Module 04 — Layers: Module, Parameter and the Dense layer
#
# A network is a function with thousands to billions of adjustable numbers inside. Training has
# to find every one of them, an optimizer has to update them, a checkpoint has to save them, and
# `model.eval()` has to switch every Dropout off at once. Nobody lists those numbers by hand:
# writing `self.fc1 = Dense(784, 128)` in `__init__` is enough, because `Module` notices the
# assignment. You build that machinery here, plus the first real layer, y = x Wᵀ + b, and the
# rules for its first random weights.
#
# Given: `Parameter` (a Tensor whose *type* says "train me"), the argument checks and error
# messages, hooks, `repr`, `state_dict`, the containers `ModuleList`/`ModuleDict`, `Identity`
# and `Flatten`. Read them: they are the specification your functions fit into. The
# [README](https://tinytorch.github.io/tinytorch/modules/layers/) is the reference (API, PyTorch compatibility).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("layers")   # autoreload on; says whether YOUR version or the reference is installed

# %% [markdown]
# Why the first weights matter: push a batch through 20 matrix products with entries drawn
# from N(0, 1) and watch the size of the activations (plain numpy, nothing of yours yet).

# %%
import tempfile
import time
from pathlib import Path

import numpy as np

from tinytorch.core.activations import ReLU, Tanh
from tinytorch.core.tensor import Tensor, manual_seed

rng = np.random.default_rng(0)
h = rng.standard_normal((256, 128))
for depth in range(1, 21):
    h = np.maximum(h @ rng.standard_normal((128, 128)).T, 0)
    if depth in (1, 5, 10, 20):
        print(f"after {depth:2d} layers: activation std {h.std():.3e}")

# %% [markdown]
# Each layer multiplies the size by about √(128/2) = 8 (128 inputs, half of them zeroed by ReLU):
# after 20 layers the activations are ~10¹⁷, far beyond anything a loss or a gradient step can
# use, and at about 40 layers float32 (max 3.4·10³⁸) overflows. The cure is the scale of the
# initial weights.
#
# ## Build
#
# Seven exercises, in the order a model needs them. The files are in your workspace under
# `src/tinytorch/core/layers/`.
#
# ### Exercise 1 — weight_init: the scale of the first weights
#
# **File:** `init.py`. **Functions:** `xavier_uniform_`, `xavier_normal_`, `kaiming_uniform_`,
# `kaiming_normal_`. Each fills a weight in place; you compute the one number that sets its
# scale (the `bound` b of U(−b, b) or the `std` of N(0, std²)).
#
# For a layer y = W x with `fan_in` inputs, Var(y) = fan_in · Var(w) · E[x²]. Keeping that
# equal from layer to layer gives:
#
# | initialiser | variance of w | for |
# |---|---|---|
# | Xavier/Glorot | gain² · 2 / (fan_in + fan_out) | tanh, sigmoid (a compromise between the forward and the backward pass) |
# | Kaiming/He | gain² / fan (fan = fan_in or fan_out, by `mode`) | ReLU: gain √2, because ReLU zeroes half its inputs |
#
# U(−b, b) has variance b²/3, so b = √(3 · variance); N(0, std²) needs std = √variance.
#
# Given: `fan_in_and_out(shape)` ((in, out), times kh·kw for a conv kernel), `_fan(shape, mode)`,
# `calculate_gain(nonlinearity, a)` (PyTorch's table), and `uniform_`/`normal_` that do the
# filling with the seeded generator.

# %%
check("layers", "weight_init")

# %% [markdown]
# Try it: the same 20-layer ReLU stack, with Kaiming-normal weights drawn by your function.

# %%
from tinytorch.core.layers import Parameter, init

manual_seed(0)
h = rng.standard_normal((256, 128))
for depth in range(1, 21):
    w = init.kaiming_normal_(Parameter(np.zeros((128, 128), dtype=np.float32)))
    h = np.maximum(h @ w.numpy().T, 0)
    if depth in (1, 5, 10, 20):
        print(f"after {depth:2d} layers: activation std {h.std():.3f}")

# %% [markdown]
# ### Exercise 2 — registration: assignment registers
#
# **File:** `module.py`. **Function:** `Module.__setattr__`, the block after the guards.
#
# `Module` is not built from nothing: it extends module 03's `ModuleBase`, which already
# calls `forward` between the forward hooks, keeps the `training` flag and lists children
# (none). `ReLU()` is a `ModuleBase` too, and that one shared base is how a `Module` recognises
# *any* layer as a child — a `Dense`, your own model, or an activation — with a single
# `isinstance(value, ModuleBase)`, no list of types. What `Module` adds is registries of its
# own (a `ModuleBase`'s are empty and read-only, as an activation's stay).
#
# `Module.__init__` creates three ordered dicts: `_parameters`, `_modules` (children: any
# `ModuleBase`) and `_buffers` (state that is not trained, e.g. batch norm's running mean). On
# `self.name = value`:
#
# * a `Parameter` → `_parameters[name]`;
# * a `ModuleBase` (a `Module` or an activation) → `_modules[name]`;
# * anything else (a number, a plain list, a plain Tensor) → no registry.
#
# In every case `name` must leave the registries it no longer belongs to (a name lives in at
# most one), and replacing a value keeps its place in the order (a dict does that if you
# assign to an existing key). Check `Parameter` before anything else: a Parameter *is* a Tensor.
#
# Given: the guards above the block (assigning before `super().__init__()`, `None`, a plain
# Tensor onto a parameter's name — a `TypeError`, as in PyTorch — and a new value for a
# buffer), and the final `object.__setattr__` that stores the attribute itself.

# %%
check("layers", "registration")

# %%
from tinytorch.core.layers import Dense, Module


class TwoLayer(Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Dense(4, 3)
        self.act = ReLU()
        self.fc2 = Dense(3, 2)
        self.note = "a plain attribute"

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


m = TwoLayer()
print("children  :", list(m._modules))
print("fc1 params:", list(m.fc1._parameters))
print("note is registered?", "note" in m._parameters or "note" in m._modules)

# %% [markdown]
# ### Exercise 3 — traverse: walking the tree
#
# **File:** `module.py`. **Functions:** `Module.named_modules` and `Module.named_parameters`.
#
# * `named_modules(prefix="", remove_duplicate=True)` yields `(dotted name, module)` for the
#   module itself (name `prefix`) and every descendant, **depth first, parents before
#   children, children in registration order**: `""`, `"encoder"`, `"encoder.fc1"`, ... A
#   module reachable under two names is yielded once unless `remove_duplicate=False`. An
#   activation needs no special case: its `named_children()` yields nothing. A stack of
#   `(name, module)` pairs does it without recursion: pop one, yield it, push its children
#   in reverse so the first child comes out next.
# * `named_parameters` yields `("fc1.weight", p)` for each entry of each module's
#   `_parameters` (an activation's is empty; no leading dot at the top), skipping `None` (a
#   `bias=False` slot) and any parameter already yielded: tied weights are one object under
#   two names, and an optimizer must not update them twice.
#
# Given: `named_children`, and everything built on your two functions — `parameters()`,
# `modules()`, `named_buffers()`, `state_dict()`, `zero_grad()`, `num_parameters()`.

# %%
check("layers", "traverse")

# %%
print(m)
print([(name, p.shape) for name, p in m.named_parameters()])
print("modules:", [name for name, _ in m.named_modules()], "| parameters:", m.num_parameters())

# %% [markdown]
# ### Exercise 4 — dense_forward: y = x Wᵀ + b
#
# **File:** `linear.py`. **Function:** `Dense.forward`, the block.
#
# The weight is stored `(out_features, in_features)` — PyTorch's layout, so a
# `torch.nn.Linear` state dict loads without transposing — which makes the product
# `x @ self.weight.T`: (N, in) @ (in, out) → (N, out). Add `self.bias` (shape (out,), it
# broadcasts over the rows) unless it is `None`. Use Tensor ops only (`@`, `.T`, `+`), so the
# result records the graph module 09 differentiates.
#
# Given: the input check (its error names the layer and both sizes), and the reshaping of a
# (batch, seq, in) input to one (batch·seq, in) matrix and back: one large matrix product
# is much faster than many small ones.

# %%
check("layers", "dense_forward")

# %%
layer = Dense(3, 2)
x = Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
y = layer(x)
by_hand = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
print(y.shape, "| largest difference from numpy:", np.abs(y.numpy() - by_hand).max())
print("a (2, 5, 3) input gives", layer(Tensor(np.ones((2, 5, 3), np.float32))).shape)

# %% [markdown]
# ### Exercise 5 — train_mode: one switch for the whole tree
#
# **File:** `module.py`. **Function:** `Module.train(mode=True)`: set `training = mode` on
# this module and every descendant, activations included. `self.modules()` walks the tree
# (your Exercise 3). Set the flag with `object.__setattr__(m, "training", mode)`: it is plain
# storage, nothing to register.
#
# Given: the type check, `eval()` (which is `train(False)`) and `return self`.

# %%
check("layers", "train_mode")

# %% [markdown]
# ### Exercise 6 — dropout: random zeros, rescaled
#
# **File:** `basic.py`. **Function:** `Dropout.forward`, the block.
#
# In training, zero each element with probability p and multiply the survivors by 1/(1−p), so
# the expected value of every unit is unchanged and evaluation (where dropout does nothing)
# sees activations of the same size. Draw the mask from `g` — `g.random(x.shape,
# dtype=np.float32) >= self.p` keeps with probability 1−p — and multiply `x` by a Tensor holding
# mask/(1−p) in `x`'s dtype, so autograd sees one multiplication.
#
# Given: evaluation mode and p = 0 return `x`; p = 1 returns zeros; `g` is the generator
# (yours, or tinytorch's seeded one, so `manual_seed` makes masks reproducible).

# %%
check("layers", "dropout")

# %%
from tinytorch.core.layers import Dropout

drop = Dropout(0.25)
ones = Tensor(np.ones((1000, 100), dtype=np.float32))
out = drop(ones).numpy()
print(f"training: {np.mean(out == 0):.3f} zeroed, survivors = {out.max():.4f}, mean {out.mean():.4f}")
print("eval    : returns its input unchanged:", drop.eval()(ones) is ones)

# %% [markdown]
# ### Exercise 7 — load_state: copy a checkpoint in place
#
# **File:** `module.py`. **Function:** `Module.load_state_dict`, the block at the end.
#
# Everything is checked before your block runs: the missing and unexpected keys (an error
# with `strict`), and every shape (always an error — and nothing is copied unless all of it
# fits). `own` maps each key to the model's Tensor, `values` each key to the array to load.
# Copy with `own[key].data[...] = value`, **into** the existing array: an optimizer holds
# references to those arrays, and rebinding `.data` would leave it updating the old ones.
#
# Given: `state_dict()` (copies, keyed like PyTorch's), the checks and the returned
# `IncompatibleKeys(missing, unexpected)`.

# %%
check("layers", "load_state")

# %%
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "two_layer.npz"
    np.savez(path, **m.state_dict())
    fresh = TwoLayer()
    weight_before = fresh.fc1.weight
    with np.load(path) as ckpt:
        print(fresh.load_state_dict(ckpt))
    probe = Tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    print("same outputs:", np.array_equal(fresh(probe).numpy(), m(probe).numpy()),
          "| same Parameter object:", fresh.fc1.weight is weight_before,
          f"| file: {path.stat().st_size} bytes")

# %% [markdown]
# ## Use: how deep can a network be before its signal dies?
#
# A 30-layer stack of your `Dense` layers, each followed by an activation, under three
# initialisations. The plot shows the standard deviation of the activations after each layer
# for a batch of random inputs: the right scale keeps it flat.

# %%
import matplotlib.pyplot as plt


class Deep(Module):
    def __init__(self, depth, width, act):
        super().__init__()
        self.layers = [Dense(width, width) for _ in range(depth)]  # a plain list: not registered
        for i, layer in enumerate(self.layers):
            self.add_module(f"fc{i}", layer)                       # ...so register them by name
        self.act = act

    def stds(self, x):
        out = []
        for layer in self.layers:
            x = self.act(layer(x))
            out.append(float(x.numpy().std()))
        return out


depth, width = 30, 256
x = Tensor(np.random.default_rng(2).standard_normal((128, width)).astype(np.float32))
runs = {}
for label, act, fill in [
    ("N(0, 0.01²), ReLU", ReLU(), lambda w: init.normal_(w, 0.0, 0.01)),
    ("PyTorch default (a=√5), ReLU", ReLU(), None),
    ("Kaiming normal, ReLU", ReLU(), lambda w: init.kaiming_normal_(w)),
    ("Xavier uniform, tanh", Tanh(), lambda w: init.xavier_uniform_(w, gain=5 / 3)),
]:
    manual_seed(0)
    net = Deep(depth, width, act)
    if fill is not None:
        for name, p in net.named_parameters():
            if name.endswith("weight"):
                fill(p)
            else:
                init.zeros_(p)
    runs[label] = net.stds(x)
    print(f"{label:30s} std after layer 1: {runs[label][0]:.2e}   after layer {depth}: {runs[label][-1]:.2e}")

plt.figure(figsize=(7, 3.5))
for label, s in runs.items():
    plt.semilogy(range(1, depth + 1), s, label=label)
plt.xlabel("layer")
plt.ylabel("std of the activations")
plt.legend(fontsize=8)
plt.title(f"{depth} Dense layers of width {width}: your init, your Dense, your Module")
plt.show()

# %% [markdown]
# ## Reflect
#
# 1. PyTorch's default for `Linear` (Kaiming-uniform with a = √5, b = 1/√fan_in) shrinks the
#    signal in the plot above. Why do networks with that default still train? (Hint: what do
#    batch norm and residual connections, modules 06 and 07, do to the scale?)
# 2. Dropout scales by 1/(1−p) during training. The original paper instead multiplied the
#    weights by (1−p) at test time. What does the "inverted" form save at inference?
# 3. `load_state_dict` copies into the existing arrays. Write down a sequence of calls that
#    would silently stop training if it rebound `.data` instead.
# 4. **Systems:** a Dense layer's cost is one matrix product. Measure the time per sample as the
#    batch grows. Where does it stop improving, and why does a batch of one waste the machine?

# %%
big = Dense(1024, 1024)
print("parameters:", big.num_parameters(), f"= {big.num_parameters() * 4 / 2**20:.1f} MiB of float32")
for batch in (1, 16, 256):
    xb = Tensor(np.ones((batch, 1024), dtype=np.float32))
    big(xb)  # warm up
    reps = max(3, 64 // batch)
    start = time.perf_counter()
    for _ in range(reps):
        big(xb)
    per_call = (time.perf_counter() - start) / reps
    flops = 2 * batch * 1024 * 1024
    print(f"batch {batch:4d}: {per_call * 1e3:7.3f} ms per call, {per_call / batch * 1e6:8.2f} µs per sample, "
          f"{flops / per_call / 1e9:6.1f} GFLOP/s")
