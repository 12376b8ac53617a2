"""Shared fixtures: a toy TinyTorch-style package, fake installed distributions, running tito.

The toy package ``tinytorch-toy`` (import ``tinytorch.toy``) is laid out like a real module —
hatchling, ``src/tinytorch/toy``, tests force-included into the wheel — with solution blocks
and a ``tinytorch.tito`` plugin, so workspaces, installs, check-stubs and plugins can be
tested without touching the environment running the tests: installs go to throw-away virtual
environments layered over it (see :func:`make_sandbox`).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from collections.abc import Callable
from pathlib import Path

import pytest

from tinytorch.setup.process import pip_install
from tinytorch.setup.registry import Module

def pytest_configure(config: pytest.Config) -> None:
    """Register the ``slow`` marker (the repository's pytest.ini does too)."""
    config.addinivalue_line("markers", "slow: long-running end-to-end tests")


TOY = Module(99, "toy", "tinytorch-toy", "tinytorch.toy", "A toy module for tito's tests")

TOY_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "tinytorch-toy"
version = "0.1.0"
description = "A toy module"
readme = "README.md"
requires-python = ">=3.10"
dependencies = []

[project.optional-dependencies]
test = ["pytest>=7"]

[project.entry-points."tinytorch.tito"]
toy = "tinytorch.toy.cli:register"

[tool.hatch.build.targets.wheel]
packages = ["src/tinytorch"]

[tool.hatch.build.targets.wheel.force-include]
"tests" = "tinytorch/toy/tests"

[tool.tinytorch]
module = 99
"""

TOY_OPS = '''\
"""Toy operations."""


def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    ### HINT: multiply by two
    return 2 * x
    ### END SOLUTION


class Scaler:
    """Multiply by a constant."""

    def __init__(self, k):
        self.k = k

    def __call__(self, x):
        ### BEGIN SOLUTION
        return self.k * x
        ### END SOLUTION


def triple(x):
    """Three times x (tested only in a subprocess)."""
    ### BEGIN SOLUTION
    return 3 * x
    ### END SOLUTION
'''

TOY_CLI = '''\
"""The toy's tito plugin: `tito toy`."""


def run(args):
    print(f"toy says {args.word}")
    return 0


def register(subparsers):
    parser = subparsers.add_parser("toy", help="say something", description="Say something.")
    parser.add_argument("--word", default="hi")
    parser.set_defaults(func=run)
'''

TOY_TESTS = '''\
import os
import subprocess
import sys

from tinytorch.toy.ops import Scaler, double


def test_double():
    assert double(2) == 4


def test_scaler():
    assert Scaler(3)(2) == 6


def test_triple_in_a_subprocess():
    code = "from tinytorch.toy.ops import triple; assert triple(2) == 6"
    subprocess.run([sys.executable, "-c", code], check=True, env=os.environ.copy())
'''


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: text}`` under ``root``; return ``root``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def toy_files(**overrides: str) -> dict[str, str]:
    """The toy package's files (override any by relative path)."""
    files = {
        "pyproject.toml": TOY_PYPROJECT,
        "README.md": "# Toy\n\nA toy module.\n",
        "LICENSE": "MIT\n",
        "src/tinytorch/toy/__init__.py": '"""Toy."""\n\nfrom tinytorch.toy.ops import Scaler, double\n',
        "src/tinytorch/toy/ops.py": TOY_OPS,
        "src/tinytorch/toy/cli.py": TOY_CLI,
        "tests/test_toy.py": TOY_TESTS,
    }
    files.update(overrides)
    return files


@pytest.fixture
def toy_package(tmp_path: Path) -> Path:
    """A fresh copy of the toy package folder."""
    return write_files(tmp_path / "toy", toy_files())


class Sandbox:
    """A virtual environment layered over the one running the tests.

    It has no pip of its own and sees everything the parent process can import (a ``.pth``
    file adds the parent's ``sys.path``, its ``PYTHONPATH`` included, after the sandbox's own
    site-packages), but installs go into the sandbox, whose site-packages comes first — so a
    package installed here shadows the parent's copy and the parent is never modified. Its
    processes run without ``PYTHONPATH``, which would otherwise come before the sandbox.

    The ``.pth`` leaves out the standard library (every entry the sandbox's interpreter has
    before ``site`` runs). pip's build isolation treats whatever the ``.pth`` files of the
    environment's site-packages add as the environment's packages and removes it from the
    build subprocess's ``sys.path``; since pip 26.2 it finds those paths starting from an empty
    ``sys.path``, so a stdlib folder listed here would be removed too and the build backend
    would fail with ``No module named 'json'``.
    """

    def __init__(self, root: Path) -> None:
        venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(root)
        self.root = root
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = str(root / bindir / ("python.exe" if os.name == "nt" else "python"))
        self.site = Path(sysconfig.get_path("purelib", vars={"base": str(root),
                                                             "platbase": str(root)}))
        own = subprocess.run([self.python, "-I", "-S", "-c", "import sys; print(repr(sys.path))"],
                             capture_output=True, text=True, check=True).stdout
        stdlib = {os.path.normcase(os.path.realpath(p)) for p in ast.literal_eval(own)}
        parents = [p for p in dict.fromkeys(sys.path) if p and os.path.isdir(p)
                   and os.path.normcase(os.path.realpath(p)) not in stdlib]
        lines = [f"import site; site.addsitedir({p!r})" for p in parents]
        # named to sort last: site runs .pth files in name order, and an editable install's
        # .pth (``_tinytorch_setup.pth``) must put its folder on sys.path before the parent's
        (self.site / "zz_tinytorch_parent_env.pth").write_text("\n".join(lines) + "\n")

    def install(self, folder: Path) -> None:
        """``pip install --no-deps --force-reinstall folder`` into the sandbox."""
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        pip_install(folder, python=self.python, env=env)

    def run(self, *args: str, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run the sandbox's python with ``args``."""
        full = dict(os.environ, TINYTORCH_REPO="", COLUMNS="200")
        full.pop("PYTHONPATH", None)
        full.update(env or {})
        return subprocess.run([self.python, *args], cwd=cwd, env=full, capture_output=True,
                              text=True, timeout=600)


def make_sandbox(root: Path) -> Sandbox:
    """A new :class:`Sandbox` in ``root``."""
    return Sandbox(root)


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    """A fresh sandbox environment."""
    return Sandbox(tmp_path / "venv")


@pytest.fixture(scope="session")
def toy_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    """A sandbox with the toy reference installed from its wheel (made once; do not modify)."""
    src = write_files(tmp_path_factory.mktemp("toy-src") / "toy", toy_files())
    box = Sandbox(tmp_path_factory.mktemp("toy-venv") / "venv")
    box.install(src)
    return box


def write_dist(site: Path, name: str, version: str, requires: tuple[str, ...] = (),
               entry_points: str = "") -> Path:
    """A bare ``.dist-info`` folder (what importlib.metadata reads) for a fake distribution."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if entry_points:
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points), encoding="utf-8")
    return info


@pytest.fixture
def tito(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``python -m tinytorch.setup ARGS`` in a subprocess (outside any checkout)."""

    def run(*args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full = dict(os.environ, TINYTORCH_REPO="", COLUMNS="200")
        full.update(env or {})
        return subprocess.run([sys.executable, "-m", "tinytorch.setup", *args], cwd=cwd or tmp_path,
                              env=full, capture_output=True, text=True, timeout=600)

    return run


def with_pythonpath(*folders: Path) -> dict[str, str]:
    """An environment update that puts ``folders`` first on PYTHONPATH."""
    parts = [str(f) for f in folders]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return {"PYTHONPATH": os.pathsep.join(parts)}


@pytest.fixture
def toy_module() -> Module:
    """The registry entry tests use for the toy package."""
    return TOY


@pytest.fixture
def make_dist() -> Callable[..., Path]:
    """:func:`write_dist` (tests cannot import conftest under --import-mode=importlib)."""
    return write_dist


@pytest.fixture
def make_toy(tmp_path: Path) -> Callable[..., Path]:
    """Write the toy package with some files overridden: ``make_toy(name, **{path: text})``."""

    def make(name: str = "toy", **overrides: str) -> Path:
        return write_files(tmp_path / name, toy_files(**overrides))

    return make


@pytest.fixture
def pythonpath() -> Callable[..., dict[str, str]]:
    """:func:`with_pythonpath`."""
    return with_pythonpath
