"""``Module``: the base class of every layer and model.

Assigning a :class:`Parameter` or another layer to an attribute registers it, so a model knows
its weights without being told:

    class TwoLayer(Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Dense(784, 128)     # registered as child "fc1"
            self.act = ReLU()              # registered as child "act" (no weights)
            self.fc2 = Dense(128, 10)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    model.named_parameters()  ->  fc1.weight, fc1.bias, fc2.weight, fc2.bias

Registered values are also ordinary attributes, so reading ``self.fc1`` costs nothing extra.

**Why an activation needs no special case.** Activations come before ``Module`` in the
course, and a module never imports a later one. So the activations module defines what every
layer has, weights or not — :class:`~tinytorch.core.activations.ModuleBase`: calling it runs
``forward`` between the forward (pre-)hooks, a ``training`` flag, ``named_children()``,
``parameters()``, ``repr``, and registries ``_parameters`` / ``_buffers`` / ``_modules`` that
are empty and read-only. ``Activation`` (ReLU, Softmax...) is a ``ModuleBase``, and so is
``Module``, which adds one thing: registries of its own, filled as attributes are assigned.

Everything below therefore treats a child the same way whatever it is. ``__setattr__``
registers any ``ModuleBase`` as a child (one ``isinstance`` test, no list of types);
``named_modules`` walks into each child's ``named_children()`` (an activation has none);
``named_parameters`` reads each module's ``_parameters`` (an activation's is empty);
``train()`` sets every ``training`` flag; and a profiler's hooks go on an activation exactly
as on a ``Dense``, since the hooks live in ``ModuleBase.__call__``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, Mapping, NamedTuple

import numpy as np

from tinytorch.core.activations import ModuleBase
from tinytorch.core.tensor import Tensor

from .parameter import Parameter

__all__ = ["Module", "IncompatibleKeys", "StateDictKeyError", "StateDictShapeError"]


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list
    unexpected_keys: list


class StateDictKeyError(KeyError, RuntimeError):
    """``load_state_dict(strict=True)`` found keys missing from the state dict or unknown to the
    model. It is a ``KeyError`` and also a ``RuntimeError`` (what PyTorch raises there)."""

    def __str__(self) -> str:  # a plain KeyError would print its message in quotes
        return str(self.args[0]) if self.args else ""


class StateDictShapeError(ValueError, RuntimeError):
    """``load_state_dict`` found a value whose shape differs from the model's tensor of that key."""


def _check_name(owner: Any, name: Any, what: str) -> None:
    """Names of parameters, buffers and children: non-empty strings without a dot."""
    if not isinstance(name, str):
        raise TypeError(f"{type(owner).__name__}.{what}: the name must be a str, got "
                        f"{type(name).__name__}")
    if not name or "." in name:
        raise ValueError(f"{type(owner).__name__}.{what}: invalid name {name!r} (a name is "
                         "non-empty and has no '.', which separates the levels of nesting)")


def _as_array(value: Any) -> np.ndarray:
    """A state-dict value as a numpy array: an array, a Tensor, a number, or another library's
    tensor (anything with ``detach()`` that numpy can read, e.g. a CPU torch tensor)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    detach = getattr(value, "detach", None)
    return np.asarray(detach() if callable(detach) else value)


def _owner_rank(key: str, rank: Mapping[str, int]) -> int:
    """``rank`` of the deepest module whose dotted name is a prefix of ``key`` (root: "")."""
    parts, best = key.split("."), rank.get("", 0)
    for i in range(1, len(parts)):
        name = ".".join(parts[:i])
        if name not in rank:
            break
        best = rank[name]
    return best


class Module(ModuleBase):
    """Base class for layers and models: override ``forward``; call the module to run it.

    Inherited from ``ModuleBase`` (the activations module; documented on the activations API page):
    calling the module (``__call__`` runs ``forward`` between the hooks),
    ``register_forward_hook(hook)``, ``register_forward_pre_hook(hook)`` (each returns a
    remover), ``named_children()``, ``children()``, ``apply(fn)`` and ``extra_repr()``.
    ``Module`` adds the registries of parameters, buffers and children, and everything built
    on them.
    """

    training: bool
    # ModuleBase's registries are read-only mappings; a Module's are its own, and mutable
    _parameters: "OrderedDict[str, Any]"
    _buffers: "OrderedDict[str, Any]"
    _modules: "OrderedDict[str, Any]"
    _non_persistent: "set[str]"

    def __init__(self) -> None:
        super().__init__()  # the hook dicts
        # registries of this instance's own (ModuleBase's are empty and read-only)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        """``self.name = value``, registering ``value`` by its type.

        A :class:`Parameter` goes into ``self._parameters``, a ``ModuleBase`` (a ``Module`` or
        an activation) into ``self._modules``, anything else into no registry; in every case ``name`` leaves the
        registries it no longer belongs to. (The guards above the block handle ``None``,
        assigning a non-Parameter to a parameter's name, and a new value for a buffer.) The
        attribute itself is always set after the block, so reading ``self.fc1`` is plain.
        """
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' before Module.__init__() ran: call super().__init__() "
                f"first in {type(self).__name__}.__init__"
            )
        params, modules, buffers = self._parameters, self._modules, self._buffers
        if value is None and (name in params or name in modules or name in buffers):
            # e.g. ``self.bias = None``: the name stays reserved, with no value (as in PyTorch)
            for registry in (params, modules, buffers):
                if name in registry:
                    registry[name] = None
            object.__setattr__(self, name, None)
            return
        if name in params and not isinstance(value, Parameter):
            raise TypeError(
                f"cannot assign a value of type {type(value).__name__} to '{name}', a parameter of "
                f"{type(self).__name__}: assign a Parameter (or None), or change the values in "
                f"place with `{name}.data[...] = ...`"
            )
        if name in buffers and isinstance(value, Tensor) and not isinstance(value, Parameter):
            buffers[name] = value  # a new value for a registered buffer stays a buffer
            object.__setattr__(self, name, value)
            return
        ### BEGIN SOLUTION
        ### HINT: a name lives in at most one registry; replacing a value keeps its position
        ### HINT: isinstance(value, Parameter) first — a Parameter is also a Tensor
        ### HINT: dict.pop(name, None) removes a name from a registry if it is there
        if isinstance(value, Parameter):
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, ModuleBase):  # a Module, or an activation (the activations module)
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        else:
            for registry in (params, modules, buffers):
                registry.pop(name, None)
        ### END SOLUTION
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        self._non_persistent.discard(name)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (None reserves the name, e.g. ``bias=False``)."""
        _check_name(self, name, "register_parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}') needs a Parameter, got {type(param).__name__}")
        self.__setattr__(name, param)
        if param is None:
            self._modules.pop(name, None)
            self._buffers.pop(name, None)
            self._parameters[name] = None

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Buffers are saved in ``state_dict`` (unless ``persistent=False``) and never trained.
        """
        _check_name(self, name, "register_buffer")
        tensor = None if value is None else (value if isinstance(value, Tensor) else Tensor(value))
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__setattr__(self, name, tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: ModuleBase | None) -> None:
        """Register a child module (or activation) under ``name``."""
        _check_name(self, name, "add_module")
        if module is not None and not isinstance(module, ModuleBase):
            raise TypeError(f"add_module('{name}') needs a Module, got {type(module).__name__}")
        if module is None:
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = None
            object.__setattr__(self, name, None)
            return
        self.__setattr__(name, module)

    register_module = add_module

    # ------------------------------------------------------------------ running
    # forward(), __call__ and the forward (pre-)hooks are ModuleBase's (the activations module)
    def cast_input(self, x: Any, like: Tensor | None = None) -> Tensor:
        """``x`` as a Tensor in the dtype this layer computes in: its parameters' dtype.

        The tensor module's promotion rule would turn a float32 layer's output into float64 for a
        float64 input (and compute the whole layer in float64); PyTorch refuses such an input
        instead ("mat1 and mat2 must have the same dtype"). A TinyTorch layer with parameters
        computes in their dtype and casts its input — float64 or integer (raw pixels) alike.
        The cast is recorded, so the input's gradient comes back in the input's own dtype.

        Args:
            x: the input (a Tensor, or anything ``Tensor()`` accepts).
            like: the tensor whose dtype to compute in; default: the module's first own
                parameter, else its first floating-point buffer. A module with neither
                returns ``x`` unchanged (only converted to a Tensor).
        """
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if like is None:
            like = next((p for p in self._parameters.values() if p is not None), None)
            if like is None:
                like = next((b for b in self._buffers.values()
                             if b is not None and b.dtype.kind == "f"), None)
        if like is None or x.dtype == like.dtype:
            return x
        return x.astype(like.dtype)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple]:
        """(dotted name, module) for this module and every descendant, parents first.

        A module reachable under two names is listed once, unless ``remove_duplicate=False``.
        A child's name is ``"<parent name>.<child name>"`` (just the child's when the parent's
        is ""); children come in registration order. An activation is a leaf: its
        ``named_children()`` yields nothing.
        """
        seen: set = set()
        stack = [(prefix, self)]
        ### BEGIN SOLUTION
        ### HINT: depth first with a stack of (dotted name, module); push children in reverse
        while stack:
            name, m = stack.pop()
            if remove_duplicate:
                if id(m) in seen:
                    continue
                seen.add(id(m))
            yield name, m
            kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
            stack.extend(reversed(kids))
        ### END SOLUTION

    def modules(self) -> Iterator[Any]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(dotted name, parameter) pairs, e.g. ``fc1.weight``; a shared parameter appears once.

        ``modules`` (given) holds (dotted module name, module) pairs: every descendant with
        ``recurse``, else just this one. Yield ``("<module name>.<param name>", p)`` for each
        entry of each module's ``_parameters`` — no leading dot when the module name is "" —
        skipping ``None`` entries (e.g. ``bias=False``) and any parameter already yielded.
        """
        seen: set = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        ### BEGIN SOLUTION
        ### HINT: remember parameters by id(p) in ``seen``: tied weights are one object, two names
        for mod_name, m in modules:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_name}.{name}" if mod_name else name), p
        ### END SOLUTION

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every trainable parameter (what you hand to an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(dotted name, buffer) pairs."""
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mod_name}.{name}" if mod_name else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self) -> int:
        """Total number of trainable scalars."""
        return sum(p.data.size for p in self.parameters())

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics); returns self.

        Sets ``training = mode`` on this module and every descendant (activations included).
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train(mode) takes a bool, got {type(mode).__name__}")
        ### BEGIN SOLUTION
        ### HINT: self.modules() walks the whole tree, activations included; set each flag with
        ### HINT: object.__setattr__ (plain storage: the flag is not something to register)
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        ### END SOLUTION
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``.grad = None``; or zero it in place)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def to(self, dtype: Any) -> "Module":
        """Cast every floating-point parameter and buffer (and gradient) to ``dtype``, in place.

        Integer buffers (a batch-norm's counter) keep their type; the Tensor objects stay the
        same, so build the optimizer after the cast (its state follows the parameters' dtype).

        Example:
            >>> from tinytorch.core.layers import Dense
            >>> Dense(2, 3).to(np.float64).weight.dtype   # or .double()
            dtype('float64')
        """
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to(): expected a floating-point dtype "
                            f"(float32, float64), got {dtype}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dtype)
        return self

    def float(self) -> "Module":
        """``to(np.float32)``."""
        return self.to(np.float32)

    def double(self) -> "Module":
        """``to(np.float64)``."""
        return self.to(np.float64)

    # apply(fn) is ModuleBase's: every descendant (children's subtrees in order), then self

    # ------------------------------------------------------------------ state
    def _state_tensors(self) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name — every name a module is
        reachable under, so a shared layer is saved under each (as PyTorch does)."""
        state: OrderedDict = OrderedDict()
        for mod_name, m in self.named_modules(remove_duplicate=False):
            items = list(m._parameters.items()) + [
                (n, b) for n, b in m._buffers.items() if n not in m._non_persistent
            ]
            for name, t in items:
                if t is not None:
                    state[f"{mod_name}.{name}" if mod_name else name] = t
        return state

    def state_dict(self, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Any]":
        """Every parameter and persistent buffer keyed by dotted name (``"0.weight"``...).

        Values are copies as numpy arrays (the tensors themselves with ``keep_vars=True``).
        Keys and shapes match PyTorch's for the same architecture, so a state dict converted
        with ``{k: v.numpy() for k, v in torch_model.state_dict().items()}`` loads here.
        """
        return OrderedDict(
            (prefix + key, t if keep_vars else t.data.copy())
            for key, t in self._state_tensors().items()
        )

    def load_state_dict(self, state: Mapping, strict: bool = True) -> IncompatibleKeys:
        """Copy values from ``state`` (as made by ``state_dict``) into this module, in place.

        Values may be numpy arrays, Tensors, or anything ``np.asarray`` reads (a CPU torch
        tensor). With ``strict`` a missing or unexpected key is an error
        (:class:`StateDictKeyError`); a shape mismatch always is (:class:`StateDictShapeError`).
        Both messages name the keys (and both shapes). Nothing is copied unless everything fits.

        Returns:
            the missing and the unexpected keys (both empty after a strict load).
        """
        own = self._state_tensors()
        keys = [str(k) for k in state.keys()]
        missing = [k for k in own if k not in state]
        unexpected = [k for k in keys if k not in own]
        # listed module by module, parents first (the order PyTorch's load walks the tree in);
        # the deepest module whose dotted name starts the key is the one it was meant for
        rank = {name: i for i, (name, _) in enumerate(self.named_modules(remove_duplicate=False))}
        unexpected.sort(key=lambda key: _owner_rank(key, rank))
        if strict and (missing or unexpected):
            raise StateDictKeyError(
                f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                f"unexpected keys {unexpected}"
            )
        values, mismatched = {}, []
        for key, t in own.items():
            if key not in state:
                continue
            value = _as_array(state[key])
            if value.shape != t.data.shape:
                mismatched.append(
                    f"'{key}' has shape {value.shape} in the state dict but {t.data.shape} in the model"
                )
            values[key] = value
        if mismatched:
            raise StateDictShapeError(
                f"load_state_dict into {type(self).__name__}: " + "; ".join(mismatched)
            )
        ### BEGIN SOLUTION
        ### HINT: ``own`` maps each key to the model's Tensor, ``values`` to the checked array;
        ### HINT: write into the existing array (``.data[...] =``) — never rebind ``.data``
        for key, value in values.items():
            own[key].data[...] = value  # in place: optimizers keep pointing at the same arrays
        ### END SOLUTION
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    # extra_repr() is ModuleBase's: override it in layers; here it may span several lines
    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            child_lines.append(f"({name}): {body}")
        head = f"{type(self).__name__}("
        if len(extra_lines) == 1 and not child_lines:
            return head + extra_lines[0] + ")"
        lines = extra_lines + child_lines
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
