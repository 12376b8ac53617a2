"""The Tensor: a numpy array plus what autograd needs (``requires_grad``, ``grad``, its Node).

This file holds the class itself — construction, properties, conversion, printing — and the
one function every op ends with, :func:`make_result`. The ops live in mixins, one file per
family (arithmetic, math, reductions, shape, indexing, windows), so each stays short.
"""

from __future__ import annotations

import builtins
from typing import Any, Iterator

import numpy as np

from .arithmetic import ArithmeticOps
from .dtypes import DEFAULT_FLOAT, scalar_dtype
from .graph import _GRAD_MODE, Node, RemovableHandle, add_hook, get_engine
from .extra_ops import ExtraOps
from .indexing import IndexingOps
from .inplace import InplaceOps
from .math_ops import MathOps
from .opnames import CAST, CLONE
from .reductions import ReductionOps
from .shape_ops import ShapeOps
from .validation import to_array
from .windows import WindowOps

__all__ = ["Tensor", "make_result", "Size"]


def _wrap(data: np.ndarray) -> Tensor:
    """A new leaf tensor around ``data`` without copying or checking it."""
    t = object.__new__(Tensor)
    t.data = data
    t.requires_grad = False
    t.grad = None
    t._node = None
    t._retains_grad = False
    return t


def make_result(data: np.ndarray, op: str, inputs: tuple, saved: Any = None) -> Tensor:
    """Wrap an op's output; record a Node when grad mode is on and some input needs grad.

    Every Tensor op ends here, so this is the hottest function in the framework: it does
    nothing but the two checks that decide whether a graph is built.
    """
    out = object.__new__(Tensor)
    out.data = data
    out.grad = None
    out._retains_grad = False
    if _GRAD_MODE.enabled:
        for t in inputs:
            if t.requires_grad:
                out.requires_grad = True
                out._node = Node(op, inputs, saved)
                return out
    out.requires_grad = False
    out._node = None
    return out


class Size(int):
    """``t.size`` is numpy's element count *and* callable like PyTorch's ``t.size(dim)``."""

    _shape: tuple

    def __new__(cls, shape: tuple) -> "Size":
        obj = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        obj._shape = shape
        return obj

    def __call__(self, dim: int | None = None) -> tuple | int:
        return self._shape if dim is None else self._shape[dim]


class Tensor(ArithmeticOps, MathOps, ReductionOps, ShapeOps, IndexingOps, WindowOps, ExtraOps,
             InplaceOps):
    """An N-dimensional array that can record how it was computed.

    Args:
        data: a scalar, a (nested) list or tuple of numbers, a numpy array or a Tensor.
            The data is copied. Floating-point data becomes float32 unless ``dtype`` says
            otherwise; integers stay int64 and booleans bool.
        dtype: numpy dtype (or its name) to store the data as.
        requires_grad: record ops on this tensor so ``backward()`` can fill ``.grad``
            (floating-point tensors only).

    Example:
        >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> (x * 2).sum().item()
        20.0
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "_retains_grad", "__weakref__")
    # numpy must hand ``ndarray + Tensor`` to Tensor.__radd__ instead of handling it itself.
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.data = to_array(data, dtype, DEFAULT_FLOAT)
        self.grad = None
        self._node = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ how ops make tensors
    # Every op ends with make_result (below the class). The mixins reach it as ``self._make``
    # because they cannot import this module, which imports them; it is the function itself,
    # not a wrapper around it (no extra call on the hottest path).
    _make = staticmethod(make_result)

    def _lift(self, other: Any) -> "Tensor":
        """Turn the other operand of a binary op into a Tensor (the rule is in ``dtypes.py``).

        * a Tensor is returned as it is;
        * a numpy array is a tensor in its own dtype (copied): ``x + np.array([0.1])`` of a
          float32 ``x`` is float64, as in PyTorch — only ``Tensor(array)`` picks float32;
        * a Python number, numpy scalar or list of numbers is *weak*: it takes this tensor's
          dtype unless its category is higher (:func:`~tinytorch.core.tensor.dtypes.scalar_dtype`),
          so ``x * 0.5`` stays float32 (numpy 2 would promote with an ``np.float64`` scalar)
          and an int tensor times 0.5 gives float32.

        The op then computes in ``result_dtype(self.dtype, other.dtype)``.
        """
        if isinstance(other, Tensor):
            return other
        if isinstance(other, np.ndarray):
            return Tensor(other, dtype=other.dtype)
        if isinstance(other, (bool, int, float)) or (
            isinstance(other, np.generic) and other.dtype.kind in "biuf"
        ):
            return _wrap(np.asarray(other, dtype=scalar_dtype(other, self.data.dtype)))
        if isinstance(other, (list, tuple)):
            arr = to_array(other, None, np.dtype(np.float64))  # checked, full precision
            return _wrap(arr.astype(scalar_dtype(arr, self.data.dtype), copy=False))
        return Tensor(other)

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple:
        """The size of each dimension, as a tuple of ints."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> Size:
        """Number of elements (an int); ``t.size()`` / ``t.size(dim)`` also work, as in PyTorch."""
        return Size(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the data."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (no recorded op made them)."""
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        """The recorded Node that produced this tensor, or None for a leaf."""
        return self._node

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """Number of dimensions (PyTorch's name for ``ndim``)."""
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The data as (nested) Python lists."""
        return self.data.tolist()

    def astype(self, dtype: Any) -> "Tensor":
        """A copy converted to ``dtype``; gradients flow back (cast to the original dtype).

        A cast to an integer or bool dtype leaves the graph, like :meth:`long`: such tensors
        cannot require grad.
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            return _wrap(self.data.astype(dtype))
        return make_result(self.data.astype(dtype), CAST, (self,))

    to = astype

    def float(self) -> "Tensor":
        """Convert to float32."""
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        """Convert to float64."""
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        """Convert to int64 (not differentiable)."""
        return _wrap(self.data.astype(np.int64))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> builtins.float:  # `float` here is the method below
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data.item())

    __hash__ = object.__hash__  # __eq__ is elementwise, but tensors stay usable as dict keys

    # ------------------------------------------------------------------ autograd interface
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (floating-point leaf tensors only); returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this one is {self.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad can only be turned off on a leaf; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data (shared) as a new leaf that is cut off from the graph."""
        return _wrap(self.data)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (its gradient flows to ``self``)."""
        return make_result(self.data.copy(), CLONE, (self,))

    def retain_grad(self) -> "Tensor":
        """Also keep ``.grad`` on this non-leaf tensor after ``backward()``."""
        self._retains_grad = True
        return self

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def backward(self, grad: Any = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (needs tinytorch-autograd).

        Args:
            grad: the gradient of the final result with respect to ``self``; may be omitted
                when ``self`` holds a single value (it is then 1).
            retain_graph: keep the saved values so backward can run through this graph
                again; defaults to ``create_graph``.
            create_graph: record the backward pass itself, so the gradients are Tensors in a
                graph and can be differentiated again (higher-order gradients).
        """
        if create_graph:
            get_engine()(self, grad, retain_graph, create_graph=True)
        else:
            get_engine()(self, grad, bool(retain_graph))

    def register_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(grad)`` whenever this tensor's gradient is computed.

        A hook that returns a Tensor replaces the gradient (for this tensor's ``.grad`` and
        for everything the gradient flows on to); one that returns None leaves it as it is.

        Args:
            hook: a function of the gradient (a Tensor of this tensor's shape).

        Returns:
            A handle whose ``remove()`` unregisters the hook.

        Example:
            >>> x = Tensor([1.0, 2.0], requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)
            >>> (x * x).sum().backward()
            >>> x.grad
            Tensor([4., 8.])
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: this tensor does not require grad, so no gradient is ever "
                "computed for it; call requires_grad_() on the leaf first"
            )
        if not callable(hook):
            raise TypeError(f"register_hook: expected a function of the gradient, got {hook!r}")
        return add_hook(self, hook)

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", precision=4)
        extras = []
        if self.data.dtype not in (DEFAULT_FLOAT, np.dtype(np.int64), np.dtype(bool)):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "Tensor(" + ", ".join([body] + extras) + ")"

    __str__ = __repr__
