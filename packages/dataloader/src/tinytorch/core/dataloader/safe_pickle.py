"""Read the CIFAR "python version" batch files without trusting them.

Why not ``pickle.load``? A pickle is a small program: its GLOBAL opcode imports any callable
by name and REDUCE calls it with any arguments, so a file can run ``os.system("...")`` the
moment it is loaded. A dataset file is data that came over the network or out of a shared
folder; an md5 check only helps when the file was downloaded against a trusted checksum, and a
copy already in the cache was never checked. So the batches are read with an unpickler whose
``find_class`` knows exactly the handful of names the official files (and numpy pickles of
arrays in general) use, and maps each to a harmless stand-in written here:

- ``numpy.core.multiarray._reconstruct`` (or ``numpy._core...``): an empty "array recipe"
  that the pickle's ``BUILD`` step fills;
- ``numpy.ndarray``: a marker, only accepted as ``_reconstruct``'s class argument;
- ``numpy.dtype``: a plain numeric dtype (no objects, no structured fields);
- ``numpy._core.numeric._frombuffer`` (or ``numpy.core...``): the same recipe, filled at
  once (protocol-5 pickles);
- ``_codecs.encode``: ``str.encode`` restricted to latin-1 (how Python 3 writes ``bytes``
  in protocol-2 pickles).

Every other name raises :class:`UnsafePickleError`. The array recipe checks the shape, the
dtype and the byte count, then makes the array with ``np.frombuffer`` — numpy's own
unpickling machinery never runs, and object arrays (which would hold arbitrary objects) are
impossible.
"""

from __future__ import annotations

import io
import math
import pickle
from typing import Any, BinaryIO

import numpy as np

__all__ = ["UnsafePickleError", "load_restricted", "loads_restricted"]


class UnsafePickleError(pickle.UnpicklingError):
    """The file asks for something a CIFAR batch never needs (a refused global, a bad array)."""


# numeric dtypes an array in a dataset file may have ('b1' = bool)
_ALLOWED_DTYPES = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"}


def _text(x: Any) -> str:
    return x.decode("latin-1") if isinstance(x, (bytes, bytearray)) else str(x)


class _NDArrayMarker:
    """Stands for ``numpy.ndarray`` in a pickle; never instantiated."""


class _DTypeRecipe:
    """``numpy.dtype(spec, align, copy)`` + its ``__setstate__`` -> a plain numeric dtype."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = True) -> None:
        spec = _text(spec)
        if spec not in _ALLOWED_DTYPES:
            raise UnsafePickleError(f"refused dtype {spec!r}: only plain numeric arrays are allowed")
        self.dtype = np.dtype(spec)

    def __setstate__(self, state: Any) -> None:
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags)
        if not isinstance(state, tuple) or len(state) < 5:
            raise UnsafePickleError(f"malformed dtype state {state!r}")
        order = _text(state[1])
        if any(part is not None for part in state[2:5]):
            raise UnsafePickleError("refused structured / sub-array dtype")
        if order in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(order)
        elif order not in ("|", "="):
            raise UnsafePickleError(f"unknown byte order {order!r} in a dtype")


class _ArrayRecipe:
    """What ``_reconstruct(ndarray, shape, code)`` / ``_frombuffer(...)`` stand for."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def fill(self, raw: Any, dtype: Any, shape: Any, fortran: bool) -> None:
        if not isinstance(dtype, _DTypeRecipe):
            raise UnsafePickleError(f"array with a dtype that is not a plain numeric dtype: {dtype!r}")
        if not isinstance(shape, tuple) or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
        ):
            raise UnsafePickleError(f"malformed array shape {shape!r}")
        if isinstance(raw, str):  # encoding="latin1" hands Python 2 strings over as str
            raw = raw.encode("latin-1")
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise UnsafePickleError(f"array data must be raw bytes, got {type(raw).__name__}")
        count = math.prod(shape)
        if len(raw) != count * dtype.dtype.itemsize:
            raise UnsafePickleError(f"array of shape {shape} and dtype {dtype.dtype} needs "
                                    f"{count * dtype.dtype.itemsize} bytes, the file holds {len(raw)}")
        arr = np.frombuffer(raw, dtype=dtype.dtype, count=count)
        self.array = arr.reshape(shape, order="F" if fortran else "C")

    def __setstate__(self, state: Any) -> None:
        # ndarray state: (version, shape, dtype, is_fortran, rawdata), or without the version
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise UnsafePickleError("malformed array state")
        shape, dtype, fortran, raw = state[-4:]
        self.fill(raw, dtype, shape, bool(fortran))


def _reconstruct(cls: Any, shape: Any, code: Any) -> _ArrayRecipe:
    if cls is not _NDArrayMarker:
        raise UnsafePickleError(f"_reconstruct of {cls!r} refused: only numpy.ndarray is allowed")
    return _ArrayRecipe()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> _ArrayRecipe:
    recipe = _ArrayRecipe()
    recipe.fill(bytes(buf), dtype, tuple(shape), _text(order) == "F")
    return recipe


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    if _text(encoding).lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591"):
        raise UnsafePickleError(f"_codecs.encode with codec {encoding!r} refused (only latin-1)")
    if not isinstance(text, str):
        raise UnsafePickleError("_codecs.encode of a non-string refused")
    return text.encode("latin-1")


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): _NDArrayMarker,
    ("numpy", "dtype"): _DTypeRecipe,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refused to load global {module}.{name}: a dataset file has no business "
                "calling it (see tinytorch.core.dataloader.safe_pickle)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("refused persistent id in a dataset file")


def _finish(obj: Any) -> Any:
    """Replace every array recipe by its array; bytes keys become str."""
    if isinstance(obj, _ArrayRecipe):
        if obj.array is None:
            raise UnsafePickleError("an array in the file was never filled with data")
        return obj.array
    if isinstance(obj, (_DTypeRecipe, _NDArrayMarker)) or obj is _NDArrayMarker:
        raise UnsafePickleError("a bare numpy dtype/class in a dataset file")
    if isinstance(obj, dict):
        return {(_text(k) if isinstance(k, (bytes, bytearray)) else k): _finish(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finish(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_finish(v) for v in obj)
    return obj


def load_restricted(f: BinaryIO) -> Any:
    """Unpickle a dataset file allowing only numeric numpy arrays and plain Python values.

    Python 2 strings (how the official CIFAR files store everything) come back as ``bytes``;
    dictionary keys are decoded to ``str`` so ``batch["data"]`` works for both kinds of file.
    """
    return _finish(_RestrictedUnpickler(f, encoding="bytes").load())


def loads_restricted(data: bytes) -> Any:
    """:func:`load_restricted` on bytes in memory."""
    return load_restricted(io.BytesIO(data))
