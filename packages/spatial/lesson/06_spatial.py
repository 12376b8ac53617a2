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
# # Module 06 — Spatial: convolution, pooling and batch normalisation
#
# A Dense layer on a 32×32 colour image sees 3072 unrelated numbers: it does not know that
# neighbouring pixels belong together, and a cat in the left corner teaches it nothing about a
# cat in the right corner. A **convolution** slides one small kernel (3×3, say) over the image and
# computes the same weighted sum at every position: few weights, shared everywhere, and a
# feature map that moves when the picture moves. Pooling then shrinks the maps, and batch
# normalisation keeps their scale steady so deep stacks train.
#
# You write every op twice, the way the course builds understanding:
#
# * the **definition** — `conv2d_naive`, four Python loops that are obviously right;
# * the **composite path** — convolution as one matrix product (*im2col*), pooling and batch
#   norm, written only with Tensor ops so module 09 differentiates them with no extra code.
#
# Given: the geometry (`conv_geometry`, `pool_geometry`: every size checked, with errors that name
# the layer and the shape), the layers (`Conv2d`, `MaxPool2d`, `BatchNorm2d`...) and the **fused
# kernels** (`conv2d_fused`, ...): hand-written numpy forward *and* backward, several times faster,
# which the layers use by default. They are the engineering answer to "how fast can numpy go";
# your composite path is the reference they are tested against. The [README](https://tinytorch.github.io/tinytorch/modules/spatial/)
# explains them and measures them.

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("spatial")   # autoreload on; says whether YOUR version or the reference is installed

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinytorch.core.tensor import Tensor, manual_seed

# A synthetic 32×32 grey picture: a disc, a square and a diagonal bar.
yy, xx = np.mgrid[0:32, 0:32]
picture = np.zeros((32, 32), dtype=np.float32)
picture[(yy - 10) ** 2 + (xx - 10) ** 2 < 36] = 1.0
picture[18:28, 16:28] = 0.6
picture[np.abs(yy - (31 - xx)) < 2] = 0.3
image = picture[None, None]                       # (N=1, C=1, H=32, W=32)

dense_weights = (3 * 32 * 32) * (3 * 32 * 32)     # a Dense map from one colour image to another
conv_weights = 3 * 3 * 3 * 3                      # a 3×3 convolution, 3 channels in and out
print(f"same-size colour map: Dense {dense_weights:,} weights, 3×3 convolution {conv_weights}")

# %% [markdown]
# ## Build
#
# The files are in your workspace under `src/tinytorch/core/spatial/`.
#
# ### Exercise 1 — conv_naive: the definition, in loops
#
# **File:** `naive.py`. **Function:** `conv2d_naive(x, weight, bias, stride, padding, dilation,
# groups)`: `x` (N, C_in, H, W), `weight` (C_out, C_in/groups, kh, kw) → (N, C_out, H_out, W_out):
#
#     y[n, o, i, j] = b[o] + Σ_c Σ_a Σ_b  x_pad[n, c, i·s_h + a·d_h, j·s_w + b·d_w] · w[o, c, a, b]
#
# with H_out = (H + 2·p_h − d_h·(kh − 1) − 1) // s_h + 1. *Stride* s skips positions, *padding* p
# adds zeros around the image, *dilation* d spreads the kernel's taps apart. With *groups* G
# the channels split into G independent convolutions: output channel o reads only the input
# channels of its group, `o // c_out_group`.
#
# Given: `geo` (every size), `xp` (the padded input), `out` (zeros to fill), and `eh`, `ew` (the
# span of one dilated window). Loop over n, o, i, j; a window is one numpy slice with a step,
# and `np.sum(patch * wd[o])` is the weighted sum.

# %%
check("spatial", "conv_naive")

# %%
from tinytorch.core.spatial import conv2d_naive

sobel = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
kernels = np.stack([sobel, sobel.T])[:, None]      # (C_out=2, C_in=1, 3, 3): x- and y-edges
start = time.perf_counter()
edges = conv2d_naive(image, kernels, padding=1).numpy()
naive_s = time.perf_counter() - start
print(f"edges: {edges.shape}, naive loops on one 32×32 image: {naive_s * 1e3:.1f} ms")

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
for ax, img, title in zip(axes, [picture, edges[0, 0], edges[0, 1]],
                          ["input", "kernel 1: vertical edges", "kernel 2: horizontal edges"]):
    ax.imshow(img, cmap="gray")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ### Exercise 2 — conv_im2col: the convolution as one matrix product
#
# **File:** `composite.py`. **Function:** `conv2d_composite` (same arguments and result).
#
# The loops compute N·C_out·H_out·W_out dot products of length K = kh·kw·C_g. Line them up:
#
# 1. pad H and W with `pad_hw(x, ph, pw)` (given), then `.sliding_window((kh, kw), (sh, sw),
#    (dh, dw))` — module 02's strided *view*, no copy — gives (N, C, H_out, W_out, kh, kw);
# 2. reshape to groups and permute so each row is one patch, its columns in (kh, kw, C_g)
#    order: (G, M = N·H_out·W_out, K) — this reshape is the one copy;
# 3. the kernels become (G, K, C_out/G), columns in the same order; one batched `@` gives
#    (G, M, C_out/G);
# 4. put the result back as (N, C_out, H_out, W_out) and add the bias as (1, C_out, 1, 1).
#
# Why (kh, kw, C_g) and not (C_g, kh, kw)? Memory. The result of step 3 has one row per pixel
# holding its C_out channels: the output is stored *channels-last* — (N, H, W, C) order behind
# its (N, C, H, W) shape — and the ops after it (batch norm, ReLU, pooling) keep that order, as
# `pad_hw` does. In that order a patch's kw·C_g numbers along a row of the image are neighbours
# in memory, so the copy of step 2 moves long runs instead of three numbers at a time.
#
# Every step is a Tensor op, so this function trains once module 09 is installed. Given: `geo`
# and the short names n, g, cg, cog, h_out, w_out, kh, kw.

# %%
check("spatial", "conv_im2col")

# %%
from tinytorch.core.spatial import conv2d_composite, conv2d_fused

rng = np.random.default_rng(0)
xb = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
wb = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
timings = {}
for name, fn in [("naive loops", conv2d_naive), ("your im2col", conv2d_composite),
                 ("fused (given)", conv2d_fused)]:
    start = time.perf_counter()
    result = fn(xb, wb, padding=1).numpy()
    timings[name] = (time.perf_counter() - start, result)
reference = timings["naive loops"][1]
for name, (seconds, result) in timings.items():
    print(f"{name:14s} {seconds * 1e3:8.1f} ms   largest difference from the loops "
          f"{np.abs(result - reference).max():.1e}")

# %% [markdown]
# ### Exercise 3 — max_pool_composite: the largest value of each window
#
# **File:** `composite.py`. **Function:** `max_pool2d_composite(x, kernel_size, stride, padding,
# dilation)`: (N, C, H, W) → (N, C, H_out, W_out), each output the max of its kh×kw window.
# Pad with **−∞** (`pad_hw(x, ph, pw, value=-np.inf)`), never zero — a padded cell must not win
# over negative values — then `sliding_window` and `max` over the last two axes. Given: `geo`.

# %%
check("spatial", "max_pool_composite")

# %% [markdown]
# ### Exercise 4 — avg_pool_composite: the mean of each window
#
# **File:** `composite.py`. **Function:** `avg_pool2d_composite`. Pad with zeros (`pad_hw`), slide,
# average.
# With padding and `count_include_pad=False`, a border window divides by the number of *real*
# cells under it: `divisor` (given) is then an (H_out, W_out, 1) array of those counts; otherwise
# it is the float kh·kw and a plain mean does it.

# %%
check("spatial", "avg_pool_composite")

# %%
from tinytorch.core.spatial import avg_pool2d_composite, max_pool2d_composite

x4 = Tensor(-1 - np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))   # all negative
print("input:\n", x4.numpy()[0, 0])
print("max 2×2:\n", max_pool2d_composite(x4, 2).numpy()[0, 0])
print("max 3×3, stride 2, padding 1 — yours, padded with −∞:\n",
      max_pool2d_composite(x4, 3, 2, 1).numpy()[0, 0])
zero_padded = np.lib.stride_tricks.sliding_window_view(np.pad(x4.numpy()[0, 0], 1), (3, 3))[::2, ::2]
print("the same windows padded with 0 instead (wrong: the padding wins):\n", zero_padded.max(axis=(2, 3)))
print("avg 2×2:\n", avg_pool2d_composite(x4, 2).numpy()[0, 0])

# %% [markdown]
# ### Exercise 5 — adaptive_pool: any size in, a fixed size out
#
# **File:** `composite.py`. **Function:** `averaging_matrix(size, out)`: the (out, size) matrix
# whose row i averages cells ⌊i·size/out⌋ to ⌈(i+1)·size/out⌉ − 1 (PyTorch's windows; they overlap
# by one cell when `out` does not divide `size`). Given: `adaptive_avg_pool2d`, which pools H and
# W at once as `A_h @ x @ A_wᵀ` — two small matrix products instead of a loop over windows. It is
# how a classifier accepts images of any size: pool every feature map to 1×1, then Dense.

# %%
check("spatial", "adaptive_pool")

# %%
from tinytorch.core.spatial import adaptive_avg_pool2d
from tinytorch.core.spatial.composite import averaging_matrix

np.set_printoptions(precision=3, suppress=True)
print("averaging_matrix(5, 3):\n", averaging_matrix(5, 3))
print("a 32×32 picture pooled to 4×4:\n", adaptive_avg_pool2d(image, 4).numpy()[0, 0])

# %% [markdown]
# ### Exercise 6 — batch_norm_composite: steady statistics per channel
#
# **File:** `composite.py`. **Function:** `batch_norm_composite(x, running_mean, running_var,
# weight, bias, training, momentum, eps)`:
#
#     y = (x − mean) / √(var + eps) · γ + β        per channel (axis 1)
#
# In **training** mean and var are the batch's, over every axis but 1 (`axes`, given;
# `keepdims=True` so they broadcast), var the biased one (divide by n); then
# `update_running_stats(...)` (given) moves the running averages in place. In **evaluation**
# the running statistics are used (given, reshaped to (1, C, 1, 1)). γ (`weight`) and β (`bias`)
# are optional, reshaped with `bshape`.
#
# Mind the cost: every full-size op is paid again in the backward pass, usually twice. 1/√(var +
# eps) and γ are per channel, so multiply them together first — a (1, C, 1, 1) tensor — and the
# full-size work is one multiply by that scale and one add of β.

# %%
check("spatial", "batch_norm_composite")

# %% [markdown]
# ### Exercise 7 — group_norm: statistics per sample, not per batch
#
# **File:** `normalization.py`. **Function:** `group_norm(x, num_groups, weight, bias, eps)`.
#
# Batch norm's statistics come from the batch, so they are noisy for a batch of 2 and differ
# between training and evaluation. Group norm computes them per sample, over groups of
# channels: view `x` (N, C, *) as (N, G, C/G, *), take the mean μ and the biased variance σ²
# over every axis from 2 on (`keepdims=True`), `y = (x − μ) / √(σ² + eps)`, reshape back, then
# `y·γ + β` per channel (each reshaped to `shape`, given, when it is not None). Use **Tensor**
# ops only (`reshape`, `mean`, `-`, `*`, `/`, `sqrt`): module 09 then differentiates it with no
# rule of its own. The argument checks and the `GroupNorm` layer around it are given.

# %%
check("spatial", "group_norm")

# %% [markdown]
# ## Use: a small convolutional feature extractor, on your composite path
#
# `Conv2d`, `BatchNorm2d` and `MaxPool2d` are the given layers; inside `fused_kernels(False)`
# they run *your* composite functions. Eight random 3×3 kernels on a batch of shifted copies
# of the picture, batch norm, ReLU, 2×2 max pooling: look at what comes out, and check that a
# shifted input gives shifted feature maps (the reason convolutions suit images).

# %%
from tinytorch.core.activations import ReLU
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d, fused_kernels

manual_seed(0)
conv, bn, relu, pool = Conv2d(1, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2)
batch = np.concatenate([np.roll(image, shift, axis=3) for shift in (0, 2, 4, 6)])  # (4, 1, 32, 32)
with fused_kernels(False):
    maps = pool(relu(bn(conv(Tensor(batch))))).numpy()
with fused_kernels(True):
    fused_maps = pool(relu(bn(conv(Tensor(batch))))).numpy()
print("feature maps:", maps.shape, "| composite vs fused:", f"{np.abs(maps - fused_maps).max():.1e}")
print("shift by 2 px in, shift by 1 px out (after the 2×2 pool):",
      np.allclose(maps[1][..., 2:-2], np.roll(maps[0], 1, axis=2)[..., 2:-2], atol=1e-4))

fig, axes = plt.subplots(1, 8, figsize=(12, 1.8))
for c, ax in enumerate(axes):
    ax.imshow(maps[0, c], cmap="viridis")
    ax.set_title(f"channel {c}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Reflect
#
# 1. The naive loops and your im2col do exactly the same multiplications. Where does the speed
#    difference come from?
# 2. Why must max pooling pad with −∞ but average pooling with 0?
# 3. In evaluation, batch norm uses running statistics instead of the batch's. What would go
#    wrong at inference time with a batch of one if it did not?
# 4. **Systems:** im2col buys speed with memory: every input value is copied into up to kh·kw
#    patch rows. Measure the patch matrix against the input it came from, and the time of your
#    composite convolution as the batch grows.

# %%
for n in (1, 8, 32):
    xs = Tensor(rng.standard_normal((n, 16, 32, 32)).astype(np.float32))
    patches = xs.pad(((0, 0), (0, 0), (1, 1), (1, 1))).sliding_window((3, 3))
    patch_bytes = patches.numpy().size * 4          # what a reshape into (M, K) must copy
    start = time.perf_counter()
    conv2d_composite(xs, Tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32)), padding=1)
    ms = (time.perf_counter() - start) * 1e3
    print(f"batch {n:3d}: input {xs.numpy().nbytes / 2**20:6.2f} MiB, patch matrix "
          f"{patch_bytes / 2**20:6.2f} MiB ({patch_bytes / xs.numpy().nbytes:.1f}×), "
          f"composite conv {ms:7.1f} ms ({ms / n:5.2f} ms per image)")
