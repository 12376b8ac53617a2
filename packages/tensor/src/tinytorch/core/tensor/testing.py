"""Test helpers shared by every package's tests: hypothesis strategies, closeness, numeric grads.

Needs the ``test`` extra (pytest, hypothesis); the framework itself never imports this module.

    from tinytorch.core.tensor.testing import arrays, shapes, assert_close, numerical_grad
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .numerical import numerical_grad  # plain numpy: gradcheck (the autograd module) uses it too

__all__ = [
    "shapes", "arrays", "broadcastable_pair", "float_arrays", "int_arrays", "broadcastable_arrays",
    "axes_for", "assert_close", "numerical_grad", "to_numpy", "quoted_op_names",
]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5) -> Any:
    """Strategy: array shapes small enough to test fast."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def _float32_inside(low: float, high: float) -> tuple:
    """The float32 numbers nearest to [low, high] from the inside (hypothesis needs exact bounds)."""
    lo, hi = np.float32(low), np.float32(high)
    if lo < low:
        lo = np.nextafter(lo, np.float32(np.inf))
    if hi > high:
        hi = np.nextafter(hi, np.float32(-np.inf))
    return float(lo), float(hi)


def float_arrays(shape: Any = None, dtype: Any = np.float32, low: float = -10.0,
                 high: float = 10.0, min_magnitude: float = 0.0) -> Any:
    """Strategy: float arrays with finite values in [low, high] (shape drawn if not given).

    Values are float32-representable (so float32 and float64 arrays hold the same numbers) and
    never subnormal. ``min_magnitude`` keeps values away from zero, e.g. for divisors.
    """
    lo, hi = _float32_inside(low, high)
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                         width=32)
    if min_magnitude > 0:
        elements = elements.filter(lambda v: abs(v) >= min_magnitude)
    return hnp.arrays(dtype, shape if shape is not None else shapes(), elements=elements)


arrays = float_arrays


def broadcastable_pair(max_dims: int = 4, max_side: int = 5) -> Any:
    """Strategy: two shapes that broadcast together (like numpy's own tests use)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_dims, max_side=max_side).map(
        lambda r: r.input_shapes
    )


def int_arrays(shape: Any = None, dtype: Any = np.int64, low: int = -10, high: int = 10) -> Any:
    """Strategy: integer arrays with values in [low, high]."""
    return hnp.arrays(dtype, shape if shape is not None else shapes(),
                      elements=st.integers(low, high))


@st.composite
def broadcastable_arrays(draw: Any, max_dims: int = 4, max_side: int = 5, **float_kw: Any) -> tuple:
    """Strategy: two float arrays whose shapes broadcast together (``float_arrays`` options apply
    to both; ``min_magnitude`` only to the second, which is then safe to divide by)."""
    shape_a, shape_b = draw(broadcastable_pair(max_dims, max_side))
    min_mag = float_kw.pop("min_magnitude", 0.0)
    a = draw(float_arrays(shape_a, **float_kw))
    b = draw(float_arrays(shape_b, min_magnitude=min_mag, **float_kw))
    return a, b


@st.composite
def axes_for(draw: Any, ndim: int) -> Any:
    """Strategy: an ``axis`` argument for a tensor of ``ndim`` dimensions.

    None, a single int or a tuple of distinct axes — negative spellings included.
    """
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


def to_numpy(x: Any) -> np.ndarray:
    """The array behind a Tensor (or anything array-like)."""
    data = getattr(x, "data", x)
    return data if isinstance(data, np.ndarray) else np.asarray(data)


def assert_close(actual: Any, expected: Any, rtol: float = 1e-5, atol: float = 1e-6,
                 check_dtype: bool = False, msg: str = "") -> None:
    """Assert two tensors/arrays have the same shape and values within tolerance."""
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{msg} shape {a.shape} != expected {e.shape}"
    if check_dtype:
        assert a.dtype == e.dtype, f"{msg} dtype {a.dtype} != expected {e.dtype}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)


# Where each call that records or looks up an op takes the op's name (positional index).
_OP_ARGUMENT = {"_make": 1, "make_result": 1, "_binary": 1, "_binary_no_grad": 1, "Node": 0,
                "register_derivative": 0, "register_graph_derivative": 0, "get_derivative": 0,
                "get_graph_derivative": 0, "rounded": 1, "scatter": 5}


def quoted_op_names(source: str) -> list[tuple[int, str]]:
    """``(line, text)`` of each call in ``source`` that records or registers an op under a
    quoted string instead of an op-name constant (``_make(data, "ad", ...)``,
    ``@register_derivative("ad")``): op names are constants defined once (``opnames.py``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        i = _OP_ARGUMENT.get(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
        if i is not None and len(node.args) > i:
            arg = node.args[i]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.lineno, arg.value))
    return found
