"""What is installed: the ``tinytorch-*`` distributions, their versions and their files.

A student's version of a module is installed with the local version label ``+student``
(``0.1.0+student``); anything else is the reference. Everything here reads
``importlib.metadata``, so it sees wheels, editable installs and ``pip --target`` directories
on ``sys.path`` alike. Functions take an optional ``path`` (a list of directories to search
instead of ``sys.path``), which is what the tests use.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.version import InvalidVersion, Version

from .registry import NAMESPACE, Module, canonical_name, module_for_distribution

__all__ = [
    "STUDENT_LABEL",
    "InstalledDist",
    "get_installed",
    "is_student_version",
    "locate_tests",
    "tinytorch_distributions",
]

STUDENT_LABEL = "student"


def is_student_version(version: str) -> bool:
    """True for a version with the local label ``+student`` (e.g. ``0.1.0+student``)."""
    try:
        return Version(version).local == STUDENT_LABEL
    except InvalidVersion:
        return False


@dataclass(frozen=True)
class InstalledDist:
    """One installed distribution and what ``tito`` needs to know about it."""

    name: str
    version: str
    dist: metadata.Distribution

    @property
    def module(self) -> Module | None:
        """The course module this distribution ships, if it is one of the seventeen."""
        return module_for_distribution(self.name)

    @property
    def is_student(self) -> bool:
        """Whether this is a student's version (``+student``)."""
        return is_student_version(self.version)

    def _direct_url(self) -> dict[str, object]:
        text = self.dist.read_text("direct_url.json")
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def source_dir(self) -> Path | None:
        """The local folder it was installed from (PEP 610 ``direct_url.json``), if any."""
        url = self._direct_url().get("url")
        if not isinstance(url, str) or not url.startswith("file:"):
            return None
        return Path(unquote(urlparse(url).path))

    @property
    def editable_dir(self) -> Path | None:
        """The project folder of an editable install (``pip install -e``), else ``None``."""
        info = self._direct_url().get("dir_info")
        if isinstance(info, dict) and info.get("editable"):
            return self.source_dir
        return None

    @property
    def kind(self) -> str:
        """``student``, ``reference`` or ``reference (editable)``."""
        if self.is_student:
            return "student"
        return "reference (editable)" if self.editable_dir else "reference"

    def requirements(self) -> list[str]:
        """The ``Requires-Dist`` lines of its metadata."""
        return list(self.dist.requires or [])

    def files_under(self, prefix: str) -> list[Path]:
        """Absolute paths of its recorded files whose path starts with ``prefix/``."""
        found = []
        for item in self.dist.files or []:
            rel = item.as_posix()
            if rel.startswith(prefix.rstrip("/") + "/") and "__pycache__" not in rel:
                found.append(Path(str(self.dist.locate_file(item))))
        return found


def _name_of(dist: metadata.Distribution) -> str | None:
    name = dist.metadata["Name"] if dist.metadata else None
    return canonical_name(name) if name else None


def tinytorch_distributions(path: list[str] | None = None) -> list[InstalledDist]:
    """Every installed ``tinytorch`` / ``tinytorch-*`` distribution, course order first.

    When the same name is found twice on the path, the first one (the one Python imports)
    wins.
    """
    seen: dict[str, InstalledDist] = {}
    found = metadata.distributions(path=path) if path is not None else metadata.distributions()
    for dist in found:
        name = _name_of(dist)
        if name is None or name in seen:
            continue
        if name == NAMESPACE or name.startswith(NAMESPACE + "-"):
            seen[name] = InstalledDist(name, dist.version, dist)

    def order(item: InstalledDist) -> tuple[int, str]:
        module = item.module
        return (module.number if module else 99, item.name)

    return sorted(seen.values(), key=order)


def get_installed(distribution: str, path: list[str] | None = None) -> InstalledDist | None:
    """The installed distribution of that name, or ``None``."""
    wanted = canonical_name(distribution)
    found = metadata.distributions(path=path) if path is not None else metadata.distributions()
    for dist in found:
        if _name_of(dist) == wanted:
            return InstalledDist(wanted, dist.version, dist)
    return None


def locate_tests(installed: InstalledDist, module: Module) -> Path | None:
    """The folder holding the module's shipped tests for this installed distribution.

    A wheel ships them at ``<import dir>/tests`` in site-packages (found through the
    distribution's ``RECORD``); an editable install has them in ``<project>/tests`` — and
    that folder wins, since the copy an editable install also puts in site-packages is only
    as new as the install (a test renamed or added since would be missed).
    """
    editable = installed.editable_dir
    if editable is not None and (editable / "tests").is_dir():
        return editable / "tests"
    files = installed.files_under(module.tests_dir)
    if files:
        folder = Path(str(installed.dist.locate_file(module.tests_dir)))
        if folder.is_dir():
            return folder
        return files[0].parent
    return None
