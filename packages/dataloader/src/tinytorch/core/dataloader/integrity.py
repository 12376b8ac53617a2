"""Is a dataset file the one it should be? Sizes and md5s, from the official list or a manifest.

Two sources say what a file should be:

* **the official list** — the size and md5 the dataset's authors published for each file
  (CIFAR-10's batches, for instance). A file of the official size must have the official md5.
* **the folder's manifest** — ``.tinytorch-manifest.json`` beside the files, holding the size
  and md5 of each file at the moment it was *known good*: extracted from an archive whose md5
  was checked, downloaded against a published md5, or read completely once (every array and
  label parsed and checked) when no other source vouched for it. That last case is how a copy
  that is legitimately different from the official files is accepted — the course's CIFAR-10
  rebuilt from JPEGs, say, whose md5s depend on the Pillow build that decoded them.

A file whose size or md5 differs from what its entry says is *damaged* (a truncated copy, a
flipped bit, a half-written file). The manifest is written atomically and only ever adds what
was checked; a folder that cannot be written (a read-only shared copy) simply gets no manifest,
and its files are then read completely each time, which still catches truncation.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .download import md5sum

__all__ = ["MANIFEST_NAME", "Expected", "Manifest", "file_problem"]

MANIFEST_NAME = ".tinytorch-manifest.json"
_FORMAT = 1


@dataclass(frozen=True)
class Expected:
    """What one file should be: its size in bytes (``None``: unknown), its md5, and who says so."""

    size: int | None
    md5: str
    source: str


class Manifest:
    """The ``.tinytorch-manifest.json`` of one dataset folder: ``{name: Expected}``.

    An unreadable or malformed manifest counts as absent (its files are then checked the slow
    way and it is rewritten); :attr:`note` says why it was ignored.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / MANIFEST_NAME
        self.entries: dict[str, Expected] = {}
        self.how: dict[str, str] = {}  # how each file came to be known good
        self.note = ""
        self._dirty = False
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as err:
            self.note = f"{self.path} could not be read ({err}); ignored"
            return
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("format") != _FORMAT:
                raise ValueError(f"format {data.get('format') if isinstance(data, dict) else None!r}")
            for name, entry in data["files"].items():
                size = entry["size"]
                if size is not None and (not isinstance(size, int) or size < 0):
                    raise ValueError(f"size {size!r} of {name}")
                digest = str(entry["md5"]).lower()
                if len(digest) != 32 or any(c not in "0123456789abcdef" for c in digest):
                    raise ValueError(f"md5 {digest!r} of {name}")
                self.entries[str(name)] = Expected(size, digest, self.label)
                self.how[str(name)] = str(entry.get("source", ""))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            self.entries, self.how = {}, {}
            self.note = f"{self.path} is malformed ({err}); ignored"

    @property
    def label(self) -> str:
        """How error messages name this manifest."""
        return f"the folder's {MANIFEST_NAME}"

    def get(self, name: str) -> Expected | None:
        """The recorded entry for ``name``, if any."""
        return self.entries.get(name)

    def record(self, name: str, size: int, md5: str, source: str) -> None:
        """Remember ``name`` as known good; ``source`` says how it was checked (see :meth:`save`)."""
        entry = Expected(int(size), md5, self.label)
        if self.entries.get(name) != entry or self.how.get(name) != source:
            self.entries[name] = entry
            self.how[name] = source
            self._dirty = True

    def forget(self, name: str) -> None:
        """Drop the entry for ``name`` (it is about to be replaced)."""
        if self.entries.pop(name, None) is not None:
            self.how.pop(name, None)
            self._dirty = True

    def save(self) -> bool:
        """Write the manifest atomically if it changed; ``False`` when the folder is read-only."""
        if not self._dirty:
            return True
        data = {"format": _FORMAT,
                "about": "sizes and md5s of files known to be good (tinytorch.core.dataloader.integrity)",
                "files": {k: {"size": v.size, "md5": v.md5, "source": self.how.get(k, "")}
                          for k, v in sorted(self.entries.items())}}
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST_NAME}.tmp-", dir=self.folder)
        except OSError:
            return False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
            os.chmod(tmp, 0o644)  # as readable as the data files (mkstemp makes it private)
            os.replace(tmp, self.path)
        except OSError:
            if os.path.exists(tmp):
                os.unlink(tmp)
            return False
        self._dirty = False
        return True


def _bytes(n: int) -> str:
    return f"{n:,} bytes"


def file_problem(path: str | os.PathLike, expected: Expected) -> str | None:
    """What is wrong with the file at ``path`` compared with ``expected`` (``None``: nothing).

    The size is compared first (a truncated file is named as such without reading it), then
    the md5. The answer is a phrase to follow the file's name: ``"is truncated: ..."``.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            return "is not a regular file"
        if expected.size is not None and size != expected.size:
            if size < expected.size:
                return (f"is truncated: {_bytes(size)} where {expected.source} says "
                        f"{_bytes(expected.size)}")
            return f"has {_bytes(size)} where {expected.source} says {_bytes(expected.size)}"
        digest = md5sum(path)
    except FileNotFoundError:
        return "is missing"
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    if digest != expected.md5:
        return f"is damaged: its md5 is {digest}, where {expected.source} says {expected.md5}"
    return None
