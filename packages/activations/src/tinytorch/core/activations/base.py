"""``ModuleBase`` and ``Activation``: what every layer is, before ``Module`` exists.

Activations come before ``Module`` (the layers module) in the course, yet ``ReLU()`` must sit inside
a model next to ``Dense`` layers, be switched by ``model.eval()``, and be timed by the profiler's
hooks like any other layer. So the part of a layer that needs no weights is defined here, once:

* :class:`ModuleBase` — calling runs ``forward`` between the forward pre-hooks and hooks; a
  ``training`` flag with ``train()`` / ``eval()``; children (none here); ``parameters()``
  (none here); ``repr``. Its registries — ``_parameters``, ``_buffers``, ``_modules`` — are
  empty and read-only: a weightless layer has nothing to register.
* :class:`Activation` — the base class of ``ReLU``, ``Softmax``... : a ``ModuleBase``.

The layers module's ``Module`` *extends* ``ModuleBase``: it gives each instance registries of its
own and fills them as attributes are assigned. Both are ``ModuleBase`` objects, so a ``Module``
recognises an activation with one test, ``isinstance(value, ModuleBase)``, and walks it like
any child — it just finds nothing inside. No module imports a later one: 04 builds on 03.
"""

from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType
from typing import AbstractSet, Any, Callable, Iterator, Mapping

from tinytorch.core.tensor import Tensor

__all__ = ["ModuleBase", "Activation"]

# One shared, read-only empty mapping: the registries of a layer without weights or children.
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


class ModuleBase:
    """What every layer has, with weights or without: call it to run ``forward`` (with hooks).

    ``Module`` (the layers module) and :class:`Activation` both derive from it, which is how a
    ``Module`` recognises an activation as a child. A ``ModuleBase`` itself has no parameters,
    buffers or children; ``Module`` adds them.

    Example:
        >>> from tinytorch.core.activations import ReLU
        >>> from tinytorch.core.tensor import Tensor
        >>> relu, seen = ReLU(), []
        >>> remove = relu.register_forward_hook(lambda m, args, out: seen.append(out.tolist()))
        >>> relu(Tensor([-1.0, 2.0])).tolist(), seen
        ([0.0, 2.0], [[0.0, 2.0]])
    """

    training: bool = True
    # Empty and read-only here; Module.__init__ gives each instance dicts of its own.
    _parameters: Mapping[str, Any] = _EMPTY
    _buffers: Mapping[str, Any] = _EMPTY
    _modules: Mapping[str, Any] = _EMPTY
    _non_persistent: AbstractSet[str] = frozenset()
    # Defaults for a subclass whose __init__ skips ModuleBase.__init__: it gets its own dicts
    # on its first registration (_own_hooks).
    _forward_hooks: Mapping[object, Callable] = _EMPTY
    _forward_pre_hooks: Mapping[object, Callable] = _EMPTY

    def __init__(self) -> None:
        # Empty hook dicts of this instance's own: every call checks them, and an attribute of
        # the instance is found faster than one of the class (about 60 ns against 180 ns).
        # object.__setattr__: Module.__setattr__ would try to register the dicts.
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------------ running
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            replaced = hook(self, args)
            if replaced is not None:
                args = replaced if isinstance(replaced, tuple) else (replaced,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            replaced = hook(self, args, out)
            if replaced is not None:
                out = replaced
        return out

    def _own_hooks(self, attribute: str) -> dict:
        """This instance's hook dict ``attribute``, created on first use."""
        hooks = self.__dict__.get(attribute)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, attribute, hooks)
        return hooks

    def register_forward_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(module, inputs, output)`` after every forward; returns a remover.

        A hook that returns something other than None replaces the output.
        """
        hooks, key = self._own_hooks("_forward_hooks"), object()
        hooks[key] = hook
        return lambda: hooks.pop(key, None)

    def register_forward_pre_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(module, inputs)`` before every forward; returns a remover.

        A hook that returns something other than None replaces the inputs (a tuple, or a
        single value that becomes the only positional input).
        """
        hooks, key = self._own_hooks("_forward_pre_hooks"), object()
        hooks[key] = hook
        return lambda: hooks.pop(key, None)

    # ------------------------------------------------------------------ the tree
    def named_children(self) -> Iterator[tuple]:
        """(name, module) for each direct child (activations included; none here)."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Any]:
        """Each direct child module."""
        for _, m in self.named_children():
            yield m

    def apply(self, fn: Callable[[Any], Any]) -> "ModuleBase":
        """Call ``fn`` on every descendant and then on self (e.g. custom initialisation).

        PyTorch's order: each child's whole subtree in turn (children in registration order,
        a child held under two names of the same parent once), then the module itself.
        Returns self.
        """
        done: set = set()
        for child in self.children():
            if id(child) not in done:
                done.add(id(child))
                child.apply(fn)
        fn(self)
        return self

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every trainable parameter; a ``ModuleBase`` has none (``Module`` overrides this)."""
        return iter(())

    def train(self, mode: bool = True) -> "ModuleBase":
        """Set the training flag; returns self. (``Module.train`` sets it on every descendant.)"""
        object.__setattr__(self, "training", bool(mode))
        return self

    def eval(self) -> "ModuleBase":
        """``train(False)``; returns self."""
        return self.train(False)

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of ``repr`` (override when there are any;
        a ``Module``'s may span several lines)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Activation(ModuleBase):
    """Base class of ReLU, Sigmoid, Softmax...: a stateless layer with a ``forward``.

    Subclasses override :meth:`forward` (and :meth:`extra_repr` when they have settings).
    An activation has no parameters, buffers or children. Being a :class:`ModuleBase`, it
    follows ``model.train()`` / ``model.eval()``, takes forward hooks, and is registered as a
    child when assigned to a ``Module``'s attribute, like any other layer.

    Example:
        >>> from tinytorch.core.activations import ReLU
        >>> ReLU()
        ReLU()
    """
