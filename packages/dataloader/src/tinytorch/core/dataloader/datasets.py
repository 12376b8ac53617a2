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
import pickle
import shutil
import struct
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .dataset import Dataset, as_index_array
from .download import DownloadError, UnsafeArchiveError, download_url, extract_tar, md5sum
from .idx import read_idx
from .integrity import MANIFEST_NAME, Expected, Manifest, file_problem
from .safe_pickle import UnsafePickleError, load_restricted
from .transforms import apply_batch

__all__ = ["data_root", "VisionDataset", "CIFAR10", "MNIST", "FashionMNIST", "DatasetNotFoundError",
           "DatasetCorruptError", "load_cifar_batch"]

SHARED_CIFAR_HINT = "python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA"

# What reading a damaged pickle or gzip file can raise (besides UnsafePickleError).
_DAMAGED_FILE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, KeyError, IndexError, TypeError,
                        AttributeError, struct.error, UnicodeDecodeError, zlib.error, MemoryError)


class DatasetNotFoundError(FileNotFoundError):
    """The dataset is not where it should be (the message says where, and how to get it)."""


class DatasetCorruptError(DatasetNotFoundError, ValueError):
    """A dataset file is there but damaged: truncated, a wrong md5, unreadable.

    The message is one line: the file, what is wrong with it, what to do. It is a
    :class:`DatasetNotFoundError` (the usable data is not there either way) and a ``ValueError``.
    ``path`` is the damaged file and ``problem`` what is wrong with it, when known.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 problem: str | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)
        self.problem = problem


def _note(message: str) -> None:
    """One line on stderr about something repaired (the caller's stdout stays clean)."""
    print(message, file=sys.stderr, flush=True)


def _reason(err: BaseException, path: Path) -> str:
    """``err``'s message without a leading ``"<path>: "`` (the caller names the file itself)."""
    text = str(err) or type(err).__name__
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text


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
    try:
        with open(path, "rb") as f:
            batch = load_restricted(f)
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None
    except _DAMAGED_FILE_ERRORS as err:
        problem = f"is truncated or damaged ({_reason(err, path)}; {path.stat().st_size:,} bytes)"
        raise DatasetCorruptError(
            f"{path} {problem}: fetch it again (CIFAR10(download=True) or tito data fetch cifar10) "
            "or copy a good one over it", path, problem) from None
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
        download: fetch the official archive (md5-checked) when the data is not in place, or
            when a file of it is damaged (then only the damaged files are extracted again).
        transform: applied to each image (``ds[i]``) or, through its ``apply_batch``, to each
            batch gathered by ``get_batch``.

    Every file is checked before use: against the folder's manifest
    (``.tinytorch-manifest.json``, the sizes and md5s recorded when the copy was extracted
    from a verified archive or first read completely), else against the official sizes and
    md5s (:attr:`official_files`), else by reading it completely. A damaged file raises
    :class:`DatasetCorruptError` naming it — or, with ``download=True`` (or a verified
    ``cifar-10-python.tar.gz`` beside the folder), is replaced from the official archive.

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
    #: (size in bytes, md5) of each file of the official "python version", as published.
    official_files = {
        "data_batch_1": (31035704, "c99cafc152244af753f735de768cd75f"),
        "data_batch_2": (31035320, "d4bba439e000b95fd0a9bffe97cbabec"),
        "data_batch_3": (31035999, "54ebc095f3ab1f0389bbae665268c751"),
        "data_batch_4": (31035696, "634d18415352ddfa80567beed471001a"),
        "data_batch_5": (31035623, "482c414d41f54cd18b22e5b47cb7c3cb"),
        "test_batch": (31035526, "40351d587109b95175f43aff81a1287e"),
        "batches.meta": (158, "5ff9c542aee3614f3951f8cda6e48888"),
    }
    #: The most the archive may unpack to (the official one: 178 MiB); more is refused.
    max_extract_bytes = 256 << 20
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
        parts, self.classes = self._load_checked(folder, files, download)
        self.data = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0].copy()
        self.targets = np.concatenate([p[1] for p in parts])

    def is_official(self) -> bool:
        """True when every file of this copy is the official "python version", byte for byte
        (each file's size and md5 as published in :attr:`official_files`).

        A copy rebuilt from another source — the course machines' CIFAR-10, decoded from JPEGs —
        reads the same way but holds different pixels, and published accuracies (airbench's 94 %,
        say) were measured on the official files. Every file is hashed (about a second for
        CIFAR-10's 180 MB).
        """
        for name, (size, md5) in self.official_files.items():
            path = self.folder / name
            try:
                if path.stat().st_size != size:
                    return False
            except OSError:
                return False
            if md5sum(path) != md5:
                return False
        return True

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
        base = self.root / self.base_folder
        if base.is_dir() and any((base / name).exists() for name in self._required):
            return base  # some files are missing: named (and restored) like damaged ones
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
            raise DatasetNotFoundError(self._download_failed(err)) from None
        return self._extract(archive)

    def _download_failed(self, err: BaseException, damaged: str = "") -> str:
        """One line: what could not be downloaded, why, and what to do instead."""
        what = damaged or f"{self.root / self.base_folder}/ is still missing"
        return (f"{type(self).__name__}: {what}, and downloading {self.archive_name} failed "
                f"({err}). To fix: copy {self.archive_name} (or a good {self.base_folder}/ "
                f"folder) into {self.root}/, or on the course machines (no internet) run "
                f"{SHARED_CIFAR_HINT}; then run again.")

    def _extract(self, archive: Path) -> Path:
        extract_tar(archive, self.root, max_bytes=self.max_extract_bytes)
        folder = self._find_folder()
        if folder is None or not self._complete(folder):
            raise DatasetNotFoundError(self._not_found(
                f"{archive} was extracted but did not contain {self.base_folder}/ with "
                f"{', '.join(self._required)}."))
        manifest = Manifest(folder)
        for name in self._required:  # from an md5-checked archive: known good
            path = folder / name
            manifest.record(name, path.stat().st_size, md5sum(path), self._from_archive)
        manifest.save()
        return folder

    @property
    def _from_archive(self) -> str:
        return f"extracted from {self.archive_name} (md5 {self.md5} checked)"

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

    # -------------------------------------------------------------- checking and repairing
    def _official(self, name: str) -> Expected | None:
        entry = self.official_files.get(name)
        return Expected(entry[0], entry[1], "the official list") if entry else None

    def _expected(self, folder: Path, name: str, manifest: Manifest) -> tuple[Expected | None, str]:
        """(what ``name`` should be, how a good file gets recorded in the manifest).

        The manifest's entry when there is one. Otherwise nothing: the file is read completely
        and checked, and recorded — as matching the official list when its size and md5 are the
        official ones, else as a locally prepared copy (the course's CIFAR-10 rebuilt from JPEGs
        has other md5s, and its 158-byte ``batches.meta`` even has the official size).
        """
        recorded = manifest.get(name)
        if recorded is not None:
            return recorded, ""
        official = self._official(name)
        path = folder / name
        try:
            if official is not None and path.stat().st_size == official.size \
                    and md5sum(path) == official.md5:
                return None, "matches the official list"
        except OSError:
            pass
        return None, "read completely and checked (a locally prepared copy, not the official files)"

    def _parse(self, path: Path, name: str) -> Any:
        """The content of one file, checked: (images, labels) of a batch, or the class names."""
        if name == self.meta_file:
            try:
                with open(path, "rb") as f:
                    info = load_restricted(f)
            except _DAMAGED_FILE_ERRORS as err:
                raise ValueError(f"not a complete pickle ({_reason(err, path)})") from None
            names = info.get("label_names") if isinstance(info, dict) else None
            if not names:
                return list(self.default_classes)
            classes = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]
            if len(classes) != len(self.default_classes):
                raise ValueError(f"{len(classes)} class names, not {len(self.default_classes)}")
            return classes
        images, labels = load_cifar_batch(path)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.default_classes)):
            raise ValueError(f"labels outside 0..{len(self.default_classes) - 1} "
                             f"(from {labels.min()} to {labels.max()})")
        return images, labels

    def _read(self, folder: Path, names: Sequence[str]) -> tuple[dict, dict]:
        """({name: problem}, {name: content}) for ``names``; records newly checked files."""
        manifest = Manifest(folder)
        problems: dict = {}
        contents: dict = {}
        for name in names:
            path = folder / name
            expected, how = self._expected(folder, name, manifest)
            problem = file_problem(path, expected) if expected is not None else None
            if problem is not None and expected is manifest.get(name):
                official = self._official(name)  # replaced by an official file on purpose?
                if official is not None and file_problem(path, official) is None:
                    problem, how = None, "matches the official list"
            if problem is None and not path.is_file():
                problem = "is missing" if not path.exists() else "is not a regular file"
            if problem is not None:
                problems[name] = problem
                continue
            try:
                contents[name] = self._parse(path, name)
            except UnsafePickleError:
                raise
            except DatasetCorruptError as err:
                problems[name] = err.problem or f"cannot be read ({_reason(err, path)})"
                continue
            except (ValueError, OSError) as err:
                problems[name] = f"cannot be read as a CIFAR-10 file ({_reason(err, path)})"
                continue
            if how:
                manifest.record(name, path.stat().st_size, md5sum(path), how)
        manifest.save()
        return problems, contents

    def _load_checked(self, folder: Path, files: Sequence[str], download: bool) -> tuple[list, list]:
        """The batches ``files`` and the class names, every file checked; damaged ones repaired
        from the official archive when it is at hand (or ``download``), else named in the error."""
        names = list(files) + [self.meta_file]
        problems, contents = self._read(folder, names)
        if problems:
            self._repair(folder, problems, download)
            problems, contents = self._read(folder, names)
            if problems:
                name, problem = next(iter(problems.items()))
                raise DatasetCorruptError(
                    f"{type(self).__name__}: {folder / name} {problem}, even after it was extracted "
                    f"again from the verified {self.archive_name}; report this, with the file")
        return [contents[name] for name in files], contents[self.meta_file]

    def _damaged(self, folder: Path, problems: dict) -> str:
        """``<file> <problem>`` for the first damaged file, and how many more there are."""
        name, problem = next(iter(problems.items()))
        more = len(problems) - 1
        others = f" (and {more} more: {', '.join(list(problems)[1:])})" if more else ""
        return f"{folder / name} {problem}{others}"

    def _fetch_command(self) -> str:
        default = self.root == data_root()
        return f"tito data fetch cifar10{'' if default else ' --root ' + str(self.root)}"

    def _repair(self, folder: Path, problems: dict, download: bool) -> None:
        """Replace the damaged files from the official archive (downloaded when ``download``)."""
        archive = self.root / self.archive_name
        damaged = self._damaged(folder, problems)
        offline = (f"delete {folder}/ and prepare it again ({SHARED_CIFAR_HINT} on the course "
                   f"machines), or copy {self.archive_name} into {self.root}/")
        if not (archive.is_file() and md5sum(archive) == self.md5):
            if not download:
                on_purpose = (f"; replaced on purpose? delete {folder / MANIFEST_NAME}"
                              if any(MANIFEST_NAME in p for p in problems.values()) else "")
                raise DatasetCorruptError(
                    f"{type(self).__name__}: {damaged}. To fix: `{self._fetch_command()}` (or "
                    f"download=True) fetches it again; without internet, {offline}{on_purpose}.",
                    folder / next(iter(problems)), next(iter(problems.values())))
            try:
                download_url(self.url, archive, self.md5)
            except DownloadError as err:
                raise DatasetCorruptError(
                    f"{type(self).__name__}: {damaged}, and fetching it again failed: {err}. "
                    f"To fix: {offline}; then run again.",
                    folder / next(iter(problems)), next(iter(problems.values()))) from None
        try:
            staging = Path(tempfile.mkdtemp(prefix=".repair-", dir=folder))
        except OSError as err:
            raise DatasetCorruptError(
                f"{type(self).__name__}: {damaged}, and {folder}/ cannot be written to repair it "
                f"({err.strerror or err}); fix it where it can be written, or {offline}.",
                folder / next(iter(problems)), next(iter(problems.values()))) from None
        try:
            wanted = [f"{self.base_folder}/{name}" for name in problems]
            try:
                extracted = extract_tar(archive, staging, max_bytes=self.max_extract_bytes, only=wanted)
            except UnsafeArchiveError as err:
                raise DatasetCorruptError(f"{type(self).__name__}: {damaged}, and {archive} cannot "
                                          f"repair it: {err}") from None
            manifest = Manifest(folder)
            for name, path in zip(problems, extracted):
                os.replace(path, folder / name)
                manifest.record(name, (folder / name).stat().st_size, md5sum(folder / name),
                                self._from_archive)
                _note(f"{type(self).__name__}: {folder / name} {problems[name]}; "
                      f"restored it from {archive}")
            manifest.save()
        finally:
            shutil.rmtree(staging, ignore_errors=True)


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
        images_path, images = self._read_checked(f"{prefix}-images-idx3-ubyte", download)
        labels_path, labels = self._read_checked(f"{prefix}-labels-idx1-ubyte", download)
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
        return self._download(stem)

    def _download(self, stem: str) -> Path:
        """Fetch ``stem.gz`` from the first mirror that has it (md5-checked) and record it."""
        dest = self.folders[0] / (stem + ".gz")
        errors = []
        for mirror in self.mirrors:
            try:
                path = download_url(mirror + stem + ".gz", dest, self.resources[stem])
            except DownloadError as err:
                errors.append(str(err))
                continue
            manifest = Manifest(path.parent)
            manifest.record(path.name, path.stat().st_size, self.resources[stem],
                            f"downloaded from {mirror} (md5 checked)")
            manifest.save()
            return path
        raise DatasetNotFoundError(self._not_found(stem, "Downloading failed: " + " | ".join(errors)))

    def _read_checked(self, stem: str, download: bool) -> tuple[Path, np.ndarray]:
        """(path, array) of one IDX file, checked against the folder's manifest and read
        completely; a damaged file is fetched again when ``download``, else named."""
        path = self._locate(stem, download)
        manifest = Manifest(path.parent)
        expected = manifest.get(path.name)
        problem = file_problem(path, expected) if expected is not None else None
        if problem is None:
            try:
                array = read_idx(path)
            except (OSError, *_DAMAGED_FILE_ERRORS) as err:
                problem = f"cannot be read as an IDX file ({_reason(err, path)})"
            else:
                if expected is None:
                    digest = md5sum(path)
                    how = ("matches the official list" if digest == self.resources.get(stem)
                           else "read completely and checked")
                    manifest.record(path.name, path.stat().st_size, digest, how)
                    manifest.save()
                return path, array
        name = type(self).__name__
        if not download:
            raise DatasetCorruptError(
                f"{name}: {path} {problem}. To fix: `tito data fetch {name.lower()}"
                f"{'' if self.root == data_root() else ' --root ' + str(self.root)}` (or "
                f"download=True) fetches it again, or copy a good {path.name} over it.", path, problem)
        path.unlink()
        manifest.forget(path.name)
        manifest.save()
        try:
            fresh = self._download(stem)
        except DatasetNotFoundError as err:
            raise DatasetCorruptError(f"{name}: {path} {problem}, and fetching it again failed: "
                                      f"{str(err).splitlines()[1]}. To fix: copy a good {stem}.gz "
                                      f"into {self.folders[0]}/ and run again.", path, problem) from None
        _note(f"{name}: {path} {problem}; fetched {fresh} again")
        return fresh, read_idx(fresh)

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
