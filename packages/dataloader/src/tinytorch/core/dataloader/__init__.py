"""tinytorch.core.dataloader — feeding data to the network.

    >>> from tinytorch.core.dataloader import (CIFAR10, DataLoader, Compose, RandomCrop,
    ...     RandomHorizontalFlip, ToTensor, Normalize)
    >>> augment = Compose([RandomCrop(32, padding=4, seed=0), RandomHorizontalFlip(seed=1),
    ...                    ToTensor(), Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    >>> train = CIFAR10(train=True, transform=augment)                  # doctest: +SKIP
    >>> loader = DataLoader(train, batch_size=128, shuffle=True, seed=0, prefetch=2)  # doctest: +SKIP
    >>> images, labels = next(iter(loader))                             # doctest: +SKIP
    >>> images.shape, images.dtype, labels.shape, labels.dtype          # doctest: +SKIP
    ((128, 3, 32, 32), dtype('float32'), (128,), dtype('int64'))

What is here:

* :class:`Dataset` (``__len__``, ``__getitem__``), :class:`TensorDataset`, :class:`Subset`,
  :func:`random_split`;
* :class:`DataLoader`: reproducible shuffling, batching, collate into Tensors, a fast path
  through ``dataset.get_batch(indices)``, and an optional prefetch thread;
* transforms :class:`Compose`, :class:`ToTensor`, :class:`Normalize`, :class:`RandomCrop`,
  :class:`RandomHorizontalFlip` (each on one sample and, vectorised, on a batch);
* the real datasets :class:`CIFAR10`, :class:`MNIST`, :class:`FashionMNIST`, read from their
  official files (CIFAR's pickles through a restricted unpickler), downloaded with md5
  checks and resumption, cached in ``$TINYTORCH_DATA`` (default ``~/.cache/tinytorch``);
  every file is checked before use (sizes and md5s: :mod:`~tinytorch.core.dataloader.integrity`)
  and a damaged one is named (:class:`DatasetCorruptError`) or, with ``download=True``, fetched
  again; ``tito data fetch|verify cifar10`` (:mod:`~tinytorch.core.dataloader.cli`).
"""

from .dataset import Dataset, Subset, TensorDataset, random_split
from .datasets import (
    CIFAR10,
    MNIST,
    DatasetCorruptError,
    DatasetNotFoundError,
    FashionMNIST,
    VisionDataset,
    data_root,
    load_cifar_batch,
)
from .download import DownloadError, UnsafeArchiveError, download_url, extract_tar, md5sum
from .idx import parse_idx, read_idx, write_idx
from .loader import DataLoader, PrefetchIterator, default_collate, to_batch_tensor
from .safe_pickle import UnsafePickleError, load_restricted
from .transforms import (
    Compose,
    Lambda,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    ToTensor,
    Transform,
    apply_batch,
)

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
"""Per-channel mean of the CIFAR-10 training images (pixels in [0, 1]), for :class:`Normalize`."""
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
"""Per-channel standard deviation of the CIFAR-10 training images."""
MNIST_MEAN = (0.1307,)
"""Mean of the MNIST training images (pixels in [0, 1])."""
MNIST_STD = (0.3081,)
"""Standard deviation of the MNIST training images."""

__all__ = [
    "Dataset", "TensorDataset", "Subset", "random_split",
    "DataLoader", "PrefetchIterator", "default_collate", "to_batch_tensor",
    "Transform", "Compose", "ToTensor", "Normalize", "RandomCrop", "RandomHorizontalFlip",
    "Lambda", "apply_batch",
    "VisionDataset", "CIFAR10", "MNIST", "FashionMNIST", "data_root", "load_cifar_batch",
    "DatasetNotFoundError", "DatasetCorruptError",
    "parse_idx", "read_idx", "write_idx",
    "download_url", "extract_tar", "md5sum", "DownloadError", "UnsafeArchiveError",
    "load_restricted", "UnsafePickleError",
    "CIFAR10_MEAN", "CIFAR10_STD", "MNIST_MEAN", "MNIST_STD",
]
