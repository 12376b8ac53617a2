"""Where a module's reference code comes from, as a package folder ``tito`` can copy.

A module's reference is found, in this order:

1. inside the repository checkout: ``packages/<folder>/`` itself;
2. an editable install: the project folder it points to;
3. a normal install (a wheel): its files listed by ``importlib.metadata`` — code from
   ``tinytorch/...``, tests from ``<import dir>/tests`` — and a ``pyproject.toml`` rebuilt
   from its metadata (name, version, dependencies, extras, entry points).

:class:`PackageLayout` is the result: a map from a path in the package folder
(``pyproject.toml``, ``src/tinytorch/core/tensor/tensor.py``, ``tests/test_tensor.py``…) to
the file to copy, which :meth:`PackageLayout.write` turns into a folder pip can install.
"""

from __future__ import annotations

import email.message
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .dists import InstalledDist, get_installed
from .metadata_toml import pyproject_from_metadata
from .process import TitoError
from .registry import Module
from .repo import package_dir

__all__ = ["IGNORED_NAMES", "PackageLayout", "find_reference", "layout_from_folder"]

#: Folder and file names never copied from a package folder.
IGNORED_NAMES = frozenset({
    "__pycache__", ".pytest_cache", ".hypothesis", ".tox", ".venv", "build", "dist",
    ".reference", ".tinytorch-workspace.json", ".git",
})


@dataclass
class PackageLayout:
    """The files of an installable package folder.

    Attributes:
        origin: Where it came from: ``repo``, ``editable``, ``installed`` or ``saved``.
        description: A human description of the origin, e.g. the folder path.
        files: Path inside the package folder → file on disk to copy.
        generated: Path inside the package folder → text to write (e.g. a rebuilt pyproject).
    """

    origin: str
    description: str
    files: dict[str, Path] = field(default_factory=dict)
    generated: dict[str, str] = field(default_factory=dict)

    def read_text(self, rel: str) -> str:
        """The text of one file of the layout."""
        if rel in self.generated:
            return self.generated[rel]
        return self.files[rel].read_text(encoding="utf-8")

    def paths(self) -> list[str]:
        """Every path of the layout, sorted."""
        return sorted(set(self.files) | set(self.generated))

    def write(self, dest: Path) -> None:
        """Copy the layout into ``dest`` (created if needed)."""
        for rel, src in sorted(self.files.items()):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        for rel, text in sorted(self.generated.items()):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def layout_from_folder(folder: Path, origin: str = "repo") -> PackageLayout:
    """Every file of a package folder, minus caches, build output and workspace state."""
    if not (folder / "pyproject.toml").is_file():
        raise TitoError(f"{folder} is not a package folder (no pyproject.toml)")
    layout = PackageLayout(origin, str(folder))
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in IGNORED_NAMES or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and not path.suffix == ".pyc":
            layout.files[rel.as_posix()] = path
    return layout


def layout_from_wheel_install(installed: InstalledDist, module: Module) -> PackageLayout:
    """Rebuild a package folder from the files a wheel installed."""
    layout = PackageLayout("installed", f"{installed.name} {installed.version} (installed)")
    tests_prefix = module.tests_dir + "/"
    lesson_prefix = module.import_dir + "/lesson/"  # the lesson notebook ships beside the tests
    for item in installed.dist.files or []:
        rel = item.as_posix()
        if "__pycache__" in rel or rel.endswith(".pyc") or not rel.startswith("tinytorch/"):
            continue
        source = Path(str(installed.dist.locate_file(item)))
        if not source.is_file():
            continue
        if rel.startswith(tests_prefix):
            layout.files["tests/" + rel[len(tests_prefix):]] = source
        elif rel.startswith(lesson_prefix):
            layout.files["lesson/" + rel[len(lesson_prefix):]] = source
        else:
            layout.files["src/" + rel] = source
    if not any(rel.startswith("src/") for rel in layout.files):
        raise TitoError(f"{installed.name} {installed.version} lists no files under tinytorch/ "
                        "(is it installed correctly?)",
                        hint=f"reinstall it: python -m pip install --force-reinstall {installed.name}")
    layout.generated["pyproject.toml"] = pyproject_from_metadata(installed, module)
    # The metadata is an email message whose payload is the long description (the README).
    meta = installed.dist.metadata
    payload = meta.get_payload() if isinstance(meta, email.message.Message) else None
    body = payload if isinstance(payload, str) else ""
    layout.generated["README.md"] = (body or f"# {installed.name}\n").strip() + "\n"
    for item in installed.dist.files or []:
        if item.name in ("LICENSE", "LICENSE.txt") and ".dist-info" in item.as_posix():
            layout.files["LICENSE"] = Path(str(installed.dist.locate_file(item)))
    return layout


def find_reference(module: Module, repo: Path | None,
                   path: list[str] | None = None) -> PackageLayout:
    """The reference package of ``module`` (see the module docstring for the order).

    Raises:
        TitoError: if it is neither in the checkout nor installed as a reference.
    """
    folder = package_dir(module, repo)
    if folder is not None:
        return layout_from_folder(folder, "repo")
    installed = get_installed(module.distribution, path)
    if installed is None:
        raise TitoError(f"{module.distribution} is not installed",
                        hint=f"install it first: python -m pip install {module.distribution}")
    if installed.is_student:
        raise TitoError(
            f"the installed {module.distribution} is already a student's version "
            f"({installed.version}), so it cannot serve as the reference",
            hint=f"restore the reference first: tito module reset {module.folder}")
    editable = installed.editable_dir
    if editable is not None and (editable / "pyproject.toml").is_file():
        return layout_from_folder(editable, "editable")
    return layout_from_wheel_install(installed, module)
