"""``tito system doctor``: checks that the course can run here, each with the fix.

Each check returns a :class:`CheckResult` — ``pass``, ``warn`` or ``fail``, what was found,
and the command that fixes it. ``tito system doctor`` exits with 1 when any check fails
(warnings do not count).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from .dists import InstalledDist, tinytorch_distributions
from .registry import canonical_name, module_for_distribution
from .sysinfo import BLAS_THREAD_VARIABLES, blas_info, cpu_count

__all__ = [
    "MIN_NUMPY",
    "MIN_PYTHON",
    "CheckResult",
    "check_blas_threads",
    "check_data_dir",
    "check_dependency_chain",
    "check_numpy",
    "check_python",
    "check_sandbox",
    "run_checks",
]

MIN_PYTHON = (3, 10)
MIN_NUMPY = "1.24"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
        name: What was checked, e.g. ``Python``.
        status: ``pass``, ``warn`` or ``fail``.
        detail: What was found.
        fix: The command (or step) that fixes a failure or warning.
    """

    name: str
    status: str
    detail: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        """Whether this check failed (warnings are not failures)."""
        return self.status == "fail"


def check_python(version_info: tuple[int, ...] = tuple(sys.version_info[:3])) -> CheckResult:
    """Python must be at least 3.10."""
    shown = ".".join(str(p) for p in version_info[:3])
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return CheckResult("Python", "pass", f"Python {shown} ({sys.executable})")
    need = ".".join(map(str, MIN_PYTHON))
    return CheckResult("Python", "fail", f"Python {shown} is older than {need}",
                       f"install Python {need} or newer (e.g. `pyenv install 3.11`) and "
                       "reinstall TinyTorch with it")


def check_numpy() -> CheckResult:
    """numpy must import, at version 1.24 or newer."""
    fix = f'python -m pip install "numpy>={MIN_NUMPY}"'
    try:
        import numpy
    except Exception as exc:  # noqa: BLE001 - a broken install raises anything
        return CheckResult("numpy", "fail", f"cannot import numpy ({type(exc).__name__}: {exc})",
                           fix)
    try:
        too_old = Version(numpy.__version__) < Version(MIN_NUMPY)
    except InvalidVersion:
        too_old = False
    if too_old:
        return CheckResult("numpy", "fail", f"numpy {numpy.__version__} is older than {MIN_NUMPY}",
                           fix)
    blas = blas_info(numpy)
    return CheckResult("numpy", "pass", f"numpy {numpy.__version__}, BLAS {blas.name} {blas.version}")


def check_blas_threads(environ: Mapping[str, str] | None = None,
                       cores: int | None = None) -> CheckResult:
    """Thread variables must be positive integers; more threads than cores is a warning."""
    env = os.environ if environ is None else environ
    cores = cores or cpu_count()
    settings = {k: env[k] for k in BLAS_THREAD_VARIABLES if k in env}
    for key, value in settings.items():
        if not value.strip().isdigit() or int(value) < 1:
            return CheckResult("BLAS threads", "fail",
                               f"{key}={value!r} is not a positive whole number",
                               f"unset {key}   (or: export {key}={cores})")
    threads = None
    if environ is None:
        try:
            import numpy

            threads = blas_info(numpy).threads
        except Exception:  # noqa: BLE001 - reported by check_numpy
            threads = None
    if threads is None and settings:
        threads = min(int(v) for v in settings.values())
    shown = ", ".join(f"{k}={v}" for k, v in settings.items()) or "no thread variables set"
    if threads is not None and threads > cores:
        return CheckResult("BLAS threads", "warn",
                           f"BLAS uses {threads} threads on {cores} cores ({shown})",
                           f"export OPENBLAS_NUM_THREADS={cores} OMP_NUM_THREADS={cores}")
    found = f"{threads} thread(s)" if threads is not None else "thread count unknown"
    return CheckResult("BLAS threads", "pass", f"{found} on {cores} core(s); {shown}")


def check_data_dir(path: Path) -> CheckResult:
    """The data cache (``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``) must be writable."""
    fix = ("export TINYTORCH_DATA=/a/writable/folder   "
           f"(or: mkdir -p {path} && chmod u+w {path})")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".tito-doctor-"):
            pass
    except OSError as exc:
        return CheckResult("data cache", "fail", f"{path} is not writable ({exc.strerror or exc})",
                           fix)
    return CheckResult("data cache", "pass", f"{path} is writable")


def _fix_for(name: str, requirement: Requirement, have: InstalledDist | None) -> str:
    module = module_for_distribution(name)
    if have is not None and have.is_student and module is not None:
        return f"tito module reset {module.folder}"
    return f'python -m pip install "{name}{requirement.specifier}"'


def check_dependency_chain(installed: list[InstalledDist]) -> list[CheckResult]:
    """Every ``tinytorch-*`` requirement of every installed module is installed and in range."""
    by_name = {dist.name: dist for dist in installed}
    results: list[CheckResult] = []
    for dist in installed:
        problems: list[str] = []
        fixes: list[str] = []
        for line in dist.requirements():
            try:
                req = Requirement(line)
            except InvalidRequirement:
                problems.append(f"unreadable requirement {line!r}")
                continue
            name = canonical_name(req.name)
            if not name.startswith("tinytorch"):
                continue
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            have = by_name.get(name)
            if have is None:
                problems.append(f"needs {name}{req.specifier}, which is not installed")
                fixes.append(_fix_for(name, req, None))
            elif not req.specifier.contains(have.version, prereleases=True):
                problems.append(f"needs {name}{req.specifier}, found {have.version}")
                fixes.append(_fix_for(name, req, have))
        title = f"{dist.name} {dist.version}"
        if problems:
            results.append(CheckResult(title, "fail", "; ".join(problems), "  &&  ".join(fixes)))
        else:
            results.append(CheckResult(title, "pass", f"{dist.kind}; dependencies satisfied"))
    return results


def check_sandbox() -> CheckResult:
    """Whether ``tito grade`` can sandbox submissions here (bubblewrap); instructors only."""
    from .grading.sandbox import probe

    status = probe()
    if status.available:
        return CheckResult("grading sandbox", "pass",
                           f"{status.engine}; process limit: {status.process_limit}")
    return CheckResult("grading sandbox", "warn",
                       f"not available: {status.reason} (only instructors grading submissions need it)",
                       "apt-get install bubblewrap   (or: tito grade --no-sandbox, see the instructors' docs)")


def run_checks(path: list[str] | None = None, data: Path | None = None,
               plugin_problems: Sequence[str] = ()) -> list[CheckResult]:
    """Run every check.

    Args:
        path: Search these folders for distributions instead of ``sys.path``.
        data: The data cache to check (default: ``$TINYTORCH_DATA`` or ``~/.cache/tinytorch``).
        plugin_problems: What went wrong registering ``tito``'s plugins; the command line
            passes the problems it met building its parser
            (:func:`tinytorch.setup.cli.plugin_problems`), so this module never imports it.
    """
    from .sysinfo import data_dir

    results = [check_python(), check_numpy(), check_blas_threads(),
               check_data_dir(data or data_dir())]
    installed = tinytorch_distributions(path)
    if not installed:
        results.append(CheckResult("tinytorch modules", "warn", "no tinytorch-* distribution found",
                                   "python -m pip install tinytorch-framework"))
    results.extend(check_dependency_chain(installed))
    for problem in plugin_problems:
        results.append(CheckResult("tito plugin", "warn", problem,
                                   "reinstall the distribution that provides it"))
    if sys.platform == "linux":
        results.append(check_sandbox())
    return results
