"""tinytorch.core.tensor: the N-dimensional Tensor.

    >>> from tinytorch.core.tensor import Tensor
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> (x @ x.T).shape
    (2, 2)

A Tensor is a numpy array with PyTorch's names, plus the bookkeeping autograd needs: every op
on a tensor that ``requires_grad`` records which op made its result, from which inputs, and
what it saved. The autograd module (tinytorch-autograd) differentiates that record.
"""

from .factories import (
    arange,
    default_generator,
    empty,
    eye,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from .functions import (
    as_tensor,
    cat,
    concatenate,
    einsum,
    from_numpy,
    matmul,
    maximum,
    minimum,
    pad,
    stack,
    tensor,
    where,
)
from .graph import (
    Node,
    get_derivative,
    get_engine,
    is_grad_enabled,
    register_derivative,
    register_engine,
    set_grad_enabled,
    sum_to_shape,
)
from .math_ops import erf_array
from .tensor import Size, Tensor, make_result
from .windows import window_output_size


__all__ = [
    "Tensor", "Size", "tensor", "from_numpy", "as_tensor", "make_result",
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "rand", "randn", "randint", "manual_seed", "default_generator",
    "zeros_like", "ones_like", "full_like", "rand_like", "randn_like",
    "cat", "concatenate", "einsum", "stack", "where", "maximum", "minimum", "matmul", "pad",
    "Node", "register_derivative", "get_derivative", "register_engine", "get_engine",
    "is_grad_enabled", "set_grad_enabled", "sum_to_shape", "erf_array", "window_output_size",
]
