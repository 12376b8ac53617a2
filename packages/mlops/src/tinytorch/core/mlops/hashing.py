"""Content hashes: of a file (is this the weights file that was registered?) and of a data set
(was this model trained on the data we think it was?).

Both are SHA-256 hex digests. A hash detects a file that was corrupted on disk or edited after
it was registered; it is not a signature — someone who can rewrite the weights *and* the
metadata next to them can rewrite the hash too.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Iterator

import numpy as np

__all__ = ["sha256_file", "fingerprint_data", "IntegrityError"]


class IntegrityError(ValueError):
    """A file's content hash is not the one recorded when it was written."""


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits, read ``chunk_size`` bytes at a time
    (a model file need not fit in memory twice).

    Example:
        >>> import tempfile, os
        >>> with tempfile.NamedTemporaryFile(delete=False) as f:
        ...     _ = f.write(b"abc")
        >>> sha256_file(f.name)[:16]
        'ba7816bf8f01cfea'
        >>> os.unlink(f.name)
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        ### BEGIN SOLUTION
        ### HINT: feed the file to digest.update() in chunks until f.read returns b""
        while True:
            chunk = f.read(chunk_size)
            if not chunk:
                break
            digest.update(chunk)
        ### END SOLUTION
    return digest.hexdigest()


def _arrays(data: Any, where: str = "data") -> Iterator[tuple[str, np.ndarray]]:
    """Every array in ``data`` (an array, a Tensor, or lists / tuples / dicts of them), with a
    name saying where it sits, in a fixed order."""
    if isinstance(data, dict):
        for key in sorted(data, key=str):
            yield from _arrays(data[key], f"{where}[{key!r}]")
    elif isinstance(data, (list, tuple)) and any(
        isinstance(v, (np.ndarray, dict, list, tuple)) or hasattr(v, "data") for v in data
    ):
        for i, value in enumerate(data):
            yield from _arrays(value, f"{where}[{i}]")
    else:
        value = getattr(data, "data", data) if not isinstance(data, np.ndarray) else data
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"fingerprint_data: {where} holds Python objects, not numbers; "
                            "pass numpy arrays (or Tensors)")
        yield where, array


def fingerprint_data(data: Any) -> str:
    """A SHA-256 fingerprint of a data set: the same numbers in the same order, shape and dtype
    give the same fingerprint; changing one value, the order, a shape or a dtype changes it.

    For each array, in the order :func:`_arrays` yields them, the digest is fed a header —
    the dtype string, the shape tuple and a semicolon, e.g. ``b"<i4(2,);"`` — then the
    array's values as raw bytes in C order (so a non-contiguous view hashes like its copy).

    Args:
        data: an array or Tensor, or a tuple / list / dict of them (e.g. ``(images, labels)``).

    Example:
        >>> x = np.arange(6, dtype=np.float32).reshape(2, 3)
        >>> fingerprint_data(x) == fingerprint_data(x.copy())
        True
        >>> fingerprint_data(x) == fingerprint_data(x.reshape(3, 2))
        False
    """
    digest = hashlib.sha256()
    for _name, array in _arrays(data):
        ### BEGIN SOLUTION
        ### HINT: hash what the bytes mean (dtype and shape) as well as the bytes themselves
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
        ### END SOLUTION
    return digest.hexdigest()
