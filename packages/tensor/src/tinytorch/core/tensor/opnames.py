"""The names of the ops the tensor module records, each defined once.

An op's name ties its forward (``self._make(data, ADD, (self, other))``) to its derivative
(``@register_derivative(ADD)`` in the autograd module) and to every tool that reads a graph (the
in-place check, a graph drawing, an exporter). A typo in a bare string would only show up as
"no derivative registered for op 'ad'" at the first backward pass; a misspelt constant is a
``NameError`` at import. The values are the names users see (``grad_fn=<add>``, error
messages, saved graphs), so they never change.

Ops defined in a later package name their own ops the same way, next to their forward, with a
package prefix (``"spatial.conv2d"`` is ``tinytorch.core.spatial.fused.conv.CONV2D_OP``).

    >>> from tinytorch.core.tensor import Tensor, opnames
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (x + x)._node.op == opnames.ADD
    True
"""

from __future__ import annotations

__all__ = [
    # arithmetic and elementwise math (arithmetic.py, math_ops.py)
    "ADD", "SUB", "MUL", "DIV", "POW", "NEG", "MOD", "MATMUL",
    "EXP", "LOG", "LOG1P", "SQRT", "ABS", "TANH", "SIN", "COS", "ERF", "RELU",
    "MAXIMUM", "MINIMUM", "CLIP", "SOFTMAX", "LOG_SOFTMAX", "WHERE", "CAST", "CLONE",
    # reductions (reductions.py)
    "SUM", "MEAN", "MAX", "MIN", "VAR", "STD",
    # shape and indexing (shape_ops.py, indexing.py, functions.py, windows.py)
    "RESHAPE", "PERMUTE", "BROADCAST_TO", "PAD", "GETITEM", "CAT", "STACK", "SLIDING_WINDOW",
    # given ops with their own derivative (more_ops.py)
    "FLOOR", "CEIL", "ROUND", "TRUNC", "CUMSUM", "PROD", "SORT", "EINSUM", "SCATTER",
    "SCATTER_ADD",
    # the fast paths (fused.py)
    "RELU_FUSED", "LINEAR_FUSED",
    # results recorded without inputs: outside any graph, never differentiated
    "FLOORDIV", "EQ", "NE", "LT", "LE", "GT", "GE", "AND", "OR", "INVERT", "SIGN",
    "ARGMAX", "ARGMIN", "ARGSORT", "ANY", "ALL", "LEAF",
    # the groups
    "DIFFERENTIABLE", "NOT_DIFFERENTIABLE", "OP_NAMES",
]

# --- arithmetic and elementwise math: Python's operators and the math methods
ADD = "add"
SUB = "sub"
MUL = "mul"
DIV = "div"
POW = "pow"
NEG = "neg"
MOD = "mod"  # recorded with inputs only for float results (integer % has no gradient)
MATMUL = "matmul"
EXP = "exp"
LOG = "log"
LOG1P = "log1p"
SQRT = "sqrt"
ABS = "abs"
TANH = "tanh"
SIN = "sin"
COS = "cos"
ERF = "erf"
RELU = "relu"
MAXIMUM = "maximum"
MINIMUM = "minimum"
CLIP = "clip"
SOFTMAX = "softmax"
LOG_SOFTMAX = "log_softmax"
WHERE = "where"
CAST = "cast"
CLONE = "clone"

# --- reductions over axes
SUM = "sum"
MEAN = "mean"
MAX = "max"
MIN = "min"
VAR = "var"
STD = "std"

# --- shape and indexing: values move, none change
RESHAPE = "reshape"  # also what contiguous() records
PERMUTE = "permute"
BROADCAST_TO = "broadcast_to"
PAD = "pad"
GETITEM = "getitem"
CAT = "cat"
STACK = "stack"
SLIDING_WINDOW = "sliding_window"

# --- given ops that register their derivative next to their forward (more_ops.py)
FLOOR = "floor"
CEIL = "ceil"
ROUND = "round"
TRUNC = "trunc"
CUMSUM = "cumsum"
PROD = "prod"
SORT = "sort"
EINSUM = "einsum"
SCATTER = "scatter"
SCATTER_ADD = "scatter_add"

# --- the fast paths a ReLU layer and a Dense layer record (fused.py)
RELU_FUSED = "relu.fused"  # the lesson's Tensor.relu records RELU
LINEAR_FUSED = "linear.fused"

# --- results made with no inputs, so no node is ever recorded (the name labels the call):
# comparisons, bit ops, indices; they never require grad
FLOORDIV = "floordiv"
EQ = "eq"
NE = "ne"
LT = "lt"
LE = "le"
GT = "gt"
GE = "ge"
AND = "and"
OR = "or"
INVERT = "invert"
SIGN = "sign"
ARGMAX = "argmax"
ARGMIN = "argmin"
ARGSORT = "argsort"
ANY = "any"
ALL = "all"
LEAF = "leaf"  # from_numpy: a tensor wrapping an array

DIFFERENTIABLE: frozenset[str] = frozenset({
    ADD, SUB, MUL, DIV, POW, NEG, MOD, MATMUL, EXP, LOG, LOG1P, SQRT, ABS, TANH, SIN, COS, ERF,
    RELU, MAXIMUM, MINIMUM, CLIP, SOFTMAX, LOG_SOFTMAX, WHERE, CAST, CLONE,
    SUM, MEAN, MAX, MIN, VAR, STD,
    RESHAPE, PERMUTE, BROADCAST_TO, PAD, GETITEM, CAT, STACK, SLIDING_WINDOW,
    FLOOR, CEIL, ROUND, TRUNC, CUMSUM, PROD, SORT, EINSUM, SCATTER, SCATTER_ADD,
    RELU_FUSED, LINEAR_FUSED,
})
"""Ops recorded with inputs: each has a derivative (the autograd module's, or its own in more_ops/fused)."""

NOT_DIFFERENTIABLE: frozenset[str] = frozenset({
    FLOORDIV, EQ, NE, LT, LE, GT, GE, AND, OR, INVERT, SIGN,
    ARGMAX, ARGMIN, ARGSORT, ANY, ALL, LEAF,
})
"""Ops made with no inputs: never in a graph, their results never require grad."""

OP_NAMES: frozenset[str] = DIFFERENTIABLE | NOT_DIFFERENTIABLE
"""Every op name the tensor module records."""
