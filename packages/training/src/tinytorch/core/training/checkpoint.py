"""Checkpoints: everything needed to resume training, in one ``.npz`` file, without pickle.

A checkpoint is a nested structure (dicts, lists, numbers, strings, numpy arrays): the
model's state dict, the optimizer's and scheduler's, random generator states, the epoch,
the history. ``save_checkpoint`` stores every array as its own ``.npz`` entry and the rest of
the structure as JSON (arrays replaced by references), so loading needs
``allow_pickle=False`` only — a checkpoint file can never run code.

Writes are atomic: the file is written under a temporary name in the same directory, flushed
to disk, then renamed over the target. A crash mid-write leaves the previous checkpoint
intact, never a half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np

__all__ = ["save_checkpoint", "load_checkpoint", "flatten_state", "unflatten_state",
           "generator_state", "set_generator_state", "CheckpointError"]

_STRUCTURE_KEY = "__structure__"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or not a TinyTorch checkpoint."""


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


def unflatten_state(obj: Any, arrays: Any) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(obj, list):
        return [unflatten_state(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__array__" in obj:
            return np.array(arrays[obj["__array__"]])
        if "__dict__" in obj:
            return {k: unflatten_state(v, arrays) for k, v in obj["__dict__"].items()}
        if "__items__" in obj:
            return {unflatten_state(k, arrays): unflatten_state(v, arrays) for k, v in obj["__items__"]}
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, arrays) for v in obj["__tuple__"])
    return obj


def save_checkpoint(path: str | os.PathLike, state: dict) -> str:
    """Atomically write ``state`` (a nested dict) to ``path`` as an .npz; returns the path.

    Given: the path gets its ``.npz`` suffix and its directory is created; ``arrays`` is the
    dict that :func:`flatten_state` fills with the state's arrays. To write: the .npz holds
    those arrays plus one entry ``__structure__``, a 0-d string array with the JSON of
    ``{"format": FORMAT_VERSION, "state": <the flattened state>}``. Write it to a temporary
    file *in the same directory* (``tempfile.mkstemp(dir=...)``), flush and ``os.fsync`` it,
    then ``os.replace`` it over ``path``: the old file is either intact or fully replaced. If
    anything fails (even KeyboardInterrupt), delete the temporary file and re-raise.
    """
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    arrays: dict = {}
    ### BEGIN SOLUTION
    ### HINT: structure = {"format": FORMAT_VERSION, "state": flatten_state(state, arrays)};
    ### HINT: arrays[_STRUCTURE_KEY] = np.array(json.dumps(structure)); np.savez(f, **arrays)
    ### HINT: into os.fdopen(fd, "wb") of mkstemp; try/except BaseException to clean up
    structure = {"format": FORMAT_VERSION, "state": flatten_state(state, arrays)}
    arrays[_STRUCTURE_KEY] = np.array(json.dumps(structure))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    ### END SOLUTION
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` (never unpickles anything)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:  # not a zip / .npy at all, or a pickle (refused, never run)
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise CheckpointError(f"{path} holds a single array (.npy), not a TinyTorch checkpoint")
    try:
        with data:
            if _STRUCTURE_KEY not in data.files:
                raise CheckpointError(f"{path} is an .npz file but not a TinyTorch checkpoint "
                                      f"(no '{_STRUCTURE_KEY}' entry)")
            structure = json.loads(str(data[_STRUCTURE_KEY]))
            arrays = {k: data[k] for k in data.files if k != _STRUCTURE_KEY}
    except CheckpointError:
        raise
    except Exception as err:  # a truncated zip, a pickled object array (refused), bad JSON...
        raise CheckpointError(f"cannot read checkpoint {path}: {err}") from None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT_VERSION:
        found = structure.get("format") if isinstance(structure, dict) else type(structure).__name__
        raise CheckpointError(f"{path}: unsupported checkpoint format {found!r} "
                              f"(this version reads format {FORMAT_VERSION})")
    try:
        return unflatten_state(structure["state"], arrays)
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: the checkpoint's structure is damaged ({err!r})") from None


def generator_state(generator: np.random.Generator) -> dict:
    """A JSON-able snapshot of a numpy Generator (to restore the exact random stream)."""
    return generator.bit_generator.state


def set_generator_state(generator: np.random.Generator, state: dict) -> None:
    """Restore a snapshot taken by :func:`generator_state`."""
    generator.bit_generator.state = state
