"""Which modules of a package import which, read from the source: finding import circles.

Python lets two modules import each other as long as one of the imports runs late (inside a
function), so a circle can hide for years and bite when someone moves an import to the top.
:func:`import_graph` reads every ``.py`` file of a package with :mod:`ast` and records its
imports of the package's own modules — at module level *and* inside functions, since a late
import is still a dependency. Imports under ``if TYPE_CHECKING:`` are left out: they never run.
:func:`circles` returns the groups of modules that reach each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["circles", "import_graph", "package_modules"]


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` (the folder of ``package``) by dotted name; a sub-package by
    its own name. ``tests/`` and ``lesson/`` folders (which a wheel may ship inside the package)
    are left out."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if len(parts) > 1 and parts[0] in ("tests", "lesson"):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join([package, *parts])] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``tree``, wherever they are, but for ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Which of the package's modules each module imports (module level or in a function).

    ``from pkg import sub`` counts as importing ``pkg.sub`` when ``sub`` is a module, and as
    importing ``pkg`` (its ``__init__``) otherwise, e.g. ``from .. import __version__``.

    Args:
        root: The package's folder (the one holding its ``__init__.py``).
        package: Its dotted name, e.g. ``tinytorch.setup``.
    """
    modules = package_modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            if node.level:
                base = here.split(".")[: len(here.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                child = f"{source}.{alias.name}"
                targets.add(child if child in modules else source)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of more than one module that all reach each other (Tarjan's algorithm),
    each sorted, in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)
