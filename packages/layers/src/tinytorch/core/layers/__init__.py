"""tinytorch.core.layers — Module, Parameter and the Dense (Linear) layer.

    >>> from tinytorch.core.layers import Dense
    >>> layer = Dense(784, 128)
    >>> [name for name, _ in layer.named_parameters()]
    ['weight', 'bias']
"""

from . import init
from .basic import Dropout, Flatten, Identity
from .containers import ModuleDict, ModuleList, ParameterList
from .fused import fused_linear, fused_linear_enabled, is_student_build, set_fused_linear
from .linear import Dense, Linear
from .module import IncompatibleKeys, Module, StateDictKeyError, StateDictShapeError
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Dense", "Linear", "Dropout", "Identity", "Flatten",
           "ModuleList", "ModuleDict", "ParameterList", "IncompatibleKeys", "StateDictKeyError",
           "StateDictShapeError", "init", "fused_linear", "fused_linear_enabled", "set_fused_linear",
           "is_student_build"]
