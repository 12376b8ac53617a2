"""The graph: reading requirements, learning order, levels, transitive reduction."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.introduction import (CycleError, ModuleGraph, ModuleNode, is_student_version,
                                    normalize, requirement_name)


def test_requirement_names():
    assert requirement_name("tinytorch-tensor<0.2,>=0.1") == "tinytorch-tensor"
    assert requirement_name("TinyTorch_Layers (>=0.1,<0.2)") == "tinytorch-layers"
    assert requirement_name("numpy>=1.24") == "numpy"
    assert requirement_name('pytest>=7; extra == "test"') is None
    assert requirement_name("tomli>=2; python_version < '3.11'") == "tomli"
    assert normalize("TinyTorch.Core_X") == "tinytorch-core-x"


def test_student_versions():
    assert is_student_version("0.1.0+student")
    assert is_student_version("0.1.0+STUDENT")
    assert not is_student_version("0.1.0")
    assert not is_student_version("0.1.0+studentish")
    assert not is_student_version(None)


def _valid(graph: ModuleGraph, order: list) -> bool:
    where = {n: i for i, n in enumerate(order)}
    return sorted(order) == sorted(graph.nodes) and all(where[d] < where[u] for d, u in graph.edges())


def test_topo_order_respects_dependencies_and_numbers(course):
    order = course.topological_order()
    assert _valid(course, order)
    # among ready modules the lower number goes first: the course order
    assert [course.nodes[n].number for n in order] == [1, 2, 3, 4, 5, 6, 7, 8]


def test_topo_order_is_not_the_numbering_when_numbers_disagree(node):
    # 'b' is numbered before 'a' but builds on it: a must come first anyway
    g = ModuleGraph.from_nodes([node("b", 1, ("a",)), node("a", 2), node("c", 3)])
    assert g.topological_order() == ["tinytorch-a", "tinytorch-b", "tinytorch-c"]


def test_topo_order_ties_between_ready_modules_go_by_number(node):
    # both y and z become ready when x is placed: the lower number first, whatever the name
    g = ModuleGraph.from_nodes([node("x", 1), node("z", 2, ("x",)), node("y", 3, ("x",)),
                                node("w", 4)])
    assert g.topological_order() == ["tinytorch-x", "tinytorch-z", "tinytorch-y", "tinytorch-w"]


def test_topo_order_a_cycle_is_an_error_naming_it(node):
    g = ModuleGraph.from_nodes([node("a", 1, ("c",)), node("b", 2, ("a",)), node("c", 3, ("b",)),
                                node("d", 4)])
    with pytest.raises(CycleError, match="01 a, 02 b, 03 c"):
        g.topological_order()
    with pytest.raises(CycleError):
        g.transitive_reduction()


def test_levels(course):
    level = {course.nodes[n].folder: v for n, v in course.levels().items()}
    assert level == {"setup": 0, "tensor": 0, "act": 1, "grad": 1, "layers": 2, "opt": 2,
                     "net": 3, "train": 4}
    assert [[course.nodes[n].folder for n in layer] for layer in course.layers()] == \
        [["setup", "tensor"], ["act", "grad"], ["layers", "opt"], ["net"], ["train"]]


def test_transitive_reduction_drops_implied_edges(course):
    short = {(course.nodes[d].folder, course.nodes[u].folder) for d, u in course.transitive_reduction()}
    assert short == {("tensor", "act"), ("act", "layers"), ("layers", "net"), ("tensor", "grad"),
                     ("grad", "opt"), ("net", "train"), ("opt", "train")}
    assert len(course.edges()) == 10  # every declared one is kept there


def test_prerequisites_and_neighbours(course):
    folders = lambda names: [course.nodes[n].folder for n in names]  # noqa: E731
    assert folders(course.prerequisites("tinytorch-net")) == ["tensor", "act", "layers"]
    assert folders(course.dependents("tinytorch-tensor")) == ["act", "layers", "grad", "train"]
    assert course.resolve("02") == course.resolve(2) == course.resolve("tensor") == "tinytorch-tensor"
    assert course.node("tinytorch-opt").label == "07 opt"
    with pytest.raises(KeyError, match="known: setup, tensor"):
        course.node("nope")


def test_topo_order_unknown_dependencies_are_reported_not_ordered(node):
    g = ModuleGraph.from_nodes([node("a", 1, ("ghost",)), node("b", 2, ("a",))])
    assert g.topological_order() == ["tinytorch-a", "tinytorch-b"]
    assert g.missing("tinytorch-a") == ["tinytorch-ghost"]


# ---------------------------------------------------------------------------- properties
@st.composite
def dags(draw):
    """A random DAG over up to 9 modules, with numbers that need not follow the edges."""
    n = draw(st.integers(1, 9))
    numbers = draw(st.permutations(list(range(n))))
    nodes = []
    for i in range(n):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=i)) if i else set()
        nodes.append(ModuleNode(f"tinytorch-m{i}", numbers[i], "0.1.0", "",
                                tuple(f"tinytorch-m{d}" for d in sorted(deps))))
    return ModuleGraph.from_nodes(nodes)


def _reach(edges: list, start: str) -> set:
    out, todo = set(), [start]
    while todo:
        cur = todo.pop()
        for d, u in edges:
            if d == cur and u not in out:
                out.add(u)
                todo.append(u)
    return out


@settings(max_examples=60, deadline=None)
@given(dags())
def test_levels_property_with_order_and_reduction(g):
    order = g.topological_order()
    assert _valid(g, order)
    level = g.levels()
    for name in g.nodes:
        deps = g.dependencies(name)
        assert level[name] == (1 + max(level[d] for d in deps) if deps else 0)
    reduced = g.transitive_reduction()
    edges = g.edges()
    assert set(reduced) <= set(edges)
    for name in g.nodes:  # same reachability ...
        assert _reach(reduced, name) == _reach(edges, name)
    for e in reduced:  # ... and no reduced edge can go
        others = [x for x in reduced if x != e]
        assert e[1] not in _reach(others, e[0])
