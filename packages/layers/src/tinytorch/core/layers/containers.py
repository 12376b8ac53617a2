"""``ModuleList``, ``ModuleDict`` and ``ParameterList``: hold sub-modules (or parameters) in
a list or dict and register them.

A plain Python list of layers is invisible to ``parameters()``; these containers name their
entries "0", "1", ... (or by key) so every weight inside is found and saved.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from tinytorch.core.activations import ModuleBase

from .module import Module
from .parameter import Parameter

__all__ = ["ModuleList", "ModuleDict", "ParameterList"]


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ...

    Indexing, slicing, ``len``, iteration, ``append``/``extend``/``insert``/``pop`` and ``del``
    work like a list's; after an insertion or deletion the children are renumbered, so the
    names always run 0, 1, 2, ... (as in PyTorch). An entry is any layer: a ``Module`` or an
    activation (both are ``ModuleBase``). ``Sequential`` (the dense module) is a ``ModuleList`` that
    also runs its entries in order.
    """

    def __init__(self, modules: Iterable[Any] | None = None) -> None:
        super().__init__()
        for m in modules or []:
            self.append(m)

    def _check_entry(self, position: Any, module: Any) -> None:
        """A clear TypeError when ``module`` (to go at ``position``) is not a layer."""
        if not isinstance(module, ModuleBase):
            raise TypeError(
                f"{type(self).__name__}: entry {position} is a {type(module).__name__}, not a "
                "layer (a Module such as Dense, or an activation such as ReLU())"
            )

    def _index(self, index: int) -> int:
        n = len(self._modules)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, "
                            f"got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} out of range for {n} modules")
        return int(index) % n

    def _renumber(self, items: list) -> None:
        """Re-register ``items`` as children "0", "1", ... (dropping the old names)."""
        for key in list(self._modules):
            self.__delattr__(key)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def append(self, module: Any) -> "ModuleList":
        """Add a module at the end, under the next free number; returns self."""
        self._check_entry(len(self), module)
        i = len(self._modules)
        while str(i) in self._modules:  # a Sequential's slice keeps its names: "2", "3", ...
            i += 1
        self.add_module(str(i), module)
        return self

    def extend(self, modules: Iterable[Any]) -> "ModuleList":
        """Add several modules at the end; returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Any) -> "ModuleList":
        """Insert ``module`` before position ``index`` and renumber; returns self."""
        self._check_entry(index, module)
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)
        return self

    def pop(self, index: int = -1) -> Any:
        """Remove the module at ``index`` (default: the last) and return it."""
        module = self[index]
        del self[index]
        return module

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[self._index(index)]

    def __setitem__(self, index: int, module: Any) -> None:
        self._check_entry(index, module)
        key = list(self._modules)[self._index(index)]
        self.add_module(key, module)

    def __delitem__(self, index: int | slice) -> None:
        items = list(self._modules.values())
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._modules.values()))

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); iterate over it in your model")


class ModuleDict(Module):
    """A dict of modules, registered as children under their keys."""

    def __init__(self, modules: Any = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Any:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no module {key!r} (keys: {list(self._modules)})") from None

    def __setitem__(self, key: str, module: Any) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]  # a clear KeyError for an unknown key
        self.__delattr__(key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def pop(self, key: str) -> Any:
        """Remove ``key`` and return its module."""
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Any) -> None:
        """Add (or replace) entries from a dict or an iterable of (key, module) pairs."""
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); call its modules in your model")

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple]:
        return self._modules.items()


class ParameterList(Module):
    """A list of parameters, registered as "0", "1", ... (e.g. one scale per layer).

    Tensors and arrays are wrapped in :class:`Parameter`; indexing, ``len``, iteration,
    ``append`` and ``extend`` work like a list's, and ``parameters()`` / ``state_dict()`` see
    every entry.

    Example:
        >>> scales = ParameterList([np.ones(3), np.zeros(3)])
        >>> [name for name, _ in scales.named_parameters()]
        ['0', '1']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        for v in values or []:
            self.append(v)

    def append(self, value: Any) -> "ParameterList":
        """Add a parameter at the end (anything else is wrapped in a Parameter first)."""
        self.register_parameter(str(len(self._parameters)),
                                value if isinstance(value, Parameter) else Parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        """Add several parameters at the end."""
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, index: int) -> Parameter:
        n = len(self._parameters)
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"ParameterList indices must be integers, got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"ParameterList index {index} out of range for {n} parameters")
        return self._parameters[str(int(index) % n)]

    def __setitem__(self, index: int, value: Any) -> None:
        key = str(int(index) % len(self._parameters)) if self._parameters else str(index)
        self[index]  # the range check
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); use its parameters in yours")

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {tuple(p.shape)} ({p.dtype})"
                         for k, p in self._parameters.items())
