"""Alternating flips and reflect-padded translations: airbench94's training augmentation.

**Alternating flips.** A random flip mirrors each image with probability ½ in every epoch, so
over two epochs a quarter of the images are never seen mirrored (and a quarter only mirrored).
airbench instead draws one coin per image *once*, then shows each image as that coin says in
even epochs and mirrored in odd ones: every two consecutive epochs show every image both ways.
The coin depends on the image (its index in the dataset), the parity on the epoch — neither of
which a batch transform sees — so the flips live in a DataLoader that knows both:
:class:`AlternatingFlipLoader`.

**Translations with reflect padding.** :class:`RandomTranslate` is a :class:`RandomCrop` whose
border repeats the image mirrored at its edge (numpy's ``reflect``: the edge pixel itself is
not repeated) instead of a constant, so a shifted image has no black band.

    >>> import numpy as np
    >>> from tinytorch.core.dataloader import TensorDataset
    >>> ds = TensorDataset(np.arange(8, dtype=np.float32).reshape(2, 1, 1, 4), np.arange(2))
    >>> loader = AlternatingFlipLoader(ds, batch_size=2, flip_seed=0)
    >>> [x.data[:, 0, 0, 0].tolist() for x, _ in (next(iter(loader)), next(iter(loader)))]
    [[0.0, 7.0], [3.0, 4.0]]
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinytorch.core.tensor import Tensor

from .loader import DataLoader, PrefetchIterator
from .transforms import RandomCrop

__all__ = ["AlternatingFlipLoader", "RandomTranslate", "alternating_flips"]


def alternating_flips(base: np.ndarray, indices: np.ndarray, epoch: int) -> np.ndarray:
    """Which of the images ``indices`` are mirrored in ``epoch``: ``base[i] xor (epoch odd)``.

    Args:
        base: (n,) booleans, one coin per image of the dataset, drawn once.
        indices: the dataset indices of a batch.
        epoch: the epoch (0 is the first).
    """
    return base[np.asarray(indices)] ^ bool(int(epoch) % 2)


class AlternatingFlipLoader(DataLoader):
    """A :class:`DataLoader` that mirrors each image in alternate epochs (airbench94's flips).

    Image i is mirrored in epoch e when ``coin[i] xor (e odd)``, the coins (probability ½ each)
    drawn once from ``flip_seed``. The flip is applied to the batch's first field after
    ``transform``, along its last axis.

    Args:
        dataset: as for :class:`DataLoader`.
        flip_seed: seed of the once-drawn coins (one per image).
        **kwargs: every other :class:`DataLoader` option (batch_size, shuffle, transform...).
    """

    def __init__(self, dataset: Any, flip_seed: int = 0, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.flip_seed = int(flip_seed)
        self.base_flips = np.random.default_rng(self.flip_seed).random(len(dataset)) < 0.5

    def _flip(self, batch: Any, indices: np.ndarray, epoch: int) -> Any:
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        as_tensor = isinstance(images, Tensor)
        arr = images.data if as_tensor else np.asarray(images)
        mask = alternating_flips(self.base_flips, indices, epoch)
        if mask.any():
            arr = arr.copy()  # never write into a view of the dataset
            arr[mask] = arr[mask][..., ::-1]
        images = Tensor(arr) if as_tensor else arr
        if isinstance(batch, tuple):
            return (images,) + batch[1:]
        if isinstance(batch, list):
            return [images] + batch[1:]
        return images

    def _epoch_batches(self, plan: list, epoch: int) -> Iterator[Any]:
        for indices in plan:
            yield self._flip(self.fetch(indices), indices, epoch)

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        plan = self.batch_indices(epoch)  # fixed now, in the caller's thread
        self.epoch += 1
        if self.prefetch == 0:
            return self._epoch_batches(plan, epoch)
        return PrefetchIterator(self._epoch_batches(plan, epoch), self.prefetch)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", flip_seed={self.flip_seed})"


class RandomTranslate(RandomCrop):
    """Shift the image by up to ``padding`` pixels each way, the border filled by reflection.

    A :class:`RandomCrop` of the image's own size from the image reflect-padded by ``padding``
    (so the offsets, drawn the same way, are uniform in ``[-padding, padding]`` per axis).

    Args:
        size: output height and width (an int for a square; usually the image's own).
        padding: the largest shift, in pixels (less than the image's side).
        seed: seed of this transform's random generator.
    """

    def __init__(self, size: int, padding: int, seed: int | None = None) -> None:
        super().__init__(size, padding=padding, seed=seed)

    def _pad(self, arr: np.ndarray) -> np.ndarray:
        if self.padding == 0:
            return arr
        p = self.padding
        if p >= min(arr.shape[-2:]):
            raise ValueError(f"RandomTranslate: padding {p} must be smaller than the image "
                             f"({arr.shape[-2]}x{arr.shape[-1]}) to reflect it")
        widths = [(0, 0)] * (arr.ndim - 2) + [(p, p), (p, p)]
        return np.pad(arr, widths, mode="reflect")

    def __repr__(self) -> str:
        return f"RandomTranslate(size={self.size}, padding={self.padding}, reflect)"
