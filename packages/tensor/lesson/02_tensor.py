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
# # Module 02 — the Tensor
#
# Every later module — activations, layers, convolutions, attention, losses, optimizers — is
# written in terms of one object: the `Tensor`. You build it here. It is two things:
#
# * **a numpy array with PyTorch's names**: the numbers live in `t.data` (an `np.ndarray`),
#   numpy does the arithmetic, float32 is the default, and errors name the shapes involved;
# * **a record of how each result was computed**: an op on a tensor with `requires_grad=True`
#   returns a result that remembers *which op* made it, *from which inputs* and *what it
#   saved*. Module 09 walks that record backwards to compute gradients.
#
# Every op you write ends the same way: `self._make(data, "op_name", inputs, saved)` wraps the
# new array in a Tensor and records a graph node when one is wanted. Construction, printing,
# dtype handling (`_lift`, `_float_data`) and argument checking are given; you write the ops.
# The [README](https://tinytorch.github.io/tinytorch/modules/tensor/) is the reference (full API, design notes on float32, views,
# broadcasting and the graph record).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("tensor")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import numpy as np

from tinytorch.core.tensor import Tensor, cat, stack, where

x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(x, x.shape, x.dtype, f"{x.data.nbytes} bytes")   # construction is given
print(type(x.data), Tensor([1, 2]).dtype, Tensor(np.arange(3.0)).dtype)

# %% [markdown]
# Python floats are float64, and numpy keeps them so; the Tensor stores them as float32 —
# half the memory, and twice the numbers per SIMD instruction. Integers stay int64.
#
# ### Which dtype an op computes in
#
# When an op meets two dtypes, one rule decides — PyTorch's, written once in
# `src/tinytorch/core/tensor/dtypes.py` (given) and used by every op with two operands
# (`+ - * / ** @`, comparisons, `maximum`, `where`):
#
# 1. **bool < integer < float.** The higher kind wins *and keeps its own width*:
#    float32 with int64 is float32. (numpy says float64 — it widens to fit every int64 exactly;
#    a silent float64 doubles memory and halves speed.)
# 2. **Same kind: the wider.** float32 with float64 is float64; int32 with int64 is int64.
# 3. **Python numbers are weak.** `x * 0.5` stays float32 (and a float64 tensor stays
#    float64); a number changes the dtype only when it is of a higher kind: an int tensor times
#    0.5 is float32, the default float.
# 4. **A numpy array is a tensor in its own dtype**: `x + np.array([0.1])` is float64, and as
#    exact as float64 — only `Tensor(array)` turns float64 data into float32.
# 5. **int / int is float32.**
#
# Layers (module 04) add one rule of their own: a layer computes in its parameters' dtype
# and casts its input to it — PyTorch would refuse a float64 input to a float32 layer.
# Two places where TinyTorch answers where PyTorch refuses: `@` of two dtypes follows rule 1–2,
# and `mean` of an int tensor is float32 (it is `sum / n`, rule 5).

# %%
from tinytorch.core.tensor.dtypes import result_dtype, scalar_dtype

print(result_dtype(np.float32, np.int64), result_dtype(np.float32, np.float64),
      result_dtype(np.int32, np.int64))           # rules 1 and 2: two tensors
print(scalar_dtype(0.5, np.float32), scalar_dtype(0.5, np.int64),
      scalar_dtype(2, np.int32))                  # rule 3: a Python number next to a tensor

# %% [markdown]
# ## Build
#
# ### Exercise 1 — binary_op: one broadcasting binary op for + - * /
#
# **File:** `src/tinytorch/core/tensor/arithmetic.py`, method `ArithmeticOps._binary(self,
# other, op, ufunc)`.
#
# `x + y`, `x - y`, `x * y` and `x / y` are each *given* as one line —
# `return self._binary(other, ADD, np.add)` and so on — so the substance lives in one place,
# which you write once. `ADD` is one of the op names in `opnames.py` (`ADD = "add"`): module 09
# registers each derivative under the same constant, so forward and derivative cannot drift
# apart by a typo. Here is what you write:
#
# 1. **lift** the other operand: `other = self._lift(other)` turns a scalar, list or array into
#    a Tensor (a Python float takes this tensor's dtype, so `x * 0.5` stays float32; an array
#    keeps its own dtype);
# 2. **choose the dtype** with the rule above: `dtype = result_dtype(self.data.dtype,
#    other.data.dtype)`;
# 3. **apply** `ufunc` to both arrays cast to it (`.astype(dtype, copy=False)` costs nothing
#    when the dtype already matches): numpy broadcasts, e.g. (2, 1) with (3,) gives (2, 3);
# 4. when the shapes can't broadcast numpy raises `ValueError`; raise
#    `broadcast_error(op, self.data.shape, other.data.shape) from None` instead, which says
#    `add: shapes (2, 3) and (4, 3) cannot be broadcast together (dimension -2: 2 vs 4)`;
# 5. **int / int**: numpy's true division of integers gives float64 — if the result's dtype
#    is not `dtype`, cast it to `DEFAULT_FLOAT` (float32);
# 6. **record**: `return self._make(data, op, (self, other))` — both inputs, in order.
#
# The reflected forms (`1.0 - x` calls `x.__rsub__`) are given too: they lift the left operand
# and call its `__sub__`, so the order of the inputs is right.

# %%
check("tensor", "binary_op")

# %% [markdown]
# Try it: a column plus a row is a table — nothing is copied to make the shapes match.

# %%
col = Tensor([[0.0], [10.0], [20.0]])        # (3, 1)
row = Tensor([1.0, 2.0, 3.0, 4.0])           # (4,)
print(col + row)
print((Tensor([1, 2]) / 2).dtype, (x * 0.5).dtype, (x * Tensor([1, 2, 3])).dtype,
      (x + np.array([0.1, 0.2, 0.3])).dtype)     # rules 5, 3, 1 and 4
try:
    Tensor(np.ones((2, 3))) + Tensor(np.ones((4, 3)))
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ### Exercise 2 — compare_op: ops that stay out of the graph
#
# **File:** `arithmetic.py`, method `ArithmeticOps._binary_no_grad(self, other, op, ufunc)`.
#
# `== != < <= > >=`, `//`, `%`, `&` and `|` are given one-liners calling `_binary_no_grad`. It is
# `_binary` without two things: no int / int fix-up (the operands are still cast to
# `result_dtype`, and a comparison gives bool), and **no graph inputs** — record with `self._make(data, op, ())`. `x > 0` is a step function: its derivative
# is zero wherever it exists, so there is nothing to send back and nothing to remember.

# %%
check("tensor", "compare_op")

# %% [markdown]
# ### Exercise 3 — unary_math: elementwise functions of one tensor
#
# **Files:** `arithmetic.py` (`__neg__`) and `math_ops.py` (`exp`, `log`, `sqrt`, `abs`,
# `tanh`, `relu`, `clip`).
#
# The pattern: compute the new array with numpy, then `self._make(out, EXP, (self,), saved)`
# (`EXP`, like every op name, is imported from `opnames.py`; the files already import them).
# Two decisions per op:
#
# * **dtype**: `self._float_data("exp")` gives the data as float (an int tensor becomes float32;
#   e**1 is not an integer). `abs`, `relu` and `-x` keep ints as ints: use `self.data`.
# * **what to save** for the backward pass: `exp`, `sqrt` and `tanh` save their *output*
#   (d exp = exp, d sqrt = 1/(2·sqrt), d tanh = 1 − tanh²); `log`, `abs`, `relu`, `-x` save
#   nothing; `clip` saves its bounds `(lo, hi)`.
#
# `relu` is one `np.maximum`: compare with a zero of the tensor's own dtype
# (`self.data.dtype.type(0)`) so the dtype is kept, and every non-positive input, -0.0
# included, comes out as +0.0. (The ReLU layers of module 03 run the same op in a form that
# reuses its output buffer — speed, kept out of the lesson in `fused.py`.) `log1p`, `sin`,
# `cos`, `erf`, `sign` and `minimum`/`maximum` are given: they follow the same pattern.

# %%
check("tensor", "unary_math")

# %%
z = Tensor([-2.0, -0.5, 0.0, 0.5, 2.0])
print("tanh", z.tanh())
print("relu", z.relu(), " clip", z.clip(-1, 1), " exp(int)", Tensor([0, 1]).exp())

# %% [markdown]
# ### Exercise 4 — pow_op: x ** y
#
# **File:** `arithmetic.py`, method `__pow__`. A binary op like exercise 1 — the lifting and
# the cast to `result_dtype` are given this time (`base`, `power`); you write `np.power`,
# `broadcast_error("pow", ...)` and the record with inputs `(self, exponent)` — but it saves
# its output: module 09 needs `out` for both derivatives, e·out/x and out·ln x.

# %%
check("tensor", "pow_op")

# %% [markdown]
# ### Exercise 5 — matmul: the matrix product
#
# **File:** `arithmetic.py`, method `matmul`. `(..., n, k) @ (..., k, m) → (..., n, m)` with
# `out[i, j] = Σ_k a[i, k]·b[k, j]`; 1-D operands are vectors; leading (batch) dimensions
# broadcast. The dtype (the rule above: float32 @ int64 is float32) and the shape checks with
# their messages are given; you write `np.matmul`, turn a
# batch-broadcast `ValueError` into `broadcast_error("matmul (batch dimensions)", ...)`, and
# record inputs `(self, other)`.

# %%
check("tensor", "matmul")

# %% [markdown]
# ### Exercise 6 — reduction: sum, mean, max, var, argmax
#
# **File:** `reductions.py`. `axis=None` reduces everything (a 0-d result), an int or tuple
# reduces those axes, `keepdims` keeps them as size 1. Parsing both spellings (numpy's
# `axis`/`keepdims`, PyTorch's `dim`/`keepdim`) is given: `axes` is None or a sorted tuple,
# `keep` a bool. Two traps: numpy returns a *scalar*, not an array, for a full reduction (wrap in
# `np.asarray`), and `mean`/`var` must keep x's float dtype. Saves: `(axes, keep)` for sum and
# mean, `(axes, keep, out)` for max (to find the winners), `(axes, keep, ddof)` for var;
# `argmax` returns indices and records no inputs. A 0-d tensor accepts axis 0 and -1, as in
# PyTorch: the parser gives `axes = ()`, and numpy's reduction over no axes returns the value
# unchanged. (`std` is given, as an op of its own: see module 09 for why not `var().sqrt()`.)

# %%
check("tensor", "reduction")

# %%
scores = Tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
print(scores.sum(), scores.mean(axis=0), scores.max(axis=1, keepdims=True).shape,
      scores.argmax(axis=1), scores.std())
# PyTorch's spelling with one dim gives the values *and* where they are (given, not an exercise):
best, at = scores.max(dim=1)
print(best, at)

# %% [markdown]
# ### Exercise 7 — softmax: stable softmax and log-softmax
#
# **File:** `math_ops.py`, methods `softmax` and `log_softmax`.
# softmax(x)ᵢ = exp(xᵢ) / Σⱼ exp(xⱼ) along `axis`. Written literally it overflows: exp(1000) is
# inf in float32 (the largest float32 is about 3.4e38 ≈ e^88.7). Since softmax(x) =
# softmax(x − c) for any c, subtract the max along the axis first. For log-softmax compute
# `shifted − log(Σ exp(shifted))` directly — never `log(softmax)`, which is log(0) = −inf when a
# probability underflows. Both save `(out, axis)`.

# %%
check("tensor", "softmax")

# %%
big = np.array([1000.0, 1001.0, 1002.0], dtype=np.float32)
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum()
print("naive numpy:", naive, "  yours:", Tensor(big).softmax(), "  log:", Tensor(big).log_softmax())

# %% [markdown]
# ### Exercise 8 — shape_op: reshape, permute, pad
#
# **File:** `shape_ops.py`. `reshape` keeps the elements in order and changes only the shape
# (one dimension may be −1); catch numpy's `ValueError` and name both shapes and the element
# count. `permute(axes)` reorders dimensions (`ndarray.transpose(axes)`) and saves `axes`;
# `view`, `flatten`, `squeeze`, `unsqueeze`, `transpose`, `swapaxes` and `.T` are given and end
# in these two. `pad` is `np.pad` with a constant, saving the widths. Reshape and permute return
# **views**: new shape and strides over the same memory, no copy.

# %%
check("tensor", "shape_op")

# %%
img = Tensor(np.arange(24.0).reshape(1, 2, 3, 4))            # N, C, H, W
nhwc = img.permute(0, 2, 3, 1)
print(nhwc.shape, "strides", img.data.strides, "->", nhwc.data.strides,
      "shares memory:", np.shares_memory(img.data, nhwc.data))

# %% [markdown]
# ### Exercise 9 — indexing: x[key]
#
# **File:** `indexing.py`, method `__getitem__`. The result must equal `x.numpy()[key]` for
# every key numpy accepts: ints, slices, `None`, `...`, integer arrays, boolean masks (tensors
# and lists in the key are already turned into arrays for you). Catch `IndexError` and name the
# key and the shape; wrap the result in `np.asarray` (`x[1, 2]` is a numpy scalar); save the
# key — the backward pass scatter-adds into exactly the positions it picked.

# %%
check("tensor", "indexing")

# %%
logits = Tensor([[0.1, 2.0, -1.0], [1.5, 0.2, 0.3]])
print(logits[:, 1], logits[logits > 1.0], logits.gather_rows(Tensor([1, 0])))

# %% [markdown]
# ### Exercise 10 — cat_stack, and Exercise 11 — where
#
# **File:** `functions.py`. `cat` joins along an existing axis and saves `(axis, sizes)` so the
# gradient can be split back; `stack` joins along a new axis and saves `axis`. `where(cond, a,
# b)` picks elementwise (all three broadcast), records inputs `(a, b)` and saves `cond`. The
# argument checks and the lifting of scalars are given.

# %%
check("tensor", "cat_stack")

# %%
check("tensor", "where")

# %%
print(cat([x, x], axis=1).shape, stack([x, x]).shape, where(x > 3.0, x, 0.0))

# %% [markdown]
# ### Exercise 12 — sliding_window: convolution's primitive
#
# **File:** `windows.py`, method `sliding_window(window_shape, stride, dilation)`. On an
# (N, C, H, W) tensor with a (kh, kw) window it returns (N, C, H_out, W_out, kh, kw), where
# `out[..., i, j, p, q] = x[..., i·stride + p·dilation, j·stride + q·dilation]` — every patch
# the kernel sees, as a **strided view** (not one pixel copied). The checks are given, and
# `extent` is the span of one dilated window. Hint: `sliding_window_view` (imported) gives every
# window of size `extent` at stride 1; slicing with steps picks the stride and the dilation.

# %%
check("tensor", "sliding_window")

# %% [markdown]
# ## Use: edges and a fit, with nothing but your Tensor
#
# A convolution is a sliding window, a reshape and a matmul. Draw a disc, and find its edge
# with two 3×3 Sobel kernels — an edge is where the brightness changes fast.

# %%
import matplotlib.pyplot as plt

yy, xx = np.mgrid[0:64, 0:64]
disc = Tensor(((yy - 32) ** 2 + (xx - 28) ** 2 < 18 ** 2).astype(np.float32)).reshape(1, 1, 64, 64)
sobel = Tensor([[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],
                [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]])       # (2, 3, 3)
padded = disc.pad(((0, 0), (0, 0), (1, 1), (1, 1)))                          # (1, 1, 66, 66)
patches = padded.sliding_window((3, 3))                                      # (1, 1, 64, 64, 3, 3)
grads = patches.reshape(64 * 64, 9) @ sobel.reshape(2, 9).T                 # (4096, 2)
edges = ((grads ** 2).sum(axis=1)).sqrt().reshape(64, 64)

fig, ax = plt.subplots(1, 2, figsize=(7, 3.2))
ax[0].imshow(disc.reshape(64, 64).numpy(), cmap="gray"); ax[0].set_title("input")
ax[1].imshow(edges.numpy(), cmap="magma"); ax[1].set_title("|Sobel gradient|")
plt.show()
print(f"edge pixels (|g| > 1): {int((edges > 1.0).sum().item())}; the patches hold "
      f"{patches.numel() / padded.numel():.1f}x the padded image's elements, yet share its "
      f"memory: {np.shares_memory(patches.data, padded.data)}")

# %% [markdown]
# And a least-squares fit by gradient descent, the gradient written out by hand (module 09 will
# compute it for you): y ≈ X·w + b, loss = mean((Xw + b − y)²), dL/dw = 2·Xᵀ(Xw + b − y)/n.

# %%
rng = np.random.default_rng(0)
X = Tensor(rng.uniform(-1, 1, (200, 2)))
true_w = Tensor([[3.0], [-2.0]])
y = X @ true_w + 0.5 + 0.1 * Tensor(rng.standard_normal((200, 1)))
w, b, losses = Tensor(np.zeros((2, 1))), 0.0, []
for step in range(150):
    err = X @ w + b - y
    losses.append((err ** 2).mean().item())
    w = w - 0.2 * (2.0 * (X.T @ err) / 200)
    b = b - 0.2 * 2.0 * err.mean().item()
plt.figure(figsize=(4, 2.6)); plt.semilogy(losses); plt.xlabel("step"); plt.ylabel("loss")
plt.show()
print("w =", w.reshape(-1), f"b = {b:.3f}", f"final loss {losses[-1]:.4f}")

# %% [markdown]
# ## Reflect
#
# 1. The promotion rule keeps float32 with int64 in float32, where numpy would widen to
#    float64. Measure what that protects, below: memory and time of the same elementwise work
#    in both dtypes (best of 5 runs; elementwise ops are limited by memory traffic, so bytes
#    are time).

# %%
for dtype in (np.float32, np.float64):
    a = Tensor(rng.standard_normal((1024, 1024)), dtype=dtype)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        (a * a + a) / 2.0
        runs.append(time.perf_counter() - start)
    print(f"{np.dtype(dtype).name}: {a.data.nbytes / 2**20:.0f} MiB per tensor, "
          f"(a*a + a)/2 in {min(runs) * 1e3:.1f} ms")

# %% [markdown]
# 2. A tensor of shape (N, C, H, W) holds N·C·H·W·4 bytes in float32. How much memory do the
#    3×3 patches of a batch of 64 images of 3×32×32 take as a view, and after `.contiguous()`?
#    Measure:

# %%
batch = Tensor(np.zeros((64, 3, 32, 32), dtype=np.float32))
win = batch.sliding_window((3, 3))
copied = win.contiguous()
print(f"batch {batch.data.nbytes / 2**20:.2f} MiB; windows as a view share it "
      f"({np.shares_memory(win.data, batch.data)}); copied: {copied.data.nbytes / 2**20:.2f} MiB "
      f"= {copied.data.nbytes / batch.data.nbytes:.1f}x")

# %% [markdown]
# 3. Comparisons record no inputs, so `(x > 0).requires_grad` is False even when `x` requires
#    grad. How, then, does ReLU's gradient reach `x`? (Which op records it, and what does its
#    derivative read?)
# 4. `log_softmax` is not computed as `softmax(x).log()`. Find an input where the second gives
#    `-inf` and the first a finite number.
