"""Op names are constants defined once (issue 23): module 02 records them, module 09 registers
their derivatives under them.

Module 02 cannot import module 09, so the check that both sides use the same names lives here:
every derivative rule module 02 or module 09 registers (array rules and create_graph rules)
is filed under one of ``tinytorch.core.tensor.opnames``'s constants — or, for autograd's two
ops of its own (the scatter of ``getitem``'s gradient, the fold of ``sliding_window``'s),
under autograd's constants. A bare-string typo (``@register_derivative("ad")``) would file a
rule under a name no forward records; the checker below reports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (importing it registers the rules)
from tinytorch.core.autograd.derivatives.graph_rules import FOLD, GETITEM_GRAD
from tinytorch.core.tensor import Tensor, graph, opnames
from tinytorch.core.tensor.testing import quoted_op_names

REPO = Path(__file__).resolve().parents[1]

# The rules this check covers: module 02's own (more_ops, fused) and module 09's rule files.
# Function subclasses (autograd/function.py) and later packages name their ops themselves.
_OWNERS = ("tinytorch.core.tensor.", "tinytorch.core.autograd.derivatives.")
_ALLOWED = opnames.OP_NAMES | {GETITEM_GRAD, FOLD}


def _strays(registry: dict, allowed: frozenset | set = _ALLOWED) -> list[str]:
    """Names under which module 02 or 09 registered a rule although no constant has that name."""
    return sorted(
        op for op, fn in registry.items()
        if getattr(fn, "__module__", "").startswith(_OWNERS)
        and ".tests." not in getattr(fn, "__module__", "")
        and op not in allowed
    )


@pytest.mark.parametrize("registry", ["_DERIVATIVES", "_GRAPH_DERIVATIVES"])
def test_every_rule_of_tensor_and_autograd_is_filed_under_an_op_name_constant(registry):
    rules = getattr(graph, registry)
    assert any(fn.__module__.startswith(_OWNERS) for fn in rules.values())  # the check saw some
    assert _strays(rules) == []


def test_a_misspelt_op_name_is_reported():
    add_rule = graph._DERIVATIVES[opnames.ADD]  # autograd's rule for "add"
    assert add_rule.__module__.startswith("tinytorch.core.autograd.derivatives.")
    registry = {opnames.ADD: add_rule, "ad": add_rule, "mull": graph._DERIVATIVES[opnames.MUL]}
    assert _strays(registry) == ["ad", "mull"]


def test_every_differentiable_op_of_module_02_has_a_derivative():
    missing = sorted(op for op in opnames.DIFFERENTIABLE if op not in graph._DERIVATIVES)
    assert missing == []


def test_no_derivative_is_registered_for_an_op_made_without_inputs():
    # those ops never reach a graph: a rule under their name would be dead code
    assert sorted(opnames.NOT_DIFFERENTIABLE & set(graph._DERIVATIVES)) == []


def test_each_create_graph_rule_has_its_array_twin():
    twins = {op for op, fn in graph._GRAPH_DERIVATIVES.items() if fn.__module__.startswith(_OWNERS)}
    assert sorted(twins - set(graph._DERIVATIVES)) == []


def test_the_recorded_name_finds_its_rule():
    # forward and derivative meet through the constant: backward of a few ops by name
    x = Tensor(np.array([[0.5, -1.0], [2.0, 3.0]], dtype=np.float64), requires_grad=True)
    for out, op in [(x + x, opnames.ADD), (x * x, opnames.MUL), (x.exp(), opnames.EXP),
                    (x.sum(), opnames.SUM), (x[0], opnames.GETITEM), (x @ x, opnames.MATMUL),
                    (x.cumsum(0), opnames.CUMSUM), (x.floor(), opnames.FLOOR)]:
        assert out._node.op == op
        assert graph.get_derivative(out._node.op) is graph._DERIVATIVES[op]


def test_no_package_records_or_registers_an_op_under_a_quoted_name():
    # every package names its ops with constants (module 02's opnames, spatial's CONV2D_OP, ...)
    files = sorted(REPO.glob("packages/*/src/**/*.py"))
    assert len(files) > 100
    quoted = {str(f.relative_to(REPO)): quoted_op_names(f.read_text(encoding="utf-8"))
              for f in files}
    assert {path: q for path, q in quoted.items() if q} == {}
