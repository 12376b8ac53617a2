"""Imports inside tinytorch.setup run one way: no module imports, even inside a function, a
module that imports it back (issue 23 found such circles, broken only by function-level
imports). The graph is read from the source by :mod:`tinytorch.setup.importgraph`."""

from __future__ import annotations

from pathlib import Path

import tinytorch.setup
from tinytorch.setup.importgraph import circles, import_graph

ROOT = Path(tinytorch.setup.__file__).parent


def test_setup_has_no_import_circle():
    graph = import_graph(ROOT, "tinytorch.setup")
    assert len(graph) > 20, f"found only {sorted(graph)} under {ROOT}"
    assert circles(graph) == []


def test_a_function_level_import_back_is_a_circle(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "tests").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from . import b\n")
    (pkg / "a.py").write_text("from .sub.b import thing\n")
    (pkg / "sub" / "b.py").write_text("def thing():\n    from ..a import x\n    return x\n")
    (pkg / "c.py").write_text("import pkg.a\nfrom . import VERSION\n")
    (pkg / "tests" / "test_a.py").write_text("from pkg.c import y\n")
    graph = import_graph(pkg, "pkg")
    assert "pkg.tests.test_a" not in graph
    assert graph["pkg.sub"] == {"pkg.sub.b"}
    assert graph["pkg.c"] == {"pkg.a", "pkg"}
    assert circles(graph) == [["pkg.a", "pkg.sub.b"]]
    (pkg / "sub" / "b.py").write_text("def thing():\n    return 1\n")
    assert circles(import_graph(pkg, "pkg")) == []


def test_an_import_for_the_type_checker_only_is_no_circle(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                              "    from .a import A\nelse:\n    import os\n")
    assert import_graph(pkg, "pkg")["pkg.b"] == set()
    (pkg / "b.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    pass\n"
                              "else:\n    from .a import A\n")
    assert circles(import_graph(pkg, "pkg")) == [["pkg.a", "pkg.b"]]
