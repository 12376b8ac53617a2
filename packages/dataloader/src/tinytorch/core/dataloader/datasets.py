"""Real datasets in their official formats: CIFAR-10 (python pickle batches), MNIST and
Fashion-MNIST (IDX files).

Where the files live: ``root`` if given, else ``$TINYTORCH_DATA``, else ``~/.cache/tinytorch``.

* CIFAR-10: ``ROOT/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` — what the
  official ``cifar-10-python.tar.gz`` unpacks to (``root`` may also be that folder itself).
* MNIST: ``ROOT/MNIST/raw/`` (torchvision's layout) or ``ROOT/MNIST/``, holding
  ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each gzipped (``.gz``, as downloaded) or not.
  Fashion-MNIST: the same under ``ROOT/FashionMNIST/``.

With ``download=True`` a missing dataset is fetched from its official URL, checked against its
published md5 and unpacked safely (see :mod:`tinytorch.core.dataloader.download`). A copy that
is already in place is used as is, without the network.

Layout choice: ``CIFAR10.data`` is uint8 **(N, 3, 32, 32)** — channels first, the order the
files store the pixels in (so loading is a reshape, not a transpose) and the order the
network's convolutions take. torchvision keeps (N, 32, 32, 3) instead; ``ToTensor`` accepts
both. MNIST's ``data`` is uint8 (N, 28, 28). ``targets`` is an int64 array.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .dataset import Dataset, as_index_array
from .download import DownloadError, download_url, extract_tar, md5sum
from .idx import read_idx
from .safe_pickle import load_restricted
from .transforms import apply_batch

__all__ = ["data_root", "VisionDataset", "CIFAR10", "MNIST", "FashionMNIST", "DatasetNotFoundError",
           "load_cifar_batch"]

SHARED_CIFAR_HINT = "python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA"


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not where it should be (the message says where, and how to get it)."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Where datasets live: ``root``, else ``$TINYTORCH_DATA``, else ``~/.cache/tinytorch``."""
    if root is not None:
        return Path(root).expanduser().absolute()
    env = os.environ.get("TINYTORCH_DATA", "").strip()
    if env:
        return Path(env).expanduser().absolute()
    return (Path.home() / ".cache" / "tinytorch").absolute()


class VisionDataset(Dataset):
    """Images in one uint8 array ``data`` and labels in an int64 array ``targets``.

    ``ds[i]`` is ``(transform(data[i]), int(targets[i]))``; ``ds.get_batch(idx)`` gathers
    ``data[idx]`` with one fancy-indexing copy and applies the transform's batch version, so the
    DataLoader never calls ``ds[i]`` one sample at a time.
    """

    classes: list
    data: np.ndarray
    targets: np.ndarray

    def __init__(self, transform: Callable | None = None) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"{type(self).__name__}: transform must be callable, got {transform!r}")
        self.transform = transform

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple:
        image = self.data[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def get_batch(self, indices: Any) -> tuple:
        """``(images, labels)`` for ``indices``: the transform's batch version on ``data[indices]``."""
        idx = as_index_array(indices, len(self), f"{type(self).__name__}.get_batch")
        images = self.data[idx]
        if self.transform is not None:
            images = apply_batch(self.transform, images)
        return images, self.targets[idx]

    @property
    def class_to_idx(self) -> dict:
        """``{class name: label}``."""
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        split = "train" if getattr(self, "train", True) else "test"
        return (f"{type(self).__name__}({split}: {len(self)} images {tuple(self.data.shape[1:])} "
                f"{self.data.dtype}, {len(self.classes)} classes, root={str(getattr(self, 'root', ''))!r})")


# --------------------------------------------------------------------------------------------
# CIFAR-10
# --------------------------------------------------------------------------------------------

def load_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 batch file -> (uint8 images (N, 3, 32, 32), int64 labels (N,)).

    The file is a pickled dict with ``data`` (uint8, N x 3072: each row is the 1024 red,
    then 1024 green, then 1024 blue values of a 32x32 image, row by row) and ``labels``
    (N ints). It is read with :func:`~tinytorch.core.dataloader.safe_pickle.load_restricted`,
    never a plain ``pickle.load``.
    """
    path = Path(path)
    with open(path, "rb") as f:
        batch = load_restricted(f)
    if not isinstance(batch, dict) or "data" not in batch:
        raise ValueError(f"{path}: not a CIFAR batch (expected a dict with 'data' and 'labels')")
    rows = batch["data"]
    labels = batch.get("labels", batch.get("fine_labels"))
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.shape[1] != 3072:
        shape = getattr(rows, "shape", type(rows).__name__)
        raise ValueError(f"{path}: 'data' must be an (N, 3072) array, got {shape}")
    if labels is None or len(labels) != rows.shape[0]:
        raise ValueError(f"{path}: {rows.shape[0]} images but "
                         f"{'no' if labels is None else len(labels)} labels")
    ### BEGIN SOLUTION
    ### HINT: each row is 3 planes (R, G, B) of 32 rows of 32 pixels: one reshape
    ### HINT: labels: an int64 array
    images = rows.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32)
    targets = np.asarray(labels, dtype=np.int64)
    ### END SOLUTION
    return images, targets


class CIFAR10(VisionDataset):
    """CIFAR-10: 60,000 32x32 colour images in 10 classes (50,000 train, 10,000 test).

    Args:
        root: folder that holds (or will hold) ``cifar-10-batches-py/``; default
            ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``.
        train: the five training batches (True) or the test batch (False).
        download: fetch the official archive (md5-checked) when the data is not in place.
        transform: applied to each image (``ds[i]``) or, through its ``apply_batch``, to each
            batch gathered by ``get_batch``.

    Attributes:
        data: uint8 array (N, 3, 32, 32), channels first.
        targets: int64 array (N,) of labels in 0..9.
        classes: the ten class names, from ``batches.meta``.

    Example:
        >>> train = CIFAR10(train=True)               # doctest: +SKIP
        >>> train.data.shape, train.classes[:2]       # doctest: +SKIP
        ((50000, 3, 32, 32), ['airplane', 'automobile'])
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    md5 = "c58f30108f718f92721af3b95e74349a"
    archive_name = "cifar-10-python.tar.gz"
    base_folder = "cifar-10-batches-py"
    train_files = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    default_classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                       "ship", "truck"]
    size_note = "163 MB"

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 download: bool = False, transform: Callable | None = None) -> None:
        super().__init__(transform)
        self.root = data_root(root)
        self.train = bool(train)
        folder = self._find_folder()
        if folder is None:
            folder = self._obtain(download)
        self.folder = folder
        files = self.train_files if self.train else self.test_files
        parts = [load_cifar_batch(folder / name) for name in files]
        self.data = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0].copy()
        self.targets = np.concatenate([p[1] for p in parts])
        self.classes = self._read_classes(folder)

    # -------------------------------------------------------------- where the files are
    @property
    def _required(self) -> tuple:
        return self.train_files + self.test_files + (self.meta_file,)

    def _complete(self, folder: Path) -> bool:
        return all((folder / name).is_file() for name in self._required)

    def _find_folder(self) -> Path | None:
        for folder in (self.root / self.base_folder, self.root):
            if self._complete(folder):
                return folder
        return None

    def _obtain(self, download: bool) -> Path:
        """Extract an archive already in place, or download it; else explain what to do."""
        archive = self.root / self.archive_name
        if archive.is_file():
            if md5sum(archive) == self.md5:
                return self._extract(archive)
            if not download:
                raise DatasetNotFoundError(self._not_found(
                    f"{archive} is there but its md5 is not the published {self.md5} "
                    "(a partial or corrupt download); delete it or pass download=True to fetch it again."))
        if not download:
            raise DatasetNotFoundError(self._not_found())
        try:
            download_url(self.url, archive, self.md5)
        except DownloadError as err:
            raise DatasetNotFoundError(self._not_found(f"Downloading failed: {err}")) from err
        return self._extract(archive)

    def _extract(self, archive: Path) -> Path:
        extract_tar(archive, self.root)
        folder = self._find_folder()
        if folder is None:
            raise DatasetNotFoundError(self._not_found(
                f"{archive} was extracted but did not contain {self.base_folder}/ with "
                f"{', '.join(self._required)}."))
        return folder

    def _not_found(self, reason: str = "") -> str:
        folder = self.root / self.base_folder
        env = os.environ.get("TINYTORCH_DATA", "").strip()
        lines = [
            f"{type(self).__name__} not found: expected the official \"python version\" batches "
            f"in {folder}/ ({', '.join(self._required)}).",
        ]
        if reason:
            lines.append(reason)
        lines += [
            "To get it:",
            f"  - {type(self).__name__}(root={str(self.root)!r}, download=True) downloads {self.url} "
            f"({self.size_note}, md5-checked) and unpacks it there;",
            "  - on the course machines (no internet) run, from the repository root:",
            f"        {SHARED_CIFAR_HINT}",
            f"    (CI does exactly that){'' if env else ' after export TINYTORCH_DATA=' + str(self.root)}"
            f" — it writes {folder}/ from the JPEG copy in ../shared (needs Pillow, ~30 s);",
            f"  - or copy an existing {self.base_folder}/ folder (or {self.archive_name}) into "
            f"{self.root}/.",
            "The data folder is root=..., else $TINYTORCH_DATA"
            f"{' (now ' + env + ')' if env else ' (not set)'}, else ~/.cache/tinytorch.",
        ]
        return "\n".join(lines)

    def _read_classes(self, folder: Path) -> list:
        meta = folder / self.meta_file
        try:
            with open(meta, "rb") as f:
                info = load_restricted(f)
            names = info.get("label_names") if isinstance(info, dict) else None
            if names:
                return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
        except FileNotFoundError:
            pass
        return list(self.default_classes)


# --------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# --------------------------------------------------------------------------------------------

class MNIST(VisionDataset):
    """MNIST handwritten digits: 28x28 grey images, 60,000 train and 10,000 test.

    Args:
        root: folder that holds (or will hold) ``MNIST/raw/`` (or ``MNIST/``); default
            ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``.
        train: the training split (True) or the test split (False).
        download: fetch the four official .gz files (md5-checked) when they are missing.
        transform: applied to each image / each batch, as for :class:`CIFAR10`.

    Attributes:
        data: uint8 array (N, 28, 28).
        targets: int64 array (N,).
        classes: the class names.
    """

    folder_name = "MNIST"
    mirrors: Sequence[str] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    resources = {
        "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
    }  # md5 of the .gz files as published
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike | None = None, train: bool = True,
                 download: bool = False, transform: Callable | None = None) -> None:
        super().__init__(transform)
        self.root = data_root(root)
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        images_path = self._locate(f"{prefix}-images-idx3-ubyte", download)
        labels_path = self._locate(f"{prefix}-labels-idx1-ubyte", download)
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise ValueError(f"{type(self).__name__}: {images_path} holds images of shape {images.shape} "
                             f"but {labels_path} holds labels of shape {labels.shape}")
        self.data = images.astype(np.uint8, copy=False)
        self.targets = labels.astype(np.int64)
        self.classes = list(type(self).classes)

    @property
    def folders(self) -> list:
        """Where the files are looked for, in order."""
        base = self.root / self.folder_name
        return [base / "raw", base]

    def _locate(self, stem: str, download: bool) -> Path:
        for folder in self.folders:
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    return folder / name
        if not download:
            raise DatasetNotFoundError(self._not_found(stem))
        dest = self.folders[0] / (stem + ".gz")
        errors = []
        for mirror in self.mirrors:
            try:
                return download_url(mirror + stem + ".gz", dest, self.resources[stem])
            except DownloadError as err:
                errors.append(str(err))
        raise DatasetNotFoundError(self._not_found(stem, "Downloading failed: " + " | ".join(errors)))

    def _not_found(self, stem: str, reason: str = "") -> str:
        where = " or ".join(str(f) + "/" for f in self.folders)
        lines = [f"{type(self).__name__} not found: expected {stem}.gz (or {stem}) in {where}."]
        if reason:
            lines.append(reason)
        lines += [
            "To get it:",
            f"  - {type(self).__name__}(root={str(self.root)!r}, download=True) downloads the four "
            f"IDX files from {self.mirrors[0]} (md5-checked);",
            f"  - or copy the files (as downloaded, .gz or unpacked) into {self.folders[0]}/.",
            "The data folder is root=..., else $TINYTORCH_DATA, else ~/.cache/tinytorch.",
        ]
        return "\n".join(lines)


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing, MNIST's format and sizes."""

    folder_name = "FashionMNIST"
    mirrors: Sequence[str] = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    )
    resources = {
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot"]
