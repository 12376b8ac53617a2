"""``Sequential``: a model that is a list of layers, each feeding the next.

    model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
    model(x)  ==  layer2(relu(layer0(x)))

The layers are registered as children "0", "1", "2"... — the names ``torch.nn.Sequential``
gives them — so ``state_dict()`` keys ("0.weight", "0.bias", "2.weight", ...) line up with a
PyTorch model of the same architecture, in both directions.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from tinytorch.core.activations import Activation, ReLU
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

__all__ = ["Sequential"]

_LAYER_TYPES = (Module, Activation)


def _check_layer(owner: str, position: Any, layer: Any) -> None:
    if not isinstance(layer, _LAYER_TYPES):
        raise TypeError(
            f"{owner}: entry {position} is a {type(layer).__name__}, not a layer (a Module such "
            "as Dense, or an activation such as ReLU())"
        )


class Sequential(Module):
    """Layers applied one after another: ``Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])``.

    Accepts one list (or tuple, or any iterable) of layers, the layers as separate arguments,
    or an ordered mapping of names to layers (``OrderedDict([("fc1", Dense(...)), ...])``).
    It behaves like a list: ``model[0]``, ``model[-1]``, ``model[1:]`` (a Sequential of the
    same layer objects), ``len(model)``, iteration, ``append``, ``extend``, ``insert``, ``del``.

    Example:
        >>> from tinytorch.core.layers import Dense
        >>> from tinytorch.core.activations import ReLU
        >>> model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
        >>> list(model.state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *layers: Any) -> None:
        super().__init__()
        if len(layers) == 1 and not isinstance(layers[0], _LAYER_TYPES):
            only = layers[0]
            if isinstance(only, Mapping):
                for name, layer in only.items():
                    _check_layer(type(self).__name__, repr(name), layer)
                    self.add_module(str(name), layer)
                return
            if not isinstance(only, Iterable):
                _check_layer(type(self).__name__, 0, only)
            layers = tuple(only)
        for i, layer in enumerate(layers):
            _check_layer(type(self).__name__, i, layer)
            self.add_module(str(i), layer)

    # ------------------------------------------------------------------ running
    def forward(self, x: Tensor) -> Tensor:
        """Feed ``x`` through every layer in order (an empty Sequential returns ``x``).

        One reordering, invisible from outside: a ``ReLU()`` directly followed by a layer that
        declares ``relu_commutes = True`` (``MaxPool2d`` does) runs after that layer instead
        of before it — see :meth:`_run_order`.

        Args:
            x: the input of the first layer (any shape that layer takes).

        Returns:
            the last layer's output; ``x`` itself when there are no layers. ``layers`` (given)
            is the list to run, already in run order.
        """
        layers = self._run_order()
        ### BEGIN SOLUTION
        ### HINT: each layer's output is the next layer's input
        ### HINT: call the layer (``layer(x)``), not ``layer.forward(x)``: hooks run in __call__
        for layer in layers:
            x = layer(x)
        return x
        ### END SOLUTION

    def _run_order(self) -> list:
        """The layers in the order ``forward`` runs them.

        That is their order, except that ``[ReLU(), pool]`` runs as ``[pool, ReLU()]`` when
        ``pool`` declares ``relu_commutes = True``: a layer for which ``layer(relu(x))`` and
        ``relu(layer(x))`` are the same numbers and give the same gradients. A 2×2 max-pool
        is one (the largest of four ReLU outputs is the ReLU of the largest input, and the
        gradient reaches the same element either way), and after it ReLU touches a quarter
        of the values — 4× less ReLU work, forward and backward. The layers, their names,
        ``repr`` and ``state_dict`` stay exactly as built. Layers with forward hooks are left
        in place, since a hook would see a different tensor.
        """
        layers = list(self._modules.values())
        for i in range(len(layers) - 1):
            first, second = layers[i], layers[i + 1]
            if (type(first) is ReLU and getattr(second, "relu_commutes", False) is True
                    and not getattr(second, "_forward_hooks", None)
                    and not getattr(second, "_forward_pre_hooks", None)):
                layers[i], layers[i + 1] = second, first
        return layers

    # ------------------------------------------------------------------ list behaviour
    def _position(self, index: Any) -> int:
        n = len(self._modules)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers or slices, "
                            f"got {type(index).__name__}")
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__} index {index} is out of range for {n} layers")
        return int(index) % n

    def _renumber(self, layers: list) -> None:
        """Register ``layers`` again as "0", "1", ... (after an insertion or deletion)."""
        for name in list(self._modules):
            self.__delattr__(name)
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            # like PyTorch, a slice keeps the layers' names: model[2:] has children "2", "3"...
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[self._position(index)]

    def __setitem__(self, index: int, layer: Any) -> None:
        _check_layer(type(self).__name__, index, layer)
        name = list(self._modules)[self._position(index)]
        self.add_module(name, layer)

    def __delitem__(self, index: int | slice) -> None:
        layers = list(self._modules.values())
        if isinstance(index, slice):
            del layers[index]
        else:
            del layers[self._position(index)]
        self._renumber(layers)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._modules.values()))

    def append(self, layer: Any) -> "Sequential":
        """Add ``layer`` at the end (under the next free number); returns self."""
        _check_layer(type(self).__name__, len(self), layer)
        i = len(self._modules)
        while str(i) in self._modules:  # after slicing, names need not start at 0
            i += 1
        self.add_module(str(i), layer)
        return self

    def extend(self, layers: Iterable[Any]) -> "Sequential":
        """Append every layer of ``layers``; returns self."""
        for layer in layers:
            self.append(layer)
        return self

    def insert(self, index: int, layer: Any) -> "Sequential":
        """Insert ``layer`` before position ``index`` and renumber; returns self."""
        _check_layer(type(self).__name__, index, layer)
        layers = list(self._modules.values())
        layers.insert(index, layer)
        self._renumber(layers)
        return self

    def pop(self, index: int = -1) -> Any:
        """Remove the layer at ``index`` (default: the last) and return it."""
        layer = self[index]
        del self[index]
        return layer
