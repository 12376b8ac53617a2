"""The recorded computation graph: nodes, grad mode, the derivative registry, the engine hook.

Module 02 records *what happened*; module 09 (tinytorch-autograd) knows *how to differentiate
it*. The two meet here, through two explicit registries rather than monkey-patching:

* ``register_derivative("op")`` — the derivative rule of one op. Module 09 registers the rules
  of every Tensor primitive; a fused op defined in a later package (a fast convolution, say)
  registers its own rule next to its forward.
* the engine — the function that walks the graph. Module 09 declares it under the
  ``tinytorch.autograd`` entry point, so ``Tensor.backward()`` finds it even if nobody imported
  ``tinytorch.core.autograd`` first.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable

import numpy as np

__all__ = [
    "Node",
    "is_grad_enabled",
    "set_grad_enabled",
    "register_derivative",
    "get_derivative",
    "register_engine",
    "get_engine",
    "sum_to_shape",
]


class Node:
    """How a tensor was made: the op's name, its input tensors and what the op saved.

    ``saved`` holds whatever the derivative needs that cannot be recomputed from the inputs
    (the forward's output, a mask, the axis of a reduction...). ``saved`` is dropped after a
    backward pass that does not retain the graph; ``freed`` then tells the engine so.
    """

    __slots__ = ("op", "inputs", "saved", "freed")

    def __init__(self, op: str, inputs: tuple, saved: Any = None) -> None:
        self.op = op
        self.inputs = inputs
        self.saved = saved
        self.freed = False

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        return f"<Node {self.op}({shapes})>"


class _GradMode:
    """Whether ops record a graph. One flag for the process: cheap to read on every op."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True


_GRAD_MODE = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad record the graph."""
    return _GRAD_MODE.enabled


def set_grad_enabled(mode: bool) -> bool:
    """Turn graph recording on or off; returns the previous mode (to restore it later)."""
    previous = _GRAD_MODE.enabled
    _GRAD_MODE.enabled = bool(mode)
    return previous


# --------------------------------------------------------------------------- derivatives
Derivative = Callable[[np.ndarray, Node], tuple]
_DERIVATIVES: dict[str, Derivative] = {}


def register_derivative(op: str) -> Callable[[Derivative], Derivative]:
    """Decorator: register ``fn(grad, node) -> tuple of input gradients`` as op's derivative.

    The tuple has one entry per ``node.inputs``: an array of that input's shape, or ``None``
    when the input gets no gradient. Registering an op twice replaces the rule (so a student's
    module can stand in for the reference).
    """

    def decorate(fn: Derivative) -> Derivative:
        _DERIVATIVES[op] = fn
        return fn

    return decorate


def get_derivative(op: str) -> Derivative:
    """The derivative rule of ``op``; a clear error when no package registered one."""
    fn = _DERIVATIVES.get(op)
    if fn is None:
        _load_engine()  # the engine's import registers the primitives' rules
        fn = _DERIVATIVES.get(op)
    if fn is None:
        raise RuntimeError(
            f"no derivative is registered for op '{op}'. Primitive ops get theirs from "
            "tinytorch-autograd (pip install tinytorch-autograd); a fused op registers its own "
            "with @register_derivative in the package that defines it."
        )
    return fn


# --------------------------------------------------------------------------- the engine
_ENGINE: list = [None]


def register_engine(engine: Callable[..., None]) -> None:
    """Install the function ``engine(tensor, grad, retain_graph)`` that runs backward passes."""
    _ENGINE[0] = engine


def _load_engine() -> Callable[..., None] | None:
    if _ENGINE[0] is None:
        for ep in entry_points(group="tinytorch.autograd"):
            ep.load()  # importing the engine's module registers it (and its derivatives)
            if _ENGINE[0] is not None:
                break
    return _ENGINE[0]


def get_engine() -> Callable[..., None]:
    """The registered backward engine, loading tinytorch-autograd through its entry point."""
    engine = _load_engine()
    if engine is None:
        raise RuntimeError(
            "Tensor.backward() needs the autograd engine, which is module 09: "
            "pip install tinytorch-autograd  (or: tito module list, to see what is installed)"
        )
    return engine


# --------------------------------------------------------------------------- helpers
def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Undo broadcasting: sum ``grad`` over the axes that broadcasting added or stretched.

    ``(a + b)`` with a of shape (4, 3) and b of shape (3,) gives a (4, 3) gradient for both;
    b's share is the sum over axis 0.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1
    )
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape)
