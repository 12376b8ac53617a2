"""A student's workspace: the reference with its solution blocks stubbed, ready to install.

``tito module start tensor`` calls :func:`create_workspace`, which writes
``./tinytorch-student/tensor/`` (by default) as a full package folder — the same
distribution name, version ``<reference version>+student``, the same dependencies and tests —
where every ``.py`` file under ``src/`` went through :func:`~tinytorch.setup.stubbing.stub_source`.
A verbatim copy of the reference goes to ``<workspace>/.reference/`` so ``tito module reset``
can restore it anywhere, and ``.tinytorch-workspace.json`` records what was made from what.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .dists import InstalledDist
from .metadata_toml import set_project_version, tomllib
from .process import TitoError, UsageError
from .registry import Module
from .sources import PackageLayout, layout_from_folder
from .stubbing import SolutionBlock, StubError, find_blocks, stub_source

__all__ = [
    "REFERENCE_DIR",
    "STATE_FILE",
    "Workspace",
    "create_workspace",
    "default_workspace",
    "find_workspace",
    "module_name_for",
    "saved_reference",
    "student_version",
]

REFERENCE_DIR = ".reference"
STATE_FILE = ".tinytorch-workspace.json"


@dataclass(frozen=True)
class Workspace:
    """A written student workspace.

    Attributes:
        path: The package folder.
        version: The student's version (``0.1.0+student``).
        blocks: The solution blocks that were stubbed, with paths relative to ``path``.
    """

    path: Path
    version: str
    blocks: tuple[SolutionBlock, ...]

    @property
    def reference(self) -> Path:
        """The saved copy of the reference package."""
        return self.path / REFERENCE_DIR


def default_workspace(module: Module, base: Path | None = None) -> Path:
    """``<base or cwd>/tinytorch-student/<folder>``."""
    return (base or Path.cwd()) / "tinytorch-student" / module.folder


def student_version(version: str) -> str:
    """``0.1.0`` → ``0.1.0+student`` (any earlier local label is dropped)."""
    try:
        public = Version(version).public
    except InvalidVersion:
        raise TitoError(f"the reference version {version!r} is not a valid PEP 440 version") from None
    return f"{public}+student"


def module_name_for(rel: str) -> str:
    """``src/tinytorch/core/tensor/ops.py`` → ``tinytorch.core.tensor.ops``."""
    parts = rel.removeprefix("src/").removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _reference_version(layout: PackageLayout) -> str:
    data = tomllib.loads(layout.read_text("pyproject.toml"))
    version = data.get("project", {}).get("version")
    if not isinstance(version, str):
        raise TitoError(f"{layout.description}: pyproject.toml has no static [project] version")
    return version


def editable_without_editables(text: str) -> str:
    """A hatchling ``pyproject.toml`` whose editable install is a plain ``.pth`` to ``src/``.

    ``tito module start`` installs the workspace editable. Left to detect the layout itself,
    hatchling needs the ``editables`` package for that, which a student's environment may
    lack (and pip cannot fetch offline); with ``dev-mode-dirs = ["src"]`` it writes a ``.pth``
    putting ``<workspace>/src`` on ``sys.path`` — what detection does for a namespace package
    like ``tinytorch`` anyway. Other backends, or a ``[tool.hatch.build]`` table that already
    sets something, are left as they are.
    """
    data = tomllib.loads(text)
    if data.get("build-system", {}).get("build-backend") != "hatchling.build":
        return text
    build = data.get("tool", {}).get("hatch", {}).get("build", {})
    if set(build) - {"targets"} or "dev-mode-dirs" in build.get("targets", {}).get("wheel", {}):
        return text
    return (text.rstrip("\n") + "\n\n# tito: an editable install puts src/ on sys.path "
            "(no `editables` package needed)\n[tool.hatch.build]\ndev-mode-dirs = [\"src\"]\n")


def create_workspace(reference: PackageLayout, dest: Path, *, force: bool = False) -> Workspace:
    """Write the student's version of ``reference`` to ``dest``.

    Args:
        reference: The reference package (see :func:`~tinytorch.setup.sources.find_reference`).
        dest: The workspace folder to create.
        force: Replace an existing workspace instead of refusing.

    Raises:
        TitoError: if ``dest`` exists and is not empty (without ``force``), or a solution
            block is malformed (the message names file and line).
    """
    if dest.exists() and any(dest.iterdir()) and not force:
        raise TitoError(f"{dest} already exists; your work there would be overwritten",
                        hint="pass --force to replace it, or --dir to choose another folder")
    ref_version = _reference_version(reference)
    version = student_version(ref_version)
    texts: dict[str, str] = {}
    blocks: list[SolutionBlock] = []
    for rel in reference.paths():
        if rel.startswith("src/") and rel.endswith(".py"):
            text = reference.read_text(rel)
            try:
                found = find_blocks(text, rel)
                texts[rel] = stub_source(text, module_name_for(rel), rel) if found else text
            except StubError as exc:
                raise TitoError(f"{reference.description}: {exc}") from None
            blocks.extend(found)
    texts["pyproject.toml"] = editable_without_editables(
        set_project_version(reference.read_text("pyproject.toml"), version))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    reference.write(dest / REFERENCE_DIR)
    reference.write(dest)
    for rel, text in texts.items():
        (dest / rel).write_text(text, encoding="utf-8")
    state = {
        "distribution": tomllib.loads(texts["pyproject.toml"])["project"]["name"],
        "reference_version": ref_version,
        "student_version": version,
        "reference_origin": reference.origin,
        "reference_source": reference.description,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "blocks": [{"file": b.filename, "line": b.begin, "qualname": b.qualname} for b in blocks],
    }
    (dest / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    return Workspace(dest, version, tuple(blocks))


def _is_workspace(path: Path) -> bool:
    return (path / STATE_FILE).is_file() and (path / "pyproject.toml").is_file()


def find_workspace(module: Module, directory: Path | None,
                   installed: InstalledDist | None) -> Path:
    """The student's workspace of ``module``.

    Looks at ``directory`` (when given), then ``./tinytorch-student/<folder>``, then the folder
    the installed student version was installed from.

    Raises:
        TitoError: if none of them is a workspace.
    """
    candidates: list[Path] = []
    if directory is not None:
        candidates.append(directory)
    else:
        candidates.append(default_workspace(module))
        if installed is not None and installed.is_student and installed.source_dir:
            candidates.append(installed.source_dir)
    for candidate in candidates:
        if _is_workspace(candidate):
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise UsageError(f"no student workspace for {module.distribution} (looked in {tried})",
                    hint=f"create one with: tito module start {module.folder} [--dir DIR]")


def saved_reference(workspace: Path) -> PackageLayout:
    """The copy of the reference saved in a workspace by :func:`create_workspace`."""
    folder = workspace / REFERENCE_DIR
    if not (folder / "pyproject.toml").is_file():
        raise TitoError(f"{workspace} has no saved reference ({REFERENCE_DIR}/ is missing)",
                        hint="reinstall the reference with pip, e.g. "
                             "python -m pip install --force-reinstall <distribution>")
    return layout_from_folder(folder, "saved")
