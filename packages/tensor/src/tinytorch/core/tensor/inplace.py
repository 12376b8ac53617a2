"""In-place ops, PyTorch's names with a trailing underscore: ``add_``, ``sub_``, ``mul_``,
``div_``, ``zero_``, ``fill_``, ``clamp_``, ``copy_``. Each writes into the tensor's own array
and returns the tensor itself.

Given, not exercises. Writing over a value is dangerous once a graph has been recorded: an op
may have kept that value for its backward pass. So, as in PyTorch:

* every in-place op bumps the *version* of the storage it wrote to (views share it), and a
  backward pass refuses — naming the op and both versions — to use a value that changed after
  an op saved it (``graph.check_versions``);
* a leaf tensor that requires grad cannot be changed in place while grad mode is on (its
  gradient would describe a value that no longer exists); inside ``no_grad()`` it can, which
  is how optimizers update parameters.

Unlike PyTorch, an in-place op is never *recorded* in the graph: on a tensor that an op made
from inputs that require grad (or with an operand that requires grad), it is refused with a
message that gives the out-of-place form (``y = y + z``). Recording it would mean rewriting the
tensor's history; the out-of-place form costs one array and keeps every gradient right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import numpy as np

from .base import TensorBase

from .dtypes import DEFAULT_FLOAT, result_dtype
from .graph import _GRAD_MODE, bump_version, storage_version

if TYPE_CHECKING:
    from .tensor import Tensor

__all__ = ["InplaceOps"]


def _check_writable(t: TensorBase, op: str, other: "Tensor | None" = None) -> None:
    """The rules above: one clear error when ``op`` may not write into ``t``."""
    if _GRAD_MODE.enabled:
        if t.requires_grad and t._node is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad cannot be changed in place (its "
                "gradient would describe a value that no longer exists); do it inside "
                "no_grad(), as optimizers do, or write x = x + ... for a new tensor"
            )
        if t.requires_grad and t._node is not None:
            raise RuntimeError(
                f"{op}: this tensor was made by op '{t._node.op}' and is part of a graph; "
                "in-place ops are not recorded here, so write the out-of-place form "
                f"(e.g. y = y + z instead of y.{op}(z))"
            )
        if other is not None and other.requires_grad:
            raise RuntimeError(
                f"{op}: the other operand requires grad, and in-place ops are not recorded "
                f"here; write the out-of-place form (e.g. y = y + z instead of y.{op}(z))"
            )
    if not t.data.flags.writeable:
        raise ValueError(
            f"{op}: this tensor's data is read-only (a broadcast view or a read-only array); "
            "make a copy with clone() first"
        )


def _into(t: TensorBase, other: "Tensor", op: str) -> None:
    """Check that ``t op= other`` can keep ``t``'s shape and dtype, as PyTorch requires."""
    dtype = result_dtype(t.data.dtype, other.data.dtype)
    if op == "div_" and dtype.kind in "biu":
        dtype = DEFAULT_FLOAT  # int / int is a float (the rule of /)
    if not np.can_cast(dtype, t.data.dtype, casting="same_kind"):
        raise TypeError(
            f"{op}: the result is {dtype}, which cannot be stored in this {t.data.dtype} tensor; "
            f"use the out-of-place form, or convert first (x = x.to({dtype.name}))"
        )
    try:
        shape = np.broadcast_shapes(t.data.shape, other.data.shape)
    except ValueError:
        shape = None
    if shape != t.data.shape:
        raise ValueError(
            f"{op}: an operand of shape {other.data.shape} cannot be broadcast to this "
            f"tensor's shape {t.data.shape} (an in-place op cannot change the shape)"
        )


class InplaceOps(TensorBase):
    """Mixin: in-place ops. Each returns ``self``; see the module docstring for the rules."""

    __slots__ = ()

    @property
    def _version(self) -> int:
        """How many in-place ops wrote into this tensor's storage (views share the count)."""
        return storage_version(self.data)

    def _inplace_binary(self, other: Any, op: str, ufunc: np.ufunc,
                        alpha: Any = None) -> "Tensor":
        other = self._lift(other)
        _check_writable(self, op, other)
        _into(self, other, op)
        operand = other.data
        if isinstance(alpha, float) and self.data.dtype.kind in "biu":
            raise TypeError(f"{op}: alpha must be an integer for a {self.data.dtype} tensor, "
                            f"got {alpha!r}")
        if alpha is not None:
            operand = operand * np.asarray(alpha, dtype=result_dtype(self.data.dtype,
                                                                     other.data.dtype))
        ufunc(self.data, operand, out=self.data, casting="unsafe")
        bump_version(self.data)
        return cast("Tensor", self)

    def add_(self, other: Any, *, alpha: Any = None) -> "Tensor":
        """``self += alpha * other`` in place; returns self.

        Args:
            other: a Tensor, number or array that broadcasts to this tensor's shape.
            alpha: a number multiplying ``other`` (PyTorch's ``add_(g, alpha=-lr)``).

        Example:
            >>> from tinytorch.core.tensor import Tensor
            >>> Tensor([1.0, 2.0]).add_(Tensor([1.0, 1.0]), alpha=0.5)
            Tensor([1.5, 2.5])
        """
        return self._inplace_binary(other, "add_", np.add, alpha)

    def sub_(self, other: Any, *, alpha: Any = None) -> "Tensor":
        """``self -= alpha * other`` in place; returns self (rules of :meth:`add_`)."""
        return self._inplace_binary(other, "sub_", np.subtract, alpha)

    def mul_(self, other: Any) -> "Tensor":
        """``self *= other`` in place; returns self.

        Example:
            >>> from tinytorch.core.tensor import Tensor
            >>> Tensor([1.0, 2.0]).mul_(3)
            Tensor([3., 6.])
        """
        return self._inplace_binary(other, "mul_", np.multiply)

    def div_(self, other: Any) -> "Tensor":
        """``self /= other`` (true division) in place; an integer tensor refuses, as in PyTorch."""
        return self._inplace_binary(other, "div_", np.true_divide)

    def fill_(self, value: Any) -> "Tensor":
        """Set every element to the number ``value``; returns self.

        Example:
            >>> from tinytorch.core.tensor import Tensor
            >>> Tensor([1.0, 2.0]).fill_(7)
            Tensor([7., 7.])
        """
        _check_writable(self, "fill_")
        if isinstance(value, np.ndarray) or hasattr(value, "data"):
            if np.ndim(getattr(value, "data", value)) != 0:
                raise ValueError(f"fill_: value must be a number (or a 0-d tensor), got shape "
                                 f"{np.shape(getattr(value, 'data', value))}")
            value = np.asarray(getattr(value, "data", value)).item()
        if not isinstance(value, (bool, int, float, np.generic)):
            raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
        self.data.fill(value)
        bump_version(self.data)
        return cast("Tensor", self)

    def zero_(self) -> "Tensor":
        """Set every element to 0; returns self."""
        return self.fill_(0)

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":  # noqa: A002
        """Limit every element to ``[min, max]`` in place (either bound may be None); returns self.

        Example:
            >>> from tinytorch.core.tensor import Tensor
            >>> Tensor([-2.0, 0.5, 3.0]).clamp_(min=0.0, max=1.0)
            Tensor([0. , 0.5, 1. ])
        """
        if min is None and max is None:
            raise ValueError("clamp_ needs at least one of min and max")
        _check_writable(self, "clamp_")
        for bound in (min, max):
            if bound is not None and not isinstance(bound, (bool, int, float, np.generic)):
                raise TypeError(f"clamp_: bounds must be numbers, got {type(bound).__name__}")
        lo = None if min is None else np.asarray(min, dtype=self.data.dtype)
        hi = None if max is None else np.asarray(max, dtype=self.data.dtype)
        np.clip(self.data, lo, hi, out=self.data)
        bump_version(self.data)
        return cast("Tensor", self)

    def copy_(self, src: Any) -> "Tensor":
        """Copy ``src``'s values into this tensor (broadcast to its shape, cast to its dtype).

        Example:
            >>> from tinytorch.core.tensor import Tensor
            >>> Tensor([0.0, 0.0]).copy_(Tensor([1.0, 2.0]))
            Tensor([1., 2.])
        """
        src = self._lift(src)
        _check_writable(self, "copy_", src)
        try:
            np.broadcast_shapes(self.data.shape, src.data.shape)
            ok = np.broadcast_shapes(self.data.shape, src.data.shape) == self.data.shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"copy_: a source of shape {src.data.shape} cannot be broadcast to "
                             f"this tensor's shape {self.data.shape}")
        np.copyto(self.data, src.data, casting="unsafe")
        bump_version(self.data)
        return cast("Tensor", self)
