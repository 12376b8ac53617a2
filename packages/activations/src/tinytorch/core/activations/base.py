"""``Activation``: the small base class of the activation layers.

Module 03 comes before ``Module`` (module 04) exists, yet ``ReLU()`` must sit inside a model
next to ``Dense`` layers. So activations get a base class of their own that behaves like a
weightless Module: you call it, it runs ``forward``, it prints like PyTorch's layers, and it
follows ``train()`` / ``eval()``. tinytorch-layers (which depends on this package) registers an
``Activation`` assigned to a Module attribute as a child module, exactly like a ``Dense``.
"""

from __future__ import annotations

from typing import Any, Iterator

from tinytorch.core.tensor import Tensor

__all__ = ["Activation"]


class Activation:
    """Base class of ReLU, Sigmoid, Softmax...: a stateless callable with a ``forward``.

    Subclasses override :meth:`forward` (and :meth:`extra_repr` when they have settings).
    An activation has no parameters, buffers or children; it has a ``training`` flag only so
    that ``model.train()`` / ``model.eval()`` treat it like any other sub-module.

    Example:
        >>> from tinytorch.core.activations import ReLU
        >>> ReLU()
        ReLU()
    """

    training: bool = True

    def forward(self, x: Tensor) -> Tensor:
        """The computation; every activation overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, x: Any) -> Tensor:
        return self.forward(x)

    def train(self, mode: bool = True) -> "Activation":
        """Set the training flag (activations behave the same either way); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> "Activation":
        """``train(False)``; returns self."""
        return self.train(False)

    def parameters(self) -> Iterator[Tensor]:
        """An activation has no trainable parameters: an empty iterator."""
        return iter(())

    def extra_repr(self) -> str:
        """The settings shown between the parentheses of ``repr`` (override when there are any)."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
