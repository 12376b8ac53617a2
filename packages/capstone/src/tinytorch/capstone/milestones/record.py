"""``milestones.json``: every milestone run, appended, with the machine and the code it ran on.

Where it lives (the first that applies):

1. ``--record PATH`` on the command line;
2. ``$TINYTORCH_MILESTONES``;
3. beside your workspaces: ``<folder>/tinytorch-student/milestones.json`` when a module runs
   from a workspace that ``tito module start`` made there;
4. the data folder: ``$TINYTORCH_DATA/milestones.json`` (default ``~/.cache/tinytorch``).

One file per student is what an instructor collects: each entry says which milestone, quick
or full, passed or not, the measured values against their thresholds, how long it took, the
hardware, the versions of every module and whose implementation of each ran.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from tinytorch.core.training.provenance import implementation

from ..files import write_text_atomic

__all__ = ["FORMAT", "default_record_path", "artifacts_dir", "hardware", "versions",
           "append_run", "load_runs", "latest_runs"]

FORMAT = 1
FILENAME = "milestones.json"
COURSE_MODULES = ("tensor", "activations", "layers", "dense", "spatial", "attention",
                  "dataloader", "autograd", "optimizers", "training", "compression", "kernels",
                  "benchmarking", "mlops", "capstone")


def _data_dir() -> Path:
    return Path(os.environ.get("TINYTORCH_DATA") or Path.home() / ".cache" / "tinytorch")


def default_record_path(record: str | None = None) -> Path:
    """The ``milestones.json`` to use (see the module docstring for the order)."""
    if record:
        return Path(record)
    if os.environ.get("TINYTORCH_MILESTONES"):
        return Path(os.environ["TINYTORCH_MILESTONES"])
    for folder in COURSE_MODULES:
        workspace = implementation(folder).workspace
        if workspace is not None:
            parent = Path(workspace).parent  # <base>/tinytorch-student/<module>
            if parent.name == "tinytorch-student":
                return parent / FILENAME
    return _data_dir() / FILENAME


def artifacts_dir(record_path: Path) -> Path:
    """Where milestones keep what a later one reuses (the 1998 network's weights)."""
    return record_path.parent / "milestones"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict:
    """The machine: CPU, cores, OS, Python, numpy, and the load average when known."""
    import numpy as np

    info = {"cpu": _cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": sys.version.split()[0], "numpy": np.__version__}
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return info


def versions() -> dict:
    """Every installed ``tinytorch-*`` distribution and its version."""
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "") if dist.metadata else ""
        if name.lower().replace("_", "-").startswith("tinytorch-") and name not in found:
            found[name] = dist.version
    return dict(sorted(found.items()))


def load_runs(path: Path) -> list:
    """The runs recorded in ``path`` (``[]`` when there is no file yet)."""
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} is not a milestones record ({err}); move it aside and run "
                         "again") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise ValueError(f"{path} is not a milestones record (no 'runs' list); move it aside "
                         "and run again")
    return data["runs"]


def append_run(path: Path, run: dict) -> None:
    """Add ``run`` to the record at ``path`` (written whole to a temporary file, then renamed)."""
    runs = load_runs(path) + [run]
    write_text_atomic(path, json.dumps({"format": FORMAT, "runs": runs}, indent=1) + "\n")


def latest_runs(runs: list) -> dict:
    """The last run of each (milestone, quick) pair, keyed ``(key, quick)``."""
    latest: dict = {}
    for run in runs:
        latest[(run.get("milestone"), bool(run.get("quick")))] = run
    return latest
