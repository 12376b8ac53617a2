"""One helper every kernel uses: accept a Tensor or anything numpy can read."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["as_array"]


def as_array(value: Any) -> np.ndarray:
    """A Tensor's ``data``, or ``np.asarray(value)`` (an ndarray is returned as it is, strides
    and all — note that an ndarray's own ``.data`` is a raw buffer, not the array)."""
    if isinstance(value, Tensor):
        return value.data
    return np.asarray(value)
