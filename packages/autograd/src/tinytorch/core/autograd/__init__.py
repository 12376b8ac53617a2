"""tinytorch.core.autograd: reverse-mode automatic differentiation.

Installing this package makes every Tensor op differentiable — and with it every layer,
activation, convolution and attention block written in the modules before it — without editing them:
it registers the derivative of each primitive op (``derivatives/``) and the engine that
walks the recorded graph (``engine.py``) with tinytorch.core.tensor's registries.

    >>> from tinytorch.core.tensor import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2., 4., 6.])
"""

from . import derivatives  # noqa: F401  (registers the derivative of every primitive)
from .engine import backward, grad, topological_order
from .function import Context, Function
from .gradcheck import GradcheckError, gradcheck
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "backward", "topological_order", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "gradcheck", "GradcheckError", "Function", "Context", "grad",
]

