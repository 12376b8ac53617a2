"""The IDX file format of MNIST and Fashion-MNIST (gzipped or not).

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the values
in C order, big-endian:

    byte 0-1   0x00 0x00
    byte 2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3     number of dimensions d
    4 .. 4+4d  the d sizes, each a big-endian uint32
    then       prod(sizes) values

``train-images-idx3-ubyte`` is (60000, 28, 28) uint8; ``train-labels-idx1-ubyte`` is (60000,).
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import Union

import numpy as np

__all__ = ["IDX_DTYPES", "parse_idx", "read_idx", "write_idx"]

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """The array stored in the IDX bytes ``raw`` (in native byte order).

    An IDX file (MNIST's format) is: two zero bytes, a dtype code (see ``IDX_DTYPES``), the
    number of dimensions ``ndim``, then ``ndim`` sizes as big-endian uint32, then the values,
    row-major, big-endian. The header checks are given; write the part that reads the sizes,
    checks that exactly ``prod(sizes)`` values follow, and returns them as an array of that
    shape in native byte order (a copy that owns its memory). ``name`` only appears in error
    messages (the file the bytes came from).
    """
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{name}: not an IDX file (it must start with two zero bytes, then a dtype "
                         f"code and a dimension count; it starts with {raw[:4].hex() or 'nothing'})")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: "
                         f"{', '.join(f'0x{c:02X}' for c in IDX_DTYPES)})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: the header announces {ndim} dimensions but the file ends after "
                         f"{len(raw)} bytes")
    dtype = IDX_DTYPES[code]
    ### BEGIN SOLUTION
    ### HINT: the sizes are ndim big-endian uint32s after the 4 magic bytes (struct '>I')
    ### HINT: check the byte count, then np.frombuffer(raw, dtype, count, offset=header)
    ### HINT: return a native-byte-order copy (dtype.newbyteorder('='))
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(shape, dtype=np.int64))
    expected = header + count * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{name}: an IDX array of shape {shape} and dtype {dtype} needs {expected} "
                         f"bytes, the file has {len(raw)} (truncated or corrupt?)")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)
    ### END SOLUTION


def read_idx(path: Union[str, os.PathLike]) -> np.ndarray:
    """Read an IDX file; gzip compression is recognised by its magic bytes, not the name."""
    path = Path(path)
    return parse_idx(path.read_bytes(), str(path))


def write_idx(path: Union[str, os.PathLike], array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {v.newbyteorder("=").str[1:]: k for k, v in IDX_DTYPES.items()}
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in codes:
        raise TypeError(f"write_idx: dtype {array.dtype} has no IDX code (use uint8, int8, int16, "
                        "int32, float32 or float64)")
    code = codes[key]
    body = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body += np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        body = gzip.compress(body, mtime=0)
    path.write_bytes(body)
    return path
