"""Op names are constants (``opnames.py``), defined once and used by every op that records one.

Two checks: every recording site in this package's source (``_make``, ``make_result``,
``_binary``, ``register_derivative``, ...; ``testing.quoted_op_names`` finds them) passes a
name, never a quoted string — a typo in
a string would only fail at the first backward pass; and each differentiable op, run, records
exactly its constant. That autograd registers its rules under the same constants is checked in
``integration/test_op_names.py`` (this package cannot import module 09).
"""

from pathlib import Path

import numpy as np

from tinytorch.core.tensor import Tensor, cat, einsum, fused, opnames, stack, where
from tinytorch.core.tensor.testing import quoted_op_names

SOURCE = Path(opnames.__file__).parent


def test_no_recording_site_of_this_package_quotes_an_op_name():
    files = sorted(SOURCE.glob("*.py"))
    assert len(files) > 10  # the package's modules, found next to opnames.py
    quoted = {f.name: quoted_op_names(f.read_text(encoding="utf-8")) for f in files}
    assert {name: q for name, q in quoted.items() if q} == {}


def test_the_check_finds_a_quoted_name_and_a_typo():
    source = ("y = x._make(data, ADD, (x,))\n"
              "z = x._make(data, 'ad', (x,))\n"
              "@register_derivative('mull')\n"
              "def f(g, node): ...\n")
    assert quoted_op_names(source) == [(2, "ad"), (3, "mull")]


def test_the_constants_are_distinct_and_grouped():
    names = {n: getattr(opnames, n) for n in opnames.__all__ if isinstance(getattr(opnames, n), str)}
    assert len(set(names.values())) == len(names)  # no two constants share a value
    assert set(names.values()) == opnames.OP_NAMES
    assert opnames.DIFFERENTIABLE.isdisjoint(opnames.NOT_DIFFERENTIABLE)
    assert (opnames.ADD, opnames.RELU_FUSED, opnames.GETITEM) == ("add", "relu.fused", "getitem")


def _cases():
    """``(expected op, how to make it)`` for every differentiable op of this package."""
    o = opnames
    rows = [
        (o.ADD, lambda x, y: x + y), (o.SUB, lambda x, y: x - y), (o.MUL, lambda x, y: x * y),
        (o.DIV, lambda x, y: x / y), (o.POW, lambda x, y: x ** y), (o.NEG, lambda x, y: -x),
        (o.MOD, lambda x, y: x % 0.7), (o.MATMUL, lambda x, y: x @ y.T),
        (o.EXP, lambda x, y: x.exp()), (o.LOG, lambda x, y: x.log()),
        (o.LOG1P, lambda x, y: x.log1p()), (o.SQRT, lambda x, y: x.sqrt()),
        (o.ABS, lambda x, y: x.abs()), (o.TANH, lambda x, y: x.tanh()),
        (o.SIN, lambda x, y: x.sin()), (o.COS, lambda x, y: x.cos()), (o.ERF, lambda x, y: x.erf()),
        (o.RELU, lambda x, y: x.relu()), (o.MAXIMUM, lambda x, y: x.maximum(y)),
        (o.MINIMUM, lambda x, y: x.minimum(y)), (o.CLIP, lambda x, y: x.clip(0.5, 1.0)),
        (o.SOFTMAX, lambda x, y: x.softmax(-1)), (o.LOG_SOFTMAX, lambda x, y: x.log_softmax(-1)),
        (o.WHERE, lambda x, y: where(x.data > 1.0, x, y)),
        (o.CAST, lambda x, y: x.astype(np.float32)), (o.CLONE, lambda x, y: x.clone()),
        (o.SUM, lambda x, y: x.sum()), (o.MEAN, lambda x, y: x.mean()),
        (o.MAX, lambda x, y: x.max()), (o.MIN, lambda x, y: x.min()),
        (o.VAR, lambda x, y: x.var()), (o.STD, lambda x, y: x.std()),
        (o.RESHAPE, lambda x, y: x.reshape(3, 2)), (o.PERMUTE, lambda x, y: x.permute(1, 0)),
        (o.BROADCAST_TO, lambda x, y: x.broadcast_to(4, 2, 3)),
        (o.PAD, lambda x, y: x.pad([(1, 1), (0, 2)])), (o.GETITEM, lambda x, y: x[0]),
        (o.CAT, lambda x, y: cat([x, y])), (o.STACK, lambda x, y: stack([x, y])),
        (o.SLIDING_WINDOW, lambda x, y: x.sliding_window((2,))),
        (o.FLOOR, lambda x, y: x.floor()), (o.CEIL, lambda x, y: x.ceil()),
        (o.ROUND, lambda x, y: x.round()), (o.TRUNC, lambda x, y: x.trunc()),
        (o.CUMSUM, lambda x, y: x.cumsum(1)), (o.PROD, lambda x, y: x.prod()),
        (o.SORT, lambda x, y: x.sort(1)[0]), (o.EINSUM, lambda x, y: einsum("ij,kj->ik", x, y)),
        (o.SCATTER, lambda x, y: x.scatter(1, np.zeros((2, 1), np.int64), y)),
        (o.SCATTER_ADD, lambda x, y: x.scatter_add(1, np.zeros((2, 1), np.int64), y)),
        (o.RELU_FUSED, lambda x, y: fused.relu(x)),
        (o.LINEAR_FUSED, lambda x, y: fused.linear(x, y, None)),
    ]
    return rows


def test_the_cases_cover_every_differentiable_op():
    assert sorted(op for op, _ in _cases()) == sorted(opnames.DIFFERENTIABLE)


def test_each_op_records_its_constant():
    # one test over all cases, without per-op ids: a lesson's check("tensor", "matmul") selects
    # tests by name (-k matmul) and must not pick up cases that need other exercises
    x = Tensor(np.array([[0.5, 1.5, 2.0], [1.2, 0.7, 3.0]]), requires_grad=True)
    y = Tensor(np.array([[1.0, 0.8, 2.5], [0.6, 1.1, 0.9]]), requires_grad=True)
    recorded = {}
    for op, make in _cases():
        node = make(x, y)._node
        recorded[op] = None if node is None else node.op
    assert {op: got for op, got in recorded.items() if got != op} == {}
