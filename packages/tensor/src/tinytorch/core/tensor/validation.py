"""Turning user data into arrays, and the error messages for data and shapes that don't fit.

Every message names what was wrong (the shapes, the dtype, the offending element) so a
mistake is caught at the line that made it, not three layers later in a numpy traceback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["to_array", "broadcast_error", "normalize_axis"]

_NUMERIC_KINDS = "biuf"


def to_array(data: Any, dtype: Any, default_float: np.dtype) -> np.ndarray:
    """Copy ``data`` into a numpy array of a numeric dtype (float64 becomes ``default_float``)."""
    if hasattr(data, "data") and isinstance(getattr(data, "data"), np.ndarray) and not isinstance(
        data, np.ndarray
    ):
        data = data.data  # another Tensor (or anything holding its array in .data)
    if isinstance(data, (list, tuple)):
        _check_nested(data)
    elif not isinstance(data, (np.ndarray, np.generic, bool, int, float)):
        raise TypeError(
            f"Tensor() needs a number, a nested list of numbers or a numpy array; "
            f"got {type(data).__name__}"
        )
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor dtype must be bool, integer or floating, got {dtype}")
        try:
            return np.array(data, dtype=dtype)
        except (TypeError, ValueError) as err:
            raise TypeError(f"cannot convert the data to {dtype}: {err}") from None
    arr = np.array(data)
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"Tensor() needs numeric data; numpy read it as dtype {arr.dtype} "
            "(strings, objects and complex numbers are not supported)"
        )
    if arr.dtype == np.float64:
        arr = arr.astype(default_float)
    return arr


def _check_nested(data: Any, path: str = "") -> int | None:
    """Walk a nested list; refuse ragged rows and non-numbers with the exact position.

    Returns the nesting depth below ``data`` (None for a scalar leaf).
    """
    if isinstance(data, (list, tuple)):
        if not data:
            return 1
        lengths = None
        depth = None
        for i, item in enumerate(data):
            d = _check_nested(item, f"{path}[{i}]")
            if i == 0:
                depth = d
                lengths = len(item) if isinstance(item, (list, tuple)) else None
                continue
            this_len = len(item) if isinstance(item, (list, tuple)) else None
            if d != depth or this_len != lengths:
                first = f"length {lengths}" if lengths is not None else "a number"
                this = f"length {this_len}" if this_len is not None else "a number"
                raise ValueError(
                    f"Tensor() got a ragged nested list: element {path}[{i}] is {this} but "
                    f"element {path}[0] is {first}; every row must have the same length"
                )
        return (depth or 0) + 1
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor() needs numbers; element {path or '[]'} has dtype {data.dtype}")
        return data.ndim or None
    if hasattr(data, "data") and isinstance(getattr(data, "data"), np.ndarray):
        return data.data.ndim or None  # a Tensor inside a list
    if isinstance(data, (bool, int, float, np.generic)) and not isinstance(data, (str, bytes)):
        if isinstance(data, np.generic) and data.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor() needs numbers; element {path} is {data!r}")
        return None
    raise TypeError(
        f"Tensor() needs numbers; element {path or '[]'} is {type(data).__name__} {data!r}"
    )


def broadcast_error(op: str, a_shape: tuple, b_shape: tuple) -> ValueError:
    """The error for operands whose shapes cannot broadcast, naming both shapes."""
    n = max(len(a_shape), len(b_shape))
    pa = (1,) * (n - len(a_shape)) + tuple(a_shape)
    pb = (1,) * (n - len(b_shape)) + tuple(b_shape)
    # numpy compares from the last dimension backwards; report the first clash it meets
    bad = next(
        (i - n for i in reversed(range(n)) if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1),
        None,
    )
    where = f" (dimension {bad}: {pa[bad]} vs {pb[bad]})" if bad is not None else ""
    return ValueError(
        f"{op}: shapes {tuple(a_shape)} and {tuple(b_shape)} cannot be broadcast together{where}"
    )


def normalize_axis(axis: Any, ndim: int, op: str) -> tuple | None:
    """``axis`` (None, an int or a tuple of ints, negatives allowed) as a sorted tuple.

    A 0-d tensor accepts axis 0 and -1, as PyTorch does (``torch.tensor(3.).sum(0)``): there
    is no axis to reduce, so the answer is the empty tuple and the reduction keeps the value.
    """
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            valid = f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}]"
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} "
                             f"dimensions (valid: {valid})")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return () if ndim == 0 else tuple(sorted(out))
