"""The derivative of every Tensor primitive, grouped by kind. Importing registers them all.

The contract of every rule, ``rule(g, node) -> tuple``:

* ``g`` is the gradient of the final output with respect to the op's result: a numpy array
  of the result's shape (and dtype).
* ``node.inputs`` are the op's input Tensors (their values in ``.data``), ``node.saved``
  whatever the forward kept for the backward (an output, axes, a key...).
* It returns one numpy array (or ``None``) per input: the gradient with respect to that
  input, with exactly that input's shape — so a broadcast input's share is summed back
  (``sum_to_shape``). ``None`` for an input that does not require grad saves the work.
* It works on arrays only: nothing in a first-order backward pass builds a graph.

``graph_rules.py`` holds a second rule per op, written with Tensor ops, that
``backward(create_graph=True)`` uses instead, so the gradient can be differentiated again.

| file | ops |
|---|---|
| elementwise.py | add sub mul div pow neg exp log log1p sqrt abs tanh sin cos erf relu maximum minimum clip cast clone where |
| reductions.py | sum mean max min var std softmax log_softmax |
| linalg.py | matmul |
| shape.py | reshape permute broadcast_to pad getitem cat stack sliding_window |
| graph_rules.py | the Tensor-op twin of most rules above, for create_graph=True (``graph_derivative_ops()`` lists them) |
"""

from . import elementwise, graph_rules, linalg, reductions, shape  # noqa: F401  (registration on import)
