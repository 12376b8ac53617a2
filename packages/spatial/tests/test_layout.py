"""The lesson's code does not depend on the fast path: read the sources and check the imports.

A student reads ``naive.py``, ``composite.py``, the layers and ``geometry.py`` top to bottom;
the fused kernels live apart in ``fused/``. Only the dispatch point, ``functional.py`` (the
place that chooses fused or composite), may import from ``fused/``; every other module of the
package gets what it needs from ``geometry.py`` or from ``functional.py``.
"""

import ast
from pathlib import Path

import tinytorch.core.spatial as spatial

PACKAGE = "tinytorch.core.spatial"
DISPATCH = "functional.py"
ROOT = Path(spatial.__file__).parent


def fused_imports(source: str, filename: str = "<source>") -> list:
    """The lines of ``source`` (a module directly in the spatial package) that import from
    the ``fused`` sub-package, relatively or by its absolute name."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 1:  # from .x import ... / from . import x
                targets = [module] if module else [alias.name for alias in node.names]
                targets = [f"{PACKAGE}.{t}" for t in targets]
            elif node.level == 0:
                targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
            else:
                targets = []  # from .. import: outside the package
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        if any(t == f"{PACKAGE}.fused" or t.startswith(f"{PACKAGE}.fused.") for t in targets):
            found.append(node.lineno)
    return found


def lesson_sources() -> list:
    """Every module of the package outside ``fused/`` (its tests and lesson are not code)."""
    skip = {"fused", "tests", "lesson", "__pycache__"}
    return sorted(p for p in ROOT.rglob("*.py")
                  if not skip & set(p.relative_to(ROOT).parts[:-1]))


def test_layout_the_checker_sees_every_form_of_import():
    assert fused_imports("from .fused import conv2d_fused") == [1]
    assert fused_imports("from .fused.conv import compute_dtype") == [1]
    assert fused_imports("from . import fused") == [1]
    assert fused_imports("import tinytorch.core.spatial.fused.pool") == [1]
    assert fused_imports("from tinytorch.core.spatial.fused import norm") == [1]
    assert fused_imports("from tinytorch.core.spatial import fused") == [1]
    assert fused_imports("from .geometry import norm_axes\nfrom .functional import conv2d") == []
    assert fused_imports("from ..tensor import fused") == []


def test_layout_only_the_dispatch_point_imports_the_fused_subpackage():
    sources = lesson_sources()
    names = {p.relative_to(ROOT).as_posix() for p in sources}
    assert {"composite.py", "naive.py", "geometry.py", DISPATCH} <= names
    offenders = {}
    for path in sources:
        rel = path.relative_to(ROOT).as_posix()
        lines = fused_imports(path.read_text(encoding="utf-8"), rel)
        if lines and rel != DISPATCH:
            offenders[rel] = lines
    assert offenders == {}, f"only {DISPATCH} may import from fused/: {offenders}"
    dispatch = (ROOT / DISPATCH).read_text(encoding="utf-8")
    assert fused_imports(dispatch, DISPATCH), "the dispatch point no longer uses fused/"


def test_layout_the_fast_path_is_its_own_subpackage():
    fused = ROOT / "fused"
    assert (fused / "__init__.py").is_file()
    assert {"conv.py", "pool.py", "norm.py", "config.py"} <= {p.name for p in fused.glob("*.py")}
    assert not list(ROOT.glob("fused_*.py")), "the fused kernels belong in fused/"
