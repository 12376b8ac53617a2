"""Whose code runs: the student's version of a module or the reference, and which conv path.

``tito module start spatial`` installs the student's copy of a module with the version label
``+student`` (``0.1.0+student``), editable, from their workspace. Anything else is the
reference. This module reads that from the installed metadata and from where Python finds the
module's code, without importing it, so ``tito train`` and the milestones can say at the start
whose code they are about to run.

    >>> implementation("tensor").kind in ("student", "reference", "not installed")
    True
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["Implementation", "implementation", "spatial_path", "default_kernels",
           "choose_kernels", "kernels_line", "STUDENT_LABEL", "KERNELS"]

#: The local version label of a student's version (``0.1.0+student``).
STUDENT_LABEL = "student"

#: The two implementations of tinytorch-spatial's ops (see ``tinytorch.core.spatial.fused.config``).
KERNELS = ("fused", "composite")

_TOP_LEVEL = {"introduction", "setup", "capstone"}  # tinytorch.<folder>; the rest: tinytorch.core.<folder>
_WORKSPACE_STATE = ".tinytorch-workspace.json"  # written by `tito module start` in a workspace


@dataclass(frozen=True)
class Implementation:
    """One module as installed.

    Attributes:
        module: the module's folder name, e.g. ``spatial``.
        distribution: its distribution, e.g. ``tinytorch-spatial``.
        version: the installed version (``None`` when it is not installed).
        kind: ``student``, ``reference`` or ``not installed``.
        location: the folder its code is imported from (``None`` when it cannot be found).
        workspace: the student's workspace folder, when the code comes from one.
    """

    module: str
    distribution: str
    version: str | None
    kind: str
    location: str | None
    workspace: str | None = None

    @property
    def is_student(self) -> bool:
        """True for the student's version."""
        return self.kind == "student"

    def to_dict(self) -> dict:
        """Plain values, for JSON."""
        return asdict(self)


def _import_name(folder: str) -> str:
    return f"tinytorch.{folder}" if folder in _TOP_LEVEL else f"tinytorch.core.{folder}"


def _location(import_name: str) -> str | None:
    try:
        spec = importlib.util.find_spec(import_name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return str(Path(list(spec.submodule_search_locations)[0]).resolve())
    return str(Path(spec.origin).resolve().parent) if spec.origin else None


def _workspace_of(location: str | None) -> str | None:
    """The workspace folder (holding ``.tinytorch-workspace.json``) above ``location``."""
    if location is None:
        return None
    for folder in Path(location).parents:
        if (folder / _WORKSPACE_STATE).is_file():
            return str(folder)
    return None


def implementation(folder: str) -> Implementation:
    """What is installed for the module in ``packages/<folder>`` (e.g. ``"spatial"``).

    ``kind`` is ``student`` when the installed version carries the ``+student`` label or the
    code is imported from a student workspace (a folder ``tito module start`` made), else
    ``reference`` (or ``not installed``).
    """
    distribution = f"tinytorch-{folder}"
    try:
        version: str | None = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = None
    location = _location(_import_name(folder))
    workspace = _workspace_of(location)
    if version is None and location is None:
        kind = "not installed"
    elif workspace is not None or (version or "").partition("+")[2] == STUDENT_LABEL:
        kind = "student"
    else:
        kind = "reference"
    return Implementation(folder, distribution, version, kind, location, workspace)


def spatial_path() -> str:
    """``fused`` or ``composite``: what the spatial module's layers run right now."""
    from tinytorch.core.spatial import fused_kernels_enabled

    return "fused" if fused_kernels_enabled() else "composite"


def default_kernels() -> str:
    """``composite`` when the student's spatial is installed (their code trains), else ``fused``."""
    return "composite" if implementation("spatial").is_student else "fused"


def choose_kernels(kernels: str | None) -> str:
    """``kernels`` checked (``fused`` / ``composite``), or the default when it is ``None``."""
    if kernels is None:
        return default_kernels()
    if kernels not in KERNELS:
        raise ValueError(f"kernels {kernels!r}: choose 'fused' or 'composite'")
    return kernels


def kernels_line(kernels: str) -> str:
    """The line that says whose convolution runs, e.g. ``conv: your composite implementation``."""
    spatial = implementation("spatial")
    if spatial.is_student:
        who = "your composite implementation" if kernels == "composite" else \
            "the fused kernels (your composite code is not used: --kernels composite runs it)"
        where = spatial.workspace or spatial.location
        return f"conv: {who} (tinytorch-spatial {spatial.version}, {where})"
    if kernels == "composite":
        return f"conv: the reference composite implementation (tinytorch-spatial {spatial.version})"
    return f"conv: the reference fused kernels (tinytorch-spatial {spatial.version})"
