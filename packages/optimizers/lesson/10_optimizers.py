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
# # Module 10 — Optimizers: turning gradients into better weights
#
# Autograd (module 09) answers one question: which way is uphill, and how steeply, for every
# weight. The optimizer decides what to do with that answer. The plain answer — step downhill
# by `lr · g` — is slow in a long narrow valley (it zig-zags across and crawls along) and
# blind to the fact that different weights see gradients of very different sizes. In this
# module you write the fixes that every modern network is trained with:
#
# * **SGD with momentum**: a running velocity that cancels the zig-zag and builds up speed;
# * **RMSprop** and **Adam**: a step size per weight, from running averages of g and g²;
# * **gradient clipping**: one bad batch must not throw the weights away;
# * **learning-rate schedules**: step, cosine, warm-up and the one-cycle policy.
#
# Given: the `Optimizer` base class — parameter groups with their own hyper-parameters,
# `zero_grad()`, `step()` calling your update on each parameter that has a gradient, the
# per-parameter `state` dict, flat `state_dict()`s for checkpoints — and the argument checks;
# the `LRScheduler` base class, which writes `lr_at(i, t)` into the optimizer at every
# `step()`; and OneCycleLR's bookkeeping (which phase step t is in). Every update follows
# PyTorch's equations exactly: an integration test compares the weights with `torch.optim`
# step for step. The [README](https://tinytorch.github.io/tinytorch/modules/optimizers/) is the reference.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("optimizers")   # autoreload on; says whether YOUR version or the reference is installed

# %% [markdown]
# The test problem for the whole lesson is Rosenbrock's valley,
# `f(x, y) = (1 - x)² + 100 (y - x²)²`: a curved, narrow, nearly flat-bottomed valley whose
# minimum is at (1, 1). Its walls are 100 times steeper than its floor — the shape of the loss
# around a network's weights, in two dimensions we can draw. `descend` runs any optimizer on it,
# with gradients from autograd, and keeps the path.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinytorch.core.tensor import Tensor


def rosenbrock(xy):
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def descend(make_optimizer, steps=600, start=(-1.5, 2.0)):
    """Minimise Rosenbrock from ``start``; returns the path (steps + 1, 2) and the last loss."""
    xy = Tensor(np.array(start, dtype=np.float64), requires_grad=True)
    opt = make_optimizer([xy])
    path = [xy.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = rosenbrock(xy)
        loss.backward()
        opt.step()
        path.append(xy.numpy().copy())
    return np.array(path), float(rosenbrock(xy).item())


xy0 = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
rosenbrock(xy0).backward()
print(f"at the start (-1.5, 2.0): f = {rosenbrock(xy0).item():.2f}, gradient = {xy0.grad.numpy()}")

# %% [markdown]
# ## Build
#
# All updates change the parameter **in place** (`p -= ...`, `p *= ...`): the Tensor, the model
# and the optimizer all hold the same array, and a new array would cut that link. Each `_update`
# receives `p` and `g` as numpy arrays, the parameter's own `state` dict (empty on its first
# step) and its `group` of hyper-parameters, already cast to `p`'s dtype (float32 stays float32).
#
# ### Exercise 1 — sgd: momentum, dampening, Nesterov, weight decay
#
# **File:** `src/tinytorch/core/optimizers/sgd.py`, **method:** `SGD._update(p, g, state, group)`.
#
#     d = g + weight_decay · p                               (weight_decay ≠ 0)
#     b = d on the first step,  else  momentum · b + (1 - dampening) · d     (momentum ≠ 0)
#     d = d + momentum · b  (nesterov)   or   d = b
#     p = p - lr · d
#
# The buffer `b` lives in `state["momentum_buffer"]` (a copy of `d` on the first step, then
# updated in place).

# %%
check("optimizers", "sgd")

# %%
from tinytorch.core.optimizers import SGD

for name, make in (("SGD lr=1e-3", lambda ps: SGD(ps, lr=1e-3)),
                   ("SGD lr=1e-3 momentum=0.9", lambda ps: SGD(ps, lr=1e-3, momentum=0.9))):
    path, loss = descend(make)
    print(f"{name:26s} after 600 steps: ({path[-1, 0]:+.3f}, {path[-1, 1]:+.3f}), f = {loss:.4f}")

# %% [markdown]
# ### Exercise 2 — rmsprop: divide by the recent size of the gradient
#
# **File:** `src/tinytorch/core/optimizers/rmsprop.py`, **method:** `RMSprop._update`.
#
#     g = g + weight_decay · p
#     s = α s + (1 - α) g²                         running mean of g², in state["square_avg"]
#     d = √s + ε    or, centered:   a = α a + (1 - α) g;   d = √(s - a²) + ε
#     p = p - lr · g / d    or, with momentum:   b = momentum · b + g / d;   p = p - lr · b
#
# A weight whose gradients are large gets a small step and vice versa: the step is measured
# in "recent gradient sizes". The state arrays exist already (zeros); update them in place.

# %%
check("optimizers", "rmsprop")

# %% [markdown]
# ### Exercise 3 — adam: momentum and RMSprop together, bias-corrected
#
# **File:** `src/tinytorch/core/optimizers/adam.py`, **method:** `Adam._update`, two blocks:
#
# 1. AdamW's *decoupled* weight decay: shrink the weights themselves,
#    `p *= 1 - lr · weight_decay` (Adam instead adds `weight_decay · p` to the gradient — given).
# 2. The step, with `t = state["step"]` (already counted):
#
#        m = β₁ m + (1 - β₁) g            v = β₂ v + (1 - β₂) g²
#        p = p - lr / (1 - β₁ᵗ) · m / (√v / √(1 - β₂ᵗ) + ε)
#
#    m and v start at zero, so early on they underestimate; dividing by `1 - βᵗ` undoes that.
#    With `amsgrad`, use `max(state["max_exp_avg_sq"], v)` (kept in place) instead of v.

# %%
check("optimizers", "adam")

# %%
from tinytorch.core.optimizers import Adam

for scale in (1e-3, 1.0, 1e3):   # the first Adam step ignores the gradient's size
    w = Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = Adam([w], lr=0.01)
    (w * Tensor(np.float32([1, -2, 3]) * scale)).sum().backward()
    opt.step()
    print(f"gradient x {scale:g}: first Adam step moves w by {w.numpy()}")

# %% [markdown]
# ### Exercise 4 — clip_grad: cap the norm of all gradients together
#
# **File:** `src/tinytorch/core/optimizers/clip.py`, **function:**
# `clip_grad_norm_(parameters, max_norm, norm_type=2.0)`.
#
# Treat every gradient as one long vector: `total = (Σᵢ Σ |gᵢ|ᵖ)^(1/p)` (for `p = inf`, the
# largest |entry|). If it exceeds `max_norm`, scale **every** gradient in place by
# `max_norm / (total + 1e-6)` — the direction is kept, only the length changes. Return
# `total` measured *before* clipping (callers log it). Sum in float64; with
# `error_if_nonfinite`, raise a `RuntimeError` if the total is nan or inf.

# %%
check("optimizers", "clip_grad")

# %%
from tinytorch.core.optimizers import clip_grad_norm_

a, b = Tensor(np.zeros(3), requires_grad=True), Tensor(np.zeros(2), requires_grad=True)
((a * Tensor([3.0, 0.0, 4.0])).sum() + (b * Tensor([1e3, 0.0])).sum()).backward()
before = clip_grad_norm_([a, b], max_norm=1.0)
after = np.sqrt(sum(float((p.grad.numpy() ** 2).sum()) for p in (a, b)))
print(f"norm before {before.item():.2f}, after {after:.4f}; a.grad = {a.grad.numpy()}, "
      f"b.grad = {b.grad.numpy()}")

# %% [markdown]
# ### Exercises 5–8 — schedules: step_lr, cosine, warmup, one_cycle
#
# **File:** `src/tinytorch/core/optimizers/schedulers.py`. A schedule is a closed formula of
# the step count `t` and the group's base rate `self.base_lrs[i]`; you write it, the base class
# does the rest. Each has its own check.
#
# * `StepLR.lr_at(i, t)` = `base · γ^⌊t / step_size⌋` (a staircase);
# * `CosineAnnealingLR.lr_at(i, t)` = `η_min + (base - η_min) · (1 + cos(π t / T_max)) / 2`;
# * `LinearWarmup.lr_at(i, t)` = `base · (s + (1 - s) · min(t, W) / W)` with `s` the start
#   factor and `W` the warm-up length (handing over to `after` is given);
# * `OneCycleLR._anneal(start, end, pct)`: from `start` (pct = 0) to `end` (pct = 1), linearly
#   (`"linear"`) or along half a cosine (`"cos"`): `end + (start - end) · (1 + cos(π pct)) / 2`.
#   The given code finds the phase and calls it for the rate and, inversely, the momentum.

# %%
check("optimizers", "step_lr")

# %%
check("optimizers", "cosine")

# %%
check("optimizers", "warmup")

# %%
check("optimizers", "one_cycle")

# %% [markdown]
# ## Use — four optimizers in Rosenbrock's valley, and four schedules
#
# Each optimizer gets 600 steps from (-1.5, 2.0), with a learning rate that works for it. The
# left plot shows the paths over the contours of f; the right one, the loss along the way.

# %%
from tinytorch.core.optimizers import (RMSprop, CosineAnnealingLR, LinearWarmup, OneCycleLR,
                                       StepLR)

contenders = {
    "SGD lr=1e-3": lambda ps: SGD(ps, lr=1e-3),
    "SGD momentum 0.9": lambda ps: SGD(ps, lr=1e-3, momentum=0.9),
    "RMSprop lr=1e-2": lambda ps: RMSprop(ps, lr=1e-2),
    "Adam lr=0.05": lambda ps: Adam(ps, lr=0.05),
}
gx, gy = np.meshgrid(np.linspace(-2, 2, 200), np.linspace(-1, 3, 200))
fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
ax.contour(gx, gy, (1 - gx) ** 2 + 100 * (gy - gx ** 2) ** 2, levels=np.logspace(-1, 3.5, 14),
           cmap="Greys", linewidths=0.6)
ax.plot(1, 1, "k*", markersize=12)
for name, make in contenders.items():
    start = time.perf_counter()
    path, loss = descend(make)
    seconds = time.perf_counter() - start
    ax.plot(path[:, 0], path[:, 1], lw=1.2, label=name)
    f = (1 - path[:, 0]) ** 2 + 100 * (path[:, 1] - path[:, 0] ** 2) ** 2
    ax_loss.semilogy(f, label=name)
    print(f"{name:17s} ends at ({path[-1, 0]:+.3f}, {path[-1, 1]:+.3f}), f = {loss:.2e} "
          f"({seconds * 1e3 / 600:.2f} ms per step)")
ax.set(xlim=(-2, 2), ylim=(-1, 3), title="paths (minimum: star)")
ax.legend(fontsize=8)
ax_loss.set(xlabel="step", ylabel="f(x, y)", title="loss")
ax_loss.grid(alpha=0.3)
plt.tight_layout(); plt.show()

# %% [markdown]
# Now the schedules, each driving an SGD optimizer for 100 steps (the one-cycle policy also
# moves the momentum, inversely to the rate):

# %%
def rates(make_schedule, steps=100):
    opt = SGD([Tensor(np.zeros(1), requires_grad=True)], lr=0.1, momentum=0.9)
    sched = make_schedule(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    return lrs, momenta


schedules = {
    "StepLR(30, 0.3)": lambda o: StepLR(o, step_size=30, gamma=0.3),
    "Cosine(100)": lambda o: CosineAnnealingLR(o, T_max=100),
    "Warmup(10) → Cosine(90)": lambda o: LinearWarmup(o, 10, after=CosineAnnealingLR(o, T_max=90)),
    "OneCycle(max 0.4)": lambda o: OneCycleLR(o, max_lr=0.4, total_steps=100),
}
fig, (ax_lr, ax_m) = plt.subplots(1, 2, figsize=(11, 3.4))
for name, make in schedules.items():
    lrs, momenta = rates(make)
    ax_lr.plot(lrs, label=name)
    ax_m.plot(momenta, label=name)
    print(f"{name:24s} lr at steps 0/10/50/99: " + " ".join(f"{lrs[t]:.4f}" for t in (0, 10, 50, 99)))
ax_lr.set(xlabel="step", title="learning rate"); ax_m.set(xlabel="step", title="momentum")
ax_lr.legend(fontsize=8)
plt.tight_layout(); plt.show()

# %% [markdown]
# ## Reflect
#
# 1. **What the optimizer costs in memory.** SGD without momentum keeps nothing per weight;
#    momentum keeps one buffer; Adam two (three with amsgrad). Measure the state of one step
#    on a parameter the size of a small CNN (1 M float32 weights):

# %%
for name, make in (("SGD", lambda ps: SGD(ps, lr=0.1)),
                   ("SGD momentum", lambda ps: SGD(ps, lr=0.1, momentum=0.9)),
                   ("RMSprop", lambda ps: RMSprop(ps)),
                   ("Adam", lambda ps: Adam(ps)),
                   ("Adam amsgrad", lambda ps: Adam(ps, amsgrad=True))):
    w = Tensor(np.zeros(1_000_000, np.float32), requires_grad=True)
    w.grad = Tensor(np.ones(1_000_000, np.float32))
    opt = make([w])
    opt.step()                        # the first step allocates the state
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        opt.step()
        runs.append(time.perf_counter() - start)
    ms = min(runs) * 1e3
    state = sum(v.nbytes for v in opt.state_dict().values() if isinstance(v, np.ndarray) and v.ndim)
    print(f"{name:13s} state {state / 2**20:5.1f} MiB for {w.data.nbytes / 2**20:.1f} MiB of "
          f"weights; one step {ms:5.1f} ms (best of 5)")

# %% [markdown]
#    A 7-billion-parameter model in float32 takes 26 GiB of weights. How much more does Adam
#    need, before any activation is stored — and why does the step take several times longer
#    than SGD's, though it does no more than a few passes over the arrays?
# 2. In the Use plot, plain SGD with lr = 1e-3 barely moves along the valley floor. Why can't
#    you simply raise its learning rate (try 3e-3)? What does momentum change?
# 3. Adam's first step moved every weight by `lr` (up to ε), whatever the gradient's scale. Why
#    is that reassuring at the start of training, and when could it be a problem?
# 4. AdamW shrinks the weights directly; Adam adds `weight_decay · p` to the gradient. For a
#    weight with large, noisy gradients, which one actually decays it — and why?
