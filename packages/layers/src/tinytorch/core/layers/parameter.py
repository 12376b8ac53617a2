"""``Parameter``: a Tensor that a Module trains.

It is an ordinary Tensor with ``requires_grad=True`` by default; the only thing that makes
it special is its type, which ``Module.__setattr__`` recognises to register it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A trainable tensor: registered by Modules on assignment, float32 by default.

    Args:
        data: initial values (anything ``Tensor`` accepts, or a Tensor).
        requires_grad: False freezes it.
    """

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data)
        if self.data.dtype.kind != "f":
            self.data = self.data.astype(np.float32)
        self.requires_grad = bool(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
