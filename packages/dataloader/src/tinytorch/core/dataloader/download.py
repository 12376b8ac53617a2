"""Fetching dataset files: resumable HTTP download, md5 check, safe archive extraction.

Standard library only (``urllib``). What it guarantees:

* **Verified.** A file only gets its final name once its md5 matches the published one; a
  file already in place with the right md5 is used without touching the network.
* **Resumable.** Bytes arrive in ``NAME.part``. If the transfer breaks, the next attempt asks
  for the rest with an HTTP ``Range: bytes=N-`` header; a server that ignores the range
  (answers 200) simply sends the whole file again.
* **Self-healing.** A partial or finished download whose md5 is wrong is deleted and fetched
  again from scratch, once; if the fresh copy is wrong too, the error says so (expected and
  actual md5, the URL, where the file was).
* **Safe extraction.** :func:`extract_tar` refuses, before writing anything, an archive with
  an absolute path, a ``..`` component, a link (symbolic or hard) or a device/fifo member, or
  any name that would land outside the target folder. Members are written into a staging
  folder inside the target and moved into place only when the whole archive is out.
* **Bounded extraction.** The files of an archive may add up to at most ``max_bytes``
  (default 1 GiB; :class:`~tinytorch.core.dataloader.CIFAR10` allows 256 MiB): a small archive
  that would expand into gigabytes is refused before anything is written, even when its
  checksum matches, and the bytes actually written are counted too.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Callable, Sequence, Union

__all__ = ["DownloadError", "UnsafeArchiveError", "md5sum", "download_url", "extract_tar",
           "check_tar_members", "DEFAULT_MAX_EXTRACT_BYTES"]

PathLike = Union[str, os.PathLike]
_CHUNK = 1 << 20
USER_AGENT = "tinytorch-dataloader (+https://github.com/tinytorch/tinytorch)"


class DownloadError(OSError):
    """A download failed (network, HTTP status or checksum); the message says what and where."""


class UnsafeArchiveError(ValueError):
    """An archive member would escape the target folder or is not a plain file/folder."""


def md5sum(path: PathLike, chunk: int = _CHUNK) -> str:
    """Hex md5 of a file, read in chunks."""
    digest = hashlib.md5(usedforsecurity=False) if _md5_has_flag() else hashlib.md5()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def _md5_has_flag() -> bool:
    try:
        hashlib.md5(usedforsecurity=False)
        return True
    except TypeError:  # pragma: no cover -- very old OpenSSL builds
        return False


class _Transient(Exception):
    """A failure worth another attempt (connection dropped, short read, server error)."""


def _fetch_once(url: str, part: Path, timeout: float, log: Callable[[str], None]) -> None:
    """One HTTP request that appends to (resumes) or rewrites ``part``."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:
            return  # nothing after byte `have`: the partial file is complete; the md5 decides
        if err.code >= 500 or err.code in (408, 429):
            raise _Transient(f"HTTP {err.code} {err.reason}") from err
        raise DownloadError(f"HTTP {err.code} {err.reason} for {url}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _Transient(str(getattr(err, "reason", err))) from err
    with response:
        resumed = False
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.replace(" ", "").startswith(f"bytes{have}-"):
                raise _Transient(f"the server answered Range: bytes={have}- with {content_range!r}")
            resumed = True
            log(f"resuming {url} at byte {have}")
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        written = 0
        try:
            with open(part, "ab" if resumed else "wb") as f:
                while True:
                    block = response.read(_CHUNK)
                    if not block:
                        break
                    f.write(block)
                    written += len(block)
        except (OSError, http.client.HTTPException) as err:
            raise _Transient(f"transfer interrupted after {have * resumed + written} bytes: "
                             f"{type(err).__name__}: {err}") from err
        if expected is not None and written != expected:
            raise _Transient(f"transfer interrupted: got {written} of {expected} bytes")


def download_url(url: str, dest: PathLike, md5: str, *, retries: int = 3, timeout: float = 60.0,
                 log: Callable[[str], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` and verify its md5; returns ``dest``.

    A file already at ``dest`` with the right md5 is kept as is (no network). A wrong one is
    replaced. Bytes accumulate in ``dest + ".part"``, which later attempts resume with HTTP
    Range. Raises :class:`DownloadError` when the network fails ``retries + 1`` times in a row
    or the md5 is still wrong after one fresh download.
    """
    dest = Path(dest)
    log = log or (lambda msg: None)
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"refusing to download {url!r}: only http:// and https:// URLs")
    if dest.is_file():
        if md5sum(dest) == md5:
            return dest
        log(f"{dest} has the wrong md5; downloading it again")
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = 0
    started_fresh = not part.exists()
    while True:
        try:
            _fetch_once(url, part, timeout, log)
        except _Transient as err:
            failures += 1
            if failures > retries:
                kept = (f" (partial data kept in {part}; calling again resumes it)"
                        if part.exists() and part.stat().st_size else "")
                raise DownloadError(f"could not download {url} after {failures} attempts: {err}"
                                    f"{kept}") from None
            log(f"download of {url} interrupted ({err}); retrying")
            continue
        failures = 0
        actual = md5sum(part)
        if actual == md5:
            os.replace(part, dest)
            return dest
        part.unlink()
        if started_fresh:
            raise DownloadError(
                f"md5 mismatch for {url}: expected {md5}, got {actual}. The downloaded file was "
                f"deleted ({part}). The server sent a different file than the one published; "
                "try again later or get the file another way and put it at "
                f"{dest}."
            )
        log(f"md5 mismatch after resuming {part}: expected {md5}, got {actual}; "
            "starting over from scratch")
        started_fresh = True


# --------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------

def _member_problem(member: tarfile.TarInfo, root: Path) -> str | None:
    name = member.name
    if member.issym() or member.islnk():
        return f"is a {'symbolic' if member.issym() else 'hard'} link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder (device, fifo, ...)"
    if not name or "\x00" in name or "\\" in name:
        return "has an invalid name"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in path.parts:
        return "has a '..' component"
    resolved = (root / path).resolve()
    if resolved != root and root not in resolved.parents:
        return f"would be written outside {root}"
    return None


def check_tar_members(members: Sequence[tarfile.TarInfo], root: PathLike) -> None:
    """Raise :class:`UnsafeArchiveError` naming every member that may not be extracted."""
    root = Path(root).resolve()
    bad = [(m.name, p) for m in members if (p := _member_problem(m, root)) is not None]
    if bad:
        listed = "; ".join(f"{n!r} {p}" for n, p in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise UnsafeArchiveError(f"refusing to extract the archive into {root}: {listed}{more}")


#: What :func:`extract_tar` writes at most unless told otherwise: an archive whose files add up
#: to more is refused before anything is written, whatever its checksum (a "zip bomb" needs no
#: forged md5 when the md5 list itself comes from the same place as the archive).
DEFAULT_MAX_EXTRACT_BYTES = 1 << 30
#: The most members :func:`extract_tar` reads from one archive.
DEFAULT_MAX_MEMBERS = 100_000


def _read_members(tar: tarfile.TarFile, archive: PathLike, max_bytes: int,
                  max_members: int) -> list[tarfile.TarInfo]:
    """The archive's members, stopping as soon as they exceed either cap."""
    members: list[tarfile.TarInfo] = []
    total = 0
    for m in tar:
        members.append(m)
        total += max(int(m.size), 0) if m.isfile() else 0
        if total > max_bytes:
            raise UnsafeArchiveError(
                f"refusing to extract {archive}: its files add up to more than {max_bytes:,} bytes "
                f"(already {total:,} after {len(members)} members), the limit for this archive; "
                "it is not the archive it claims to be (or pass a larger max_bytes)")
        if len(members) > max_members:
            raise UnsafeArchiveError(f"refusing to extract {archive}: more than {max_members:,} "
                                     "members (pass a larger max_members if that is expected)")
    return members


def extract_tar(archive: PathLike, target: PathLike, *, max_bytes: int = DEFAULT_MAX_EXTRACT_BYTES,
                max_members: int = DEFAULT_MAX_MEMBERS,
                only: Sequence[str] | None = None) -> list[Path]:
    """Safely extract a (compressed) tar archive into ``target``; returns what it wrote.

    Every member is checked before anything is written (see :func:`check_tar_members`), and
    so is the total: an archive whose files add up to more than ``max_bytes`` (or that has
    more than ``max_members`` members) is refused, even when its checksum matched — the bytes
    written are counted again while copying. Files get mode 0644 and folders 0755 whatever the
    archive says.

    Without ``only``, every member is extracted and the top-level entries replace those of the
    same name in ``target``; the top-level paths are returned. With ``only`` (member names such
    as ``"cifar-10-batches-py/test_batch"``), just those files are extracted, each replacing the
    file at ``target / name`` and nothing else; their paths are returned, in the order given.
    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = _read_members(tar, archive, max_bytes, max_members)
        check_tar_members(members, root)
        if only is not None:
            by_name = {PurePosixPath(m.name).as_posix(): m for m in members if m.isfile()}
            missing = [n for n in only if n not in by_name]
            if missing:
                raise UnsafeArchiveError(f"{archive} has no file {', '.join(map(repr, missing))}")
            members = [by_name[n] for n in only]
        staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
        try:
            written = 0
            for m in members:
                out = staging / PurePosixPath(m.name)
                if m.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:  # pragma: no cover -- isfile() members always have data
                    raise UnsafeArchiveError(f"cannot read member {m.name!r}")
                with src, open(out, "wb") as f:
                    while True:
                        block = src.read(_CHUNK)
                        if not block:
                            break
                        written += len(block)
                        if written > max_bytes:
                            raise UnsafeArchiveError(f"refusing to extract {archive}: more than "
                                                     f"{max_bytes:,} bytes came out of it")
                        f.write(block)
                os.chmod(out, 0o644)
            if only is not None:
                placed = []
                for m in members:
                    final = root / PurePosixPath(m.name)
                    final.parent.mkdir(parents=True, exist_ok=True)
                    if final.is_dir() and not final.is_symlink():
                        shutil.rmtree(final)
                    os.replace(staging / PurePosixPath(m.name), final)
                    placed.append(final)
                return placed
            tops = []
            for entry in sorted(staging.iterdir()):
                final = root / entry.name
                if final.is_symlink() or final.is_file():
                    final.unlink()
                elif final.is_dir():
                    shutil.rmtree(final)
                os.replace(entry, final)
                tops.append(final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return tops
