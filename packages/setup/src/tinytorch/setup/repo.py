"""Finding the TinyTorch checkout ``tito`` runs in, if any.

Inside the repository the reference of every module is ``packages/<folder>/``; outside it
``tito`` works from what is installed. ``TINYTORCH_REPO`` overrides the search: a path to use
that checkout, or an empty value (or ``none``) to behave as outside any checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

from .registry import Module

__all__ = ["REPO_ENV", "find_repo_root", "package_dir"]

REPO_ENV = "TINYTORCH_REPO"


def _is_repo_root(path: Path) -> bool:
    return (path / "packages").is_dir() and (
        (path / "tox.ini").is_file() or (path / "CONTRIBUTING.md").is_file()
    )


def find_repo_root(start: Path | None = None) -> Path | None:
    """The TinyTorch checkout containing ``start`` (default: the current directory).

    Walks up to the first directory holding ``packages/`` and ``tox.ini`` or
    ``CONTRIBUTING.md``. Returns ``None`` outside a checkout.
    """
    override = os.environ.get(REPO_ENV)
    if override is not None:
        if override.strip().lower() in ("", "none"):
            return None
        root = Path(override).expanduser().resolve()
        return root if _is_repo_root(root) else None
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if _is_repo_root(candidate):
            return candidate
    return None


def package_dir(module: Module, root: Path | None) -> Path | None:
    """``<root>/packages/<folder>`` if it holds a ``pyproject.toml``, else ``None``."""
    if root is None:
        return None
    folder = root / "packages" / module.folder
    return folder if (folder / "pyproject.toml").is_file() else None
