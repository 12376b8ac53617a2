"""tinytorch.core.activations — the nonlinearities between layers.

    >>> from tinytorch.core.tensor import Tensor
    >>> from tinytorch.core.activations import ReLU, softmax
    >>> ReLU()(Tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    >>> softmax(Tensor([1.0, 1.0])).tolist()
    [0.5, 0.5]

Each activation exists twice: as a function (``relu(x)``) and as a layer (``ReLU()``) to put
in a model. Both are built from Tensor ops, so they are differentiable once tinytorch-autograd
(tinytorch-autograd) is installed. Every layer here is an ``Activation``, a ``ModuleBase``: the base
that the layers module's ``Module`` extends, so activations sit in models like any other layer.
"""

from .base import Activation, ModuleBase
from .extra import (ELU, Hardswish, LogSigmoid, Mish, SiLU, Softplus, elu, hardswish,
                    logsigmoid, mish, silu, softplus)
from .functional import gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .modules import GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh

__all__ = [
    "Activation", "ModuleBase",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax",
    "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    # beyond the lesson (extra.py): built from the same primitives
    "SiLU", "ELU", "Softplus", "Mish", "Hardswish", "LogSigmoid",
    "silu", "elu", "softplus", "mish", "hardswish", "logsigmoid",
]
