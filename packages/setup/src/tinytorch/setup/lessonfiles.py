"""Where a module's lesson source is: ``find_lesson`` and ``lesson_filename``.

Shared by :mod:`.lesson` (what a notebook imports) and :mod:`.lessonrun` (executing one), which
both import this module; it imports neither.
"""

from __future__ import annotations

from pathlib import Path

from .registry import Module, resolve_module
from .repo import find_repo_root, package_dir

__all__ = ["LAB_EXTRA", "find_lesson", "lesson_filename", "resolve"]

#: How to install what running and opening lessons needs.
LAB_EXTRA = 'pip install "tinytorch-setup[lab]"'


def resolve(module: Module | str | int) -> Module:
    """``module`` itself, or the module a user's name for it (``tensor``, ``02``) names."""
    return module if isinstance(module, Module) else resolve_module(module)


def lesson_filename(module: Module | str | int) -> str:
    """The file name of a module's lesson source, e.g. ``02_tensor.py``."""
    found = resolve(module)
    return f"{found.number:02d}_{found.folder}.py"


def _lesson_candidates(module: Module) -> list[Path]:
    """Every place the lesson source of ``module`` may be, in the order they are tried."""
    from .dists import get_installed
    from .workspace import REFERENCE_DIR, default_workspace

    name = lesson_filename(module)
    found: list[Path] = []
    folder = package_dir(module, find_repo_root())
    if folder is not None:
        found.append(folder / "lesson" / name)
    installed = get_installed(module.distribution)
    if installed is not None:
        if installed.editable_dir is not None:
            found.append(installed.editable_dir / "lesson" / name)
        found.extend(p for p in installed.files_under(f"{module.import_dir}/lesson")
                     if p.name == name)
        found.append(Path(str(installed.dist.locate_file(f"{module.import_dir}/lesson/{name}"))))
    workspace = default_workspace(module)
    found += [workspace / "lesson" / name, workspace / REFERENCE_DIR / "lesson" / name]
    return found


def find_lesson(module: Module | str | int) -> Path | None:
    """The lesson source (``<NN>_<folder>.py``, percent format) of a module, or ``None``.

    Looked for, in this order: ``packages/<folder>/lesson/`` inside a checkout; the project
    folder of an editable install (a student's workspace, or the checkout's package);
    ``<import dir>/lesson/`` among an installed wheel's files; ``./tinytorch-student/<folder>``
    (its ``lesson/``, then its saved reference's).

    Args:
        module: A :class:`~tinytorch.setup.registry.Module` or what a user types (``tensor``,
            ``02``, ``tinytorch-tensor``).

    Raises:
        UnknownModuleError: if ``module`` names no module.
    """
    for candidate in _lesson_candidates(resolve(module)):
        if candidate.is_file():
            return candidate
    return None
