"""``tito release``: a module's student version as an archive an instructor hands out.

The archive is a source distribution (sdist) of the student's package: the same folder
``tito module start`` writes — every solution block replaced by ``raise NotImplementedError``,
version ``<reference>+student``, the module's tests included — built by the package's own build
backend, plus the workspace record (``.tinytorch-workspace.json``) so that, once unpacked,
``tito export <module> --dir <folder>`` and ``tito test <module>`` work on it. It holds neither
the saved reference nor any solution: before it is written, every ``.py`` file under ``src/`` in
it is checked to contain no solution block.

A student either installs it as it is (``pip install --no-deps --force-reinstall <archive>``)
or, to work on it, unpacks it and installs the folder (``tito export``). PyPI refuses the
``+student`` local version, so the archive cannot be uploaded there by mistake.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .process import TitoError, run
from .sources import PackageLayout
from .stubbing import SolutionBlock, StubError, find_blocks
from .workspace import REFERENCE_DIR, STATE_FILE, create_workspace

__all__ = ["StudentRelease", "build_sdist", "release_module"]


@dataclass(frozen=True)
class StudentRelease:
    """A written student archive.

    Attributes:
        archive: The ``.tar.gz`` source distribution.
        distribution: Its distribution name, e.g. ``tinytorch-tensor``.
        version: The student version, e.g. ``0.1.0+student``.
        blocks: The solution blocks that were stubbed (what the student writes).
        files: Every path inside the archive.
    """

    archive: Path
    distribution: str
    version: str
    blocks: tuple[SolutionBlock, ...]
    files: tuple[str, ...]


def build_sdist(folder: Path, outdir: Path, python: str | None = None) -> Path:
    """Build the sdist of a package folder with its build backend; return the archive.

    ``python -m build --sdist``, without build isolation when hatchling is importable here
    (offline, seconds), otherwise in an isolated environment (pip fetches the backend).

    Raises:
        TitoError: with the end of the build's output if it fails.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [python or sys.executable, "-m", "build", "--sdist", "--outdir", str(outdir)]
    if importlib.util.find_spec("hatchling") is not None:
        cmd.append("--no-isolation")
    result = run([*cmd, str(folder)], capture=True, timeout=600)
    made = sorted(outdir.glob("*.tar.gz"))
    if result.returncode != 0 or not made:
        tail = "\n".join((result.stdout or "").strip().splitlines()[-15:])
        raise TitoError(f"building the sdist of {folder} failed (exit code {result.returncode}):\n{tail}",
                        hint="python -m pip install build hatchling   (the build front end and backend)")
    return made[-1]


def _file_bytes(tf: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    """The bytes of a regular file of the archive (``extractfile`` gives None for the rest)."""
    f = tf.extractfile(member)
    if f is None:
        raise TitoError(f"{member.name} in the archive is not a regular file")
    return f.read()


def _add_state_file(archive: Path, state: dict) -> tuple[str, ...]:
    """Rewrite ``archive`` with ``<root>/.tinytorch-workspace.json`` added; return its members."""
    with tarfile.open(archive, "r:gz") as tf:
        members = [(m, _file_bytes(tf, m) if m.isfile() else None) for m in tf.getmembers()]
    roots = {m.name.split("/", 1)[0] for m, _ in members}
    if len(roots) != 1:
        raise TitoError(f"{archive.name} does not hold exactly one top-level folder")
    root = roots.pop()
    data = (json.dumps(state, indent=2) + "\n").encode("utf-8")
    info = tarfile.TarInfo(f"{root}/{STATE_FILE}")
    info.size, info.mode = len(data), 0o644
    info.mtime = max((m.mtime for m, _ in members), default=0)
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for member, content in members:
            tf.addfile(member, io.BytesIO(content) if content is not None else None)
        tf.addfile(info, io.BytesIO(data))
    return tuple(sorted(m.name for m, _ in members) + [info.name])


def _check_no_solutions(archive: Path) -> None:
    """Refuse an archive that holds a saved reference or a solution block in its code."""
    with tarfile.open(archive, "r:gz") as tf:
        for member in tf.getmembers():
            parts = member.name.split("/")
            if REFERENCE_DIR in parts:
                raise TitoError(f"{archive.name} contains {member.name}: the reference must not ship")
            if member.isfile() and len(parts) > 2 and parts[1] == "src" and member.name.endswith(".py"):
                text = _file_bytes(tf, member).decode("utf-8")
                try:
                    left = find_blocks(text, member.name)
                except StubError as exc:
                    raise TitoError(f"{archive.name}: {exc}") from None
                if left:
                    raise TitoError(f"{archive.name}: {member.name}:{left[0].begin} still holds a "
                                    "solution block")


def release_module(reference: PackageLayout, out: Path) -> StudentRelease:
    """Write the student archive of ``reference`` into ``out``.

    Args:
        reference: The module's reference (see :func:`~tinytorch.setup.sources.find_reference`).
        out: The folder to write the archive to (created if needed; an older archive of the same
            name is replaced).

    Raises:
        TitoError: if a solution block is malformed, the build fails, or a solution would ship.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tito-release-") as tmp:
        workspace = create_workspace(reference, Path(tmp) / "workspace")
        package = Path(tmp) / "package"
        shutil.copytree(workspace.path, package,
                        ignore=shutil.ignore_patterns(REFERENCE_DIR, STATE_FILE, "__pycache__"))
        state = json.loads((workspace.path / STATE_FILE).read_text(encoding="utf-8"))
        state.pop("reference_source", None)  # a path on the instructor's machine
        state["reference_origin"] = "released"
        built = build_sdist(package, Path(tmp) / "sdist")
        files = _add_state_file(built, state)
        _check_no_solutions(built)
        target = out / built.name
        shutil.copy2(built, target)
    return StudentRelease(target, state["distribution"], workspace.version, workspace.blocks, files)
