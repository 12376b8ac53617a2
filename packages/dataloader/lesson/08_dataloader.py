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
# # Module 08 — DataLoader: from a pile of samples to a stream of batches
#
# A training step wants one thing: a batch — a float32 Tensor `(N, C, H, W)` of images and an
# int64 Tensor `(N,)` of labels — and then the next one, in a fresh random order every epoch,
# each image randomly cropped and mirrored so the network never sees exactly the same picture
# twice. This module is the machinery between the files on disk and that stream:
#
# * **batching**: stack samples into Tensors (`default_collate`) and plan which samples go in
#   which batch, with a shuffle you can replay (`DataLoader.batch_indices`);
# * **transforms**: `ToTensor`, `Normalize`, `RandomCrop`, `RandomHorizontalFlip`, each on one
#   sample *and* vectorised on a whole batch, giving the same result;
# * **file formats**: MNIST's IDX files and CIFAR-10's pickled batches.
#
# Given: `Dataset` (anything with `len(ds)` and `ds[i]`), `TensorDataset`, `Subset`,
# `random_split`; the `DataLoader` class around your two functions (argument checks, `fetch`,
# the prefetch thread, `state_dict` for resuming); the downloader (md5 checks, resumed
# transfers) and the restricted unpickler that keeps a CIFAR file from running code. Everything
# below runs on small arrays generated here — no download. The [README](https://tinytorch.github.io/tinytorch/modules/dataloader/) is the
# reference (API tables, CIFAR-10 numbers).

# %%
from tinytorch.setup.lesson import check, setup_lesson

setup_lesson("dataloader")   # autoreload on; says whether YOUR version or the reference is installed

# %% [markdown]
# Our data for the whole lesson: 600 tiny colour images `(3, 16, 16)` of three shapes — a
# square outline, a plus and a diagonal cross — at random places and in random colours, as raw
# `uint8` pixels, the way image files store them. A `TensorDataset` serves them: `ds[i]` is the
# pair `(image i, label i)`.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from tinytorch.core.dataloader import TensorDataset

CLASSES = ("square", "plus", "cross")
rng = np.random.default_rng(0)


def make_shapes(n, size=16, rng=rng):
    """n uint8 images (n, 3, size, size) of a random shape each, and their labels."""
    yy, xx = np.mgrid[0:6, 0:6]
    stamps = np.stack([(yy == 0) | (yy == 5) | (xx == 0) | (xx == 5),   # square outline
                       (yy == 2) | (yy == 3) | (xx == 2) | (xx == 3),   # plus
                       (yy == xx) | (yy == 5 - xx)])                     # cross
    labels = rng.integers(0, 3, n)
    images = np.zeros((n, 3, size, size), np.uint8)
    top, left = rng.integers(0, size - 6, (2, n))
    colour = rng.integers(90, 256, (n, 3)).astype(np.uint8)
    for i in range(n):
        images[i, :, top[i]:top[i] + 6, left[i]:left[i] + 6] = stamps[labels[i]] * colour[i, :, None, None]
    return images, labels


images, labels = make_shapes(600)
ds = TensorDataset(images, labels)
x0, y0 = ds[0]
print(ds)
print(f"ds[0]: image {x0.shape} {x0.dtype}, label {y0} ({CLASSES[y0]}); all images take "
      f"{images.nbytes / 1024:.0f} KiB as uint8")

# %% [markdown]
# ## Build
#
# ### Exercise 1 — collate: a list of samples becomes a batch of Tensors
#
# **File:** `src/tinytorch/core/dataloader/loader.py`, **function:** `default_collate(samples)`.
#
# `samples` is what N calls of `ds[i]` returned, e.g. `[(x0, y0), (x1, y1), ...]` with `x` an
# array `(C, H, W)` and `y` a number. Return a tuple with one Tensor per field, each stacked
# along a new first axis: `(Tensor (N, C, H, W), Tensor (N,))`.
#
# * a tuple sample of K fields → collate each field separately (recursion) → tuple of K;
# * otherwise `np.stack` the samples (a sample that is a Tensor: stack its `.data`) and wrap the
#   result with the given `to_batch_tensor`, which fixes the dtypes (floats → float32, labels →
#   int64, raw `uint8` pixels stay `uint8`);
# * samples of different shapes cannot be stacked: raise a `ValueError` that lists the shapes.
#
# Given: the empty-list and field-count checks, and dicts (collated key by key).

# %%
check("dataloader", "collate")

# %%
from tinytorch.core.dataloader import default_collate

xb, yb = default_collate([ds[i] for i in range(4)])
print("images", xb.shape, xb.dtype, "| labels", yb.shape, yb.dtype, yb.numpy())

# %% [markdown]
# ### Exercise 2 — batch_plan: which samples go in which batch, epoch after epoch
#
# **File:** `loader.py`, **method:** `DataLoader.batch_indices(epoch)` → a list of 1-D integer
# arrays, one per batch, in order.
#
# * the order is `np.arange(n)`, or with `self.shuffle` a permutation drawn from
#   `self._generator(epoch)` — a generator seeded by `(seed, epoch)`, so epoch 3 of a run is the
#   same permutation every time you replay it (this is how a killed run resumes exactly), and
#   epoch 4 is a different one;
# * cut it into consecutive slices of `batch_size`; the last slice is short unless
#   `batch_size` divides `n`; with `drop_last` that short slice is dropped.
#
# Given: everything else — `__iter__` asks for the plan, then `fetch(indices)` gathers each
# batch, through `ds.get_batch(indices)` when the dataset has it (one fancy-indexing copy per
# array: the *fast path*), else through N calls of `ds[i]` and your `default_collate`.

# %%
check("dataloader", "batch_plan")

# %%
from tinytorch.core.dataloader import DataLoader

loader = DataLoader(ds, batch_size=256, shuffle=True, seed=0)
print(f"{len(loader)} batches:", [len(b) for b in loader.batch_indices(0)],
      "| first indices, epoch 0:", loader.batch_indices(0)[0][:6],
      "epoch 1:", loader.batch_indices(1)[0][:6])
for xb, yb in loader:
    print("batch", xb.shape, xb.dtype, yb.shape, yb.dtype)

# %% [markdown]
# ### Exercise 3 — to_tensor: raw pixels to float32 (C, H, W) in [0, 1]
#
# **File:** `src/tinytorch/core/dataloader/transforms.py`, **methods:** `ToTensor.__call__`
# (one image) and `ToTensor.apply_batch` (a batch).
#
# * `(H, W)` gains a channel axis → `(1, H, W)`; a batch `(N, H, W)` → `(N, 1, H, W)`;
# * channels-last `(H, W, C)` (how PNG decoders and PIL hand out pixels) is transposed to
#   `(C, H, W)`; the batch version keeps the batch axis first; `self._channels_last(shape)`
#   tells the two layouts apart (given);
# * then the given `_to_float` makes a float32 copy, dividing integer pixels by 255.

# %%
check("dataloader", "to_tensor")

# %% [markdown]
# ### Exercise 4 — normalize: per channel, (x - mean[c]) / std[c]
#
# **File:** `transforms.py`, **method:** `Normalize._apply(x, channel_axis, who)`, used by both
# `__call__` and `apply_batch`. `self._params` (given) already shaped `mean` and `std` as
# `(C, 1, 1)`, which broadcasts against `(C, H, W)` *and* `(N, C, H, W)` (broadcasting aligns
# the last axes). Return a new float32 array; never write into the input, which may be a view
# of the dataset.

# %%
check("dataloader", "normalize")

# %% [markdown]
# ### Exercise 5 — random_crop: pad, then cut a random window
#
# **File:** `transforms.py`, **methods:** `RandomCrop.__call__` and `RandomCrop.apply_batch`.
#
# Pad the image by `padding` pixels on every side (`self._pad`, given), then cut the
# `size = (h, w)` window whose top-left corner is `(top, left)` — a shift of the picture by up
# to `padding` pixels. The offsets are drawn for you, from the transform's own generator, in an
# order that makes the batch version draw exactly what N single calls would.
#
# The batch version has `offsets` `(N, 2)`, one corner per image, and must not loop in Python.
# `np.lib.stride_tricks.sliding_window_view(padded, self.size, axis=(-2, -1))` is a *view*
# holding every window of every image, `(N, [C,] H', W', h, w)`, without copying anything; one
# fancy index `[arange(N), ..., offsets[:, 0], offsets[:, 1]]` then picks image i's window.

# %%
check("dataloader", "random_crop")

# %% [markdown]
# ### Exercise 6 — flip: mirror left-right with probability p
#
# **File:** `transforms.py`, **methods:** `RandomHorizontalFlip.__call__` and `apply_batch`.
# The coin (`flip`, one bool per image in the batch version) is tossed for you. Mirroring is
# reversing the last axis; return a copy even when not flipping (the caller may write into the
# result; the dataset must not change).

# %%
check("dataloader", "flip")

# %% [markdown]
# Try it: the same seed gives the same augmentation whether the transform runs image by image
# or on the whole batch at once.

# %%
from tinytorch.core.dataloader import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor


def augment(seed):
    return Compose([RandomCrop(16, padding=3, seed=seed), RandomHorizontalFlip(seed=seed + 1),
                    ToTensor(), Normalize((0.2, 0.2, 0.2), (0.3, 0.3, 0.3))])


one_by_one, batched = augment(7), augment(7)
singles = np.stack([one_by_one(images[i]).numpy() for i in range(64)])
together = batched.apply_batch(images[:64]).numpy()
print("per-sample == batch:", np.array_equal(singles, together), "| shape", together.shape,
      together.dtype, f"| mean {together.mean():+.3f}, std {together.std():.3f}")

# %% [markdown]
# ### Exercise 7 — idx: read MNIST's file format
#
# **File:** `src/tinytorch/core/dataloader/idx.py`, **function:** `parse_idx(raw, name)`.
#
# An IDX file is a 4-byte magic — two zero bytes, a dtype code, the number of dimensions
# `ndim` — then `ndim` sizes as big-endian `uint32`, then the values, row-major and
# big-endian. The magic is checked for you (and gzip undone); you read the sizes
# (`struct.unpack(">{ndim}I", ...)`), check that exactly `prod(sizes)` values follow (else a
# `ValueError` saying truncated or corrupt), read them with
# `np.frombuffer(raw, dtype, count, offset=header)`, and return a copy of shape `sizes` in the
# machine's own byte order (`dtype.newbyteorder("=")`).

# %%
check("dataloader", "idx")

# %%
import tempfile
from pathlib import Path

from tinytorch.core.dataloader import read_idx, write_idx

workdir = Path(tempfile.mkdtemp(prefix="lesson08-"))
path = write_idx(workdir / "shapes-images-idx4-ubyte", images[:, 0])   # (600, 16, 16) uint8
raw = path.read_bytes()
print("first 16 bytes:", raw[:16].hex(" "), f"| {len(raw)} bytes = 16 + {images[:, 0].size}")
print("read back:", read_idx(path).shape, "equal:", np.array_equal(read_idx(path), images[:, 0]))

# %% [markdown]
# ### Exercise 8 — cifar_batch: read one CIFAR-10 batch file
#
# **File:** `src/tinytorch/core/dataloader/datasets.py`, **function:** `load_cifar_batch(path)`.
#
# A CIFAR-10 batch is a pickled dict: `data`, a `uint8` array `(N, 3072)` — each row the 1024
# red values of a 32×32 image, row by row, then the 1024 green, then the 1024 blue — and
# `labels`, N ints. Reading it (with `load_restricted`, which only accepts plain data: a
# pickle can otherwise run any code) and checking its shape is given. You turn the rows into
# images `(N, 3, 32, 32)` — one reshape, no copy — and the labels into an int64 array.

# %%
check("dataloader", "cifar_batch")

# %%
import pickle

from tinytorch.core.dataloader import CIFAR10, DatasetNotFoundError, load_cifar_batch

big, big_labels = make_shapes(10, size=32)
with open(workdir / "data_batch_1", "wb") as f:
    pickle.dump({"data": big.reshape(10, -1), "labels": big_labels.tolist()}, f)
cifar_images, cifar_labels = load_cifar_batch(workdir / "data_batch_1")
print("from the file:", cifar_images.shape, cifar_images.dtype, cifar_labels.dtype,
      "| same pixels:", np.array_equal(cifar_images, big))
try:  # the real dataset is not here (and the lesson never downloads): a clear message instead
    CIFAR10(root=workdir / "no-such-folder", train=True)
except DatasetNotFoundError as err:
    print("CIFAR10 without its files:", str(err).splitlines()[0])

# %% [markdown]
# ## Use — an augmented input pipeline, and what it costs
#
# The whole pipeline on our shapes: shuffle, batch, crop, flip, normalise. Each row shows one
# image as stored (left) and four augmented versions the network would see in four epochs.

# %%
pipeline = DataLoader(ds, batch_size=128, shuffle=True, seed=1,
                      transform=Compose([RandomCrop(16, padding=3, seed=2),
                                         RandomHorizontalFlip(seed=3), ToTensor()]))
picks = [int(np.flatnonzero(labels == c)[0]) for c in range(3)]
fig, axes = plt.subplots(3, 5, figsize=(7, 4.4))
for row, i in enumerate(picks):
    axes[row, 0].imshow(images[i].transpose(1, 2, 0))
    axes[row, 0].set_title(f"{CLASSES[labels[i]]} (stored)", fontsize=8)
    for col in range(1, 5):
        view = pipeline.transform.apply_batch(images[i:i + 1]).numpy()[0]
        axes[row, col].imshow(view.transpose(1, 2, 0))
        axes[row, col].set_title(f"augmented {col}", fontsize=8)
for ax in axes.flat:
    ax.set_xticks([]); ax.set_yticks([])
plt.tight_layout(); plt.show()


def images_per_second(loader, epochs=3):
    start, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for xb, _ in loader:
            seen += xb.shape[0]
    return seen / (time.perf_counter() - start)


fast = images_per_second(pipeline)
per_sample = images_per_second(DataLoader(ds, batch_size=128, shuffle=True, seed=1,
                                          collate_fn=default_collate, transform=pipeline.transform))
print(f"fast path (get_batch, batch transforms):  {fast:9,.0f} images/s")
print(f"per-sample path (ds[i], 600 calls an epoch): {per_sample:9,.0f} images/s  "
      f"({fast / per_sample:.1f}x slower)")

# %% [markdown]
# ## Reflect
#
# 1. **Batch size and Python overhead.** Every batch costs some fixed Python work (the plan,
#    `fetch`, the transforms' calls) on top of the work per image. Measure images/s as the
#    batch grows, on the augmented fast path:

# %%
for bs in (1, 4, 16, 64, 256):
    rate = images_per_second(DataLoader(ds, batch_size=bs, shuffle=True, seed=0,
                                        transform=pipeline.transform), epochs=1)
    print(f"batch {bs:4d}: {rate:10,.0f} images/s")

# %% [markdown]
#    From your numbers, estimate the fixed cost per batch (in µs) and the cost per image. At
#    which batch size does the per-batch cost stop mattering?
# 2. **Memory.** CIFAR-10's 50,000 training images are kept as `uint8`: compute their size, and
#    the size if the dataset stored them already as float32 after `ToTensor`:

# %%
n, c, h, w = 50_000, 3, 32, 32
print(f"uint8: {n * c * h * w / 2**20:.0f} MiB, float32: {n * c * h * w * 4 / 2**20:.0f} MiB; one "
      f"float32 batch of 512: {512 * c * h * w * 4 / 2**20:.1f} MiB")

# %% [markdown]
#    Why do the transforms convert to float32 per batch instead of once for the whole dataset?
# 3. `batch_indices` seeds its generator with `(seed, epoch)` instead of drawing from one
#    generator that runs on from epoch to epoch. What does that buy when a run is killed at
#    epoch 7 and resumed from a checkpoint?
# 4. `RandomCrop.apply_batch` draws all N offsets at once, yet must equal N calls of `__call__`.
#    Why does that equality matter for the DataLoader's two paths — and for a bug report that
#    says "accuracy differs with a custom `collate_fn`"?
