#!/usr/bin/env python3
"""Repository tooling for the TinyTorch monorepo (standard library only).

One module, used four ways:

* as a command line (``python .ci/tt.py COMMAND``) by tox.ini, .ci/*.sh and developers;
* by ``integration/test_package_contract.py`` (the contract as a pytest suite);
* by the docs hook ``docs/hooks/tinytorch_docs.py`` (chapters, API pages, dependency graph);
* by ``.ci/tox``, which derives tox's per-package environments from ``packages/``.

A *package* is a folder ``packages/<folder>/`` that holds a ``pyproject.toml``; nothing is
listed by hand anywhere, so a new package takes part in every check, env and page as soon as
its pyproject.toml lands.

Commands (``python .ci/tt.py --help``):

    packages            list the packages, in module order
    envs                the per-package tox env list (comma separated) for .ci/tox
    contract [--dist D] check the contract (sources, metadata, and the built wheels in D)
    build [--outdir D]  build every sdist, then every wheel from its sdist, into D (default dist/)
    install [--for X]   install the third-party requirements (not ours) needed to test package X
                        (--for-all: every package), plus any given, with uv when available
    test-installed X    run the tests shipped inside the installed wheel of package X
    check-installed     check that the installed tinytorch distributions are exactly the expected set
    uninstall-ours      uninstall every installed tinytorch distribution (before installing fresh wheels)
    sync-meta           rewrite packages/tinytorch/pyproject.toml's dependencies from packages/
    graph               print the module dependency graph as a mermaid diagram
    cifar10             prepare CIFAR-10 in $TINYTORCH_DATA (from ../shared when it is there)
    summary             summarise JUnit XML files and tox's result JSON (tests and timings)

Release engineering (.ci/tt_release.py, through this command line; docs/maintainers.md):

    versions            every distribution's version, release tag and CHANGELOG entry
    tag-check TAG       does TAG (<distribution>-v<version>) match that package's version?
    release-check       build all wheels and sdists; twine check; sdist rebuilds the same wheel;
                        each wheel installed alone, offline, in a fresh venv, and imported
    min-versions        each package's shipped tests at the lowest versions its ranges allow
"""
from __future__ import annotations

import argparse
import ast
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parent.parent
META = "tinytorch"  # the meta-package's folder (its distribution is tinytorch-framework: docs/maintainers.md)
STUBS_ENV = "stubs"  # tox env running `tito dev check-stubs all`, present once packages/setup exists
CLI_PACKAGE = "setup"  # the one package whose runtime may depend on its CLI tools
TEST_TOOLS = {"pytest", "_pytest", "hypothesis"}
REQUIRED_FILES = ("README.md", "LICENSE", "CHANGELOG.md")
# distribution name -> import name, where they differ (for the third-party import check)
IMPORT_ALIASES = {"pillow": "PIL", "pyyaml": "yaml", "scikit-learn": "sklearn", "opencv-python": "cv2",
                  "beautifulsoup4": "bs4", "python-dateutil": "dateutil", "gitpython": "git"}
CIFAR_FILES = ("batches.meta", "data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
               "data_batch_5", "test_batch")


# --------------------------------------------------------------------------------------------
# Reading the packages
# --------------------------------------------------------------------------------------------

def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    """The parts of a PEP 508 requirement string this tooling needs."""

    raw: str
    name: str  # normalised
    extras: str
    specifier: str
    marker: str

    @classmethod
    def parse(cls, raw: str) -> "Requirement":
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*?)\s*(?:;\s*(.*))?$", raw)
        if not m:
            raise ValueError(f"cannot parse requirement {raw!r}")
        name, extras, spec, marker = m.groups()
        spec = spec.strip()
        if spec.startswith("(") and spec.endswith(")"):
            spec = spec[1:-1].strip()
        return cls(raw, normalize(name), extras or "", spec, marker or "")


def version_tuple(version: str) -> tuple[int, ...]:
    """Leading numeric release segment of a version ('0.1.0rc1' -> (0, 1, 0))."""
    m = re.match(r"\s*v?(\d+(?:\.\d+)*)", version)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def _pad(v: tuple[int, ...], n: int = 4) -> tuple[int, ...]:
    return v + (0,) * (n - len(v))


def lower_bound(spec: str) -> tuple[int, ...] | None:
    """The release of the `>=` clause of a specifier ('>=0.1.2,<0.2' -> (0, 1, 2)), if any."""
    for clause in spec.split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            return version_tuple(clause[2:])
    return None


def cap_problem(spec: str, current_version: str | None) -> str | None:
    """Why `spec` is not the contract's sibling range ``>=A.B,<A.(B+1)`` (``<A+1`` once A >= 1).

    Returns None when the range is right (and admits `current_version`, when given).
    """
    clauses = [c.strip() for c in spec.split(",") if c.strip()]
    lower = [c for c in clauses if c.startswith(">=")]
    upper = [c for c in clauses if c.startswith("<") and not c.startswith("<=")]
    if len(clauses) != 2 or len(lower) != 1 or len(upper) != 1:
        return f"range {spec or '(none)'!r} is not of the form '>=0.x,<0.(x+1)'"
    lo = version_tuple(lower[0][2:])
    hi = version_tuple(upper[0][1:])
    if len(lo) < 2 and not (lo and lo[0] >= 1):
        return f"lower bound {lower[0]!r} must name major.minor, e.g. '>=0.1'"
    expected_hi = (0, lo[1] + 1) if lo[0] == 0 else (lo[0] + 1,)
    if _pad(hi) != _pad(expected_hi):
        want = ".".join(map(str, expected_hi))
        return f"range {spec!r} must cap at the next {'minor' if lo[0] == 0 else 'major'}: '<{want}'"
    if current_version is not None:
        cur = _pad(version_tuple(current_version))
        if not (_pad(lo) <= cur < _pad(hi)):
            return f"range {spec!r} excludes the sibling's current version {current_version}"
    return None


@dataclass
class Package:
    """One distribution: a folder under packages/ with a pyproject.toml."""

    folder: str
    path: Path
    pyproject: dict = field(repr=False)

    @property
    def project(self) -> dict:
        return self.pyproject.get("project", {})

    @property
    def name(self) -> str:
        return normalize(self.project.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.project.get("version", ""))

    @property
    def module(self) -> int | None:
        value = self.pyproject.get("tool", {}).get("tinytorch", {}).get("module")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def is_meta(self) -> bool:
        return self.folder == META

    @property
    def requirements(self) -> list[Requirement]:
        return [Requirement.parse(r) for r in self.project.get("dependencies", [])]

    @property
    def extras(self) -> dict[str, list[Requirement]]:
        opt = self.project.get("optional-dependencies", {})
        return {k: [Requirement.parse(r) for r in v] for k, v in opt.items()}

    @property
    def sibling_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if r.name.startswith("tinytorch")]

    @property
    def third_party_requirements(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.name.startswith("tinytorch")]

    @property
    def tests_target(self) -> str | None:
        """Where the wheel puts tests/ (its force-include target), e.g. tinytorch/core/tensor/tests."""
        wheel = self.pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
        target = wheel.get("force-include", {}).get("tests")
        return target.strip("/") if isinstance(target, str) else None

    @property
    def lesson_target(self) -> str | None:
        """Where the wheel puts lesson/ (its force-include target), e.g. tinytorch/core/tensor/lesson."""
        wheel = self.pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
        target = wheel.get("force-include", {}).get("lesson")
        return target.strip("/") if isinstance(target, str) else None

    @property
    def lesson_file(self) -> str | None:
        """The lesson notebook's source, relative to the package folder: lesson/<NN>_<folder>.py."""
        return None if self.module is None else f"lesson/{self.module:02d}_{self.folder}.py"

    @property
    def import_roots(self) -> list[str]:
        """Dotted import paths this package owns, read from src/ (e.g. ['tinytorch.core.tensor']).

        A root is a regular package (a folder with __init__.py whose parent has none) or a module
        directly inside a namespace folder. Before any code lands, the tests' force-include
        target tells the intended import path.
        """
        src = self.path / "src"
        roots: set[str] = set()
        if src.is_dir():
            for py in src.rglob("*.py"):
                rel = py.relative_to(src)
                parts = list(rel.parts)
                parent = py.parent
                if py.name == "__init__.py":
                    if not (parent.parent / "__init__.py").exists() and parent != src:
                        roots.add(".".join(rel.parent.parts))
                elif not (parent / "__init__.py").exists():
                    roots.add(".".join(parts[:-1] + [py.stem]))
        if not roots and self.tests_target:
            roots.add(".".join(Path(self.tests_target).parent.parts))
        # keep only outermost roots
        return sorted(r for r in roots if not any(r.startswith(o + ".") for o in roots if o != r))

    @property
    def python_files(self) -> list[tuple[str, Path]]:
        """('src' | 'tests', path) for every .py file the contract reads."""
        out = []
        for kind in ("src", "tests"):
            base = self.path / kind
            if base.is_dir():
                out += [(kind, p) for p in sorted(base.rglob("*.py"))]
        return out

    @property
    def label(self) -> str:
        return f"{self.module:02d} {self.folder}" if self.module is not None else self.folder


def load_packages(repo: Path = REPO) -> list[Package]:
    """Every packages/<folder>/pyproject.toml, in module order (the meta-package last)."""
    pkgs = []
    for pyproject in sorted((repo / "packages").glob("*/pyproject.toml")):
        with open(pyproject, "rb") as f:
            data = tomllib.load(f)
        pkgs.append(Package(pyproject.parent.name, pyproject.parent, data))
    return sorted(pkgs, key=lambda p: (p.is_meta, p.module is None, p.module or 0, p.folder))


def by_name(pkgs: list[Package]) -> dict[str, Package]:
    return {p.name: p for p in pkgs}


def get_package(folder: str, pkgs: list[Package] | None = None) -> Package:
    pkgs = load_packages() if pkgs is None else pkgs
    for p in pkgs:
        if p.folder == folder or p.name == normalize(folder):
            return p
    raise SystemExit(f"no package {folder!r} under packages/ (known: {', '.join(p.folder for p in pkgs)})")


def sibling_closure(pkg: Package, pkgs: list[Package]) -> list[Package]:
    """pkg and every sibling it needs, directly or not (unknown names are skipped)."""
    names = by_name(pkgs)
    seen: dict[str, Package] = {}
    todo = [pkg]
    while todo:
        p = todo.pop()
        if p.name in seen:
            continue
        seen[p.name] = p
        todo += [names[r.name] for r in p.sibling_requirements if r.name in names]
    return sorted(seen.values(), key=lambda p: (p.is_meta, p.module or 0, p.folder))


# --------------------------------------------------------------------------------------------
# The contract
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    package: str
    message: str

    def __str__(self) -> str:
        return f"{self.package}: {self.message}"


@dataclass(frozen=True)
class ImportRef:
    module: str  # dotted name as written ('' for `from . import x`)
    names: tuple[str, ...]  # the names of `from module import a, b`; () for `import module`
    level: int  # 0 for absolute imports, the number of leading dots otherwise
    lineno: int
    lazy: bool  # not run when the module is imported: in a function, TYPE_CHECKING or try/except ImportError


def _guards_import_error(node: ast.Try) -> bool:
    for h in node.handlers:
        caught = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        if any(isinstance(c, ast.Name) and c.id in ("ImportError", "ModuleNotFoundError") for c in caught):
            return True
    return False


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def collect_imports(tree: ast.AST) -> list[ImportRef]:
    """Every import statement in a module, marking those that do not run at import time as lazy."""
    refs: list[ImportRef] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                refs.extend(ImportRef(a.name, (), 0, child.lineno, lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                names = tuple(a.name for a in child.names if a.name != "*")
                refs.append(ImportRef(child.module or "", names, child.level, child.lineno, lazy))
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Try) and _guards_import_error(child):
                for stmt in child.body:  # the guarded body is optional; handlers and else are not
                    visit_stmt(stmt, True)
                for part in (child.handlers, child.orelse, child.finalbody):
                    for stmt in part:
                        visit_stmt(stmt, inner)
                continue
            if isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.body:
                    visit_stmt(stmt, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, inner)
                continue
            visit(child, inner)

    def visit_stmt(stmt: ast.AST, lazy: bool) -> None:
        holder = ast.Module(body=[stmt], type_ignores=[])
        visit(holder, lazy)

    visit(tree, False)
    return refs


def module_name(src: Path, py: Path) -> str:
    rel = py.relative_to(src).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def absolute_candidates(ref: ImportRef, current: str, is_init: bool) -> tuple[str, ...]:
    """Modules the import may name, most specific first: `from a import b` -> ('a.b', 'a')."""
    if ref.level:
        base = current.split(".") if is_init else current.split(".")[:-1]
        base = base[: len(base) - (ref.level - 1)] if ref.level > 1 else base
        module = ".".join(base + ([ref.module] if ref.module else []))
    else:
        module = ref.module
    return tuple(f"{module}.{n}" for n in ref.names) + (module,)


def _owner(candidates: tuple[str, ...], roots: dict[str, str]) -> tuple[str | None, str]:
    """The package folder owning the first candidate that falls under a known import root."""
    for cand in candidates:
        best = max((r for r in roots if cand == r or cand.startswith(r + ".")), key=len, default=None)
        if best:
            return roots[best], cand
    return None, candidates[0]


def import_name_of(dist: str) -> str:
    dist = normalize(dist)
    return IMPORT_ALIASES.get(dist, dist.replace("-", "_"))


def check_sources(pkg: Package, pkgs: list[Package]) -> list[Violation]:
    """What the contract says about one package, read from its pyproject.toml and .py files."""
    v: list[Violation] = []
    bad = lambda msg: v.append(Violation(pkg.folder, msg))  # noqa: E731
    names = by_name(pkgs)
    proj = pkg.project

    # --- metadata every distribution carries
    for fname in REQUIRED_FILES:
        if not (pkg.path / fname).is_file():
            bad(f"{fname} is missing")
    if not proj.get("requires-python"):
        bad("[project] requires-python is not set (without it the wheel is tagged py2.py3)")
    if not proj.get("urls"):
        bad("[project.urls] is empty (Homepage, Documentation, Source, Changelog)")
    if not proj.get("classifiers"):
        bad("[project] classifiers are empty")
    if not proj.get("readme"):
        bad("[project] readme is not set (README.md is the module's lesson and its PyPI page)")
    if not proj.get("license"):
        bad("[project] license is not set")
    if not proj.get("version"):
        bad("[project] version is not set")

    # --- PEP 420: the namespace folders stay empty of __init__.py
    for ns in ("src/tinytorch/__init__.py", "src/tinytorch/core/__init__.py"):
        if (pkg.path / ns).exists():
            bad(f"{ns} exists: no distribution may ship it (PEP 420 namespace)")

    if pkg.is_meta:
        return v + check_meta(pkg, pkgs)

    # --- identity
    if pkg.module is None:
        bad("[tool.tinytorch] module = N (the module number) is missing")
    if pkg.name != f"tinytorch-{pkg.folder}":
        bad(f"distribution name {pkg.name!r} should be 'tinytorch-{pkg.folder}' (folder {pkg.folder}/)")
    same = [p.folder for p in pkgs if p is not pkg and p.module is not None and p.module == pkg.module]
    if same:
        bad(f"module number {pkg.module} is also used by {', '.join(same)}")

    # --- the lesson notebook (jupytext percent source), shipped beside the tests
    if pkg.lesson_file:
        if not (pkg.path / pkg.lesson_file).is_file():
            bad(f"{pkg.lesson_file} is missing (the module's lesson notebook, jupytext percent format)")
        expected = f"{Path(pkg.tests_target).parent.as_posix()}/lesson" if pkg.tests_target else None
        if expected and pkg.lesson_target != expected:
            bad(f'[tool.hatch.build.targets.wheel.force-include] should have "lesson" = "{expected}"')
        sdist = pkg.pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("sdist", {})
        if "lesson" not in sdist.get("include", []):
            bad('[tool.hatch.build.targets.sdist] include should list "lesson"')

    # --- declared dependencies
    for req in pkg.sibling_requirements:
        sib = names.get(req.name)
        if sib is None:
            bad(f"declares {req.name}, which no folder under packages/ provides")
            continue
        if sib.is_meta:
            bad("declares the meta-package tinytorch (it depends on everything)")
            continue
        if pkg.module is not None and (sib.module is None or sib.module >= pkg.module):
            bad(f"declares {req.name} (module {sib.module}), not a lower-numbered module than {pkg.module}")
        problem = cap_problem(req.specifier, sib.version)
        if problem:
            bad(f"dependency {req.raw!r}: {problem}")
    if pkg.folder != CLI_PACKAGE:
        for req in pkg.third_party_requirements:
            if req.name != "numpy":
                bad(f"runtime dependency {req.raw!r}: numpy is the only third-party runtime dependency "
                    "(anything else goes in an optional extra, imported lazily)")

    # --- imports, from the source
    v += check_imports(pkg, pkgs)
    return v


def check_imports(pkg: Package, pkgs: list[Package]) -> list[Violation]:
    """tinytorch imports are declared (directly); third-party imports are declared; and importing
    the package itself (everything its __init__ imports at import time) needs only its runtime
    dependencies. A module no import-time path reaches (e.g. a test-helpers module) may import what
    an optional extra declares."""
    v: list[Violation] = []
    bad = lambda msg: v.append(Violation(pkg.folder, msg))  # noqa: E731
    names = by_name(pkgs)
    roots = {r: p.folder for p in pkgs for r in p.import_roots}
    own = set(pkg.import_roots)
    declared = {names[r.name].folder for r in pkg.sibling_requirements if r.name in names}
    std = set(sys.stdlib_module_names) | {"__future__"}
    runtime = {import_name_of(r.name) for r in pkg.third_party_requirements}
    extras = {k: {import_name_of(r.name) for r in reqs} for k, reqs in pkg.extras.items()}
    any_extra = set().union(*extras.values()) if extras else set()
    tests_ok = runtime | extras.get("test", set()) | TEST_TOOLS

    src = pkg.path / "src"
    edges: dict[str, set[str]] = {}  # own module -> own modules it imports at import time
    eager_third: dict[str, list[tuple[str, int, str]]] = {}  # own module -> (top, line, file)
    for kind, path in pkg.python_files:
        rel = path.relative_to(pkg.path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except SyntaxError as e:
            bad(f"{rel}:{e.lineno}: cannot be parsed: {e.msg}")
            continue
        current = module_name(src, path) if kind == "src" else ""
        is_init = path.name == "__init__.py"
        for ref in collect_imports(tree):
            if ref.level and kind != "src":
                continue  # relative imports inside tests/ stay inside tests/
            cands = absolute_candidates(ref, current, is_init)
            top = cands[-1].split(".")[0]
            if top == "tinytorch":
                folder, what = _owner(cands, roots)
                if any(what == r or what.startswith(r + ".") for r in own):
                    if kind == "src" and not ref.lazy:
                        edges.setdefault(current, set()).update(cands)
                    continue
                if folder is None:
                    bad(f"{rel}:{ref.lineno}: imports {what}, which no package under packages/ provides")
                elif folder not in declared:
                    bad(f"{rel}:{ref.lineno}: imports {what} (tinytorch-{folder}) without declaring "
                        f"tinytorch-{folder} in [project] dependencies")
                continue
            if top in std or ref.lazy and kind == "tests":
                continue
            if kind == "tests":
                if top not in tests_ok:
                    bad(f"{rel}:{ref.lineno}: imports {top}, which is neither a runtime dependency nor "
                        "in the test extra")
            elif top not in runtime | any_extra:
                bad(f"{rel}:{ref.lineno}: imports {top}, which no dependency or optional extra declares")
            elif not ref.lazy and top not in runtime:
                eager_third.setdefault(current, []).append((top, ref.lineno, str(rel)))

    # modules that run when the package is imported: its roots, and what they import, transitively
    modules = {module_name(src, p) for k, p in pkg.python_files if k == "src"}
    reached: dict[str, str] = {}
    todo = [(r, r) for r in pkg.import_roots if r in modules]
    while todo:
        mod, via = todo.pop()
        if mod in reached:
            continue
        reached[mod] = via
        for cand in edges.get(mod, ()):
            parts = cand.split(".")
            for i in range(len(parts), 0, -1):  # importing a.b.c runs a.b and a first
                name = ".".join(parts[:i])
                if name in modules and name not in reached:
                    todo.append((name, mod))
    for mod, hits in sorted(eager_third.items()):
        if mod in reached:
            for top, line, rel in hits:
                bad(f"{rel}:{line}: `import {pkg.import_roots[0] if pkg.import_roots else mod}` runs "
                    f"this module, which imports {top} at import time; {top} is not a runtime "
                    "dependency (import it lazily, inside the function that needs it)")
    return v


def check_meta(meta: Package, pkgs: list[Package]) -> list[Violation]:
    """The meta-package depends on every module, each with the capped range, and on nothing else."""
    v: list[Violation] = []
    modules = {p.name: p for p in pkgs if not p.is_meta}
    reqs = {r.name: r for r in meta.requirements}
    for name, p in modules.items():
        if name not in reqs:
            v.append(Violation(meta.folder, f"does not depend on {name} (packages/{p.folder} exists); "
                                            "run `python .ci/tt.py sync-meta`"))
        else:
            problem = cap_problem(reqs[name].specifier, p.version)
            if problem:
                v.append(Violation(meta.folder, f"dependency {reqs[name].raw!r}: {problem}"))
    for name, r in reqs.items():
        if name not in modules:
            v.append(Violation(meta.folder, f"depends on {r.raw!r}, which is not a package under packages/"))
    # A consistent set: the lowest version the meta-package admits of each module must satisfy what
    # every other module declares for it (the current versions are checked above and in each module).
    for user in modules.values():
        for r in user.sibling_requirements:
            if r.name not in reqs or r.name not in modules:
                continue
            meta_lo, user_lo = lower_bound(reqs[r.name].specifier), lower_bound(r.specifier)
            if meta_lo is not None and user_lo is not None and _pad(meta_lo) < _pad(user_lo):
                v.append(Violation(meta.folder, f"admits {r.name} {'.'.join(map(str, meta_lo))}, but {user.name} "
                                                f"needs {r.specifier}: raise the floor (`python .ci/tt.py sync-meta`)"))
    if (meta.path / "src").exists():
        v.append(Violation(meta.folder, "the meta-package has a src/ folder; it ships no code of its own"))
    return v


def check_all_sources(pkgs: list[Package] | None = None) -> list[Violation]:
    pkgs = load_packages() if pkgs is None else pkgs
    v = [x for p in pkgs for x in check_sources(p, pkgs)]
    if not any(p.is_meta for p in pkgs):
        v.append(Violation(META, "packages/tinytorch/pyproject.toml (the meta-package) is missing"))
    return v


def find_artifact(dist_dir: Path, pkg: Package, kind: str) -> Path | None:
    """The wheel ('whl') or sdist ('tar.gz') of pkg's current version in dist_dir."""
    stem = f"{pkg.name.replace('-', '_')}-{pkg.version}"
    hits = sorted(dist_dir.glob(f"{stem}-*.whl" if kind == "whl" else f"{stem}.tar.gz"))
    return hits[-1] if hits else None


def check_wheel(pkg: Package, wheel: Path) -> list[Violation]:
    """What the contract says about a built wheel's file list."""
    v: list[Violation] = []
    bad = lambda msg: v.append(Violation(pkg.folder, f"{wheel.name}: {msg}"))  # noqa: E731
    names = zipfile.ZipFile(wheel).namelist()
    for ns in ("tinytorch/__init__.py", "tinytorch/core/__init__.py"):
        if ns in names:
            bad(f"ships {ns}, which breaks the PEP 420 namespace")
    if not wheel.name.endswith("-py3-none-any.whl"):
        bad("is not tagged py3-none-any (set requires-python; keep the package pure Python)")
    payload = [n for n in names if ".dist-info/" not in n]
    if pkg.is_meta:
        if payload:
            bad(f"the meta-package ships files of its own: {payload[:5]}")
        return v
    if not payload:
        bad("contains no code")
    has_tests = any((pkg.path / "tests").rglob("test*.py")) if (pkg.path / "tests").is_dir() else False
    if has_tests:
        if not pkg.tests_target:
            bad("tests/ is not force-included into the wheel ([tool.hatch.build.targets.wheel.force-include])")
        elif not any(n.startswith(pkg.tests_target + "/") for n in names):
            bad(f"does not ship the tests under {pkg.tests_target}/")
    for root in pkg.import_roots:
        prefix = root.replace(".", "/")
        if not any(n == prefix + ".py" or n.startswith(prefix + "/") for n in names):
            bad(f"does not contain {root}")
    if pkg.lesson_file and (pkg.path / pkg.lesson_file).is_file():
        # the lesson notebook ships beside the tests, so `tito module start` finds it in the wheel
        shipped = f"{pkg.lesson_target}/{Path(pkg.lesson_file).name}" if pkg.lesson_target else None
        if shipped is None:
            bad("lesson/ is not force-included into the wheel ([tool.hatch.build.targets.wheel.force-include])")
        elif shipped not in names:
            bad(f"does not ship its lesson at {shipped}")
    return v


def check_sdist(pkg: Package, sdist: Path) -> list[Violation]:
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
    required = REQUIRED_FILES + ("pyproject.toml",)
    if pkg.lesson_file and (pkg.path / pkg.lesson_file).is_file():
        required += (pkg.lesson_file,)
    return [Violation(pkg.folder, f"{sdist.name}: does not contain {f}")
            for f in required if f not in members]


def check_dist(dist_dir: Path, pkgs: list[Package] | None = None, require_sdist: bool = True) -> list[Violation]:
    pkgs = load_packages() if pkgs is None else pkgs
    v: list[Violation] = []
    for p in pkgs:
        wheel = find_artifact(dist_dir, p, "whl")
        if wheel is None:
            v.append(Violation(p.folder, f"no wheel for {p.name} {p.version} in {dist_dir}"))
        else:
            v += check_wheel(p, wheel)
        if require_sdist:
            sdist = find_artifact(dist_dir, p, "tar.gz")
            if sdist is None:
                v.append(Violation(p.folder, f"no sdist for {p.name} {p.version} in {dist_dir}"))
            else:
                v += check_sdist(p, sdist)
    return v


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------

def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def build_all(outdir: Path, pkgs: list[Package] | None = None, jobs: int = 2) -> int:
    """sdist, then the wheel from that sdist (python -m build), for every package, into outdir."""
    pkgs = load_packages() if pkgs is None else pkgs
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)

    def one(p: Package) -> tuple[Package, subprocess.CompletedProcess, float]:
        t0 = time.perf_counter()
        res = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(p.path)])
        return p, res, time.perf_counter() - t0

    failed = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for p, res, dt in pool.map(one, pkgs):
            status = "ok" if res.returncode == 0 else "FAILED"
            print(f"  build {p.name:<28} {status:>6}  {dt:5.1f}s", flush=True)
            if res.returncode:
                failed += 1
                print(res.stdout, flush=True)
    return failed


def build_wheels_quick(outdir: Path, pkgs: list[Package] | None = None) -> list[str]:
    """Wheels only, for the contract test when no dist/ is given. Returns error messages."""
    pkgs = load_packages() if pkgs is None else pkgs
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        import hatchling  # noqa: F401
        direct = True
    except ImportError:
        direct = False
    errors = []
    for p in pkgs:
        if direct:
            code = f"from hatchling.build import build_wheel; build_wheel({str(outdir)!r})"
            res = _run([sys.executable, "-c", code], cwd=p.path)
        else:
            res = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(outdir), str(p.path)])
        if res.returncode:
            errors.append(f"{p.name}: wheel build failed:\n{res.stdout}")
    return errors


# --------------------------------------------------------------------------------------------
# Installed-alone testing (the per-package tox envs)
# --------------------------------------------------------------------------------------------

def requirements_for(pkgs_to_test: list[Package], pkgs: list[Package]) -> list[str]:
    """Third-party requirements (from PyPI) to test these packages: runtime deps of each package and
    of every sibling it pulls in, plus its `test` extra. Our own distributions are never listed."""
    reqs: dict[str, None] = {}
    for pkg in pkgs_to_test:
        for p in sibling_closure(pkg, pkgs):
            for r in p.third_party_requirements:
                reqs[r.raw] = None
        for r in pkg.extras.get("test", []):
            if not r.name.startswith("tinytorch"):
                reqs[r.raw] = None
    return list(reqs)


def install_third_party(reqs: list[str]) -> int:
    """Install third-party requirements into this interpreter's environment: with uv when it is
    on PATH (seconds instead of half a minute per env), else with pip. TINYTORCH_NO_UV=1 forces
    pip. Never used for our own distributions (those come from dist/ with pip --no-index) nor
    for torch (pip's configuration on the course machines points it at a local CPU wheel)."""
    if not reqs:
        return 0
    uv = None if os.environ.get("TINYTORCH_NO_UV") else shutil.which("uv")
    env = dict(os.environ)
    if uv:
        cmd = [uv, "pip", "install", "--quiet", "--python", sys.executable, *reqs]
        # the system's trust store, as pip uses: some networks re-sign TLS with a local CA
        env.setdefault("UV_NATIVE_TLS", "1")
    else:
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", *reqs]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, env=env)


def installed_tinytorch() -> dict[str, importlib.metadata.Distribution]:
    out = {}
    for d in importlib.metadata.distributions():
        name = normalize(d.metadata["Name"] or "")
        if name == META or name.startswith("tinytorch-"):
            out[name] = d
    return out


def _in_sources(path: Path) -> bool:
    """Inside packages/ (the source tree), as opposed to an installed copy (e.g. under .tox/)."""
    try:
        path.resolve().relative_to(REPO / "packages")
        return True
    except ValueError:
        return False


def check_installed(expected: set[str]) -> list[str]:
    """Errors if the installed tinytorch distributions differ from `expected`, or come from the repo."""
    errors = []
    got = installed_tinytorch()
    if set(got) != expected:
        extra, missing = sorted(set(got) - expected), sorted(expected - set(got))
        errors.append(f"installed tinytorch distributions {sorted(got)} != expected {sorted(expected)}"
                      f" (unexpected: {extra}, missing: {missing})")
    for name, d in got.items():
        direct = json.loads(d.read_text("direct_url.json") or "{}")
        if direct.get("dir_info", {}).get("editable"):
            errors.append(f"{name} is an editable install; this env must test the built wheel")
    return errors


def run_installed_tests(folder: str, pytest_args: list[str]) -> int:
    pkgs = load_packages()
    pkg = get_package(folder, pkgs)
    expected = {p.name for p in sibling_closure(pkg, pkgs)}
    errors = check_installed(expected)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"installed alone: {', '.join(sorted(expected))} (nothing else of ours)")
    if not pkg.tests_target:
        print(f"{pkg.name} ships no tests (no force-include of tests/ in its pyproject.toml)", file=sys.stderr)
        return 1
    dist = importlib.metadata.distribution(pkg.name)
    tests_dir = Path(str(dist.locate_file(pkg.tests_target)))
    if not tests_dir.is_dir():
        print(f"{pkg.name}'s wheel has no {pkg.tests_target}/ (expected the shipped tests there)", file=sys.stderr)
        return 1
    if _in_sources(tests_dir):
        print(f"{tests_dir} is inside the source tree: the wheel is not what is being tested", file=sys.stderr)
        return 1
    for root in pkg.import_roots:
        probe = _run([sys.executable, "-c", f"import {root} as m; print(list(m.__path__)[0] "
                                            f"if hasattr(m, '__path__') else m.__file__)"])
        if probe.returncode:
            print(f"cannot import {root} from the installed wheel:\n{probe.stdout}", file=sys.stderr)
            return 1
        where = Path(probe.stdout.strip().splitlines()[-1])
        if _in_sources(where):
            print(f"{root} imports from {where}, inside the source tree", file=sys.stderr)
            return 1
        print(f"{root} -> {where}")
    cmd = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(tests_dir),
           str(tests_dir), *pytest_args]
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd)


# --------------------------------------------------------------------------------------------
# The meta-package and the dependency graph
# --------------------------------------------------------------------------------------------

def meta_requirements(pkgs: list[Package]) -> list[str]:
    """The meta-package's dependencies: every module, from its minor series (`>=0.1`) — or from the
    highest floor another module declares for it, when that is higher — to the next minor (`<0.2`).
    Ranges, not exact pins: a module's bug-fix release reaches `pip install` of the meta-package
    without a new meta release (docs/maintainers.md explains the choice)."""
    floors: dict[str, tuple[int, ...]] = {}
    for p in pkgs:
        for r in p.sibling_requirements if not p.is_meta else []:
            lo = lower_bound(r.specifier)
            if lo is not None and _pad(lo) > _pad(floors.get(r.name, ())):
                floors[r.name] = lo
    out = []
    for p in pkgs:
        if p.is_meta:
            continue
        v = version_tuple(p.version)
        lo, hi = (f"{v[0]}.{v[1]}", f"{v[0]}.{v[1] + 1}") if v[0] == 0 else (f"{v[0]}.0", f"{v[0] + 1}")
        declared = floors.get(p.name)
        if declared is not None and _pad(declared) > _pad(version_tuple(lo)):
            lo = ".".join(map(str, declared))
        out.append(f"{p.name}>={lo},<{hi}")
    return out


def sync_meta(pkgs: list[Package] | None = None) -> bool:
    """Rewrite the meta-package's dependency list; True if the file changed."""
    pkgs = load_packages() if pkgs is None else pkgs
    path = REPO / "packages" / META / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    body = "".join(f'    "{r}",\n' for r in meta_requirements(pkgs))
    new, n = re.subn(r"(?ms)^dependencies\s*=\s*\[.*?^\]", f"dependencies = [\n{body}]", text, count=1)
    if n != 1:
        raise SystemExit(f"{path}: no multi-line `dependencies = [ ... ]` array to rewrite")
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def mermaid_graph(pkgs: list[Package] | None = None) -> str:
    """The modules and their declared sibling dependencies as a mermaid flowchart."""
    pkgs = load_packages() if pkgs is None else pkgs
    modules = [p for p in pkgs if not p.is_meta]
    names = by_name(pkgs)
    lines = ["flowchart LR"]
    for p in modules:
        lines.append(f'    {p.folder}["{p.label}<br/><code>{p.name}</code>"]')
    for p in modules:
        for r in p.sibling_requirements:
            if r.name in names:
                lines.append(f"    {names[r.name].folder} --> {p.folder}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def data_dir() -> Path:
    return Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".cache" / "tinytorch")


def prepare_cifar10(target: Path | None = None, shared: Path | None = None) -> int:
    """Write CIFAR-10's official python layout into target/cifar-10-batches-py, once.

    From ../shared/data/cifar10/make_cifar10.py when it exists (these course machines cannot reach
    the official host); otherwise leave it to the framework's loader, which downloads it.
    """
    target = target or data_dir()
    out = target / "cifar-10-batches-py"
    if all((out / f).is_file() for f in CIFAR_FILES):
        print(f"CIFAR-10 already prepared in {out}")
        return 0
    shared = shared or Path(os.environ.get("TINYTORCH_SHARED", REPO.parent / "shared"))
    script = shared / "data" / "cifar10" / "make_cifar10.py"
    if not script.is_file():
        print(f"no local CIFAR-10 copy ({script} is absent): the framework's loader downloads it "
              f"into {target} on first use")
        return 0
    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=target, prefix=".cifar10-") as tmp:
        res = subprocess.run([sys.executable, str(script), tmp])
        if res.returncode:
            print(f"{script} failed (it needs numpy and Pillow in {sys.executable})", file=sys.stderr)
            return res.returncode
        made = Path(tmp) / "cifar-10-batches-py"
        missing = [f for f in CIFAR_FILES if not (made / f).is_file()]
        if missing:
            print(f"{script} did not write {missing}", file=sys.stderr)
            return 1
        if out.exists():
            shutil.rmtree(out)
        made.rename(out)  # atomic within one filesystem: readers never see half a dataset
    sums = script.parent / "MD5SUMS"
    if sums.is_file():
        import hashlib
        mismatched = []
        for line in sums.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 2 and (out / Path(parts[1]).name).is_file():
                digest = hashlib.md5((out / Path(parts[1]).name).read_bytes()).hexdigest()
                if digest != parts[0]:
                    mismatched.append(Path(parts[1]).name)
        if mismatched:  # the md5s depend on the Pillow build: report, do not fail
            print(f"note: md5 differs from MD5SUMS for {mismatched} (another Pillow build decodes JPEG differently)")
        else:
            print("md5 sums match MD5SUMS")
    print(f"CIFAR-10 prepared in {out} ({time.perf_counter() - t0:.0f}s)")
    return 0


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------

def summarize(junit_dir: Path, result_json: Path | None) -> int:
    """Per-env test counts (JUnit XML) and timings (tox --result-json); a plain closing line."""
    rows = []
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    for xml in sorted(junit_dir.glob("*.xml")) if junit_dir.is_dir() else []:
        n = f = s = 0
        root = ET.parse(xml).getroot()
        for suite in ([root] if root.tag == "testsuite" else root.iter("testsuite")):
            n += int(suite.get("tests", 0))
            f += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            s += int(suite.get("skipped", 0))
        passed = n - f - s
        rows.append((xml.stem, passed, f, s))
        totals["passed"] += passed
        totals["failed"] += f
        totals["skipped"] += s
    if result_json and result_json.is_file():
        data = json.loads(result_json.read_text())
        print("tox environments (seconds): setup = venv + deps, install = our wheels, run = commands")
        print(f"  {'env':<16}{'result':>8}{'setup':>8}{'install':>9}{'run':>8}{'total':>8}")
        for name, env in data.get("testenvs", {}).items():
            if name.startswith(".") or "result" not in env:
                continue  # not run
            setup = sum(c.get("elapsed", 0) for c in env.get("setup", []))
            pre = sum(c.get("elapsed", 0) for c in env.get("test", []) if c.get("run_id", "").startswith("commands_pre"))
            run = sum(c.get("elapsed", 0) for c in env.get("test", []) if c.get("run_id", "").startswith("commands["))
            ok = "ok" if env["result"].get("success") else "FAIL"
            print(f"  {name:<16}{ok:>8}{setup:8.1f}{pre:9.1f}{run:8.1f}{env['result'].get('duration', 0):8.1f}")
    if rows:
        print("tests per environment:")
        for env, p, f, s in rows:
            print(f"  {env:<16} {p:5d} passed {f:5d} failed {s:5d} skipped")
    print(f"total: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if totals["failed"] or not rows else 0


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tt.py", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    pk = sub.add_parser("packages", help="list the packages in module order")
    pk.add_argument("--folders", action="store_true", help="folder names only, one a line")
    sub.add_parser("envs", help="per-package tox envs for .ci/tox")
    c = sub.add_parser("contract", help="check the contract")
    c.add_argument("--dist", type=Path, help="also check the wheels and sdists in this folder")
    b = sub.add_parser("build", help="build every sdist and wheel")
    b.add_argument("--outdir", type=Path, default=REPO / "dist")
    ins = sub.add_parser("install", help="install third-party requirements (uv if available, else pip)")
    ins.add_argument("--for", dest="for_", metavar="FOLDER", help="what testing this package needs")
    ins.add_argument("--for-all", action="store_true", help="what testing every package needs")
    ins.add_argument("--extra", action="append", default=[], metavar="NAME",
                     help="also the third-party requirements of this optional extra (e.g. lab), "
                          "of every package that declares it")
    ins.add_argument("reqs", nargs="*", help="more requirements")
    t = sub.add_parser("test-installed", help="run the tests shipped in an installed wheel")
    t.add_argument("folder")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER)
    sub.add_parser("check-installed", help="installed tinytorch distributions == all packages")
    sub.add_parser("uninstall-ours", help="pip uninstall every installed tinytorch distribution")
    sub.add_parser("sync-meta", help="rewrite the meta-package's dependencies from packages/")
    sub.add_parser("graph", help="mermaid dependency graph")
    d = sub.add_parser("cifar10", help="prepare CIFAR-10 in $TINYTORCH_DATA")
    d.add_argument("target", nargs="?", type=Path)
    import tt_release  # release engineering: versions, tag-check, release-check, min-versions
    tt_release.add_commands(sub)
    s = sub.add_parser("summary", help="summarise test counts and timings")
    s.add_argument("junit_dir", type=Path)
    s.add_argument("--result-json", type=Path)
    args = ap.parse_args(argv)

    if args.cmd == "packages":
        for p in load_packages():
            print(p.folder if args.folders else f"{p.label:<18} {p.name:<28} {p.version}")
        return 0
    if args.cmd == "envs":
        pkgs = load_packages()
        envs = [p.folder for p in pkgs if not p.is_meta]
        if any(p.folder == CLI_PACKAGE for p in pkgs):
            # first: with integration, the longest env; `tox p` starts envs in list order, and
            # starting the long ones first keeps both cores busy to the end
            envs.insert(0, STUBS_ENV)
        print(",".join(envs))
        return 0
    if args.cmd == "contract":
        pkgs = load_packages()
        v = check_all_sources(pkgs)
        if args.dist:
            v += check_dist(args.dist, pkgs)
        for x in v:
            print(f"CONTRACT {x}")
        what = "sources" + (f" and {args.dist}" if args.dist else "")
        print(f"contract ({what}): {len(pkgs)} packages, {len(v)} violation(s)")
        return 1 if v else 0
    if args.cmd == "build":
        t0 = time.perf_counter()
        failed = build_all(args.outdir)
        print(f"built {len(load_packages()) - failed} package(s) into {args.outdir} in "
              f"{time.perf_counter() - t0:.1f}s; {failed} failed")
        return 1 if failed else 0
    if args.cmd == "install":
        reqs = list(args.reqs)
        if args.for_ or args.for_all:
            pkgs = load_packages()
            chosen = [p for p in pkgs if not p.is_meta] if args.for_all else [get_package(args.for_, pkgs)]
            reqs = requirements_for(chosen, pkgs) + reqs
        for name in args.extra:
            reqs += [r.raw for p in load_packages() for r in p.extras.get(name, [])
                     if not r.name.startswith("tinytorch")]
        return install_third_party(reqs)
    if args.cmd == "test-installed":
        extra = args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args
        return run_installed_tests(args.folder, extra)
    if args.cmd == "check-installed":
        expected = {p.name for p in load_packages()}
        errors = check_installed(expected)
        print("\n".join(errors) if errors else f"installed from wheels: {', '.join(sorted(expected))}")
        return 1 if errors else 0
    if args.cmd == "uninstall-ours":
        # so that a reused env installs the freshly built wheels, never keeps an older build
        ours = sorted(installed_tinytorch())
        if ours:
            return subprocess.call([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", *ours])
        return 0
    if args.cmd == "sync-meta":
        changed = sync_meta()
        print("packages/tinytorch/pyproject.toml " + ("updated" if changed else "already up to date"))
        return 0
    if args.cmd == "graph":
        print(mermaid_graph())
        return 0
    if args.cmd == "cifar10":
        return prepare_cifar10(args.target)
    if args.cmd == "summary":
        return summarize(args.junit_dir, args.result_json)
    done = tt_release.run_command(args)
    return 2 if done is None else done


if __name__ == "__main__":
    sys.exit(main())
