"""The recorded computation graph: nodes, grad mode, the derivative registry, the engine hook.

The tensor module records *what happened*; the autograd module (tinytorch-autograd) knows *how to differentiate
it*. The two meet here, through two explicit registries rather than monkey-patching:

* ``register_derivative(OP)`` — the derivative rule of one op, filed under the op's name (a
  constant: the tensor module's are in ``opnames.py``, a later package defines its own). The autograd module
  registers the rules of every Tensor primitive; a fused op defined in a later package (a fast
  convolution, say) registers its own rule next to its forward.
* the engine — the function that walks the graph. The autograd module declares it under the
  ``tinytorch.autograd`` entry point, so ``Tensor.backward()`` finds it even if nobody imported
  ``tinytorch.core.autograd`` first.
"""

from __future__ import annotations

import functools
import weakref
from importlib.metadata import entry_points
from typing import Any, Callable, Iterator

import numpy as np

from .opnames import (
    ADD, BROADCAST_TO, CAST, CAT, CLONE, GETITEM, MEAN, NEG, PAD, PERMUTE, RESHAPE, STACK, SUB, SUM,
)
from .runtime import switch

__all__ = [
    "Node",
    "is_grad_enabled",
    "set_grad_enabled",
    "register_derivative",
    "get_derivative",
    "register_graph_derivative",
    "get_graph_derivative",
    "graph_derivative_ops",
    "RemovableHandle",
    "add_hook",
    "get_hooks",
    "register_engine",
    "get_engine",
    "sum_to_shape",
    "bump_version",
    "storage_version",
    "check_versions",
]


class Node:
    """How a tensor was made: the op's name, its input tensors and what the op saved.

    ``saved`` holds whatever the derivative needs that cannot be recomputed from the inputs
    (the forward's output, a mask, the axis of a reduction...). ``saved`` is dropped after a
    backward pass that does not retain the graph; ``freed`` then tells the engine so.
    ``stamp`` is the count of in-place ops so far (see :func:`check_versions`): one int,
    the only cost the version check adds to an ordinary op.
    """

    __slots__ = ("op", "inputs", "saved", "freed", "stamp")

    def __init__(self, op: str, inputs: tuple, saved: Any = None) -> None:
        self.op = op
        self.inputs = inputs
        self.saved = saved
        self.freed = False
        self.stamp = _INPLACE.count

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.inputs)
        return f"<Node {self.op}({shapes})>"


class _InplaceCount:
    """How many in-place ops (``add_``, ``mul_``, ...) ran in this process: a clock for them."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


_INPLACE = _InplaceCount()


# Whether ops record a graph: one flag for the process, cheap to read on every op
# (``_GRAD_MODE.enabled``). It is a runtime Switch, the idiom of every process-wide setting.
_GRAD_MODE = switch("grad", default=True)


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad record the graph."""
    return _GRAD_MODE.enabled


def _set_mode(mode: bool) -> bool:
    """Turn graph recording on or off; returns the previous mode (to restore it later)."""
    previous = _GRAD_MODE.enabled
    _GRAD_MODE.enabled = bool(mode)
    return previous


class set_grad_enabled:
    """Turn graph recording on or off: at once as a call, for a block as a context manager.

    Like ``torch.set_grad_enabled``: ``set_grad_enabled(False)`` takes effect immediately;
    ``with set_grad_enabled(False): ...`` restores the previous mode on exit, and
    ``@set_grad_enabled(False)`` runs a function in that mode without changing the current one.
    The returned object's truth value is the mode *before* the call, so
    ``previous = set_grad_enabled(False)`` ... ``set_grad_enabled(previous)`` restores it.

    Args:
        mode: True to record the graph, False not to.
    """

    def __init__(self, mode: bool) -> None:
        self.previous = _set_mode(mode)
        self.mode = bool(mode)

    def __bool__(self) -> bool:
        return self.previous

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        _set_mode(self.previous)

    def __call__(self, fn: Callable) -> Callable:
        _set_mode(self.previous)  # decorating must not change the current mode
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            previous = _set_mode(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_mode(previous)

        return wrapper


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


# ------------------------------------------------- derivatives for create_graph=True
# The rules above work on arrays: fast, but their results are not part of any graph. A
# second-order gradient (a Hessian-vector product, a gradient penalty) differentiates the
# gradient itself, so backward(create_graph=True) uses a second rule per op, written with
# Tensor ops: ``fn(g: Tensor, node) -> tuple of Tensors`` (or None per input). Only that
# mode looks them up; the first-order path never does.
_GRAPH_DERIVATIVES: dict[str, Callable[[Any, Node], tuple]] = {}


def register_graph_derivative(op: str) -> Callable[[Callable], Callable]:
    """Decorator: register op's derivative written with Tensor ops (for create_graph=True)."""

    def decorate(fn: Callable) -> Callable:
        _GRAPH_DERIVATIVES[op] = fn
        return fn

    return decorate


def get_graph_derivative(op: str) -> Callable[[Any, Node], tuple] | None:
    """The Tensor-op derivative of ``op`` for create_graph=True, or None when it has none."""
    fn = _GRAPH_DERIVATIVES.get(op)
    if fn is None and _load_engine() is not None:
        fn = _GRAPH_DERIVATIVES.get(op)
    return fn


def graph_derivative_ops() -> list:
    """The names of the ops that support create_graph=True, sorted."""
    return sorted(_GRAPH_DERIVATIVES)


# --------------------------------------------------------------------------- tensor hooks
# ``Tensor.register_hook(fn)``: ``id(tensor) -> (weak reference, [fn, ...])``. The entry
# goes when the tensor does (the weak reference's callback), so ids are never confused; the
# engine reads this only when it is not empty.
_HOOKS: dict[int, tuple] = {}


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_key", "_fn")

    def __init__(self, key: int, fn: Callable) -> None:
        self._key, self._fn = key, fn

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        entry = _HOOKS.get(self._key)
        if entry is None:
            return
        fns = entry[1]
        if any(f is self._fn for f in fns):
            fns.remove(next(f for f in fns if f is self._fn))
        if not fns:
            del _HOOKS[self._key]


def add_hook(tensor: Any, fn: Callable) -> RemovableHandle:
    """Register ``fn(grad) -> Tensor | None`` to run when ``tensor``'s gradient is computed."""
    key = id(tensor)
    entry = _HOOKS.get(key)
    if entry is None:
        # the dict itself is bound: at interpreter exit the module global may already be None
        def forget(_ref: Any, key: int = key, hooks: dict = _HOOKS) -> None:
            hooks.pop(key, None)

        ref = weakref.ref(tensor, forget)
        entry = _HOOKS[key] = (ref, [])
    entry[1].append(fn)
    return RemovableHandle(key, fn)


def get_hooks(tensor: Any) -> list:
    """The hooks registered on ``tensor``, in registration order (empty when none)."""
    entry = _HOOKS.get(id(tensor))
    return list(entry[1]) if entry is not None and entry[0]() is tensor else []


# --------------------------------------------------------------------------- the engine
_ENGINE: list = [None]


def register_engine(engine: Callable[..., None]) -> None:
    """Install the function that runs backward passes.

    It is called as ``engine(tensor, grad, retain_graph)``, and as
    ``engine(tensor, grad, retain_graph, create_graph=True)`` for a recorded backward pass.
    """
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
            "Tensor.backward() needs the autograd engine, tinytorch-autograd: "
            "pip install tinytorch-autograd  (or: tito module list, to see what is installed)"
        )
    return engine


# --------------------------------------------------------------------------- versions
# PyTorch's rule: an in-place op bumps the version of the *storage* it wrote to, and a backward
# pass refuses to use a value that changed after an op saved it. Here the storage is the numpy
# array that owns the memory (views share it); its record holds its version and the in-place
# clock ticks of its latest writes. Only in-place ops pay for this: an ordinary op stores the
# clock in its Node, and backward compares two ints per node.
_RECENT = 32  # ticks kept per storage: enough to name the version an op saw, and bounded


class _Storage:
    """The in-place record of one storage: its version and the ticks of its latest writes."""

    __slots__ = ("version", "ticks")

    def __init__(self) -> None:
        self.version = 0
        self.ticks: list = []

    def version_at(self, stamp: int) -> int | None:
        """The version the storage had at clock ``stamp`` (None: too many writes ago to say)."""
        later = sum(1 for tick in self.ticks if tick > stamp)
        if later == len(self.ticks) and self.version > len(self.ticks):
            return None
        return self.version - later


_STORAGES: dict[int, _Storage] = {}


def _owner(data: np.ndarray) -> np.ndarray:
    """The array that owns ``data``'s memory (``data`` itself unless it is a view)."""
    while isinstance(data.base, np.ndarray):
        data = data.base
    return data


def bump_version(data: np.ndarray) -> int:
    """Record an in-place write into ``data``'s storage; returns the storage's new version."""
    owner = _owner(data)
    key = id(owner)
    record = _STORAGES.get(key)
    if record is None:
        record = _STORAGES[key] = _Storage()
        weakref.finalize(owner, _STORAGES.pop, key, None)  # the id may be reused once freed
    _INPLACE.count += 1
    record.version += 1
    record.ticks.append(_INPLACE.count)
    if len(record.ticks) > _RECENT:
        del record.ticks[0]
    return record.version


def storage_version(data: np.ndarray) -> int:
    """How many in-place ops wrote into ``data``'s storage (PyTorch's ``t._version``)."""
    record = _STORAGES.get(id(_owner(data)))
    return 0 if record is None else record.version


# The ops whose derivative reads no input's values (only shapes and dtypes): changing an input
# of theirs in place afterwards does not change their gradient, so it is allowed, as in PyTorch.
VALUE_FREE_OPS = frozenset({ADD, SUB, NEG, SUM, MEAN, CLONE, CAST, RESHAPE, PERMUTE, GETITEM,
                            BROADCAST_TO, CAT, STACK, PAD})


def _saved_arrays(saved: Any) -> Iterator[np.ndarray]:
    if isinstance(saved, np.ndarray):
        yield saved
    elif isinstance(saved, (tuple, list)):
        for item in saved:
            if isinstance(item, np.ndarray):
                yield item


def check_versions(output: Any) -> None:
    """Refuse to differentiate ``output``'s op if a value it saved was changed in place since.

    The engine calls this for every node before a backward pass. When no in-place op ran
    since the node was recorded (the usual case) it is one int compare.
    """
    node = output._node
    if node.stamp == _INPLACE.count:
        return
    watched = [] if node.op in VALUE_FREE_OPS else [("input", i, t.data)
                                                   for i, t in enumerate(node.inputs)]
    watched += [("output", 0, a) for a in _saved_arrays(node.saved)
                if np.may_share_memory(a, output.data)]
    for kind, i, data in watched:
        record = _STORAGES.get(id(_owner(data)))
        if record is not None and record.ticks[-1] > node.stamp:
            seen = record.version_at(node.stamp)
            raise RuntimeError(
                f"backward through op '{node.op}': its {kind} {i} (shape {data.shape}) was "
                f"changed by an in-place op after '{node.op}' saved it — it is at version "
                f"{record.version}, the op needs version "
                f"{'an earlier one' if seen is None else seen}; make a copy (clone()) "
                "before changing it, or change it after backward()"
            )


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
