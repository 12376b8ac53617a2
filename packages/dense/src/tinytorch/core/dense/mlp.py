"""``MLP``: build the usual multi-layer perceptron from its sizes.

    MLP(784, [256, 128], 10)
    ==  Sequential(Dense(784, 256), ReLU(), Dense(256, 128), ReLU(), Dense(128, 10))

Every hidden layer is Dense → activation (→ Dropout when ``dropout > 0``); the output layer
is a bare Dense (no activation: a loss such as cross-entropy applies its own softmax). An MLP
*is* a Sequential, so its ``state_dict`` keys are those of the equivalent
``torch.nn.Sequential`` of ``Linear`` / ``ReLU`` / ``Dropout`` layers.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from tinytorch.core.activations import GELU, LeakyReLU, ModuleBase, ReLU, Sigmoid, Tanh
from tinytorch.core.layers import Dense, Dropout

from .sequential import Sequential

__all__ = ["MLP"]

ACTIVATIONS: dict = {"relu": ReLU, "leaky_relu": LeakyReLU, "tanh": Tanh, "sigmoid": Sigmoid,
                     "gelu": GELU}


def _activation_factory(activation: Any) -> Callable[[], Any] | None:
    """A zero-argument callable that makes one activation layer (None: no activation)."""
    if activation is None:
        return None
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]
        except KeyError:
            raise ValueError(f"MLP: unknown activation {activation!r} "
                             f"(known: {', '.join(ACTIVATIONS)})") from None
    if isinstance(activation, ModuleBase):  # a layer instance: a Module or an activation
        return lambda: activation  # one instance shared by every hidden layer (it is stateless)
    if callable(activation):
        return activation
    raise TypeError(f"MLP: activation must be a layer class such as ReLU, a layer instance, a "
                    f"name or None; got {type(activation).__name__}")


class MLP(Sequential):
    """A stack of Dense layers with an activation (and optional dropout) between them.

    Args:
        in_features: size of each input (e.g. 784 for a flattened 28×28 image).
        hidden_sizes: the width of each hidden layer, e.g. ``[256, 128]`` (an int for one
            hidden layer; empty for a single Dense layer, i.e. a linear model).
        out_features: size of each output (e.g. 10 class scores).
        activation: the layer class to put after each hidden Dense (``ReLU``, ``Tanh``,
            ``GELU``...), a zero-argument factory, an instance, a name (``"relu"``) or None.
        dropout: if > 0, a ``Dropout(dropout)`` after each hidden activation.

    Shape:
        (*, in_features) -> (*, out_features)

    Example:
        >>> model = MLP(784, [128], 10)
        >>> [name for name, _ in model.named_parameters()]
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, in_features: int, hidden_sizes: Sequence[int] | int, out_features: int,
                 activation: Any = ReLU, dropout: float = 0.0) -> None:
        hidden = [hidden_sizes] if isinstance(hidden_sizes, int) else list(hidden_sizes)
        for size in [in_features, *hidden, out_features]:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ValueError(f"MLP: layer sizes must be positive ints, got in_features="
                                 f"{in_features}, hidden_sizes={hidden_sizes}, "
                                 f"out_features={out_features}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        make_activation = _activation_factory(activation)
        layers: list = []
        ### BEGIN SOLUTION
        ### HINT: Dense(previous width, width), then the activation (and Dropout if asked)
        ### HINT: make_activation() gives a fresh activation (None: no activation); the last
        ### HINT: Dense maps to out_features and has nothing after it
        width = in_features
        for size in hidden:
            layers.append(Dense(width, size))
            if make_activation is not None:
                layers.append(make_activation())
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = size
        layers.append(Dense(width, out_features))
        ### END SOLUTION
        super().__init__(layers)
        self.in_features = in_features
        self.hidden_sizes = tuple(hidden)
        self.out_features = out_features
        self.dropout = float(dropout)
