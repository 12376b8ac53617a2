#!/usr/bin/env python3
"""Install an MPI for the capstone's data-parallel test (integration/test_capstone_mpi.py).

Run by tox's ``integration`` env (standard library only):

1. Open MPI: nothing to do when ``mpiexec`` is on PATH; otherwise, as root with apt-get,
   ``apt-get install openmpi-bin libopenmpi-dev`` (Debian/Ubuntu); otherwise it says what to
   install and fails.
2. mpi4py into this interpreter (pip).
3. A check: ``mpiexec --version`` runs and ``from mpi4py import MPI`` imports.

Exit code 0 when MPI is ready, 1 otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = ("openmpi-bin", "libopenmpi-dev")
MPI4PY = "mpi4py>=3.1"


def run(cmd: list, **kw) -> int:
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.call(cmd, **kw)


def install_open_mpi() -> bool:
    if shutil.which("mpiexec"):
        return True
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        print("no mpiexec on PATH: install an MPI, e.g. `sudo apt-get install openmpi-bin "
              "libopenmpi-dev` (Debian/Ubuntu) or `brew install open-mpi` (macOS)", file=sys.stderr)
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env):
        # the package lists may be missing or stale on a fresh machine
        if run(["apt-get", "update", "-qq"], env=env) or \
                run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env):
            return False
    return shutil.which("mpiexec") is not None


def main() -> int:
    if not install_open_mpi():
        return 1
    probe = "from mpi4py import MPI; print(MPI.Get_library_version().splitlines()[0])"
    if subprocess.call([sys.executable, "-c", probe], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL):
        if run([sys.executable, "-m", "pip", "install", "--quiet", MPI4PY]):
            return 1
    version = subprocess.run(["mpiexec", "--version"], capture_output=True, text=True)
    check = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    if version.returncode or check.returncode:
        print(f"MPI is not usable:\n{version.stdout}{version.stderr}\n{check.stdout}{check.stderr}",
              file=sys.stderr)
        return 1
    print(f"MPI ready: {version.stdout.splitlines()[0] if version.stdout else 'mpiexec'}; "
          f"mpi4py on {check.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
