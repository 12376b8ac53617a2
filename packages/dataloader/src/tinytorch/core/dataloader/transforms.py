"""Transforms: small callables that turn a raw sample into what the network eats.

Every transform works two ways:

* ``t(x)`` on **one sample** — an image ``(C, H, W)`` (or ``(H, W)``; ``ToTensor`` also takes
  ``(H, W, C)``);
* ``t.apply_batch(xb)`` on **a batch** ``(N, C, H, W)`` (or ``(N, H, W)``), vectorised: one
  numpy operation for the whole batch instead of N Python calls.

Random transforms draw from their own ``numpy.random.Generator`` (``seed=...``), and the two
ways consume it identically: with the same seed, ``apply_batch(xb)`` gives exactly the result
of calling ``t(x)`` on each sample in turn. So the DataLoader's fast batch path and the
per-sample path produce the same augmented images.

Inputs may be numpy arrays or Tensors; a transform returns the kind it was given, except
:class:`ToTensor`, which always returns a float32 Tensor. Nothing is modified in place: a
sample may be a view into the dataset's own array.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinytorch.core.tensor import Tensor, from_numpy

__all__ = ["Transform", "Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip",
           "Lambda", "apply_batch"]


def _unwrap(x: Any) -> tuple[np.ndarray, bool]:
    """(the array, whether it came as a Tensor)."""
    if isinstance(x, Tensor):
        return x.data, True
    if isinstance(x, np.ndarray):
        return x, False
    return np.asarray(x), False


def _rewrap(arr: np.ndarray, as_tensor: bool) -> Any:
    return from_numpy(arr) if as_tensor else arr


def apply_batch(transform: Callable, batch: Any) -> Any:
    """Apply ``transform`` to a batch: its ``apply_batch`` if it has one, else sample by sample."""
    fn = getattr(transform, "apply_batch", None)
    if fn is not None:
        return fn(batch)
    arr, was_tensor = _unwrap(batch)
    outs = [transform(_rewrap(arr[i], was_tensor)) for i in range(arr.shape[0])]
    if outs and isinstance(outs[0], Tensor):
        return from_numpy(np.stack([o.data for o in outs]))
    return np.stack([np.asarray(o) for o in outs])


class Transform:
    """Base class: override :meth:`__call__` (one sample) and, when it pays, :meth:`apply_batch`.

    The default :meth:`apply_batch` calls the transform on each sample and stacks the results.
    """

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(sample)")

    def apply_batch(self, batch: Any) -> Any:
        """The transform applied to every sample of ``batch`` (stacked along axis 0)."""
        arr, was_tensor = _unwrap(batch)
        outs = [self(_rewrap(arr[i], was_tensor)) for i in range(arr.shape[0])]
        if outs and isinstance(outs[0], Tensor):
            return from_numpy(np.stack([o.data for o in outs]))
        return np.stack([np.asarray(o) for o in outs])

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply transforms in order: ``Compose([a, b])(x) == b(a(x))`` (and the same on batches).

    Example:
        >>> t = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
        >>> t(np.full((2, 2), 255, np.uint8)).shape
        (1, 2, 2)
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: item {i} ({t!r}) is not callable")

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def apply_batch(self, batch: Any) -> Any:
        """Each transform's batch version, in order."""
        for t in self.transforms:
            batch = apply_batch(t, batch)
        return batch

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class Lambda(Transform):
    """Wrap a function as a transform (``batch_fn``, when given, handles whole batches)."""

    def __init__(self, fn: Callable, batch_fn: Callable | None = None) -> None:
        self.fn, self.batch_fn = fn, batch_fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def apply_batch(self, batch: Any) -> Any:
        """``batch_fn(batch)`` when given, else ``fn`` on each sample."""
        return self.batch_fn(batch) if self.batch_fn is not None else super().apply_batch(batch)


# --------------------------------------------------------------------------------------------
# ToTensor
# --------------------------------------------------------------------------------------------

_CHANNELS = (1, 3, 4)


class ToTensor(Transform):
    """Image array -> float32 Tensor ``(C, H, W)``; uint8 pixels are scaled to [0, 1].

    Accepts ``(H, W)`` (gets one channel), ``(C, H, W)`` and ``(H, W, C)``; batches
    ``(N, H, W)``, ``(N, C, H, W)`` and ``(N, H, W, C)``. With ``layout="auto"`` an image
    whose last axis has 1, 3 or 4 entries and is shorter than its first axis is read as
    channels-last (``(32, 32, 3)``), anything else as channels-first (``(3, 32, 32)``); pass
    ``layout="CHW"`` or ``"HWC"`` to say it outright (a 3x3x3 image needs it). Integer pixels are divided by 255;
    floating-point pixels keep their values (cast to float32).

    Example:
        >>> ToTensor()(np.full((32, 32, 3), 255, np.uint8)).shape
        (3, 32, 32)
    """

    def __init__(self, layout: str = "auto") -> None:
        if layout not in ("auto", "CHW", "HWC"):
            raise ValueError(f"ToTensor: layout must be 'auto', 'CHW' or 'HWC', got {layout!r}")
        self.layout = layout

    def _channels_last(self, shape: tuple) -> bool:
        """Whether the last three dims of ``shape`` are (H, W, C)."""
        if self.layout != "auto":
            return self.layout == "HWC"
        return shape[-1] in _CHANNELS and shape[-3] > shape[-1]

    def __call__(self, x: Any) -> Tensor:
        arr, _ = _unwrap(x)
        if arr.ndim not in (2, 3):
            raise ValueError(f"ToTensor: a sample must be (H, W), (C, H, W) or (H, W, C); got shape "
                             f"{arr.shape} (use apply_batch for a batch)")
        _check_pixels(arr, "ToTensor")
        ### BEGIN SOLUTION
        ### HINT: (H, W) gets a channel axis; (H, W, C) is transposed to (C, H, W)
        ### HINT: then _to_float (uint8 / 255 as float32)
        if arr.ndim == 2:
            arr = arr[None]  # (H, W) -> (1, H, W)
        elif self._channels_last(arr.shape):
            arr = arr.transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
        out = _to_float(arr)
        ### END SOLUTION
        return from_numpy(out)

    def apply_batch(self, batch: Any) -> Tensor:
        """``(N, H, W)``, ``(N, C, H, W)`` or ``(N, H, W, C)`` -> float32 Tensor ``(N, C, H, W)``."""
        arr, _ = _unwrap(batch)
        if arr.ndim not in (3, 4):
            raise ValueError(f"ToTensor.apply_batch: a batch must be (N, H, W), (N, C, H, W) or "
                             f"(N, H, W, C); got shape {arr.shape}")
        _check_pixels(arr, "ToTensor")
        ### BEGIN SOLUTION
        ### HINT: the same for (N, H, W) and (N, H, W, C), keeping the batch axis first
        if arr.ndim == 3:
            arr = arr[:, None]  # (N, H, W) -> (N, 1, H, W)
        elif self._channels_last(arr.shape):
            arr = arr.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        out = _to_float(arr)
        ### END SOLUTION
        return from_numpy(out)

    def __repr__(self) -> str:
        return "ToTensor()" if self.layout == "auto" else f"ToTensor(layout={self.layout!r})"


def _check_pixels(arr: np.ndarray, who: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: pixels must be numbers, got dtype {arr.dtype}")


def _to_float(arr: np.ndarray) -> np.ndarray:
    """float32 copy, in C order; integers scaled by 1/255 (in the same pass)."""
    if arr.dtype.kind in "iub":
        return np.multiply(arr, np.float32(1.0 / 255.0), dtype=np.float32)
    return np.array(arr, dtype=np.float32, order="C")


# --------------------------------------------------------------------------------------------
# Normalize
# --------------------------------------------------------------------------------------------

class Normalize(Transform):
    """Per channel: ``(x - mean[c]) / std[c]``; works on ``(C, H, W)`` and ``(N, C, H, W)``.

    Args:
        mean: one value per channel (a single value is used for every channel).
        std: one positive value per channel (or a single one).

    Example:
        >>> Normalize((0.5,), (0.25,))(np.ones((1, 2, 2), np.float32))[0, 0, 0].item()
        2.0
    """

    def __init__(self, mean: Sequence[float] | float, std: Sequence[float] | float) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64)).astype(np.float32)
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64)).astype(np.float32)
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be numbers or flat sequences")
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values but std has {len(self.std)}")
        if np.any(self.std <= 0) or not np.all(np.isfinite(self.std)):
            raise ValueError(f"Normalize: every std must be positive and finite, got {self.std.tolist()}")

    def _params(self, arr: np.ndarray, channel_axis: int | None, who: str) -> tuple:
        n = max(len(self.mean), len(self.std))
        if channel_axis is None:  # no channel axis: a single channel
            channels = 1
        else:
            channels = arr.shape[channel_axis]
        if n != 1 and n != channels:
            raise ValueError(f"{who}: {n} mean/std values for {channels} channel(s) "
                             f"(input shape {arr.shape})")
        shape = (-1, 1, 1) if channel_axis is not None else ()
        mean = np.broadcast_to(self.mean, (n,)).reshape(shape) if shape else self.mean[0]
        std = np.broadcast_to(self.std, (n,)).reshape(shape) if shape else self.std[0]
        return mean, std

    def _apply(self, x: Any, channel_axis: int | None, who: str) -> Any:
        """``(x - mean) / std`` per channel, for one sample or a batch; float32, a new array.

        ``self._params`` has already shaped ``mean`` and ``std`` to broadcast along the channel
        axis (``(C, 1, 1)``, which lines up with the last three axes of ``(C, H, W)`` and of
        ``(N, C, H, W)`` alike) or made them scalars when there is no channel axis.
        """
        arr, was_tensor = _unwrap(x)
        if arr.dtype.kind != "f":
            raise TypeError(f"{who}: expects floating-point pixels (apply ToTensor first), got "
                            f"dtype {arr.dtype}")
        mean, std = self._params(arr, channel_axis, who)
        ### BEGIN SOLUTION
        ### HINT: (x - mean) / std with mean, std already shaped to broadcast; compute in float32
        out = np.subtract(arr, mean, dtype=np.float32)
        out *= np.float32(1.0) / std
        ### END SOLUTION
        return _rewrap(out, was_tensor)

    def __call__(self, x: Any) -> Any:
        ndim = (x.data if isinstance(x, Tensor) else np.asarray(x)).ndim
        if ndim not in (2, 3):
            raise ValueError(f"Normalize: a sample must be (C, H, W) or (H, W); got {ndim} dims")
        return self._apply(x, 0 if ndim == 3 else None, "Normalize")

    def apply_batch(self, batch: Any) -> Any:
        """The same, on ``(N, C, H, W)`` (or ``(N, H, W)``), in one broadcast operation."""
        ndim = (batch.data if isinstance(batch, Tensor) else np.asarray(batch)).ndim
        if ndim not in (3, 4):
            raise ValueError(f"Normalize.apply_batch: a batch must be (N, C, H, W) or (N, H, W); "
                             f"got {ndim} dims")
        return self._apply(batch, 1 if ndim == 4 else None, "Normalize.apply_batch")

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


# --------------------------------------------------------------------------------------------
# Random augmentations
# --------------------------------------------------------------------------------------------

class _RandomTransform(Transform):
    """A transform with its own random generator."""

    def __init__(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int | None) -> None:
        """Restart the random stream (same seed -> same augmentations)."""
        self.rng = np.random.default_rng(seed)


def _pair(size: int | Sequence[int], who: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        h, w = (int(s) for s in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"{who}: size must be positive, got {size}")
    return h, w


class RandomCrop(_RandomTransform):
    """Pad the image by ``padding`` pixels on every side, then cut a random ``size`` window.

    The crop offsets ``(top, left)`` are drawn uniformly from ``[0, H + 2p - h]`` and
    ``[0, W + 2p - w]``. The last two axes are the spatial ones: ``(C, H, W)``, ``(H, W)``,
    and batches ``(N, C, H, W)`` / ``(N, H, W)``, where every image gets its own offsets.

    Args:
        size: output height and width (an int for a square).
        padding: pixels of ``fill`` added on each side before cropping.
        fill: the padding value.
        seed: seed of this transform's random generator.

    Example:
        >>> RandomCrop(28, padding=2, seed=0)(np.zeros((1, 28, 28), np.uint8)).shape
        (1, 28, 28)
    """

    def __init__(self, size: int | Sequence[int], padding: int = 0, fill: float = 0,
                 seed: int | None = None) -> None:
        super().__init__(seed)
        self.size = _pair(size, "RandomCrop")
        self.padding = int(padding)
        if self.padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.fill = fill

    def _ranges(self, shape: tuple, who: str) -> tuple[int, int]:
        """How many distinct offsets there are along H and along W."""
        H, W = shape[-2] + 2 * self.padding, shape[-1] + 2 * self.padding
        h, w = self.size
        if h > H or w > W:
            raise ValueError(f"{who}: crop {self.size} is larger than the padded image ({H}, {W}) "
                             f"(input shape {shape}, padding {self.padding})")
        return H - h + 1, W - w + 1

    def _pad(self, arr: np.ndarray) -> np.ndarray:
        if self.padding == 0:
            return arr
        p = self.padding
        # a filled buffer plus one copy of the interior: ~3x faster than np.pad here
        out = np.full(arr.shape[:-2] + (arr.shape[-2] + 2 * p, arr.shape[-1] + 2 * p),
                      self.fill, dtype=arr.dtype)
        out[..., p:-p, p:-p] = arr
        return out

    def __call__(self, x: Any) -> Any:
        """One random ``size`` window of the image padded by ``padding`` on every side.

        ``(C, H, W)`` or ``(H, W)`` in, ``(C, h, w)`` or ``(h, w)`` out (a new array). The offset
        ``(top, left)`` into the padded image is drawn for you (one draw per call, so the batch
        version can draw the same numbers); ``self._pad`` adds the ``fill`` border.
        """
        arr, was_tensor = _unwrap(x)
        if arr.ndim not in (2, 3):
            raise ValueError(f"RandomCrop: a sample must be (C, H, W) or (H, W); got shape {arr.shape}")
        ranges = self._ranges(arr.shape, "RandomCrop")
        top, left = self.rng.integers(0, ranges, size=2)
        h, w = self.size
        ### BEGIN SOLUTION
        ### HINT: pad with self._pad, then slice the last two axes at (top, left)
        padded = self._pad(arr)
        out = padded[..., top:top + h, left:left + w].copy()
        ### END SOLUTION
        return _rewrap(out, was_tensor)

    def apply_batch(self, batch: Any) -> Any:
        """Crop each image of ``(N, C, H, W)`` / ``(N, H, W)`` at its own random offset.

        ``offsets`` (N, 2) holds image i's ``(top, left)``, the same numbers N calls of
        ``__call__`` would draw; the result ``(N, C, h, w)`` equals those N crops stacked,
        computed without a Python loop over the images.
        """
        arr, was_tensor = _unwrap(batch)
        if arr.ndim not in (3, 4):
            raise ValueError(f"RandomCrop.apply_batch: a batch must be (N, C, H, W) or (N, H, W); "
                             f"got shape {arr.shape}")
        ranges = self._ranges(arr.shape, "RandomCrop.apply_batch")
        n = arr.shape[0]
        offsets = self.rng.integers(0, ranges, size=(n, 2))
        ### BEGIN SOLUTION
        ### HINT: pad the whole batch once; sliding_window_view(padded, self.size, axis=(-2, -1))
        ### HINT: then pick image i's window at offsets[i] with one fancy index
        padded = self._pad(arr)
        # every h x w window of every image, as a view: (N, [C,] H', W', h, w)
        windows = sliding_window_view(padded, self.size, axis=(-2, -1))
        middle = (slice(None),) * (arr.ndim - 3)  # the channel axis, when there is one
        out = windows[(np.arange(n),) + middle + (offsets[:, 0], offsets[:, 1])]
        ### END SOLUTION
        return _rewrap(np.ascontiguousarray(out), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_RandomTransform):
    """Mirror the image left-right (reverse the last axis) with probability ``p``.

    Example:
        >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]]))
        array([[3, 2, 1]])
    """

    def __init__(self, p: float = 0.5, seed: int | None = None) -> None:
        super().__init__(seed)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x: Any) -> Any:
        """The image mirrored left-right (its last axis reversed) when the coin ``flip`` says so.

        Any shape ``(..., W)``; the output has the same shape and is always a new array (the
        input may be a view into the dataset, which must never change).
        """
        arr, was_tensor = _unwrap(x)
        if arr.ndim < 1:
            raise ValueError("RandomHorizontalFlip: needs an image, got a scalar")
        flip = self.rng.random() < self.p
        ### BEGIN SOLUTION
        ### HINT: reverse the last axis when flip is True; return a copy either way
        out = arr[..., ::-1].copy() if flip else arr.copy()
        ### END SOLUTION
        return _rewrap(out, was_tensor)

    def apply_batch(self, batch: Any) -> Any:
        """Flip each image of the batch with probability ``p`` (one coin per image).

        ``flip`` is a boolean array (N,), drawn for you; image i of the result is image i of
        ``batch`` mirrored when ``flip[i]``, unchanged otherwise (one new array, no loop).
        """
        arr, was_tensor = _unwrap(batch)
        if arr.ndim < 2:
            raise ValueError(f"RandomHorizontalFlip.apply_batch: needs a batch of images, got shape "
                             f"{arr.shape}")
        flip = self.rng.random(arr.shape[0]) < self.p
        ### BEGIN SOLUTION
        ### HINT: copy the batch, then overwrite the images where flip is True with their mirror
        out = arr.copy()
        out[flip] = arr[flip][..., ::-1]
        ### END SOLUTION
        return _rewrap(out, was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
