"""What every Tensor mixin may use of the Tensor it is mixed into, declared for the type checker.

``Tensor`` (``tensor.py``) is assembled from mixins — arithmetic, math, reductions, shapes,
indexing, windows, more ops, in-place ops — one file each, and it imports them; so they cannot
import it back at run time. Each mixin derives from :class:`TensorBase`, which declares, for a
type checker only, the attributes ``Tensor`` defines and the methods one mixin calls on
another: inside a mixin ``self.data`` is an ``np.ndarray`` and ``self.sum()`` a ``Tensor``.
At run time the class is empty (no attributes, no slots), so it costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .graph import Node
    from .tensor import Tensor

__all__ = ["TensorBase"]


class TensorBase:
    """Declarations (for the type checker) of what :class:`Tensor` defines; empty at run time."""

    __slots__ = ()

    if TYPE_CHECKING:
        data: np.ndarray
        requires_grad: bool
        grad: Tensor | None
        _node: Node | None
        _retains_grad: bool

        @property
        def shape(self) -> tuple: ...

        @property
        def ndim(self) -> int: ...

        @property
        def dtype(self) -> np.dtype: ...

        @staticmethod
        def _make(data: np.ndarray, op: str, inputs: tuple, saved: Any = None) -> Tensor: ...

        def _lift(self, other: Any) -> Tensor: ...

        def detach(self) -> Tensor: ...

        def clone(self) -> Tensor: ...

        def numel(self) -> int: ...

        def tolist(self) -> Any: ...

        def item(self) -> Any: ...

        def astype(self, dtype: Any) -> Tensor: ...

        # methods one mixin calls on another (each defined in the mixin named)
        def __getitem__(self, key: Any) -> Tensor: ...  # indexing.py

        def reshape(self, *shape: Any) -> Tensor: ...  # shape_ops.py

        def abs(self) -> Tensor: ...  # math_ops.py

        def maximum(self, other: Any) -> Tensor: ...  # math_ops.py

        def minimum(self, other: Any) -> Tensor: ...  # math_ops.py

        def gather(self, dim: int, index: Any) -> Tensor: ...  # extra_ops.py

        def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor: ...  # reductions.py
