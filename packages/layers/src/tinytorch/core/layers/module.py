"""``Module``: the base class of every layer and model.

Assigning a :class:`Parameter` or another ``Module`` to an attribute registers it, so a
model knows its weights without being told:

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

Activations (module 03) come before ``Module`` in the course, so they have a tiny base class
of their own, :class:`~tinytorch.core.activations.Activation`. A Module registers an assigned
activation as a child as well — ``(1): ReLU()`` shows in the repr, ``train()``/``eval()`` and
``apply()`` reach it — and treats it as what it is: a leaf without parameters, buffers or
children.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from tinytorch.core.activations import Activation
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


class Module:
    """Base class for layers and models: override ``forward``; call the module to run it."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        """``self.name = value``, registering ``value`` by its type.

        A :class:`Parameter` goes into ``self._parameters``, a ``Module`` or an ``Activation``
        into ``self._modules``, anything else into no registry; in every case ``name`` leaves the
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
        elif isinstance(value, (Module, Activation)):
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

    def add_module(self, name: str, module: "Module | Activation | None") -> None:
        """Register a child module (or activation) under ``name``."""
        _check_name(self, name, "add_module")
        if module is not None and not isinstance(module, (Module, Activation)):
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
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def cast_input(self, x: Any, like: Tensor | None = None) -> Tensor:
        """``x`` as a Tensor in the dtype this layer computes in: its parameters' dtype.

        Module 02's promotion rule would turn a float32 layer's output into float64 for a
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

    def register_forward_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(module, inputs, output)`` after every forward; returns a remover.

        A hook that returns something other than None replaces the output.
        """
        key = object()
        self._forward_hooks[key] = hook
        return lambda: self._forward_hooks.pop(key, None)

    def register_forward_pre_hook(self, hook: Callable) -> Callable[[], None]:
        """Call ``hook(module, inputs)`` before every forward; returns a remover.

        A hook that returns something other than None replaces the inputs (a tuple, or a
        single value that becomes the only positional input).
        """
        key = object()
        self._forward_pre_hooks[key] = hook
        return lambda: self._forward_pre_hooks.pop(key, None)

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> Iterator[tuple]:
        """(name, module) for each direct child (activations included)."""
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self) -> Iterator[Any]:
        """Each direct child module."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple]:
        """(dotted name, module) for this module and every descendant, parents first.

        A module reachable under two names is listed once, unless ``remove_duplicate=False``.
        A child's name is ``"<parent name>.<child name>"`` (just the child's when the parent's
        is ""); children come in registration order. An Activation is a leaf: it has no
        ``named_children``.
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
            if isinstance(m, Module):  # an Activation is a leaf
                kids = [(f"{name}.{n}" if name else n, c) for n, c in m.named_children()]
                stack.extend(reversed(kids))
        ### END SOLUTION

    def modules(self) -> Iterator[Any]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def _stateful_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple]:
        """``named_modules`` without the activations (which hold no parameters or buffers)."""
        for name, m in self.named_modules(prefix, remove_duplicate):
            if isinstance(m, Module):
                yield name, m

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(dotted name, parameter) pairs, e.g. ``fc1.weight``; a shared parameter appears once.

        ``modules`` (given) holds (dotted module name, module) pairs: every descendant with
        ``recurse``, else just this one. Yield ``("<module name>.<param name>", p)`` for each
        entry of each module's ``_parameters`` — no leading dot when the module name is "" —
        skipping ``None`` entries (e.g. ``bias=False``) and any parameter already yielded.
        """
        seen: set = set()
        modules = self._stateful_modules(prefix) if recurse else [(prefix, self)]
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
        modules = self._stateful_modules(prefix) if recurse else [(prefix, self)]
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
        ### HINT: self.modules() walks the whole tree; set the flag with object.__setattr__
        ### HINT: (a plain ``m.training = ...`` goes through Module.__setattr__, and an
        ### HINT: Activation is not a Module)
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

    def apply(self, fn: Callable[[Any], None]) -> "Module":
        """Call ``fn`` on every submodule and then on self (e.g. custom initialisation)."""
        for m in reversed(list(self.modules())):
            fn(m)
        return self

    # ------------------------------------------------------------------ state
    def _state_tensors(self) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name — every name a module is
        reachable under, so a shared layer is saved under each (as PyTorch does)."""
        state: OrderedDict = OrderedDict()
        for mod_name, m in self._stateful_modules(remove_duplicate=False):
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
    def extra_repr(self) -> str:
        """The settings shown inside ``repr`` (override in layers); may span several lines."""
        return ""

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
