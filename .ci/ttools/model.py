"""The packages of the monorepo: each folder under packages/ with a pyproject.toml, read once here
(the repository's one reader of packages/*/pyproject.toml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


REPO = Path(__file__).resolve().parents[2]
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


def pad_version(v: tuple[int, ...], n: int = 4) -> tuple[int, ...]:
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
    if pad_version(hi) != pad_version(expected_hi):
        want = ".".join(map(str, expected_hi))
        return f"range {spec!r} must cap at the next {'minor' if lo[0] == 0 else 'major'}: '<{want}'"
    if current_version is not None:
        cur = pad_version(version_tuple(current_version))
        if not (pad_version(lo) <= cur < pad_version(hi)):
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

