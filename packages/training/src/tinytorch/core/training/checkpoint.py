"""Checkpoints: everything needed to resume training, in one ``.npz`` file, without pickle.

A checkpoint is a nested structure (dicts, lists, numbers, strings, numpy arrays): the
model's state dict, the optimizer's and scheduler's, random generator states, the epoch,
the history. ``save_checkpoint`` stores every array as its own ``.npz`` entry and the rest of
the structure as JSON (arrays replaced by references), so loading never unpickles anything —
a checkpoint file can never run code.

Writes are atomic: the file is written under a temporary name in the same directory,
``.<name>.tmp-<pid>`` (``.last.npz.tmp-4242``), flushed to disk, then renamed over the target.
A crash mid-write leaves the previous checkpoint intact, never a half-written one; the
temporary file a killed process leaves behind is removed by the next save (or resume) in that
directory, once no process with that pid is running.

Reads are bounded: before any array is read, the header of every ``.npy`` entry is read
(``numpy.lib.format``) and its declared shape and dtype are checked against the entry's size in
the zip (a stored entry must hold exactly the bytes its header declares; a compressed one may
expand at most :data:`MAX_COMPRESSION_RATIO` times) and, when the caller knows the model,
against ``max_bytes``. A 2 MB file declaring a 2 GiB array is refused without allocating it.
"""

from __future__ import annotations

import json
import math
import os
import re
import zipfile
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["save_checkpoint", "load_checkpoint", "flatten_state", "unflatten_state",
           "generator_state", "set_generator_state", "CheckpointError", "temp_path",
           "clean_stale_temps", "MAX_COMPRESSION_RATIO"]

_STRUCTURE_KEY = "__structure__"
FORMAT_VERSION = 1

#: A compressed entry (``np.savez_compressed``) may expand to at most this many times its
#: compressed size, beyond :data:`_SMALL_ENTRY` bytes. Weights and optimizer state compress
#: by a few percent; only a crafted (or all-zeros) array compresses a thousandfold.
MAX_COMPRESSION_RATIO = 64
_SMALL_ENTRY = 16 << 20  # entries up to 16 MiB are not held to the ratio
_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
_LEGACY_TEMP_RE = re.compile(r"^\.tmp-[A-Za-z0-9_]+\.npz$")  # mkstemp names of earlier versions
_LEGACY_TEMP_AGE = 3600.0  # seconds without a write after which such a file is abandoned


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or not a TinyTorch checkpoint."""


# --------------------------------------------------------------------------- temporary files
def temp_path(path: str | os.PathLike) -> str:
    """Where :func:`save_checkpoint` writes ``path`` before renaming it: ``.<name>.tmp-<pid>``."""
    directory, name = os.path.split(os.fspath(path))
    return os.path.join(directory, f".{name}.tmp-{os.getpid()}")


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # no cheap, harmless liveness test: keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def clean_stale_temps(directory: str | os.PathLike) -> list:
    """Remove the temporary files that interrupted saves left in ``directory``; returns them.

    A ``.<name>.tmp-<pid>`` file is removed when no process ``pid`` is running (the save that
    wrote it was killed); a ``.tmp-*.npz`` file of an earlier version when nothing wrote to it
    for an hour. Files of saves still in progress are left alone.
    """
    import time

    removed: list[str] = []
    try:
        entries = list(os.scandir(os.fspath(directory)))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if match is not None:
                stale = not _pid_running(int(match.group("pid")))
            elif _LEGACY_TEMP_RE.match(entry.name):
                stale = now - entry.stat(follow_symlinks=False).st_mtime > _LEGACY_TEMP_AGE
            else:
                continue
            if stale:
                os.unlink(entry.path)
                removed.append(entry.path)
        except OSError:  # gone meanwhile, or not ours to remove
            continue
    return removed


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (best effort; not possible on every platform)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def flatten_state(obj: Any, arrays: dict) -> Any:
    """Replace every numpy array in ``obj`` by a reference, collecting the arrays in ``arrays``."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("cannot store an array of Python objects in a checkpoint (it would "
                            "need pickle); convert it to numbers or strings first")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if hasattr(obj, "data") and isinstance(getattr(obj, "data"), np.ndarray):  # a Tensor
        return flatten_state(obj.data, arrays)
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": {k: flatten_state(v, arrays) for k, v in obj.items()}}
        return {"__items__": [[flatten_state(k, arrays), flatten_state(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [flatten_state(v, arrays) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a {type(obj).__name__} in a checkpoint (no pickle is used)")


def unflatten_state(obj: Any, arrays: Any, copy: bool = True) -> Any:
    """Inverse of :func:`flatten_state` (``copy=False``: use the arrays themselves, not copies)."""
    if isinstance(obj, list):
        return [unflatten_state(v, arrays, copy) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            array = arrays[obj["__array__"]]
            return np.array(array) if copy else array
        if "__dict__" in obj:
            return {k: unflatten_state(v, arrays, copy) for k, v in obj["__dict__"].items()}
        if "__items__" in obj:
            return {unflatten_state(k, arrays, copy): unflatten_state(v, arrays, copy)
                    for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, arrays, copy) for v in obj["__tuple__"])
    return obj


def save_checkpoint(path: str | os.PathLike, state: dict) -> str:
    """Atomically write ``state`` (a nested dict) to ``path`` as an .npz; returns the path.

    Given: the path gets its ``.npz`` suffix, its directory is created and cleared of the
    temporary files of interrupted saves; ``arrays`` is the dict that :func:`flatten_state`
    fills with the state's arrays, and ``tmp`` (``.<name>.tmp-<pid>`` beside ``path``) is where
    to write first. To write: the .npz holds those arrays plus one entry ``__structure__``, a
    0-d string array with the JSON of ``{"format": FORMAT_VERSION, "state": <the flattened
    state>}``. Write it to ``tmp``, flush and ``os.fsync`` it, then ``os.replace`` it over
    ``path``: the old file is either intact or fully replaced. If anything fails (even
    KeyboardInterrupt), delete the temporary file and re-raise.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    clean_stale_temps(directory)
    arrays: dict = {}
    tmp = temp_path(path)
    ### BEGIN SOLUTION
    ### HINT: structure = {"format": FORMAT_VERSION, "state": flatten_state(state, arrays)};
    ### HINT: arrays[_STRUCTURE_KEY] = np.array(json.dumps(structure)); np.savez(f, **arrays)
    ### HINT: into open(tmp, "wb"); try/except BaseException to clean up
    structure = {"format": FORMAT_VERSION, "state": flatten_state(state, arrays)}
    arrays[_STRUCTURE_KEY] = np.array(json.dumps(structure))
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    ### END SOLUTION
    _fsync_directory(directory)
    return path


# --------------------------------------------------------------------------- reading, bounded
def _describe_start(head: bytes) -> str:
    """What a file that is not a zip looks like, from its first bytes."""
    if head[:1] == b"\x80" or head[:2] in (b"(d", b"(l", b"}q", b"]q"):
        return ("a Python pickle, which is never loaded (unpickling can run any code); save "
                "checkpoints with save_checkpoint")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        first = text.strip().splitlines()[0] if text.strip() else ""
        shown = first[:40] + ("..." if len(first) > 40 else "")
        return f"a text file (it starts {shown!r})"
    return f"not a zip file (it starts with the bytes {head[:8].hex(' ')})"


def _entry_headers(zf: zipfile.ZipFile, path: str, file_size: int) -> dict:
    """{key: (shape, dtype, nbytes, info)} of every .npy entry, from its header alone."""
    entries = {}
    for info in zf.infolist():
        name = info.filename
        if info.is_dir():
            continue
        if not name.endswith(".npy"):
            raise CheckpointError(f"{path} is a zip file but not a TinyTorch checkpoint "
                                  f"(entry {name!r} is not a .npy array)")
        key = name[:-4]
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(f"{path}: entry {key!r} uses zip compression method "
                                  f"{info.compress_type}, which checkpoints never use")
        if info.header_offset + info.compress_size > file_size:
            raise CheckpointError(f"{path} is truncated: entry {key!r} reaches past the end of "
                                  f"the file ({file_size:,} bytes); use an earlier checkpoint")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise CheckpointError(f"{path} is damaged: stored entry {key!r} declares "
                                  f"{info.file_size:,} bytes but occupies {info.compress_size:,}")
        if info.file_size > max(MAX_COMPRESSION_RATIO * info.compress_size, _SMALL_ENTRY):
            raise CheckpointError(
                f"{path}: entry {key!r} would expand from {info.compress_size:,} to "
                f"{info.file_size:,} bytes (more than {MAX_COMPRESSION_RATIO}x); refused — real "
                "weights do not compress like that")
        try:
            with zf.open(info) as member:
                version = npy_format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(member)
                else:
                    shape, fortran, dtype = npy_format.read_array_header_2_0(member)
                header_len = member.tell()
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as err:
            raise CheckpointError(f"{path} is damaged: entry {key!r} is not a readable .npy "
                                  f"array ({err})") from None
        if dtype.hasobject:
            raise CheckpointError(f"cannot read checkpoint {path}: entry {key!r} holds Python "
                                  "objects (a pickle), which are never loaded: they could run code")
        nbytes = math.prod(shape) * dtype.itemsize
        if header_len + nbytes != info.file_size:
            raise CheckpointError(
                f"{path} is damaged: entry {key!r} declares a {dtype} array of shape "
                f"{tuple(shape)} ({nbytes:,} bytes) but holds {info.file_size - header_len:,} bytes")
        entries[key] = (tuple(shape), dtype, nbytes, info)
    return entries


def load_checkpoint(path: str | os.PathLike, max_bytes: int | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles anything).

    Every array's declared shape and dtype are checked before anything is read (see the
    module's docstring); ``max_bytes`` bounds the total of the arrays (the Trainer derives it
    from the model's size). Anything that is not a readable TinyTorch checkpoint — a missing,
    empty, truncated or damaged file, a text file, a pickle, a folder — raises
    :class:`CheckpointError`, one line naming the file and what is wrong.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file (the Trainer writes "
                              f"{os.path.join(path, 'last.npz')})")
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        folder = os.path.dirname(os.path.abspath(path))
        if os.path.isdir(folder):
            why = (f"{folder}/ holds no checkpoint of that name yet — the Trainer writes last.npz "
                   "at the end of each epoch, so a run stopped during its first epoch has none; "
                   "start the run again without resuming")
        else:
            why = f"{folder}/ does not exist"
        raise CheckpointError(f"checkpoint not found: {path}: {why}") from None
    except OSError as err:
        raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
    with f:
        try:
            file_size = os.fstat(f.fileno()).st_size
            head = f.read(64)
        except OSError as err:
            raise CheckpointError(f"cannot read checkpoint {path}: {err.strerror or err}") from None
        if file_size == 0:
            raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted "
                                  "copy?); use an earlier checkpoint or start again")
        if head.startswith(b"\x93NUMPY"):
            raise CheckpointError(f"{path} holds a single array (.npy), not a TinyTorch checkpoint")
        if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise CheckpointError(f"{path} is not a TinyTorch checkpoint (an .npz file): it is "
                                  f"{_describe_start(head)}")
        try:
            f.seek(0)
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
            raise CheckpointError(
                f"{path} is truncated or damaged: not a complete .npz file ({file_size:,} bytes; "
                f"{err}); use an earlier checkpoint or start again") from None
        with zf:
            entries = _entry_headers(zf, path, file_size)
            if _STRUCTURE_KEY not in entries:
                raise CheckpointError(f"{path} is an .npz file but not a TinyTorch checkpoint "
                                      f"(no '{_STRUCTURE_KEY}' entry)")
            total = sum(e[2] for e in entries.values())
            if max_bytes is not None and total > max_bytes:
                raise CheckpointError(
                    f"{path} declares {total:,} bytes of arrays, more than the {max_bytes:,} a "
                    "checkpoint of this model can need: it belongs to another (much larger) "
                    "model, or it is damaged")
            arrays = {}
            try:
                for key, (_, _, _, info) in entries.items():
                    with zf.open(info) as member:
                        arrays[key] = npy_format.read_array(member, allow_pickle=False)
            except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
                raise CheckpointError(f"{path} is damaged: {err}; use an earlier checkpoint or "
                                      "start again") from None
    try:
        structure = json.loads(str(arrays.pop(_STRUCTURE_KEY)))
    except ValueError as err:
        raise CheckpointError(f"{path} is damaged: its '{_STRUCTURE_KEY}' entry is not valid "
                              f"JSON ({err}); use an earlier checkpoint or start again") from None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT_VERSION:
        found = structure.get("format") if isinstance(structure, dict) else type(structure).__name__
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r} "
                              f"(this version reads format {FORMAT_VERSION})")
    try:
        return unflatten_state(structure["state"], arrays, copy=False)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: the checkpoint's structure is damaged ({err!r})") from None


def generator_state(generator: np.random.Generator) -> dict:
    """A JSON-able snapshot of a numpy Generator (to restore the exact random stream)."""
    return dict(generator.bit_generator.state)  # numpy types the property a Mapping


def set_generator_state(generator: np.random.Generator, state: dict) -> None:
    """Restore a snapshot taken by :func:`generator_state`."""
    generator.bit_generator.state = state
