"""Fast versions of module 02's ops, for the layers that run them on every step — not lesson material.

The lesson's ``Tensor.relu`` is the maths, ``np.maximum(x, 0)``, into a fresh array. A CNN
runs ReLU on every conv output of every training step, megabytes each time, and a fresh
array that size costs more in page faults than the arithmetic; so the ReLU *layers*
(``tinytorch.core.activations.relu``, which every ``ReLU()`` calls) run :func:`relu` below
instead: the same op (``"relu"``, the same derivative, the same numbers and memory layout),
written into a scratch buffer from the runtime's pool
(:data:`~tinytorch.core.tensor.runtime.WORKSPACE`, which explains when a buffer is free).
"""

from __future__ import annotations

import numpy as np

from .runtime import WORKSPACE
from .tensor import Tensor, make_result

__all__ = ["relu"]


def relu(x: Tensor) -> Tensor:
    """``x.relu()`` — max(x, 0), op "relu" — with the result in a reused buffer.

    Same dtype as ``x`` (ints stay ints), laid out like it in memory (channels-last stays
    channels-last, as ``np.maximum`` alone would keep it), and +0.0 for every non-positive
    input, -0.0 included.
    """
    data = x.data
    out = WORKSPACE.like("relu.out", data)
    # 0 in the tensor's own dtype: numpy 1.x promotes a 0-d float32 with a Python 0 to float64
    np.maximum(data, data.dtype.type(0), out=out)
    return make_result(out, "relu", (x,))
