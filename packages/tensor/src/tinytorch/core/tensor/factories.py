"""Tensor factories: zeros, ones, full, arange, linspace, eye, rand, randn, randint, *_like.

Random tensors come from one process-wide ``numpy.random.Generator``; ``manual_seed(s)``
makes every later draw reproducible, and each factory also takes its own ``generator=``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import DEFAULT_FLOAT, Tensor, _wrap

__all__ = [
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "rand", "randn", "randint", "manual_seed", "default_generator",
    "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
]

_GENERATOR = [np.random.default_rng()]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (and return it): later random tensors are reproducible."""
    _GENERATOR[0] = np.random.default_rng(seed)
    return _GENERATOR[0]


def default_generator() -> np.random.Generator:
    """The generator random factories use when none is passed."""
    return _GENERATOR[0]


def _shape(shape: tuple, op: str) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in shape):
        raise ValueError(f"{op}: a shape is a sequence of non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def _finish(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _dtype(dtype: Any) -> np.dtype:
    return DEFAULT_FLOAT if dtype is None else np.dtype(dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _finish(np.zeros(_shape(shape, "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _finish(np.ones(_shape(shape, "ones"), dtype=_dtype(dtype)), requires_grad)


def empty(*shape: Any, dtype: Any = None) -> Tensor:
    """A tensor whose values are whatever was in memory (fast; fill it before reading)."""
    return _wrap(np.empty(_shape(shape, "empty"), dtype=_dtype(dtype)))


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 unless ``dtype`` is given)."""
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,), "full")
    return _finish(np.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop): int64 for int arguments, else float32."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
        dtype = np.int64 if ints else DEFAULT_FLOAT
    return _finish(np.arange(start, stop, step).astype(dtype), requires_grad)


def linspace(start: float, stop: float, num: int, dtype: Any = None) -> Tensor:
    """``num`` evenly spaced values from start to stop, both included."""
    return _wrap(np.linspace(start, stop, num).astype(_dtype(dtype)))


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n×m, ones on the diagonal)."""
    return _finish(np.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*shape: Any, dtype: Any = None, requires_grad: bool = False,
         generator: np.random.Generator | None = None) -> Tensor:
    """Uniform random values in [0, 1)."""
    g = generator or _GENERATOR[0]
    data = g.random(_shape(shape, "rand"), dtype=np.float64).astype(_dtype(dtype))
    return _finish(data, requires_grad)


def randn(*shape: Any, dtype: Any = None, requires_grad: bool = False,
          generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal random values (mean 0, variance 1)."""
    g = generator or _GENERATOR[0]
    data = g.standard_normal(_shape(shape, "randn")).astype(_dtype(dtype))
    return _finish(data, requires_grad)


def randint(low: int, high: int, shape: Any, dtype: Any = np.int64,
            generator: np.random.Generator | None = None) -> Tensor:
    """Random integers in [low, high)."""
    g = generator or _GENERATOR[0]
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,), "randint")
    return _wrap(g.integers(low, high, size=shape).astype(dtype))


def _like(t: Any) -> Tensor:
    return t if isinstance(t, Tensor) else Tensor(t)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    t = _like(t)
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype) of ``t``."""
    t = _like(t)
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def full_like(t: Any, fill_value: float, dtype: Any = None) -> Tensor:
    """``fill_value`` everywhere, with the shape (and dtype) of ``t``."""
    t = _like(t)
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype)


def rand_like(t: Any, dtype: Any = None, generator: np.random.Generator | None = None) -> Tensor:
    """Uniform random values with the shape of ``t`` (float32 unless ``dtype``)."""
    t = _like(t)
    dt = dtype if dtype is not None else (t.dtype if t.dtype.kind == "f" else None)
    return rand(t.shape, dtype=dt, generator=generator)


def randn_like(t: Any, dtype: Any = None, generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal values with the shape of ``t``."""
    t = _like(t)
    dt = dtype if dtype is not None else (t.dtype if t.dtype.kind == "f" else None)
    return randn(t.shape, dtype=dt, generator=generator)
