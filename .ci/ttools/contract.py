"""The packaging and import contract: sources, metadata, built wheels and sdists."""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .model import (
    CLI_PACKAGE,
    IMPORT_ALIASES,
    META,
    REQUIRED_FILES,
    TEST_TOOLS,
    Package,
    by_name,
    cap_problem,
    load_packages,
    lower_bound,
    normalize,
    pad_version,
)

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
            if meta_lo is not None and user_lo is not None and pad_version(meta_lo) < pad_version(user_lo):
                v.append(Violation(meta.folder, f"admits {r.name} {'.'.join(map(str, meta_lo))}, but {user.name} "
                                                f"needs {r.specifier}: raise the floor (`python .ci/tt.py sync-meta`)"))
    if (meta.path / "src").exists():
        v.append(Violation(meta.folder, "the meta-package has a src/ folder; it ships no code of its own"))
    return v


REGISTRY = Path("src/tinytorch/setup/registry.py")  # in the setup package: tito's module list


def check_registry(pkgs: list[Package]) -> list[Violation]:
    """tito's module list (setup's registry.py, shipped in a wheel that cannot read packages/)
    must say what packages/ says: the same (number, folder, import path) in course order, and
    the meta-package's distribution name."""
    setup = next((p for p in pkgs if p.folder == CLI_PACKAGE), None)
    if setup is None or not (setup.path / REGISTRY).is_file():
        return []
    tree = ast.parse((setup.path / REGISTRY).read_text(encoding="utf-8"))
    listed, meta_name = [], None
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else (
            node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None)
        if not isinstance(target, ast.Name) or node.value is None:
            continue
        if target.id == "MODULES" and isinstance(node.value, ast.Tuple):
            listed = [tuple(ast.literal_eval(a) for a in call.args[:3]) for call in node.value.elts
                      if isinstance(call, ast.Call)]
        elif target.id == "META_DISTRIBUTION":
            meta_name = ast.literal_eval(node.value)
    want = [(p.module, p.folder, p.import_roots[0] if p.import_roots else None)
            for p in pkgs if not p.is_meta and p.module is not None]
    v = []
    if listed != want:
        extra, missing = sorted(set(listed) - set(want)), sorted(set(want) - set(listed))
        v.append(Violation(CLI_PACKAGE, f"{REGISTRY}: MODULES is not what packages/ says "
                           f"(listed but not in packages/: {extra}; in packages/ but not listed: "
                           f"{missing}; or the order differs) — edit the list to match"))
    meta = next((p for p in pkgs if p.is_meta), None)
    if meta is not None and meta_name != meta.name:
        v.append(Violation(CLI_PACKAGE, f"{REGISTRY}: META_DISTRIBUTION is {meta_name!r}, but "
                           f"packages/{META}/pyproject.toml names {meta.name!r}"))
    return v


def check_all_sources(pkgs: list[Package] | None = None) -> list[Violation]:
    pkgs = load_packages() if pkgs is None else pkgs
    v = [x for p in pkgs for x in check_sources(p, pkgs)]
    v += check_registry(pkgs)
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
