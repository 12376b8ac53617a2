"""CIFAR-10 for the integration tests and the main job."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .model import CIFAR_FILES, REPO

# Data
# --------------------------------------------------------------------------------------------

def data_dir() -> Path:
    return Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".cache" / "tinytorch")


def prepare_cifar10(target: Path | None = None, shared: Path | None = None) -> int:
    """Write CIFAR-10's official python layout into target/cifar-10-batches-py, once.

    From ../shared/data/cifar10/make_cifar10.py when it exists (these course machines cannot reach
    the official host); otherwise leave it to the framework's loader, which downloads it.
    """
    target = target or data_dir()
    out = target / "cifar-10-batches-py"
    if all((out / f).is_file() for f in CIFAR_FILES):
        print(f"CIFAR-10 already prepared in {out}")
        return 0
    shared = shared or Path(os.environ.get("TINYTORCH_SHARED", REPO.parent / "shared"))
    script = shared / "data" / "cifar10" / "make_cifar10.py"
    if not script.is_file():
        print(f"no local CIFAR-10 copy ({script} is absent): the framework's loader downloads it "
              f"into {target} on first use")
        return 0
    target.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=target, prefix=".cifar10-") as tmp:
        res = subprocess.run([sys.executable, str(script), tmp])
        if res.returncode:
            print(f"{script} failed (it needs numpy and Pillow in {sys.executable})", file=sys.stderr)
            return res.returncode
        made = Path(tmp) / "cifar-10-batches-py"
        missing = [f for f in CIFAR_FILES if not (made / f).is_file()]
        if missing:
            print(f"{script} did not write {missing}", file=sys.stderr)
            return 1
        if out.exists():
            shutil.rmtree(out)
        made.rename(out)  # atomic within one filesystem: readers never see half a dataset
    sums = script.parent / "MD5SUMS"
    if sums.is_file():
        import hashlib
        mismatched = []
        for line in sums.read_text().split("\n"):
            parts = line.split()
            if len(parts) == 2 and (out / Path(parts[1]).name).is_file():
                digest = hashlib.md5((out / Path(parts[1]).name).read_bytes()).hexdigest()
                if digest != parts[0]:
                    mismatched.append(Path(parts[1]).name)
        if mismatched:  # the md5s depend on the Pillow build: report, do not fail
            print(f"note: md5 differs from MD5SUMS for {mismatched} (another Pillow build decodes JPEG differently)")
        else:
            print("md5 sums match MD5SUMS")
    print(f"CIFAR-10 prepared in {out} ({time.perf_counter() - t0:.0f}s)")
    return 0


# --------------------------------------------------------------------------------------------
