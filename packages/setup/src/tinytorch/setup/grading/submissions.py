"""Finding submissions and bringing their code into a box, refusing what could reach outside.

A submission is a package folder or an archive of one (``.tar.gz``, ``.tgz``, ``.zip``).
Folders and archives follow the same rules: every entry must be a plain file or folder —
symbolic links, hard links, devices, pipes and sockets are refused, never followed — with no
absolute or ``..`` path, and at most :data:`MAX_MEMBERS` entries and
:data:`MAX_UNPACKED_BYTES` bytes, checked *before* anything is copied.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from ..metadata_toml import tomllib
from ..process import TitoError

__all__ = ["ARCHIVE_SUFFIXES", "MAX_MEMBERS", "MAX_UNPACKED_BYTES", "copy_code", "find_submissions",
           "package_root", "safe_names", "submission_distribution", "unpack"]

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
#: At most this much is taken from one submission (bytes and entries), folder or archive.
MAX_UNPACKED_BYTES = 200 << 20
MAX_MEMBERS = 20000
#: Never copied from a submission's code folder.
_SKIPPED = ("__pycache__", "tests")


def _stem(path: Path) -> str:
    for suffix in ARCHIVE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def find_submissions(path: Path) -> list[tuple[str, Path]]:
    """(name, path) of every submission in ``path``: its folders and archives, sorted by name.

    A submission is named after its folder or archive without the suffix (``alice.tar.gz`` is
    ``alice``); when a folder and an archive would share a name, both keep their full file
    names (``t_dup`` and ``t_dup.tar.gz``), so each gets its own row and log. ``path`` may also
    be one package folder (it holds a ``pyproject.toml``) or one archive. Hidden entries are
    skipped; symbolic links are listed (and refused when graded).
    """
    if not path.exists():
        raise TitoError(f"{path} does not exist")
    if path.is_file() or (path / "pyproject.toml").is_file():
        return [(_stem(path), path)]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith((".", "_")):
            continue
        if child.is_symlink() or child.is_dir() or child.name.endswith(ARCHIVE_SUFFIXES):
            found.append(child)
    stems = [_stem(c) for c in found]
    return [(stem if stems.count(stem) == 1 else child.name, child) for stem, child in zip(stems, found)]


def safe_names(names: Iterable[str]) -> list[str]:
    """A file name for each submission name, distinct even where sanitising makes two equal."""
    taken: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9._+-]", "_", name) or "_"
        candidate, n = base, 2
        while candidate.lower() in taken:  # distinct on case-insensitive file systems too
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def _safe_member(name: str) -> bool:
    parts = Path(name).parts
    return bool(parts) and not name.startswith(("/", "\\")) and ".." not in parts and ":" not in parts[0]


class _Member(NamedTuple):
    """One entry to copy, from an archive or a folder."""

    name: str
    size: int
    is_dir: bool
    refusal: str | None  # the error's wording for a refused kind (a link, a device), else None
    open: Callable[[], Any]  # opens the entry's bytes for reading


def unpack(archive: Path, dest: Path) -> None:
    """Unpack a submission archive into ``dest``, refusing links, devices, absolute or ``..``
    paths, and more than :data:`MAX_UNPACKED_BYTES` / :data:`MAX_MEMBERS`.

    Raises:
        TitoError: naming what was refused.
    """
    if archive.is_symlink():
        raise TitoError(f"{archive.name}: refused symbolic link (submissions are copied, never followed)")
    dest.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(archive) as zf:
                # A zip symlink is a file whose mode bits (high 16 of external_attr) say S_IFLNK.
                members = [_Member(i.filename, i.file_size, i.is_dir(),
                                   "refused symbolic link"
                                   if (i.external_attr >> 16) & 0o170000 == 0o120000 else None,
                                   functools.partial(zf.open, i))
                           for i in zf.infolist()]
                _extract(archive.name, members, dest)
        except zipfile.BadZipFile as exc:
            raise TitoError(f"{archive.name} is not a readable archive: {exc}") from None
        return
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = [_Member(m.name, m.size, m.isdir(),
                               None if m.isfile() or m.isdir()
                               else "refused hard link" if m.islnk()
                               else "refused symbolic link" if m.issym() else "refused member",
                               functools.partial(tf.extractfile, m))
                       for m in tf.getmembers()]
            _extract(archive.name, members, dest)
    except tarfile.TarError as exc:
        raise TitoError(f"{archive.name} is not a readable archive: {exc}") from None


def _folder_members(folder: Path, label: str) -> list[_Member]:
    """The entries of ``folder`` as archive members, without following any link."""
    members: list[_Member] = []
    stack = [folder]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.name in _SKIPPED or entry.name.endswith(".pyc"):
                    continue
                rel = Path(entry.path).relative_to(folder).as_posix()
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    members.append(_Member(rel, 0, False, "refused symbolic link", lambda: None))
                elif stat.S_ISDIR(info.st_mode):
                    members.append(_Member(rel, 0, True, None, lambda: None))
                    stack.append(Path(entry.path))
                elif not stat.S_ISREG(info.st_mode):
                    members.append(_Member(rel, 0, False, "refused special file", lambda: None))
                elif info.st_nlink > 1:
                    members.append(_Member(rel, info.st_size, False, "refused hard link", lambda: None))
                else:
                    members.append(_Member(rel, info.st_size, False, None,
                                           functools.partial(_open_no_follow, entry.path)))
                if len(members) > MAX_MEMBERS:
                    raise TitoError(f"{label}: more than {MAX_MEMBERS} files")
    return members


def _open_no_follow(path: str) -> Any:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    return os.fdopen(os.open(path, flags), "rb")


def copy_code(code: Path, dest: Path, label: str) -> None:
    """Copy a submission's code folder to ``dest`` under the archive rules (no link followed).

    ``label`` names the submission in error messages. ``tests/``, ``__pycache__/`` and ``.pyc``
    files are left out.
    """
    if code.is_symlink() or not code.is_dir():
        raise TitoError(f"{label}: refused {code.name!r}: not a plain folder (a symbolic link?)")
    _extract(label, _folder_members(code, label), dest)


def _extract(archive_name: str, members: list[_Member], dest: Path) -> None:
    """Check every member first (names, kinds, count, total size), then write them."""
    if len(members) > MAX_MEMBERS:
        raise TitoError(f"{archive_name}: more than {MAX_MEMBERS} files")
    total = 0
    for member in members:
        if not _safe_member(member.name):
            raise TitoError(f"{archive_name}: refused member {member.name!r}")
        if member.refusal:
            raise TitoError(f"{archive_name}: {member.refusal} {member.name!r}")
        total += member.size
        if total > MAX_UNPACKED_BYTES:
            raise TitoError(f"{archive_name}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
    dest.mkdir(parents=True, exist_ok=True)
    written = 0  # the bytes read, not the sizes declared, are what count against the limit
    for member in members:
        target = dest / member.name
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with member.open() as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > MAX_UNPACKED_BYTES:
                    raise TitoError(f"{archive_name}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MiB")
                dst.write(chunk)


def _plain_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def package_root(folder: Path) -> Path:
    """The package folder inside a submission: ``folder`` itself when it holds ``pyproject.toml``
    or ``src/``, else its only sub-folder that does (an unpacked sdist has one). Links are not
    followed."""
    if folder.is_symlink():
        raise TitoError(f"{folder.name}: refused symbolic link (submissions are copied, never followed)")
    if (folder / "pyproject.toml").is_file() or _plain_dir(folder / "src"):
        return folder
    candidates = [c for c in folder.iterdir() if _plain_dir(c) and not c.name.startswith(".")
                  and ((c / "pyproject.toml").is_file() or _plain_dir(c / "src"))]
    return candidates[0] if len(candidates) == 1 else folder


def submission_distribution(root: Path) -> str | None:
    """The ``[project] name`` a submission declares, if its pyproject.toml is a readable file."""
    pyproject = root / "pyproject.toml"
    if pyproject.is_symlink():
        return None
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    name = data.get("project", {}).get("name")
    return name if isinstance(name, str) else None


def code_folder(root: Path, import_dir: str) -> Path | None:
    """``root/src/<import_dir>`` when every folder on the way is a plain folder (no link)."""
    current = root
    for part in ("src", *Path(import_dir).parts):
        current = current / part
        if not _plain_dir(current):
            if current.is_symlink():
                raise TitoError(f"refused symbolic link {current.relative_to(root).as_posix()!r}")
            return None
    return current


def remove_tree(path: Path) -> None:
    """Delete a box, even where its files were made read-only."""
    if not path.exists() and not path.is_symlink():
        return

    def retry(func: Callable[..., Any], target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
        except OSError:
            pass
        func(target)

    if path.is_symlink():
        path.unlink()
    else:
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry)
        else:
            shutil.rmtree(path, onerror=retry)
