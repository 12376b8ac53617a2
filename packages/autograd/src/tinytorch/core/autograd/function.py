"""``Function``: write your own differentiable op, forward and backward side by side.

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved
            return (2 * x * grad,)

    y = Square.apply(t)        # a Tensor in the graph; y.backward() calls Square.backward

``forward`` receives numpy arrays and returns one; ``backward`` receives the output's
gradient and returns one gradient per tensor input (or None).

Each subclass's derivative is registered once, when the class is defined (``__init_subclass__``),
under the subclass's op name; ``apply`` only runs ``forward`` and records the node. The
registered rule is one shared function that finds the class through the node's context, so a
class defined again under the same name (a re-run notebook cell) still runs its own backward
for the tensors it produced.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, make_result, register_derivative

__all__ = ["Function", "Context"]


class Context:
    """What ``forward`` keeps for ``backward``: ``ctx.save(*arrays)`` then ``ctx.saved``."""

    def __init__(self, function: type | None = None) -> None:
        self.saved: tuple = ()
        self.needs_input_grad: tuple = ()
        self.function = function  # the Function subclass whose forward made this node

    def save(self, *values: Any) -> None:
        """Keep values (arrays, shapes, flags) for the backward pass."""
        self.saved = values


def _function_derivative(g: np.ndarray, node: Any) -> tuple:
    """The derivative rule of every Function subclass: its ``backward``, checked."""
    ctx = node.saved
    cls = ctx.function
    grads = cls.backward(ctx, g)
    grads = grads if isinstance(grads, tuple) else (grads,)
    if len(grads) != len(node.inputs):
        raise RuntimeError(
            f"{cls.__name__}.backward returned {len(grads)} gradients for "
            f"{len(node.inputs)} tensor inputs"
        )
    # a backward written with Tensor ops may return Tensors: the engine wants arrays
    return tuple(gr.data if isinstance(gr, Tensor) else gr for gr in grads)


class Function:
    """Base class of user-defined ops; subclass and implement ``forward`` and ``backward``."""

    _op: str  # the op name this subclass's derivative is registered under

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._op = cls.op_name()
        register_derivative(cls._op)(_function_derivative)

    @staticmethod
    def forward(ctx: Context, *args: Any) -> np.ndarray:
        """Compute the op on numpy arrays."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: np.ndarray) -> tuple:
        """One gradient per tensor input of ``forward``, or None."""
        raise NotImplementedError

    @classmethod
    def op_name(cls) -> str:
        return f"function:{cls.__module__}.{cls.__qualname__}"

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        """Run ``forward`` and record the op so ``backward`` runs during ``Tensor.backward``."""
        ctx = Context(cls)
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        ctx.needs_input_grad = tuple(t.requires_grad for t in tensors)
        raw = [a.data if isinstance(a, Tensor) else a for a in args]
        out = np.asarray(cls.forward(ctx, *raw))
        return make_result(out, cls._op, tensors, ctx)  # the derivative: registered once
