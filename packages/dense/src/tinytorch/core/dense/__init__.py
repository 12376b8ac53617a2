"""tinytorch.core.dense — stack layers into a network.

    >>> from tinytorch.core.layers import Dense
    >>> from tinytorch.core.activations import ReLU
    >>> from tinytorch.core.dense import Sequential, MLP
    >>> model = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
    >>> len(model), list(model.state_dict())
    (3, ['0.weight', '0.bias', '2.weight', '2.bias'])
    >>> list(MLP(784, [128], 10).state_dict()) == list(model.state_dict())
    True
"""

from .mlp import MLP
from .sequential import Sequential

__all__ = ["Sequential", "MLP"]
