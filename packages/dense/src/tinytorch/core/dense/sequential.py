"""``Sequential``: a model that is a list of layers, each feeding the next.

    model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
    model(x)  ==  layer2(relu(layer0(x)))

The layers are registered as children "0", "1", "2"... — the names ``torch.nn.Sequential``
gives them — so ``state_dict()`` keys ("0.weight", "0.bias", "2.weight", ...) line up with a
PyTorch model of the same architecture, in both directions.

A ``Sequential`` is a :class:`~tinytorch.core.layers.ModuleList` that also runs its entries
in order: indexing, ``len``, iteration, ``append``, ``insert``, ``pop`` and ``del`` are the
list's, and so is the check that each entry is a layer (a ``Module`` or an activation — both
are ``ModuleBase``, tinytorch-activations). What ``Sequential`` adds: the constructor's forms,
``forward``, and slices that keep their names.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Mapping

from tinytorch.core.activations import ModuleBase, ReLU
from tinytorch.core.layers import ModuleList
from tinytorch.core.tensor import Tensor

__all__ = ["Sequential"]


class Sequential(ModuleList):
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
        if len(layers) == 1 and not isinstance(layers[0], ModuleBase):
            only = layers[0]
            if isinstance(only, Mapping):
                for name, layer in only.items():
                    self._check_entry(repr(name), layer)
                    self.add_module(str(name), layer)
                return
            if not isinstance(only, Iterable):
                self._check_entry(0, only)
            layers = tuple(only)
        for i, layer in enumerate(layers):
            self._check_entry(i, layer)
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
        ``repr`` and ``state_dict`` stay exactly as built. A pair where either layer has forward
        hooks (a profiler's, say) is left in place, since a hook would see a different tensor.
        """
        layers = list(self._modules.values())
        for i in range(len(layers) - 1):
            first, second = layers[i], layers[i + 1]
            if (type(first) is ReLU and getattr(second, "relu_commutes", False) is True
                    and not (first._forward_hooks or first._forward_pre_hooks
                             or second._forward_hooks or second._forward_pre_hooks)):
                layers[i], layers[i + 1] = second, first
        return layers

    # ------------------------------------------------------------------ list behaviour
    # indexing, len, iteration, append, extend, pop, del: ModuleList's
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            # like PyTorch, a slice keeps the layers' names: model[2:] has children "2", "3"...
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    # insert: ModuleList's (returns self, as torch.nn.Sequential.insert does)
