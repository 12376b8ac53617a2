"""``tito dev check-stubs``: every solution block must make one of its package's tests fail.

For one package folder (``pyproject.toml``, ``src/``, ``tests/``):

1. find every block (malformed markers are reported with file and line);
2. copy ``src/`` and ``tests/`` to a temp dir, with a ``.dist-info`` carrying the package's
   entry points, and put that ``src/`` first on ``PYTHONPATH``: ``tinytorch`` and
   ``tinytorch.core`` are namespace packages whose portions follow ``sys.path`` order, and the
   package itself is a regular package, so the copy shadows the installed copy of *this*
   package only, while its dependencies come from the environment;
3. run the reference tests once under a line tracer (:mod:`.stubcheck_plugin`), which proves
   the reference passes and maps each block to the tests that execute it;
4. for each block, stub that block alone in a worker's copy and run the tests that executed
   it, fastest first, with ``-x``; if none of them fails (or none executed it in-process, e.g.
   the code runs in a subprocess), run the whole suite with ``-x``.

Workers (:mod:`.stubcheck_worker`) are long-lived processes that fork one child per run, so a
run costs a fork rather than a new interpreter importing pytest, numpy and hypothesis.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .metadata_toml import tomllib
from .process import TitoError, python_command, run
from .sources import layout_from_folder
from .stubbing import SolutionBlock, StubError, find_blocks, stub_source
from .stubcheck_pool import BlockResult, WorkerPool, with_site
from .workspace import module_name_for

__all__ = ["BlockResult", "PackageReport", "blocks_without_hints", "check_package", "DEFAULT_INI"]

DEFAULT_INI = "[pytest]\naddopts = --import-mode=importlib -p no:cacheprovider\n"
_PLUGIN = "_tt_stubcheck_plugin"
#: pytest arguments leaving out the tests marked ``slow`` (long end-to-end runs).
NOT_SLOW = ("-m", "not slow")


@dataclass
class PackageReport:
    """The check of one package."""

    name: str
    folder: Path
    blocks: list[BlockResult] = field(default_factory=list)
    reference_summary: str = ""
    error: str = ""
    seconds: float = 0.0
    block_count: int = 0

    @property
    def ok(self) -> bool:
        """No error, and every block caught."""
        return not self.error and all(r.status == "caught" for r in self.blocks)


def _project(folder: Path) -> dict:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})


def _write_dist_info(project: dict, site: Path, root: Path) -> None:
    """A ``.dist-info`` making the copy look like an editable install of ``root``.

    It shadows the installed distribution's metadata, so the copy's version, dependencies and
    entry points are what the tests see, and tools that locate the package's folder through
    ``direct_url.json`` (``tito`` itself does) find the copy.
    """
    name, version = project.get("name", "unknown"), project.get("version", "0")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in project.get("dependencies", [])),
        encoding="utf-8")
    groups = dict(project.get("entry-points", {}))
    if project.get("scripts"):
        groups["console_scripts"] = project["scripts"]
    text = "".join(f"[{g}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                   for g, eps in groups.items())
    (info / "entry_points.txt").write_text(text, encoding="utf-8")
    direct = {"url": root.as_uri(), "dir_info": {"editable": True}}
    (info / "direct_url.json").write_text(json.dumps(direct), encoding="utf-8")


def _find_ini(folder: Path) -> str:
    for candidate in (folder, *folder.parents[:2]):
        ini = candidate / "pytest.ini"
        if ini.is_file():
            return ini.read_text(encoding="utf-8")
    return DEFAULT_INI


def _prepare(folder: Path, dest: Path, project: dict, ini: str) -> None:
    """Copy the package folder to ``dest`` and make its ``src/`` an importable "install"."""
    layout_from_folder(folder).write(dest)
    (dest / "tests").mkdir(exist_ok=True)
    _write_dist_info(project, dest / "src", dest)
    (dest / "pytest.ini").write_text(ini, encoding="utf-8")


def _environment(tmp: Path, jobs: int) -> dict[str, str]:
    """The environment of every pytest run: our plugins importable, no bytecode written."""
    env = dict(os.environ)
    extra = [str(tmp / "plugins")]
    if env.get("PYTHONPATH"):
        extra.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(extra)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if jobs > 1:  # one BLAS thread per worker, or the workers fight over the cores
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
    return env


def _reference_run(ref: Path, env: dict[str, str], blocks: dict[int, SolutionBlock],
                   timeout: float, select: list[str]) -> tuple[int, str, dict]:
    """Run the reference under the tracer; return (exit code, output, coverage map)."""
    targets: dict[str, dict[str, int]] = {}
    for index, block in blocks.items():
        path = os.path.realpath(ref / block.filename)
        lines = targets.setdefault(path, {})
        for line in range(block.begin + 1, block.end):
            lines[str(line)] = index
    (ref / "targets.json").write_text(json.dumps(targets), encoding="utf-8")
    traced = dict(env, TT_STUBCHECK_TARGETS=str(ref / "targets.json"),
                  TT_STUBCHECK_OUT=str(ref / "coverage.json"))
    base = python_command("-m", "pytest", "-p", _PLUGIN, "-p", "no:cacheprovider",
                          "--import-mode=importlib", "-q", "-c", "pytest.ini", "--rootdir", ".")
    cmd = [*base, *select, "tests"]
    result = run(cmd, cwd=ref, env=traced, capture=True, timeout=timeout)
    if result.returncode == 5 and select:  # everything is marked slow: map the whole suite
        cmd = [*base, "tests"]
        result = run(cmd, cwd=ref, env=traced, capture=True, timeout=timeout)
    coverage = {}
    if (ref / "coverage.json").is_file():
        coverage = json.loads((ref / "coverage.json").read_text(encoding="utf-8"))
    if result.returncode != 0:  # maybe only tracing upset it: decide on an untraced run
        result = run(cmd, cwd=ref, env=env, capture=True, timeout=timeout)
    return result.returncode, result.stdout or "", coverage


def collect_blocks(folder: Path) -> list[SolutionBlock]:
    """Every solution block under ``folder/src``, filenames relative to ``folder``.

    Raises:
        StubError: for a malformed block.
    """
    blocks: list[SolutionBlock] = []
    for path in sorted((folder / "src").rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(folder).as_posix()
        blocks.extend(find_blocks(path.read_text(encoding="utf-8"), rel))
    return blocks


def blocks_without_hints(folder: Path) -> list[SolutionBlock]:
    """The blocks of the package in ``folder`` with no ``### HINT:`` line right after BEGIN.

    Every exercise needs at least one hint (it is kept in the student's version, above the
    stub's ``raise``). This reads the files only — no test runs — so it takes well under a
    second for the whole course.

    Raises:
        StubError: for a malformed block.
    """
    return [block for block in collect_blocks(folder) if not block.hints]


def check_package(folder: Path, *, jobs: int = 2, timeout: float = 600.0,
                  include_slow: bool = False,
                  on_result: Callable[[BlockResult], None] | None = None) -> PackageReport:
    """Check every solution block of the package in ``folder``.

    Args:
        folder: The package folder (``pyproject.toml``, ``src/``, ``tests/``).
        jobs: Worker processes running blocks in parallel.
        timeout: Seconds allowed for one pytest run.
        include_slow: Map and try the tests marked ``slow`` from the start too. By default
            they are left out until the last try of a block (the whole suite), so the
            reference run and most block runs stay fast.
        on_result: Called with each block's result as soon as it is known.
    """
    start = time.monotonic()
    report = PackageReport(_project(folder).get("name", folder.name), folder)
    try:
        _check_into(report, jobs, timeout, [] if include_slow else list(NOT_SLOW), on_result)
    except (TitoError, RuntimeError, OSError) as exc:  # e.g. the reference run timed out
        report.error = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    finally:
        report.blocks.sort(key=lambda r: (r.block.filename, r.block.begin))
        report.seconds = time.monotonic() - start
    return report


def _check_into(report: PackageReport, jobs: int, timeout: float, select: list[str],
                on_result: Callable[[BlockResult], None] | None) -> None:
    from .testrun import summary_line

    folder = report.folder
    project = _project(folder)
    try:
        blocks = collect_blocks(folder)
    except StubError as exc:
        report.error = str(exc)
        return
    report.block_count = len(blocks)
    if not blocks:
        return
    with tempfile.TemporaryDirectory(prefix="tito-check-stubs-") as name:
        tmp = Path(os.path.realpath(name))
        (tmp / "plugins").mkdir()
        here = Path(__file__).parent
        shutil.copy(here / "stubcheck_plugin.py", tmp / "plugins" / f"{_PLUGIN}.py")
        shutil.copy(here / "stubcheck_worker.py", tmp / "plugins" / "_tt_stubcheck_worker.py")
        ini = _find_ini(folder)
        _prepare(folder, tmp / "ref", project, ini)
        indexed = dict(enumerate(blocks))
        env = _environment(tmp, jobs)
        code, output, coverage = _reference_run(tmp / "ref", with_site(env, tmp / "ref" / "src"),
                                                indexed, timeout, select)
        report.reference_summary = summary_line(output)
        if code != 0:
            tail = "\n".join(output.strip().splitlines()[-20:])
            report.error = f"the reference tests do not pass (pytest exit code {code}):\n{tail}"
            return
        hits = {int(k): v for k, v in coverage.get("hits", {}).items()}
        durations = coverage.get("durations", {})
        workers = min(jobs, len(blocks))
        for i in range(workers):
            _prepare(folder, tmp / f"w{i}", project, ini)
        with WorkerPool(tmp, workers, env, timeout, select) as pool:
            for result in pool.check(folder, indexed, hits, durations, _stub_one):
                report.blocks.append(result)
                if on_result is not None:
                    on_result(result)


def _stub_one(folder: Path, block: SolutionBlock) -> tuple[str, str]:
    """(original, stubbed) text of the block's file with only this block stubbed."""
    original = (folder / block.filename).read_text(encoding="utf-8")
    stubbed = stub_source(original, module_name_for(block.filename), block.filename,
                          only=[block.begin])
    return original, stubbed
