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
# # Module 09 — Autograd: reverse-mode automatic differentiation
#
# Every model so far computes an answer; none can learn, because learning needs the derivative
# of the loss with respect to every weight. You build the machine that computes all of them in
# one backward pass. It adds no new operations: module 02's `Tensor` already records, for every
# op, *which op* made a result, *from which inputs*, and *what it saved*. You write the other
# half:
#
# * **the engine** (`engine.py`): order the recorded graph, then walk it backwards applying the
#   chain rule once per tensor — the same loop as Karpathy's micrograd, on arrays;
# * **the derivative rules** (`derivatives/*.py`): for each op, turn the gradient of its result
#   into one gradient per input.
#
# Given: the bookkeeping around the walk (seeding, checks, where finished gradients go,
# freeing the graph), `no_grad`, `gradcheck`, `Function`, `grad()`, and the rules of a few ops
# that repeat a pattern you write (neg, log1p, abs, sin, cos, erf, minimum, min, cast, clone,
# broadcast_to, stack). The [README](https://tinytorch.github.io/tinytorch/modules/autograd/) has the API and the design notes.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("autograd")   # autoreload on; says whether YOUR version or the reference is installed

# %% [markdown]
# What the record looks like. No backward pass yet: only module 02's forward ops.

# %%
import time

import numpy as np

from tinytorch.core.tensor import Tensor

x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
w = Tensor([0.5, -1.0, 2.0], requires_grad=True)
loss = ((x * w).sum() - 4.0) ** 2
node = loss.grad_fn
print("loss was made by", node.op, "from", [t.shape for t in node.inputs])
print("one step further:", node.inputs[0].grad_fn.op, "— and x is a leaf:", x.grad_fn is None)

# %% [markdown]
# ## Build — the engine
#
# ### Exercise 1 — toposort: every tensor before the tensors it was made from
#
# **File:** `src/tinytorch/core/autograd/engine.py`, function `topological_order(root)`.
#
# Return the non-leaf tensors reachable from `root` that require grad, `root` first, each one
# *before* its inputs (`t._node.inputs`), each exactly once. Visited in that order, a tensor's
# gradient is complete when its turn comes: every tensor that used it came earlier.
#
# Write a depth-first **post-order** with an explicit stack (given: `stack = [(root, False)]`):
# popping `(t, False)` means "expand t" — mark it visited, push `(t, True)`, then its unvisited
# non-leaf inputs; popping `(t, True)` means "all of t's inputs are done" — append t. Reverse at
# the end. No recursion: Python's limit is 1,000 frames, and a chain of 10,000 ops must work.
# Track tensors by `id(t)`: a Tensor's `==` is elementwise.

# %%
check("autograd", "toposort")

# %%
from tinytorch.core.autograd import topological_order

print([t.grad_fn.op for t in topological_order(loss)])

# %% [markdown]
# ### Exercise 2 — backprop: the reverse walk
#
# **File:** `engine.py`, function `backpropagate(order, grads, dest)`.
#
# `grads` maps `id(tensor)` to the gradient d out/d tensor that has arrived so far; it starts
# with the output's seed (1 for a scalar loss). For each `t` in `order`:
#
# 1. pop its gradient `g` (none: t does not lead to the output — skip it) and report it:
#    `dest.reached(t, g)`;
# 2. apply the chain rule: `get_derivative(node.op)(g, node)` with `node = t._node` gives one
#    array (or None) per input; `_paired(node, ...)` keeps the `(input, gradient)` pairs that
#    matter and checks their shapes;
# 3. send each share on: a **leaf** (`inp._node is None`) to `dest.leaf(inp, ig)`; any other
#    input **adds** it into `grads[id(inp)]` — in `y * y + y` three paths reach `y`.
#
# Given around it, in `_run`: the seed and its checks, `_check_not_freed` (a second backward
# through a freed graph names `retain_graph=True`), `_Destination` (leaves accumulate into
# `.grad`, `retain_grad()` tensors too, and `grad()` collects into a dict instead), and freeing
# what the nodes saved. These tests use ops defined with `Function` in the test file, so they
# need no derivative rule of yours yet.

# %%
check("autograd", "backprop")

# %% [markdown]
# Try it: your engine, with a derivative written by hand through `Function` (given).

# %%
from tinytorch.core.autograd import Function


class Cube(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save(a)
        return a ** 3

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved
        return (g * 3 * a ** 2,)


c = Tensor([1.0, 2.0], requires_grad=True)
Cube.apply(Cube.apply(c)).backward(np.ones(2))          # (c³)³ = c⁹, so 9·c⁸
print(c.grad, "expected", 9 * c.data ** 8)

# %% [markdown]
# ## Build — the derivative rules
#
# Every rule has the signature `rule(g, node) -> tuple`: `g` is the gradient of the result
# (its shape), `node.inputs` the input Tensors, `node.saved` what the forward kept; it returns
# one numpy array per input **of exactly that input's shape**, or `None` for an input that does
# not require grad. Arrays only: nothing in an ordinary backward pass builds a graph. (For a
# gradient of a gradient, `backward(create_graph=True)` uses a second rule per op written with
# Tensor ops — `derivatives/graph_rules.py`, given, not an exercise.) `check` runs each
# rule under `gradcheck`, which compares it with central differences in float64.
#
# ### Exercise 3 — arith: + - * / and broadcasting
#
# **File:** `derivatives/elementwise.py`: `add_backward`, `sub_backward`, `mul_backward`,
# `div_backward`. The maths is one line each (1 and 1; 1 and −1; b and a; 1/b and −a/b²). The
# catch is broadcasting: in `x + b` with x (32, 10) and b (10,), b was used 32 times, so its
# gradient is the sum of 32 rows. `sum_to_shape(grad, shape)` (module 02, given) sums over the
# axes that broadcasting added or stretched; end every share with it.

# %%
check("autograd", "arith")

# %%
xb = Tensor(np.ones((32, 10)), requires_grad=True)
bias = Tensor(np.zeros(10), requires_grad=True)
(xb + bias).backward(np.ones((32, 10)))
print("bias.grad:", bias.grad.shape, bias.grad.numpy()[:3], "— each entry was used 32 times")

# %% [markdown]
# ### Exercise 4 — power: a ** e
#
# **File:** `elementwise.py`, `pow_backward`. For the base: e·a^(e−1). For the exponent:
# a^e · ln a — the forward saved a^e in `node.saved`. Two places where the formula meets
# 0 · ∞, and PyTorch's answers, which yours should match:
#
# * `x ** 0` is the constant 1, so the base's slope is 0 wherever e = 0 — also at a = 0,
#   where e·a^(e−1) is 0·∞ = nan;
# * at a = 0 with e ≥ 0, a^e is 0 (or 1) for every nearby exponent: the exponent's slope is
#   0, although ln 0 = −∞. At a *negative* base ln a does not exist and the answer is nan —
#   a silent 0 would hide the problem.
#
# `np.where(condition, 0, formula)` picks the special value; `np.errstate` silences numpy's
# warnings about the formula's nan in the places `where` throws away.

# %%
check("autograd", "power")

# %% [markdown]
# ### Exercise 5 — unary: exp, log, sqrt, tanh, relu
#
# **File:** `elementwise.py`. One line each: g·eᵃ, g/a, g/(2√a), g·(1 − tanh²a), and g where
# a > 0. Module 02 saved the *output* of `exp`, `sqrt` and `tanh` in `node.saved` — use it
# rather than recomputing. `relu_backward` writes into `out`, a reused buffer (given: a CNN
# runs it on megabytes every step): `np.multiply(..., out=out)`. At exactly 0, relu's slope is
# 0, as in PyTorch.

# %%
check("autograd", "unary")

# %% [markdown]
# ### Exercise 6 — reduce: sum, mean, max/min, var
#
# **File:** `derivatives/reductions.py`. `node.saved` holds `(axes, keepdims, ...)`. A
# reduction's gradient has the *reduced* shape: `_expand(g, axes, keepdims, shape)` (given)
# puts the reduced axes back as size 1 so it broadcasts over the input again.
#
# * `sum`: every element gets g — broadcast it to the input's shape; `mean`: g/n (`_count`);
# * `_extreme_backward` (for both `max` and `min`): g goes to the elements equal to the
#   extreme, shared equally among ties (PyTorch's rule);
# * `var`: 2(x − mean)/(n − ddof) · g. (The mean depends on x too, but that term sums to 0.)

# %%
check("autograd", "reduce")

# %%
x.zero_grad(); w.zero_grad()
loss = ((x * w).sum() - 4.0) ** 2                       # (4.5 - 4)² = 0.25
loss.backward()
print(f"loss {loss.item()}: dL/dx = {x.grad}, dL/dw = {w.grad}")

# %% [markdown]
# ### Exercise 7 — piecewise: maximum/minimum, clip, where
#
# **File:** `elementwise.py`: `_minmax_backward` (the shared rule of `maximum` and `minimum`;
# `pick` is `np.greater` or `np.less`), `clip_backward`, `where_backward`. Each routes g by a
# condition. At a tie `maximum(a, b)` gives each side ½; `clip` passes g at its bounds (lo ≤ a
# ≤ hi); `where` sends g to `a` where the saved condition holds and to `b` elsewhere.

# %%
check("autograd", "piecewise")

# %% [markdown]
# ### Exercise 8 — matmul: C = A @ B
#
# **File:** `derivatives/linalg.py`, the 2-D case of `matmul_backward`: dA = g @ Bᵀ and
# dB = Aᵀ @ g. Check the shapes: A (n, k), B (k, m), g (n, m). The 1-D and batched cases below
# it are given (they reduce to this one and `sum_to_shape`).

# %%
check("autograd", "matmul")

# %% [markdown]
# ### Exercise 9 — moves: reshape, permute, pad
#
# **File:** `derivatives/shape.py`. These ops move values without changing them, so each
# gradient is the move run backwards: reshape g to the input's shape; permute g by the inverse
# permutation (`np.argsort(node.saved)`); cut the padding off (`node.saved` is the pad width,
# `(before, after)` per axis).

# %%
check("autograd", "moves")

# %% [markdown]
# ### Exercise 10 — index: x[key]
#
# **File:** `shape.py`, `getitem_backward`. Start from zeros of the input's shape and put g back
# where the elements came from. Slices and boolean masks pick each element at most once, so
# `out[key] = g` works; an integer array may pick one element twice (`x[[0, 0]]`, an embedding
# lookup), and then both gradients must be *added*: `np.add.at`. (A fast path for a single
# integer array is given above your block.)

# %%
check("autograd", "index")

# %% [markdown]
# ### Exercise 11 — concat: cat
#
# **File:** `shape.py`, `cat_backward`. `node.saved = (axis, sizes)`: split g at the joins
# (`np.split` at the cumulative sizes) and give each input its piece — `None` for an input that
# does not require grad.

# %%
check("autograd", "concat")

# %% [markdown]
# ### Exercise 12 — fold: the derivative of the sliding window
#
# **File:** `shape.py`, `sliding_window_backward`. `x.sliding_window(window, stride, dilation)`
# (module 02) is what convolution and pooling are built on: a view whose entry [..., i, j, u, v]
# is pixel (i·stride + u·dilation, j·stride + v·dilation). Its derivative adds each window's
# gradient back onto the pixels it covered — overlapping windows add up. A loop over pixels
# would be far too slow; loop over the kh·kw **taps** of the window instead, and add one whole
# strided slice per tap (nine numpy operations for 3×3, whatever the image size; a test counts
# them).

# %%
check("autograd", "fold")

# %% [markdown]
# ### Exercise 13 — softmax: softmax and log_softmax
#
# **File:** `reductions.py`. With s = softmax(a) saved: the vector-Jacobian product is
# s·(g − Σ g·s); for log-softmax (log s saved): g − s·Σ g, sums along the saved axis with
# `keepdims=True`. The full Jacobian is never built. The famous consequence: the gradient of
# cross-entropy with respect to the logits is softmax − one-hot.

# %%
check("autograd", "softmax")

# %%
logits = Tensor([[2.0, 1.0, 0.1]], requires_grad=True)
(-logits.log_softmax(axis=1)[0, 0]).backward()
print("dCE/dlogits:", logits.grad.numpy(), "\nsoftmax - 1:", logits.softmax(axis=1).numpy() - [1, 0, 0])

# %% [markdown]
# ## Use — train a network with your autograd
#
# Two interleaved spirals, a 2-64-2 MLP, plain gradient descent: `loss.backward()` is your
# engine and your rules; the update is one line per parameter.

# %%
import matplotlib.pyplot as plt

from tinytorch.core.autograd import gradcheck, no_grad

rng = np.random.default_rng(0)
n = 200
r = np.sqrt(rng.uniform(0.05, 1.0, n))
labels = rng.integers(0, 2, n)
angle = 3 * np.pi * r + np.pi * labels
points = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) + 0.03 * rng.standard_normal((n, 2))
X, y = Tensor(points), labels

params = [Tensor(rng.standard_normal((2, 64)) * np.sqrt(2 / 2), requires_grad=True),
          Tensor(np.zeros(64), requires_grad=True),
          Tensor(rng.standard_normal((64, 2)) * np.sqrt(2 / 64), requires_grad=True),
          Tensor(np.zeros(2), requires_grad=True)]


def mlp(inp):
    W1, b1, W2, b2 = params
    return (inp @ W1 + b1).relu() @ W2 + b2


losses, start = [], time.perf_counter()
for step in range(600):
    loss = -mlp(X).log_softmax(axis=1)[np.arange(n), y].mean()
    for p in params:
        p.zero_grad()
    loss.backward()
    for p in params:
        p.data -= 0.5 * p.grad.data
    losses.append(loss.item())
seconds = time.perf_counter() - start

gx, gy = np.meshgrid(np.linspace(-1.2, 1.2, 120), np.linspace(-1.2, 1.2, 120))
with no_grad():
    pred = mlp(Tensor(np.stack([gx.ravel(), gy.ravel()], axis=1))).numpy().argmax(axis=1)
    accuracy = (mlp(X).numpy().argmax(axis=1) == y).mean()
fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
ax[0].semilogy(losses); ax[0].set_xlabel("step"); ax[0].set_title("cross-entropy")
ax[1].contourf(gx, gy, pred.reshape(gx.shape), alpha=0.3, cmap="coolwarm")
ax[1].scatter(points[:, 0], points[:, 1], c=y, s=8, cmap="coolwarm"); ax[1].set_title("decision")
plt.tight_layout(); plt.show()
print(f"600 steps in {seconds:.1f} s; loss {losses[0]:.3f} -> {losses[-1]:.3f}; "
      f"training accuracy {accuracy:.1%}")
print("gradcheck of the whole MLP's loss (float64, central differences):",
      gradcheck(lambda W1: -((X @ W1 + params[1]).relu() @ params[2] + params[3])
                .log_softmax(axis=1)[np.arange(20), y[:20]].mean(), [params[0].data]))

# %% [markdown]
# ## Reflect
#
# 1. **What does the graph cost?** Time a forward pass of a wider MLP with the graph recorded,
#    without it (`no_grad`), and the backward pass:

# %%
wide = [Tensor(rng.standard_normal(s) * 0.05, requires_grad=True) for s in ((784, 256), (256, 10))]
batch = Tensor(rng.standard_normal((512, 784)))


def forward():
    return ((batch @ wide[0]).relu() @ wide[1]).log_softmax(axis=1).mean()


def forward_no_grad():
    with no_grad():
        return forward()


def forward_backward():
    forward().backward()


best = {fn: float("inf") for fn in (forward, forward_no_grad, forward_backward)}
for _ in range(7):                       # interleaved rounds, best of each: less noise
    for fn in best:
        t0 = time.perf_counter()
        fn()
        best[fn] = min(best[fn], time.perf_counter() - t0)


def graph_bytes(out):
    """Bytes of the distinct arrays the graph of ``out`` keeps alive: inputs and saved values."""
    seen, total = set(), 0
    for t in topological_order(out):
        node = t.grad_fn
        saved = node.saved if isinstance(node.saved, tuple) else (node.saved,)
        for a in [i.data for i in node.inputs] + list(saved):
            if isinstance(a, np.ndarray) and id(a) not in seen:
                seen.add(id(a))
                total += a.nbytes
    return total


f, f_ng, fb = best[forward], best[forward_no_grad], best[forward_backward]
print(f"forward {f * 1e3:.1f} ms, under no_grad {f_ng * 1e3:.1f} ms, backward alone "
      f"{(fb - f) * 1e3:.1f} ms ({(fb - f) / f:.1f}x the forward)")
print(f"the recorded graph keeps {graph_bytes(forward()) / 2**20:.2f} MiB of arrays alive; "
      f"the batch itself is {batch.data.nbytes / 2**20:.2f} MiB")

# %% [markdown]
#    Each matmul in the forward becomes two in the backward (dA and dB): does the ratio you
#    measured match? The graph holds every op's inputs (and what it saved) until `backward()`
#    frees it: which of those arrays grow with the batch size, and which do not?
# 2. Sixty stacked diamonds, `y = y * 0.5 + y * 0.5`, have 2⁶⁰ paths from the output to `x`.
#    Why does your engine run each derivative exactly once, and what would a recursive
#    "for each input, call backward on it" do?
# 3. Leaves *accumulate* into `.grad`; intermediates add into `grads` and then let go. Why must
#    a training loop call `zero_grad()`, and when is accumulating across two backward passes
#    exactly what you want?
# 4. `relu'(0)` is 0 here and `maximum` splits ties ½–½. Does a choice at a single point matter
#    when training on real data? When does it (think of gradient checks, and of `relu(0)` in a
#    network whose biases start at zero)?
