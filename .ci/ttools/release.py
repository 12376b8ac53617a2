"""Release engineering for the TinyTorch monorepo (standard library only; run through .ci/tt.py).

    python .ci/tt.py versions               every distribution, its version, its tag, its changelog entry
    python .ci/tt.py release-check          build all wheels and sdists and check them as PyPI would get them
    python .ci/tt.py min-versions           each package's shipped tests at the lowest versions its ranges allow
    python .ci/tt.py tag-check TAG          does TAG (`<distribution>-v<version>`) name a package at its version?
    python .ci/tt.py artifacts FOLDER       its wheel and sdist in dist/ (--copy-to DIR: copy them there)

`release-check` is the one command a maintainer runs before tagging (CI runs it too, in the tox env
`release`, on the wheels the `build` env made). Its steps:

1. versions: each version is a public PEP 440 version (no `+local` label: PyPI refuses those) with an
   entry in the package's CHANGELOG.md; then the contract (`tt.py contract`), which holds the range
   rules: every sibling range admits the sibling's current version; the meta-package's ranges admit
   every current version and its floors satisfy every module's own ranges;
2. build: every sdist, then every wheel from its sdist, into DIST (skipped with --no-build);
3. twine check --strict on every artifact (the README renders as the PyPI page);
4. reproducible: each sdist, unpacked and built again, gives the same wheel as DIST holds, and the same
   wheel as the source tree gives directly (file lists and SHA-256 of every file; RECORD, which only
   lists those hashes, and the `Generator:` line of WHEEL are left out);
5. installed alone: for each distribution a fresh virtual environment gets it from DIST with nothing
   but what its metadata declares, resolved offline (`--no-index`) from DIST and a wheelhouse of the
   third-party wheels (numpy, ... from PyPI through pip's cache); the installed set of tinytorch
   distributions must be exactly the package and its declared siblings, `pip check` must pass, and
   every import root must import, from an empty directory. For the meta-package: every module.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .build import build_all
from .contract import Violation, check_all_sources, check_dist, find_artifact
from .envs import requirements_for
from .model import (
    META,
    REPO,
    Package,
    Requirement,
    by_name,
    get_package,
    load_packages,
    normalize,
    sibling_closure,
)

# PEP 440, public versions in canonical form (what `hatch version` writes); no local label.
PUBLIC_VERSION = re.compile(r"^(0|[1-9]\d*)(\.(0|[1-9]\d*))*((a|b|rc)(0|[1-9]\d*))?(\.post(0|[1-9]\d*))?"
                            r"(\.dev(0|[1-9]\d*))?$")


# --------------------------------------------------------------------------------------------
# Versions, tags, changelogs
# --------------------------------------------------------------------------------------------

def tag_for(pkg: Package) -> str:
    """The git tag that releases this package at its current version: `<distribution>-v<version>`."""
    return f"{pkg.name}-v{pkg.version}"


def changelog_entry(pkg: Package) -> str | None:
    """The heading line of CHANGELOG.md for the package's current version, if there is one.

    Accepted: `## 0.1.0`, `## 0.1.0 — 2026-11-26`, `## [0.1.0] (unreleased)`, `## v0.1.0 ...`."""
    path = pkg.path / "CHANGELOG.md"
    if not path.is_file():
        return None
    pattern = re.compile(rf"^##\s+\[?v?{re.escape(pkg.version)}\]?(?=\s|$)")
    for line in path.read_text(encoding="utf-8").splitlines():
        if pattern.match(line):
            return line.strip()
    return None


def check_versions(pkgs: list[Package]) -> list[Violation]:
    v = []
    for p in pkgs:
        if not PUBLIC_VERSION.match(p.version):
            v.append(Violation(p.folder, f"version {p.version!r} is not a public PEP 440 version in canonical "
                                            "form (PyPI refuses local labels such as +student)"))
        if changelog_entry(p) is None:
            v.append(Violation(p.folder, f"CHANGELOG.md has no entry for {p.version} "
                                            f"(add a heading '## {p.version} — unreleased' with what changed)"))
    return v


def parse_tag(tag: str) -> tuple[str, str] | None:
    """'tinytorch-tensor-v0.1.0' -> ('tinytorch-tensor', '0.1.0'); 'refs/tags/...' is accepted."""
    tag = tag.removeprefix("refs/tags/")
    m = re.match(r"^(.+)-v(\d[^-]*)$", tag)
    return (normalize(m.group(1)), m.group(2)) if m else None


def tag_check(tag: str, pkgs: list[Package]) -> tuple[Package | None, str]:
    """The package a release tag names, or None and why not."""
    parsed = parse_tag(tag)
    if parsed is None:
        return None, f"tag {tag!r} is not of the form <distribution>-v<version> (e.g. tinytorch-tensor-v0.1.1)"
    name, version = parsed
    pkg = by_name(pkgs).get(name)
    if pkg is None:
        return None, f"tag {tag!r} names {name}, which no folder under packages/ builds"
    if pkg.version != version:
        return None, (f"tag {tag!r} says {version}, but packages/{pkg.folder}/pyproject.toml says {pkg.version}: "
                      f"bump it first (cd packages/{pkg.folder} && hatch version {version}) or fix the tag")
    if not PUBLIC_VERSION.match(version):
        return None, f"tag {tag!r}: {version} is not a public PEP 440 version"
    return pkg, f"{tag} releases packages/{pkg.folder} ({pkg.name} {pkg.version})"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None,
         timeout: float | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)


def _clean_env() -> dict[str, str]:
    """This environment without what would leak the caller's packages into a fresh venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    env.setdefault("UV_NATIVE_TLS", "1")  # the system trust store, as pip uses
    return env


def _uv() -> str | None:
    return None if os.environ.get("TINYTORCH_NO_UV") else shutil.which("uv")


def make_venv(path: Path, seed: bool = False) -> Path:
    """A fresh virtual environment at `path` (uv when available: ~0.1 s; else venv with pip); its python.
    With `seed`, it has pip even when uv makes it (as tox's envs do: some tests run pip); pip only,
    not uv's --seed, whose setuptools/wheel would bring their own (newer) packaging."""
    if path.exists():
        shutil.rmtree(path)
    uv = _uv()
    if uv:
        res = _run([uv, "venv", "--quiet", "--python", sys.executable, path], env=_clean_env())
        if res.returncode == 0 and seed:
            res = _run([uv, "pip", "install", "--quiet", "--python", path / "bin" / "python", "pip"],
                       env=_clean_env())
    else:
        res = _run([sys.executable, "-m", "venv", path])
    if res.returncode:
        raise RuntimeError(f"cannot create a venv at {path}:\n{res.stdout}")
    return path / ("Scripts" if os.name == "nt" else "bin") / "python"


def venv_install(python: Path, args: list[str]) -> subprocess.CompletedProcess:
    """`pip install ARGS` into the venv of `python` (uv pip when available)."""
    uv = _uv()
    if uv:
        return _run([uv, "pip", "install", "--quiet", "--python", python, *args], env=_clean_env())
    # pip has no --only-binary=:all: for our names alone, but dist/ holds wheels next to the sdists
    args = ["--only-binary=:all:" if a == "--only-binary" else a for a in args if a != ":all:"]
    return _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args], env=_clean_env())


def installed_versions(python: Path) -> dict[str, str]:
    """Normalised distribution name -> version, for everything installed in that interpreter's env."""
    code = ("import importlib.metadata as m, json, re; print(json.dumps({re.sub(r'[-_.]+', '-', "
            "d.metadata['Name']).lower(): d.version for d in m.distributions()}))")
    res = _run([python, "-c", code], env=_clean_env())
    if res.returncode:
        raise RuntimeError(res.stdout)
    return json.loads(res.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Reproducible builds: sdist -> wheel == tree -> wheel == dist wheel
# --------------------------------------------------------------------------------------------

def wheel_contents(wheel: Path) -> dict[str, str]:
    """File name -> SHA-256 of its content; RECORD (a list of these hashes) and WHEEL's Generator
    line (the hatchling version that built it) are left out. Zip timestamps are never compared."""
    out = {}
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if info.is_dir() or info.filename.endswith(".dist-info/RECORD"):
                continue
            data = z.read(info)
            if info.filename.endswith(".dist-info/WHEEL"):
                data = b"\n".join(line for line in data.splitlines() if not line.startswith(b"Generator:"))
            out[info.filename] = hashlib.sha256(data).hexdigest()
    return out


def compare_wheels(a: Path, b: Path, a_label: str, b_label: str) -> list[str]:
    ca, cb = wheel_contents(a), wheel_contents(b)
    problems = []
    only_a, only_b = sorted(set(ca) - set(cb)), sorted(set(cb) - set(ca))
    if only_a:
        problems.append(f"only in the wheel {a_label}: {only_a[:8]}{' ...' if len(only_a) > 8 else ''}")
    if only_b:
        problems.append(f"only in the wheel {b_label}: {only_b[:8]}{' ...' if len(only_b) > 8 else ''}")
    differ = sorted(n for n in set(ca) & set(cb) if ca[n] != cb[n])
    if differ:
        problems.append(f"different content ({a_label} vs {b_label}): {differ[:8]}")
    return problems


def build_wheel_from(folder: Path, outdir: Path) -> Path:
    """Build a wheel from a package folder (source tree or unpacked sdist) with the hatchling installed
    here, as pip would without build isolation."""
    outdir.mkdir(parents=True, exist_ok=True)
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    res = _run([sys.executable, "-c", code, outdir], cwd=folder)
    if res.returncode:
        raise RuntimeError(f"building a wheel from {folder} failed:\n{res.stdout}")
    return outdir / res.stdout.strip().splitlines()[-1]


def _extract(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as tf:
        if sys.version_info >= (3, 12):
            tf.extractall(dest, filter="data")
        else:  # our own sdist, but refuse anything that would land outside dest all the same
            for m in tf.getmembers():
                if m.name.startswith("/") or ".." in Path(m.name).parts or m.issym() or m.islnk():
                    raise RuntimeError(f"{sdist.name}: unsafe member {m.name!r}")
            tf.extractall(dest)
    roots = [p for p in dest.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise RuntimeError(f"{sdist.name} does not unpack into one folder")
    return roots[0]


def check_reproducible(pkg: Package, dist: Path, work: Path) -> list[str]:
    wheel, sdist = find_artifact(dist, pkg, "whl"), find_artifact(dist, pkg, "tar.gz")
    if wheel is None or sdist is None:
        return [f"no {'wheel' if wheel is None else 'sdist'} of {pkg.name} {pkg.version} in {dist}"]
    root = work / f"rebuild-{pkg.folder}"
    if root.exists():
        shutil.rmtree(root)
    try:
        unpacked = _extract(sdist, root / "sdist")
        from_sdist = build_wheel_from(unpacked, root / "from-sdist")
        from_tree = build_wheel_from(pkg.path, root / "from-tree")
    except RuntimeError as e:
        return [str(e)]
    return (compare_wheels(from_sdist, wheel, "rebuilt from the sdist", f"in {dist.name}/")
            + compare_wheels(from_sdist, from_tree, "rebuilt from the sdist", "built from the source tree"))


# --------------------------------------------------------------------------------------------
# Installed alone, from the built wheels, in fresh venvs
# --------------------------------------------------------------------------------------------

def third_party_runtime(pkgs: list[Package]) -> list[str]:
    return list(dict.fromkeys(r.raw for p in pkgs for r in p.third_party_requirements))


def default_wheelhouse() -> Path:
    """Where third-party wheels are kept between runs: $TINYTORCH_WHEELHOUSE, else
    ~/.cache/tinytorch-ci/wheelhouse (next to, not inside, the data cache)."""
    given = os.environ.get("TINYTORCH_WHEELHOUSE")
    return Path(given) if given else Path.home() / ".cache" / "tinytorch-ci" / "wheelhouse"


def fill_wheelhouse(pkgs: list[Package], wheelhouse: Path) -> list[str]:
    """Wheels of every third-party runtime requirement (and theirs) for this Python, so that the
    installs below can resolve with --no-index. Offline first: when the wheelhouse already satisfies
    every requirement nothing is fetched (no index queries at all); otherwise pip downloads what is
    missing from PyPI (through its HTTP cache)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    reqs = third_party_runtime(pkgs)
    if not reqs:
        return []
    base = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--only-binary=:all:", "--dest", wheelhouse]
    if _run([*base, "--no-index", "--find-links", wheelhouse, *reqs], env=_clean_env()).returncode == 0:
        print(f"{wheelhouse} already holds wheels for {', '.join(reqs)}")
        return []
    res = _run([*base, *reqs], env=_clean_env())
    return [] if res.returncode == 0 else [f"pip download {' '.join(reqs)} failed:\n{res.stdout}"]


IMPORT_CHECK = r"""
import importlib, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        m = importlib.import_module(name)
        out[name] = [True, list(getattr(m, "__path__", [])) [:1] or [m.__file__]]
    except BaseException as e:  # noqa: BLE001 - report anything an import raises
        out[name] = [False, f"{type(e).__name__}: {e}"]
print(json.dumps(out))
"""


def check_installed_alone(pkg: Package, pkgs: list[Package], dist: Path, wheelhouse: Path,
                          work: Path) -> tuple[list[str], str]:
    """Install pkg's wheel into a fresh venv, offline, from dist + wheelhouse; check what came and that
    it imports. Returns (problems, one-line summary)."""
    venv = work / f"venv-{pkg.folder}"
    python = make_venv(venv)
    res = venv_install(python, ["--no-index", "--only-binary", ":all:", "--find-links", dist,
                                "--find-links", wheelhouse, f"{pkg.name}=={pkg.version}"])
    if res.returncode:
        return [f"installing {pkg.name}=={pkg.version} with only its declared dependencies failed:\n"
                f"{res.stdout.strip()}"], ""
    problems = []
    got = installed_versions(python)
    ours = {n: v for n, v in got.items() if n == META or n.startswith("tinytorch-")}
    expected = pkgs if pkg.is_meta else sibling_closure(pkg, pkgs)
    want = {p.name: p.version for p in expected if not (p.is_meta and not pkg.is_meta)}
    if ours != want:
        problems.append(f"installed tinytorch distributions {ours} != its declared closure {want}")
    uv = _uv()
    check = (_run([uv, "pip", "check", "--python", python], env=_clean_env()) if uv
             else _run([python, "-m", "pip", "check"], env=_clean_env()))
    if check.returncode:
        problems.append(f"pip check: {check.stdout.strip()}")
    roots = sorted({r for p in expected if not p.is_meta for r in p.import_roots}) if pkg.is_meta \
        else pkg.import_roots
    empty = work / f"cwd-{pkg.folder}"
    empty.mkdir(exist_ok=True)
    probe = _run([python, "-c", IMPORT_CHECK, *roots], cwd=empty, env=_clean_env())
    try:
        result = json.loads(probe.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return problems + [f"import check crashed:\n{probe.stdout}"], ""
    for name, (ok, detail) in result.items():
        if not ok:
            problems.append(f"import {name}: {detail}")
        elif not str(detail[0]).startswith(str(venv)):
            problems.append(f"import {name} came from {detail[0]}, not from the fresh venv")
    others = sorted(f"{n}=={v}" for n, v in got.items() if n not in ours and n not in ("pip", "setuptools", "wheel"))
    return problems, f"{len(ours)} of ours + {', '.join(others) or 'nothing else'}; imports {', '.join(roots)}"


# --------------------------------------------------------------------------------------------
# release-check
# --------------------------------------------------------------------------------------------

class Steps:
    """Timed steps with their problems; a table at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, int]] = []
        self.problems = 0

    def run(self, name: str, fn) -> None:
        print(f"\n--- {name}", flush=True)
        t0 = time.perf_counter()
        problems = fn()
        dt = time.perf_counter() - t0
        for p in problems:
            print(f"RELEASE {p}", flush=True)
        self.rows.append((name, dt, len(problems)))
        self.problems += len(problems)
        print(f"--- {name}: {len(problems)} problem(s), {dt:.1f}s", flush=True)

    def report(self) -> None:
        print("\nrelease-check steps (seconds):")
        for name, dt, n in self.rows:
            print(f"  {name:<44} {dt:7.1f}  {'ok' if n == 0 else f'{n} problem(s)'}")
        print(f"  {'total':<44} {sum(r[1] for r in self.rows):7.1f}")


def twine_check(files: list[Path]) -> list[str]:
    twine = shutil.which("twine")
    cmd = [twine] if twine else [sys.executable, "-m", "twine"]
    res = _run([*cmd, "check", "--strict", *files])
    if res.returncode:
        return [f"twine check --strict:\n{res.stdout.strip()}"]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", res.stdout)  # twine colours its verdicts
    passed = sum(1 for line in plain.splitlines() if line.rstrip().endswith("PASSED"))
    print(f"twine check --strict: {passed} of {len(files)} artifacts PASSED")
    return [] if passed == len(files) else [f"twine check passed {passed} of {len(files)}:\n{res.stdout}"]


def release_check(dist: Path, build: bool, jobs: int, work: Path | None, only: list[str]) -> int:
    pkgs = load_packages()
    chosen = [get_package(f, pkgs) for f in only] if only else pkgs
    steps = Steps()
    tmp = None
    if work is None:
        tmp = tempfile.TemporaryDirectory(prefix="tt-release-")
        work = Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"release-check: {len(chosen)} distribution(s), artifacts in {dist}, work in {work}")

    steps.run("versions and changelogs", lambda: [str(x) for x in check_versions(chosen)])
    # the contract holds the range rules: every sibling range admits the sibling's current version,
    # the meta-package's ranges admit every current version and its floors satisfy every module's ranges
    steps.run("contract (sources, ranges, meta-package)", lambda: [str(x) for x in check_all_sources(pkgs)])
    if build:
        steps.run("build: sdist, then wheel from sdist", lambda: (
            [f"{n} build(s) failed"] if (n := build_all(dist, pkgs, jobs=jobs)) else []))
    steps.run("artifacts keep the contract", lambda: [str(x) for x in check_dist(dist, chosen)])
    files = [a for p in chosen for a in (find_artifact(dist, p, "whl"), find_artifact(dist, p, "tar.gz")) if a]
    steps.run("twine check --strict", lambda: twine_check(files) if files else ["nothing to check"])

    def reproducible() -> list[str]:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(lambda p: (p, check_reproducible(p, dist, work)), chosen))
        out = []
        for p, problems in results:
            print(f"  {p.name:<28} {'same wheel' if not problems else 'DIFFERS'}")
            out += [f"{p.folder}: {x}" for x in problems]
        return out
    steps.run("sdist rebuilds into the same wheel", reproducible)

    wheelhouse = default_wheelhouse()
    steps.run("third-party wheels (pip download, cached)", lambda: fill_wheelhouse(pkgs, wheelhouse))

    def installs() -> list[str]:
        def one(p):
            try:
                return p, *check_installed_alone(p, pkgs, dist, wheelhouse, work)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                return p, [str(e)], ""
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(one, chosen))
        out = []
        for p, problems, summary in results:
            print(f"  {p.name:<28} {'ok' if not problems else 'FAILED'}  {summary}")
            out += [f"{p.folder}: {x}" for x in problems]
        return out
    steps.run("each wheel alone in a fresh venv, offline", installs)

    steps.report()
    if tmp is not None:
        tmp.cleanup()
    print(f"release-check: {steps.problems} problem(s)" + ("" if steps.problems else
          f"; {len(chosen)} distribution(s) ready to tag (python .ci/tt.py versions lists the tags)"))
    return 1 if steps.problems else 0


# --------------------------------------------------------------------------------------------
# Lowest versions
# --------------------------------------------------------------------------------------------

def min_versions(folders: list[str], dist: Path, work: Path, pytest_args: list[str], junit_dir: Path | None) -> int:
    """Each module's shipped tests with its third-party requirements at the lowest versions their
    ranges allow.

    A package's requirements are the runtime ones of it and of every sibling it pulls in, plus its
    test extra; uv's `--resolution lowest-direct` takes each of those ranges at its floor (they are
    the direct requirements; what they need in turn is resolved normally). Packages with the same
    requirements share one fresh venv (today: every module but tinytorch-setup), which holds our
    wheels from dist/ (installed without their dependencies: the floors above are the point);
    then each package's tests run from inside its installed wheel, one pytest process per package."""
    uv = _uv()
    if not uv:
        print("min-versions needs uv (pip has no lowest-version resolution): pip install uv", file=sys.stderr)
        return 2
    pkgs = load_packages()
    chosen = [get_package(f, pkgs) for f in folders] if folders else [p for p in pkgs if not p.is_meta]
    groups: dict[tuple[str, ...], list[Package]] = {}
    for pkg in chosen:
        groups.setdefault(tuple(requirements_for([pkg], pkgs)), []).append(pkg)
    work.mkdir(parents=True, exist_ok=True)
    rows, failed = [], 0
    for number, (reqs, members) in enumerate(groups.items()):
        t0 = time.perf_counter()
        venv = work / f"min-{number}"
        python = make_venv(venv, seed=True)
        res = _run([uv, "pip", "install", "--quiet", "--python", python, "--resolution", "lowest-direct", *reqs],
                   env=_clean_env())
        closure = {p.name: p for m in members for p in sibling_closure(m, pkgs)}
        ours = [find_artifact(dist, p, "whl") for p in closure.values()]
        if res.returncode == 0:
            if None in ours:
                res = subprocess.CompletedProcess([], 1, f"missing wheels in {dist}: run the build env first")
            else:
                res = _run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", *ours],
                           env=_clean_env())
        got = installed_versions(python) if res.returncode == 0 else {}
        direct = [Requirement.parse(r) for r in reqs]
        lowest = ", ".join(f"{r.name}=={got.get(r.name, '?')}" for r in direct if not r.marker)
        names = ", ".join(m.name for m in members)
        print(f"\n=== lowest allowed: {lowest}\n    for {names} ({time.perf_counter() - t0:.1f}s to set up)",
              flush=True)
        if res.returncode:
            print(res.stdout, flush=True)
            failed += len(members)
            rows += [(m.name, lowest, "setup failed", 0.0) for m in members]
            continue
        site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                         env=_clean_env()).stdout.strip().splitlines()[-1])
        for pkg in members:
            t1 = time.perf_counter()
            tests = site / (pkg.tests_target or "")
            if not pkg.tests_target or not tests.is_dir():
                print(f"{pkg.name} ships no tests at {tests}", flush=True)
                rows.append((pkg.name, lowest, "no tests", 0.0))
                failed += 1
                continue
            extra = list(pytest_args)
            if junit_dir is not None:
                junit_dir.mkdir(parents=True, exist_ok=True)
                extra.append(f"--junitxml={junit_dir / f'min-{pkg.folder}.xml'}")
            empty = work / f"cwd-{pkg.folder}"
            empty.mkdir(exist_ok=True)
            cmd = [str(python), "-m", "pytest", "-c", str(REPO / "pytest.ini"), "--rootdir", str(tests), str(tests),
                   *extra]
            print(f"--- {pkg.name}: " + " ".join(cmd[1:]), flush=True)
            code = subprocess.call(cmd, cwd=empty, env=_clean_env())
            failed += code != 0
            rows.append((pkg.name, lowest, "ok" if code == 0 else f"FAILED ({code})", time.perf_counter() - t1))
        shutil.rmtree(venv, ignore_errors=True)
    print("\nlowest allowed versions (seconds of tests):")
    for name, lowest, verdict, dt in rows:
        print(f"  {name:<28} {verdict:<12} {dt:6.1f}  {lowest}")
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# Command line (through tt.py)
# --------------------------------------------------------------------------------------------

def add_commands(sub) -> None:
    v = sub.add_parser("versions", help="each distribution's version, release tag and changelog entry")
    v.add_argument("--json", action="store_true")
    t = sub.add_parser("tag-check", help="does a tag <distribution>-v<version> match a package's version?")
    t.add_argument("tag")
    t.add_argument("--kv", action="store_true",
                   help="print folder=, distribution=, version= lines (for $GITHUB_OUTPUT)")
    a = sub.add_parser("artifacts", help="the wheel and sdist of a package's current version in --dist")
    a.add_argument("folder")
    a.add_argument("--dist", type=Path, default=REPO / "dist")
    a.add_argument("--copy-to", type=Path, help="copy them into this folder (created)")
    r = sub.add_parser("release-check", help="build and check every wheel and sdist as a release would")
    r.add_argument("--dist", type=Path, default=REPO / "dist", help="where the artifacts are (or go)")
    r.add_argument("--no-build", action="store_true", help="check the artifacts already in --dist")
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--work", type=Path, help="scratch folder for venvs and rebuilds (default: a temp dir)")
    r.add_argument("folders", nargs="*", help="only these packages (default: all)")
    m = sub.add_parser("min-versions", help="each package's tests at the lowest versions its ranges allow")
    m.add_argument("--dist", type=Path, default=REPO / "dist")
    m.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "tt-min-versions")
    m.add_argument("--junit-dir", type=Path)
    m.add_argument("folders", nargs="*")
    m.add_argument("--pytest", dest="pytest_args", nargs=argparse.REMAINDER, default=[],
                   help="arguments for pytest (the rest of the line)")


def run_command(args) -> int | None:
    if args.cmd == "versions":
        pkgs = load_packages()
        rows = [{"folder": p.folder, "distribution": p.name, "version": p.version, "tag": tag_for(p),
                 "changelog": changelog_entry(p)} for p in pkgs]
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                print(f"{r['folder']:<14} {r['distribution']:<26} {r['version']:<10} {r['tag']:<36} "
                      f"{r['changelog'] or 'NO CHANGELOG ENTRY'}")
        problems = check_versions(pkgs)
        for x in problems:
            print(f"VERSIONS {x}", file=sys.stderr)
        return 1 if problems else 0
    if args.cmd == "tag-check":
        pkg, message = tag_check(args.tag, load_packages())
        if pkg is None:
            print(f"error: {message}", file=sys.stderr)
            return 1
        print(f"folder={pkg.folder}\ndistribution={pkg.name}\nversion={pkg.version}" if args.kv else message)
        return 0
    if args.cmd == "artifacts":
        pkg = get_package(args.folder)
        found = [find_artifact(args.dist, pkg, kind) for kind in ("whl", "tar.gz")]
        if None in found:
            print(f"error: {args.dist} lacks the {'wheel' if found[0] is None else 'sdist'} of "
                  f"{pkg.name} {pkg.version}", file=sys.stderr)
            return 1
        for path in found:
            if args.copy_to:
                args.copy_to.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, args.copy_to / path.name)
                path = args.copy_to / path.name
            print(path)
        return 0
    if args.cmd == "release-check":
        return release_check(args.dist.resolve(), not args.no_build, args.jobs,
                             args.work.resolve() if args.work else None, args.folders)
    if args.cmd == "min-versions":
        return min_versions(args.folders, args.dist.resolve(), args.work.resolve(), args.pytest_args,
                            args.junit_dir.resolve() if args.junit_dir else None)
    return None
