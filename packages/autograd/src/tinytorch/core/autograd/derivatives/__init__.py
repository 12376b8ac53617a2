"""The derivative of every Tensor primitive, grouped by kind. Importing registers them all.

| file | ops |
|---|---|
| elementwise.py | add sub mul div pow neg exp log log1p sqrt abs tanh sin cos erf relu maximum minimum clip cast clone where |
| reductions.py | sum mean max min var softmax log_softmax |
| linalg.py | matmul |
| shape.py | reshape permute broadcast_to pad getitem cat stack sliding_window |
"""

from . import elementwise, linalg, reductions, shape  # noqa: F401  (registration on import)
