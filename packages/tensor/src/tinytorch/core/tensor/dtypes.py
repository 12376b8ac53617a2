"""The one dtype-promotion rule: which dtype an op on two operands computes in.

Every op that combines two operands — ``+ - * / ** @``, ``// %``, comparisons, ``maximum``,
``minimum`` and ``where`` — computes in the dtype :func:`result_dtype` gives, with both
operands cast to it first. The rule is PyTorch's:

1. **Categories**: bool < integer < floating. Two tensors in different categories give the
   higher one *at its own width*: float32 with int64 is float32 (numpy would say float64),
   int32 with bool is int32.
2. **Same category**: the wider dtype: float32 with float64 is float64, int32 with int64 is
   int64.
3. **Python numbers are weak** (also numpy scalars such as ``np.float64(0.5)``, and lists of
   numbers): a number takes the tensor's dtype when its category is not higher (``x * 0.5``
   stays float32, a float64 tensor times 0.5 stays float64, int32 times 2 stays int32);
   otherwise the default dtype of its category: float32 for a float (``int_tensor * 0.5`` is
   float32), int64 for an int (``bool_tensor + 1`` is int64). See :func:`scalar_dtype`.
4. **A numpy array is a tensor**, in its own dtype (``x32 + np.array([0.1])`` is float64 and
   as exact as float64): only ``Tensor(array)`` chooses float32 for float64 data.
5. **True division of integers** gives the default float, float32 (``Tensor([1, 2]) / 2``).

Two deliberate differences from PyTorch: PyTorch also treats a *0-d tensor* as weak
(a float32 vector times a 0-d float64 tensor is float32 there, float64 here), and PyTorch
refuses ``@`` between different dtypes where this rule promotes. Layers (the layers module) compute
in their parameters' dtype and cast their input to it (``Module.cast_input``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["DEFAULT_FLOAT", "DEFAULT_INT", "result_dtype", "scalar_dtype", "category"]

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def category(dtype: Any) -> int:
    """0 for bool, 1 for (signed or unsigned) integers, 2 for floating point."""
    kind = np.dtype(dtype).kind
    if kind not in _CATEGORY:
        raise TypeError(f"tensors hold bool, integer or floating data, not {np.dtype(dtype)}")
    return _CATEGORY[kind]


def result_dtype(a: Any, b: Any) -> np.dtype:
    """The dtype an op on two tensors of dtypes ``a`` and ``b`` computes in (rules 1–2).

    >>> result_dtype(np.float32, np.int64), result_dtype(np.float32, np.float64)
    (dtype('float32'), dtype('float64'))
    """
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        return a if ca > cb else b  # the higher category keeps its own width
    return np.promote_types(a, b)


def scalar_dtype(value: Any, tensor_dtype: Any) -> np.dtype:
    """The dtype a Python number (or numpy scalar) takes next to a tensor (rule 3).

    ``value`` may also be a numpy array of Python numbers (a list read by numpy): only its
    category matters.

    >>> scalar_dtype(0.5, np.float64), scalar_dtype(0.5, np.int64), scalar_dtype(2, np.int32)
    (dtype('float64'), dtype('float32'), dtype('int32'))
    """
    kind = np.asarray(value).dtype
    c, tensor_dtype = category(kind), np.dtype(tensor_dtype)
    if c <= category(tensor_dtype):
        return tensor_dtype
    return DEFAULT_FLOAT if c == 2 else DEFAULT_INT
