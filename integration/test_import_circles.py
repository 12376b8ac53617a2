"""No package imports in a circle: inside each distribution, imports run one way (issue 23).

A circle kept alive only by a function-level import still counts (it breaks the day the import
moves to the top); an import under ``if TYPE_CHECKING:`` does not (it never runs). The graph is
read from the sources by :mod:`tinytorch.setup.importgraph`.

``ALLOWED`` holds the circles left, in packages whose owners are reworking them; a circle found
must lie inside an allowed group, and an allowed group with no circle left fails too (drop it):
the list may only shrink.
"""
from __future__ import annotations

from pathlib import Path

from tinytorch.setup.importgraph import circles, import_graph

ROOT = Path(__file__).resolve().parents[1]

ALLOWED = [
    {"tinytorch.core.autograd.engine", "tinytorch.core.autograd.higher_order"},
    {"tinytorch.core.tensor.extra_ops", "tinytorch.core.tensor.functions",
     "tinytorch.core.tensor.tensor"},
]


def package_roots() -> dict[str, Path]:
    """The top package of every distribution: ``tinytorch.core.<name>``, ``tinytorch.setup``..."""
    roots = {}
    for src in sorted(ROOT.glob("packages/*/src")):
        for init in sorted(src.glob("tinytorch/**/__init__.py")):
            parts = init.parent.relative_to(src).parts
            if (len(parts) == 3 and parts[1] == "core") or (len(parts) == 2 and parts[1] != "core"):
                roots[".".join(parts)] = init.parent
    return roots


def all_circles() -> list[set[str]]:
    return [set(group) for name, root in package_roots().items()
            for group in circles(import_graph(root, name))]


def test_every_distribution_is_read():
    assert {"tinytorch.setup", "tinytorch.core.tensor", "tinytorch.capstone",
            "tinytorch.introduction"} <= set(package_roots())
    assert len(package_roots()) == 17


def test_no_import_circle_outside_the_allowed_ones():
    new = [sorted(group) for group in all_circles()
           if not any(group <= allowed for allowed in ALLOWED)]
    assert not new, f"import circles (make the imports run one way): {new}"


def test_the_allowed_circles_still_exist():
    found = all_circles()
    stale = [sorted(allowed) for allowed in ALLOWED if not any(g <= allowed for g in found)]
    assert not stale, f"these circles are gone: drop them from ALLOWED: {stale}"
