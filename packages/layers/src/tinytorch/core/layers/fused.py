"""Which path ``Dense`` runs: the fused op (the reference's default) or the lesson's code.

Not lesson material. ``Dense.forward``'s exercise is ``x @ weight.T + bias`` written with
Tensor ops: three ops, three graph nodes, and a weight gradient that comes back column-major
(the transpose of ``x.T @ g``). The reference runs the same maths as one op instead,
``tinytorch.core.tensor.fused.linear``: one node, and a weight gradient in the weight's own
row-major layout (the optimizer's update then never mixes memory orders). Same numbers.

What a student writes is what runs when they use their own version: a student's build of this
package (version label ``+student``, as ``tito module start`` installs it) runs the lesson's
code by default, the reference runs the fused op. Either can be chosen explicitly:

    >>> from tinytorch.core.layers import Dense, fused_linear
    >>> from tinytorch.core.tensor import Tensor
    >>> with fused_linear(False):        # run Dense on the lesson's Tensor ops
    ...     y = Dense(4, 2)(Tensor([[1.0, 2.0, 3.0, 4.0]]))
    >>> y.shape
    (1, 2)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from importlib.metadata import PackageNotFoundError, version

from tinytorch.core.tensor.runtime import switch

__all__ = ["FUSED_LINEAR", "fused_linear", "fused_linear_enabled", "set_fused_linear",
           "is_student_build"]


def is_student_build(distribution: str) -> bool:
    """True when the installed ``distribution`` is a student's version (``+student``).

    A later module's fast path asks this about its own distribution (attention's fused
    attention does), so that a student's code is what runs in a student's build.
    """
    try:
        return version(distribution).partition("+")[2] == "student"
    except PackageNotFoundError:  # running from a source tree: the reference
        return False


FUSED_LINEAR = switch("layers.fused_linear", default=not is_student_build("tinytorch-layers"))


def fused_linear_enabled() -> bool:
    """True when ``Dense`` runs the fused op (the reference's default)."""
    return FUSED_LINEAR.enabled


def set_fused_linear(enabled: bool) -> bool:
    """Choose the fused op (True) or the lesson's Tensor ops (False); returns the old setting."""
    return FUSED_LINEAR.set(enabled)


def fused_linear(enabled: bool = True) -> AbstractContextManager:
    """Context manager: ``Dense`` runs the fused op (or, with False, the lesson's code) inside."""
    return FUSED_LINEAR(enabled)
