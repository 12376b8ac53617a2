"""The per-package tox envs: third-party installs, installed-alone tests, the installed set."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .build import run_captured
from .model import META, REPO, Package, get_package, load_packages, normalize, sibling_closure

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
        probe = run_captured([sys.executable, "-c", f"import {root} as m; print(list(m.__path__)[0] "
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
