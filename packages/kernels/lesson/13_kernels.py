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
# # Module 13 — Kernels: making numpy fast, and proving it
#
# Everything you have built is correct; this module makes it *fast* — and teaches the
# discipline that turns "I think this is faster" into a number you can defend. Each kernel
# comes as a slow, obviously right version and faster ones; the tests check they compute the
# same thing, and a timing harness **you write first** measures how much faster they are on
# this machine, now.
#
# The order: the harness (quartiles, one timed run, alternated rounds) → matrix multiply
# (loops, cache tiles, BLAS) → memory layout (strides) → fused elementwise ops → convolution
# (loops → taps → im2col + one GEMM → channels-last) → threads.
#
# Given: argument checks, output buffers, the calibration that doubles the calls per run, the
# thread pool, the Tensor-op wrappers and the `tito kernels` suite. The full measured tables
# and the "why" of BLAS are in the [README](https://tinytorch.github.io/tinytorch/modules/kernels/).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("kernels")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import os

import numpy as np

rng = np.random.default_rng(0)

# %% [markdown]
# ## Build
#
# ### Exercise 1 — quartiles and benchmark: a timing worth quoting
#
# **File:** `src/tinytorch/core/kernels/timing.py`.
#
# * `quartiles(values)` → `(q1, median, q3)`. The p-quantile of n sorted values sits at
#   position `p·(n − 1)`; between two values, interpolate linearly (numpy's default). One
#   value is its own three quartiles.
# * `_time_run(fn, args, number, timer)` → seconds **per call**: read the clock, call
#   `fn(*args)` `number` times, read it again, divide. `benchmark` (given) wraps it: untimed
#   warm-up calls, calls per run doubled until a run lasts `min_time`, garbage collector
#   paused, `repeat` runs. Why the median? The mean is dragged by the one run another process
#   interrupted; the minimum is a lucky run nobody sees again.
#
# The tests run it on a fake clock whose readings they choose, so every statistic is exact.

# %%
check("kernels", "quartiles", k="quartiles or benchmark")

# %% [markdown]
# ### Exercise 2 — compare: alternate the contenders
#
# **File:** `timing.py`, the rounds of `compare(contenders, ...)`.
#
# Timing A seven times, then B seven times, compares A on a quiet minute with B on a busy one.
# Instead, round r times one run of every contender: in the given order when r is even,
# reversed when odd (A B C, C B A, …), so a steady drift hits everyone alike. Append each run
# to `samples[name]` and each name to `order`. The verdict is a *ratio* of medians.

# %%
check("kernels", "compare")

# %% [markdown]
# ### Exercise 3 — matmul_loops and matmul_blocked
#
# **File:** `src/tinytorch/core/kernels/matmul.py`.
#
# * `matmul_loops(a, b)`: `out[i][j] = Σ_p a[i][p]·b[p][j]`, three Python loops over the
#   lists `rows`, `cols` (given: converted once, so what you time is the interpreter).
# * `matmul_blocked(a, b, block)`: for every output tile `C[i:i+bs, j:j+bs]`, loop over `p` in
#   steps of `bs` and add `A[i:i+bs, p:p+bs] @ B[p:p+bs, j:j+bs]` into it (`np.dot`). Slicing
#   handles ragged edges. Each number loaded is reused `bs` times while its tile is in cache.

# %%
check("kernels", "matmul", k="matmul_loops or matmul_blocked")

# %% [markdown]
# ### Exercise 4 — strides and contiguity
#
# **File:** `src/tinytorch/core/kernels/layout.py`.
#
# * `contiguous_strides(shape, itemsize, order)`: in C order the last axis steps one item and
#   each earlier axis steps the size of everything after it — (2, 3, 4) of 4-byte floats →
#   (48, 16, 4); F order is the mirror image. An axis of length 0 counts as 1.
# * `is_contiguous(shape, strides, itemsize, order)`: the strides equal the contiguous ones,
#   ignoring axes of length 1 (they never move). Empty arrays are handled above the block.

# %%
check("kernels", "strides", k="strides or contiguity")

# %%
from tinytorch.core.kernels import describe

x = np.zeros((3, 4), np.float32)
for label, view in [("x", x), ("x.T", x.T), ("x[:, ::2]", x[:, ::2]), ("x[None]", x[None])]:
    print(f"{label:10s} {describe(view)}")

# %% [markdown]
# ### Exercise 5 — bias_relu and gelu: fewer trips to memory
#
# **File:** `src/tinytorch/core/kernels/elementwise.py`.
#
# An elementwise op does one operation per 8 bytes moved; its speed is memory's. The output
# buffer `out` is prepared (checked, never overlapping `x`).
#
# * `bias_relu_fused`: `np.add(x, b, out=out)` (with `b` cast to `x.dtype`), then clamp `out`
#   in place with `np.maximum(..., out=out)` — no new arrays.
# * `gelu_tanh_fused`: `gelu(x) = x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))`, rewritten as
#   `x · (0.5·tanh(x·(a + b·x²)) + 0.5)` with `a = GELU_C`, `b = GELU_C·GELU_CUBIC`: eight
#   in-place passes over `out`, no `x**3` (numpy's general `power` is far slower than
#   multiplies), Python-float constants (a `np.float64` would promote float32 to float64).
# * `gelu_tanh_chunked`: run the fused chain on slices of `step` elements of the flat arrays,
#   so its eight passes hit the L2 cache instead of DRAM.

# %%
check("kernels", "bias_relu", k="bias_relu or gelu")

# %% [markdown]
# ### Exercise 6 — conv_loops and conv_taps
#
# **File:** `src/tinytorch/core/kernels/conv.py`.
#
# $$y[n,o,i,j] = b[o] + \sum_{c,a,b} x_{pad}[n, c, i s_h + a, j s_w + b]\; w[o,c,a,b]$$
#
# * `conv2d_loops`: the formula as seven Python loops over the lists `xp`, `w`, `b` (given;
#   padded already), writing `out[n, o, i, j]`.
# * `conv2d_taps`: loop only over the kh·kw taps. Tap (a, b) sees the slice
#   `xp[:, :, a:a+h_span:sh, b:b+w_span:sw]`, shape (N, C, H_out, W_out); reshaped to
#   (N, C, positions) and left-multiplied by `w[:, :, a, b]` (C_out, C) it adds one term to
#   every output of the batch. Nine small GEMMs for a 3×3 kernel.

# %%
check("kernels", "conv_loops", k="conv_loops or conv_taps")

# %% [markdown]
# ### Exercise 7 — im2col_matrix and conv_gemm: the convolution as one GEMM
#
# **File:** `conv.py`.
#
# * `im2col_loops`: `cols` has shape (N, H_out, W_out, C, kh, kw); fill `cols[..., a, b]` with
#   tap (a, b)'s slice, transposed to (N, H_out, W_out, C). `im2col`: the same with one
#   assignment — `sliding_window_view(xp, (kh, kw), axis=(2, 3))` is a free 6-D view of every
#   window; step it by the stride, transpose it to (N, H_out, W_out, C, kh, kw), assign it into
#   `out` viewed with that shape. Rows are output positions, columns `(C, kh, kw)`.
# * `conv2d_im2col`: `cols @ W` with the weight as a (C·kh·kw, C_out) matrix (reshape, then
#   transpose), plus the bias, then back to NCHW (the GEMM's rows are in NHWC order).

# %%
check("kernels", "im2col_matrix", k="im2col_matrix or conv_gemm")

# %% [markdown]
# ### Exercise 8 — conv_nhwc: channels-last, no transpose at either end
#
# **File:** `conv.py`, `im2col_nhwc` and `conv2d_im2col_nhwc`.
#
# Windows over axes (1, 2) of an NHWC input, columns ordered `(kh, kw, C)`: each copied run is
# C contiguous floats instead of a stride-hopping gather. The weight's rows must follow the
# same order: transpose (C_out, C, kh, kw) to (kh, kw, C, C_out) before the reshape. The GEMM's
# (N·H_out·W_out, C_out) output *is* the NHWC result.

# %%
check("kernels", "conv_nhwc")

# %% [markdown]
# ### Exercise 9 — split_points and map_batch: two cores from Python
#
# **File:** `src/tinytorch/core/kernels/threads.py`.
#
# numpy releases the GIL inside its loops and BLAS calls, so threads that each process part of
# a batch really run at once.
#
# * `split_points(n, parts)`: boundaries of `parts` contiguous pieces whose sizes differ by at
#   most one — `[n·i // parts for i in 0..parts]`.
# * `map_batch`: one zero-argument task per piece `(start, stop)` of `edges`, run by
#   `run_in_threads` (given). Beware: a `lambda` in a loop sees the loop variables' *last*
#   values unless you bind them (`lambda s=s, e=e: piece(s, e)`).

# %%
check("kernels", "split_points", k="split_points or map_batch")

# %% [markdown]
# ## Use — measure your kernels
#
# BLAS is pinned to one thread so each comparison changes one thing. Every figure below is
# a median of alternated runs; the machine's load is printed with them, because a busy
# machine shifts every number.

# %%
from tinytorch.core.kernels import (blas_threads, compare, conv2d_im2col, conv2d_im2col_nhwc,
                                    conv2d_loops, conv2d_taps, gelu_tanh_chunked,
                                    gelu_tanh_fused, gelu_tanh_unfused, gflops, matmul_blocked,
                                    matmul_flops, matmul_loops, nchw_to_nhwc)

print("load average (1, 5, 15 min):", os.getloadavg(), "on", os.cpu_count(), "CPUs")
with blas_threads(1):
    a = rng.standard_normal((32, 32)).astype(np.float32)
    small = compare({"3 Python loops": lambda: matmul_loops(a, a),
                     "blocked 8x8": lambda: matmul_blocked(a, a, 8),
                     "BLAS": lambda: a @ a}, repeat=5, min_time=0.01)
    print(small)
    for name, t in small.timings.items():
        print(f"{name:15s} {gflops(matmul_flops(32, 32, 32), t.median):8.3f} GFLOP/s")

# %% [markdown]
# The convolution four ways, on a small batch (the loops would take minutes on a real one):

# %%
import matplotlib.pyplot as plt

x = rng.standard_normal((2, 8, 12, 12)).astype(np.float32)
w = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
x_nhwc = nchw_to_nhwc(x)
with blas_threads(1):
    convs = compare({"7 loops": lambda: conv2d_loops(x, w, None, 1, 1),
                     "9 taps": lambda: conv2d_taps(x, w, None, 1, 1),
                     "im2col NCHW": lambda: conv2d_im2col(x, w, None, 1, 1),
                     "im2col NHWC": lambda: conv2d_im2col_nhwc(x_nhwc, w, None, 1, 1)},
                    repeat=5, min_time=0.01)
print(convs)
names = list(convs.timings)
plt.figure(figsize=(6, 2.8))
plt.barh(names, [convs.timings[n].median * 1e3 for n in names])
plt.xscale("log")
plt.xlabel("median ms per call (log scale)")
plt.title("3x3 conv, x (2, 8, 12, 12) -> 16 channels")
plt.show()

# %% [markdown]
# And the GELU, where fusion is about memory, not arithmetic (4 MiB of float32):

# %%
g = rng.standard_normal(1 << 20).astype(np.float32)
buf = np.empty_like(g)
gelus = compare({"one expression": lambda: gelu_tanh_unfused(g),
                 "fused, reused out": lambda: gelu_tanh_fused(g, buf),
                 "fused + chunked": lambda: gelu_tanh_chunked(g, buf)}, repeat=5, min_time=0.02)
print(gelus)

# %% [markdown]
# ## Reflect
#
# 1. The triple loop is thousands of times slower than BLAS on the same FLOPs. Name three
#    things BLAS does that a Python loop cannot (the matmul docstring lists them).
# 2. `matmul_blocked` calls `np.dot` once per tile. What happens to its speed as the tile
#    shrinks, and why is it never faster than one `a @ a`?
# 3. **Systems:** `x.copy()` and `x.T.copy()` move exactly the same bytes. Predict which is
#    faster, then run the cell below. What does a stride of 4096 bytes do to each 64-byte cache
#    line the CPU fetches?
# 4. On a machine shared with other jobs, a second BLAS thread can make a small product
#    *slower*. Why might two threads that wait for each other lose to one?

# %%
big = rng.standard_normal((1024, 1024)).astype(np.float32)
copies = compare({"x.copy()": lambda: big.copy(), "x.T.copy()": lambda: big.T.copy()},
                 repeat=7, min_time=0.02)
print(copies)
print(f"x.T is {copies.speedup('x.T.copy()'):.2f}x the speed of x (median of alternated runs); "
      f"load average now {os.getloadavg()[0]:.2f}")
