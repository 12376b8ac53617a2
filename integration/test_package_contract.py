"""The packaging contract (ARCHITECTURE.md, CONTRIBUTING.md), checked from the repository.

For every packages/*/pyproject.toml, from its metadata and, with `ast`, every .py file under its
src/ and tests/:
  * it imports no tinytorch package it does not declare (its own import path excepted), and
    nothing third-party that it does not declare; importing it needs only numpy;
  * it declares only siblings with a lower module number ([tool.tinytorch] module = N), each
    with the capped range >=0.x,<0.(x+1);
  * its runtime dependencies are numpy only (tinytorch-setup may add its CLI tools; optional
    extras are free);
  * it does not ship tinytorch/__init__.py or tinytorch/core/__init__.py, neither in the source
    tree nor in its built wheel;
  * it has README.md, LICENSE, CHANGELOG.md, requires-python, project URLs and classifiers;
and the tinytorch meta-package depends on every module.

The logic lives in .ci/tt.py (`python .ci/tt.py contract [--dist dist]` is the same check for
CI); this file makes it a pytest suite, and tests the checker itself on a made-up repository.

Wheels: $TINYTORCH_DIST (set by tox, pointing at the `build` env's dist/) when given; otherwise
they are built here into a temporary folder.
"""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


sys.path.insert(0, str(REPO / ".ci"))
from ttools import build, contract, model  # noqa: E402  (the repository's tooling, .ci/ttools)

PACKAGES = model.load_packages(REPO)
FOLDERS = [p.folder for p in PACKAGES]


def _report(violations) -> str:
    return "\n".join(str(v) for v in violations)


def test_there_are_packages():
    assert [p for p in PACKAGES if not p.is_meta], "no packages/*/pyproject.toml found"


def test_meta_package_exists():
    assert any(p.is_meta for p in PACKAGES), "packages/tinytorch/pyproject.toml is missing"


@pytest.mark.parametrize("folder", FOLDERS)
def test_sources_keep_the_contract(folder):
    pkg = model.get_package(folder, PACKAGES)
    violations = contract.check_sources(pkg, PACKAGES)
    assert not violations, _report(violations)


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory) -> Path:
    given = os.environ.get("TINYTORCH_DIST")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("wheels")
    errors = build.build_wheels_quick(out, PACKAGES)
    assert not errors, "\n".join(errors)
    return out


@pytest.mark.parametrize("folder", FOLDERS)
def test_built_wheel_keeps_the_contract(folder, dist_dir):
    pkg = model.get_package(folder, PACKAGES)
    wheel = contract.find_artifact(dist_dir, pkg, "whl")
    assert wheel is not None, f"no wheel of {pkg.name} {pkg.version} in {dist_dir}"
    violations = contract.check_wheel(pkg, wheel)
    assert not violations, _report(violations)


# --- the checker itself, on a made-up repository: each rule must be able to fail ------------

PYPROJECT = """\
[project]
name = "{name}"
version = "{version}"
readme = "README.md"
license = "MIT"
requires-python = ">=3.10"
classifiers = ["Programming Language :: Python :: 3"]
dependencies = [{deps}]
[project.optional-dependencies]
test = ["pytest>=7", "hypothesis>=6.50"]
plot = ["matplotlib"]
[project.urls]
Source = "https://example.invalid/{name}"
[tool.hatch.build.targets.wheel]
packages = ["src/tinytorch"]
[tool.hatch.build.targets.wheel.force-include]
"tests" = "tinytorch/core/{folder}/tests"
"lesson" = "tinytorch/core/{folder}/lesson"
[tool.hatch.build.targets.sdist]
include = ["src", "tests", "lesson", "README.md", "LICENSE", "CHANGELOG.md", "pyproject.toml"]
[tool.tinytorch]
module = {module}
"""


def _make_package(repo: Path, folder: str, module: int | None, deps: list[str], files: dict[str, str],
                  name: str | None = None, version: str = "0.1.0", extra_files=("README.md", "LICENSE", "CHANGELOG.md")):
    root = repo / "packages" / folder
    root.mkdir(parents=True)
    text = PYPROJECT.format(name=name or f"tinytorch-{folder}", version=version, folder=folder, module=module,
                            deps=", ".join(f'"{d}"' for d in deps))
    if module is None:
        text = text.replace("[tool.tinytorch]\nmodule = None\n", "")
    (root / "pyproject.toml").write_text(text)
    for f in extra_files:
        (root / f).write_text("x\n")
    if module is not None:  # every module has its lesson notebook
        (root / "lesson").mkdir()
        (root / "lesson" / f"{module:02d}_{folder}.py").write_text("# %% [markdown]\n# # lesson\n")
    for rel, body in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))


def _violations(repo: Path) -> list[str]:
    pkgs = model.load_packages(repo)
    return [str(v) for v in contract.check_all_sources(pkgs)]


@pytest.fixture
def fake_repo(tmp_path) -> Path:
    """A consistent two-module repository; each test breaks one rule."""
    _make_package(tmp_path, "tensor", 2, ["numpy>=1.24"], {
        "src/tinytorch/core/tensor/__init__.py": "import numpy as np\nfrom .graph import Node\n",
        "src/tinytorch/core/tensor/graph.py": "class Node: pass\n",
        "src/tinytorch/core/tensor/testing.py": "import hypothesis\n",  # not imported by __init__
        "tests/test_tensor.py": "import pytest\nfrom tinytorch.core.tensor import Node\n",
    })
    _make_package(tmp_path, "activations", 3, ["numpy>=1.24", "tinytorch-tensor>=0.1,<0.2"], {
        "src/tinytorch/core/activations/__init__.py": "from tinytorch.core.tensor import Node\n"
                                                      "def plot():\n    import matplotlib\n",
        "tests/test_act.py": "from tinytorch.core.activations import plot\n"
                             "from tinytorch.core.tensor.testing import hypothesis\n",
    })
    meta = tmp_path / "packages" / "tinytorch"
    meta.mkdir()
    (meta / "pyproject.toml").write_text(textwrap.dedent("""\
        [project]
        name = "tinytorch"
        version = "0.1.0"
        readme = "README.md"
        license = "MIT"
        requires-python = ">=3.10"
        classifiers = ["Programming Language :: Python :: 3"]
        dependencies = [
            "tinytorch-tensor>=0.1,<0.2",
            "tinytorch-activations>=0.1,<0.2",
        ]
        [project.urls]
        Source = "https://example.invalid/tinytorch"
        """))
    for f in ("README.md", "LICENSE", "CHANGELOG.md"):
        (meta / f).write_text("x\n")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_checker_accepts_a_consistent_repository(fake_repo):
    assert _violations(fake_repo) == []


def test_checker_catches_a_module_without_its_lesson(fake_repo):
    (fake_repo / "packages/tensor/lesson/02_tensor.py").unlink()
    _edit(fake_repo / "packages/activations/pyproject.toml", '"lesson" = "tinytorch/core/activations/lesson"\n', "")
    found = _violations(fake_repo)
    assert any(v.startswith("tensor:") and "lesson/02_tensor.py is missing" in v for v in found), found
    assert any(v.startswith("activations:") and '"lesson" = "tinytorch/core/activations/lesson"' in v
               for v in found), found


def test_checker_catches_an_undeclared_sibling_import(fake_repo):
    _edit(fake_repo / "packages/activations/pyproject.toml", '"tinytorch-tensor>=0.1,<0.2"', "")
    found = _violations(fake_repo)
    assert any("imports tinytorch.core.tensor" in v and "without declaring" in v for v in found), found


def test_checker_catches_an_undeclared_import_in_tests(fake_repo):
    (fake_repo / "packages/tensor/tests/test_more.py").write_text("from tinytorch.core.activations import plot\n")
    found = _violations(fake_repo)
    assert any(v.startswith("tensor:") and "tests/test_more.py:1" in v for v in found), found


def test_checker_catches_a_dependency_on_a_later_module(fake_repo):
    _edit(fake_repo / "packages/tensor/pyproject.toml", '"numpy>=1.24"', '"numpy>=1.24", "tinytorch-activations>=0.1,<0.2"')
    found = _violations(fake_repo)
    assert any("not a lower-numbered module" in v for v in found), found


def test_checker_catches_an_uncapped_sibling_range(fake_repo):
    _edit(fake_repo / "packages/activations/pyproject.toml", "tinytorch-tensor>=0.1,<0.2", "tinytorch-tensor>=0.1")
    found = _violations(fake_repo)
    assert any("activations:" in v and "is not of the form" in v for v in found), found
    _edit(fake_repo / "packages/activations/pyproject.toml", "tinytorch-tensor>=0.1", "tinytorch-tensor>=0.1,<1")
    assert any("must cap at the next minor" in v for v in _violations(fake_repo))


def test_checker_catches_a_runtime_dependency_besides_numpy(fake_repo):
    _edit(fake_repo / "packages/tensor/pyproject.toml", '"numpy>=1.24"', '"numpy>=1.24", "scipy"')
    found = _violations(fake_repo)
    assert any("runtime dependency 'scipy'" in v for v in found), found


def test_checker_lets_the_cli_package_depend_on_its_tools(fake_repo):
    _make_package(fake_repo, "setup", 1, ["rich>=13"], {"src/tinytorch/setup/__init__.py": "import rich\n"})
    _edit(fake_repo / "packages/tinytorch/pyproject.toml", "dependencies = [", 'dependencies = [\n    "tinytorch-setup>=0.1,<0.2",')
    assert _violations(fake_repo) == []


def test_checker_catches_an_optional_dependency_imported_at_import_time(fake_repo):
    _edit(fake_repo / "packages/tensor/src/tinytorch/core/tensor/__init__.py", "import numpy as np\n",
          "import numpy as np\nfrom . import testing\n")
    found = _violations(fake_repo)
    assert any("imports hypothesis at import time" in v for v in found), found


def test_checker_catches_an_undeclared_third_party_import(fake_repo):
    (fake_repo / "packages/tensor/src/tinytorch/core/tensor/extra.py").write_text("import pandas\n")
    found = _violations(fake_repo)
    assert any("imports pandas" in v for v in found), found


def test_checker_catches_namespace_init_files(fake_repo):
    (fake_repo / "packages/tensor/src/tinytorch/__init__.py").write_text("")
    (fake_repo / "packages/tensor/src/tinytorch/core").mkdir(exist_ok=True)
    (fake_repo / "packages/tensor/src/tinytorch/core/__init__.py").write_text("")
    found = _violations(fake_repo)
    assert sum("PEP 420" in v for v in found) == 2, found


def test_checker_catches_missing_metadata(fake_repo):
    (fake_repo / "packages/tensor/CHANGELOG.md").unlink()
    _edit(fake_repo / "packages/tensor/pyproject.toml", 'requires-python = ">=3.10"\n', "")
    _edit(fake_repo / "packages/tensor/pyproject.toml", 'classifiers = ["Programming Language :: Python :: 3"]\n', "")
    _edit(fake_repo / "packages/tensor/pyproject.toml", '[project.urls]\nSource = "https://example.invalid/tinytorch-tensor"\n', "")
    found = "\n".join(_violations(fake_repo))
    for what in ("CHANGELOG.md is missing", "requires-python", "[project.urls]", "classifiers"):
        assert what in found, found


def test_checker_catches_a_meta_package_missing_a_module(fake_repo):
    _make_package(fake_repo, "layers", 4, ["numpy", "tinytorch-tensor>=0.1,<0.2"],
                  {"src/tinytorch/core/layers/__init__.py": "from tinytorch.core.tensor import Node\n"})
    found = _violations(fake_repo)
    assert any(v.startswith("tinytorch:") and "tinytorch-layers" in v for v in found), found


def test_checker_catches_a_wheel_shipping_the_namespace(tmp_path, fake_repo):
    import zipfile

    pkg = model.get_package("tensor", model.load_packages(fake_repo))
    wheel = tmp_path / "tinytorch_tensor-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("tinytorch/__init__.py", "")
        z.writestr("tinytorch/core/tensor/__init__.py", "")
        z.writestr("tinytorch_tensor-0.1.0.dist-info/METADATA", "")
    found = [str(v) for v in contract.check_wheel(pkg, wheel)]
    assert any("ships tinytorch/__init__.py" in v for v in found), found
    assert any("does not ship the tests" in v for v in found), found


def test_titos_module_list_must_match_packages(tmp_path):
    """setup's registry.py (tito's module list) is checked against packages/: a module
    renamed or moved there and not in the registry is a contract violation."""
    real = model.get_package("setup", PACKAGES)
    assert contract.check_registry(PACKAGES) == []
    text = (real.path / contract.REGISTRY).read_text(encoding="utf-8")
    fake = tmp_path / "setup"
    (fake / contract.REGISTRY).parent.mkdir(parents=True)
    (fake / contract.REGISTRY).write_text(
        text.replace('_m(3, "activations"', '_m(3, "activation"'), encoding="utf-8")
    pkgs = [model.Package("setup", fake, real.pyproject) if p is real else p for p in PACKAGES]
    problems = [str(v) for v in contract.check_registry(pkgs)]
    assert len(problems) == 1 and "MODULES is not what packages/ says" in problems[0]
    assert "(3, 'activation', 'tinytorch.core.activations')" in problems[0]
