"""``Dense`` (alias ``Linear``): y = x Wᵀ + b, the fully connected layer.

The weight is stored as (out_features, in_features), PyTorch's layout, so state dicts line
up with ``torch.nn.Linear``: row ``j`` of the weight holds the input weights of output unit
``j``. Initialisation also follows PyTorch: weight and bias from U(-1/√in, 1/√in) (that is
Kaiming-uniform with a = √5), or Xavier-uniform with ``init="xavier"``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.fused import linear as linear_fused

from . import init as initialisers
from .fused import fused_linear_enabled
from .module import Module
from .parameter import Parameter

__all__ = ["Dense", "Linear"]


class Dense(Module):
    """Fully connected layer: ``y = x @ weight.T + bias``.

    Args:
        in_features: size of each input's last dimension.
        out_features: size of each output's last dimension.
        bias: learn an additive bias.
        init: "kaiming" (PyTorch's default for Linear) or "xavier".
        generator: numpy Generator for the initial weights (default: tinytorch's seeded one).
        dtype: the parameters' dtype (float32 by default; e.g. ``np.float64``).

    Shape:
        (*, in_features) -> (*, out_features)

    Example:
        >>> layer = Dense(784, 128)
        >>> layer(Tensor(np.zeros((32, 784)))).shape
        (32, 128)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "kaiming", generator: np.random.Generator | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Dense needs positive sizes, got in_features={in_features}, "
                             f"out_features={out_features}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=np.float32))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(init, generator)
        if dtype is not None:
            self.to(dtype)  # initialised in float32, then cast (the same draws in either dtype)

    def reset_parameters(self, init: str = "kaiming", generator: np.random.Generator | None = None) -> None:
        """Draw fresh initial weights."""
        if init == "kaiming":
            initialisers.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        elif init == "xavier":
            initialisers.xavier_uniform_(self.weight, generator=generator)
        else:
            raise ValueError(f"Dense: unknown init '{init}' (use 'kaiming' or 'xavier')")
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            initialisers.uniform_(self.bias, -bound, bound, generator)

    def forward(self, x: Any) -> Tensor:
        """Apply the layer to the last dimension of ``x``: ``y = x @ weight.T + bias``.

        Args:
            x: (*, in_features); by the block, inputs of more than 2 dimensions are already
                reshaped to (N, in_features), and ``x`` is in the weight's dtype (a float64
                or integer input is cast to it: ``Module.cast_input``).

        Returns:
            (*, out_features). Written with Tensor ops (``@``, ``.T``, ``+``), so the result
            records the graph autograd (the autograd module) differentiates.
        """
        x = self.cast_input(x, self.weight)  # compute in the weight's dtype (float32)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = x.shape[-1] if x.ndim else "a scalar"
            raise ValueError(
                f"Dense({self.in_features}→{self.out_features}) expected last dimension "
                f"{self.in_features}, got {got} (input shape {x.shape})"
            )
        lead = x.shape[:-1]
        if x.ndim > 2:  # (batch, seq, in): one big GEMM beats a stack of small ones
            x = x.reshape(-1, self.in_features)
        if fused_linear_enabled() and x.ndim == 2:
            # Given (not the exercise): the reference runs the same maths as one op, with the
            # weight's gradient in its own layout (see layers/fused.py); your version runs yours.
            y = linear_fused(x, self.weight, self.bias)
            return y.reshape(*lead, self.out_features) if len(lead) != 1 else y
        ### BEGIN SOLUTION
        ### HINT: weight is (out, in): (N, in) @ (in, out) needs its transpose, ``self.weight.T``
        ### HINT: the bias (out,) broadcasts over the rows; ``self.bias`` is None when bias=False
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        ### END SOLUTION
        return y.reshape(*lead, self.out_features) if len(lead) != 1 else y

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


Linear = Dense
