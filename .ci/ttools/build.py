"""Building every sdist, then every wheel from its sdist."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .model import Package, load_packages

# Building
# --------------------------------------------------------------------------------------------

def run_captured(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def build_all(outdir: Path, pkgs: list[Package] | None = None, jobs: int = 2) -> int:
    """sdist, then the wheel from that sdist (python -m build), for every package, into outdir."""
    pkgs = load_packages() if pkgs is None else pkgs
    if outdir.exists():
        shutil.rmtree(outdir)
    outdir.mkdir(parents=True)

    def one(p: Package) -> tuple[Package, subprocess.CompletedProcess, float]:
        t0 = time.perf_counter()
        res = run_captured([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(outdir), str(p.path)])
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
            res = run_captured([sys.executable, "-c", code], cwd=p.path)
        else:
            res = run_captured([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(outdir), str(p.path)])
        if res.returncode:
            errors.append(f"{p.name}: wheel build failed:\n{res.stdout}")
    return errors


# --------------------------------------------------------------------------------------------
