"""Checkpoints: exact round trips, atomic writes, no pickle, clear errors for bad files."""

from __future__ import annotations

import io
import math
import os
import re
import zipfile

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CheckpointError, load_checkpoint, save_checkpoint
from tinytorch.core.training.checkpoint import generator_state, set_generator_state


def assert_same(a, b):
    """Equal values *and* equal types, all the way down (arrays: dtype, shape and bits)."""
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def nested_state():
    rng = np.random.default_rng(0)
    return {
        "model": {"0.weight": rng.normal(size=(3, 4)).astype(np.float32),
                  "0.bias": np.zeros(3, np.float32),
                  "1.running_var": np.ones(4, np.float64)},
        "optimizer": {"param_groups.0.lr": 0.1, "state.0.step": 7,
                      "param_groups.0.betas": np.array([0.9, 0.999])},
        "epoch": 3,
        "flags": [True, False, None],
        "name": "résumé ✓",
        "history": [{"epoch": 1, "loss": 2.5, "acc": None}, {"epoch": 2, "loss": float("nan")}],
        "best": -math.inf,
        "pair": (1, (2.5, "x")),
        "int_keys": {0: "zero", 1: np.arange(3)},
        "shapes": [np.zeros(()), np.zeros((0, 2), np.int64), np.array([[True]]), np.array(["ab", "c"])],
        "lookalike": {"__array__": "not a reference", "__tuple__": [1]},
        "big": 2 ** 100,
    }


def test_checkpoint_round_trip_of_a_nested_structure(tmp_path):
    state = nested_state()
    path = save_checkpoint(tmp_path / "ck.npz", state)
    assert path == str(tmp_path / "ck.npz")
    back = load_checkpoint(path)
    assert_same(state, back)


def test_checkpoint_numpy_scalars_and_tensors_are_stored_as_numbers_and_arrays(tmp_path):
    t = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    back = load_checkpoint(save_checkpoint(tmp_path / "s", {"f": np.float32(0.5), "i": np.int64(4),
                                                            "b": np.bool_(True), "t": t}))
    assert back["f"] == 0.5 and type(back["f"]) is float
    assert back["i"] == 4 and type(back["i"]) is int
    assert back["b"] is True
    assert isinstance(back["t"], np.ndarray) and back["t"].dtype == np.float32
    np.testing.assert_array_equal(back["t"], t.data)


def test_checkpoint_suffix_is_added_and_directories_are_created(tmp_path):
    path = save_checkpoint(tmp_path / "a" / "b" / "run", {"x": 1})
    assert path.endswith("run.npz") and os.path.exists(path)
    assert load_checkpoint(path) == {"x": 1}


def test_checkpoint_generator_state_restores_the_random_stream(tmp_path):
    g = np.random.default_rng(123)
    g.random(10)
    path = save_checkpoint(tmp_path / "rng", {"rng": generator_state(g)})
    expected = g.random(5)
    h = np.random.default_rng(0)
    set_generator_state(h, load_checkpoint(path)["rng"])
    np.testing.assert_array_equal(h.random(5), expected)


def test_checkpoint_objects_that_need_pickle_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="no pickle"):
        save_checkpoint(tmp_path / "x", {"fn": len})
    with pytest.raises(TypeError, match="array of Python objects"):
        save_checkpoint(tmp_path / "y", {"a": np.array([{"k": 1}, None], dtype=object)})
    assert not os.listdir(tmp_path)  # nothing half-written


# --------------------------------------------------------------------------- atomic writes
def test_checkpoint_a_failure_mid_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.npz", {"epoch": 1, "w": np.ones(1000)})
    before = open(path, "rb").read()

    def savez_that_dies(file, *args, **kwargs):
        file.write(b"PK\x03\x04" + b"\x00" * 5000)  # the start of a zip, then the "crash"
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", savez_that_dies)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"epoch": 2, "w": np.zeros(1000)})
    monkeypatch.undo()

    assert open(path, "rb").read() == before
    back = load_checkpoint(path)
    assert back["epoch"] == 1 and back["w"].sum() == 1000
    assert os.listdir(tmp_path) == ["last.npz"]  # the temporary file was removed


def test_checkpoint_an_interrupt_mid_write_also_cleans_up(tmp_path, monkeypatch):
    def interrupted(file, *args, **kwargs):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / "ck", {"epoch": 1})
    assert os.listdir(tmp_path) == []


def test_checkpoint_the_file_is_replaced_in_one_step(tmp_path, monkeypatch):
    """The target name is only ever written by os.replace, from a complete file."""
    path = str(tmp_path / "ck.npz")
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((src, dst))
        assert load_checkpoint(src)["epoch"] == 2  # complete before it takes the name
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_checkpoint(path, {"epoch": 2})
    assert len(replaced) == 1 and replaced[0][1] == path
    assert os.path.dirname(replaced[0][0]) == str(tmp_path)  # same directory: same filesystem


# --------------------------------------------------------------------------- no pickle on load
class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (exec, ("import os; os.environ['TINYTORCH_TEST_PWNED'] = '1'",))


def test_checkpoint_load_refuses_pickled_object_arrays_and_runs_no_code(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYTORCH_TEST_PWNED", raising=False)
    path = tmp_path / "evil.npz"
    evil = np.array([_RunsCodeWhenUnpickled()], dtype=object)
    structure = '{"format": 1, "state": {"__dict__": {"x": {"__array__": "a0"}}}}'
    np.savez(path, a0=evil, __structure__=np.array(structure))  # np.savez pickles object arrays
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {re.escape(str(path))}.*pickle"):
        load_checkpoint(path)
    assert "TINYTORCH_TEST_PWNED" not in os.environ


def test_checkpoint_load_refuses_a_plain_pickle(tmp_path, monkeypatch):
    import pickle

    monkeypatch.delenv("TINYTORCH_TEST_PWNED", raising=False)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": _RunsCodeWhenUnpickled()}))
    with pytest.raises(CheckpointError, match=str(path)):
        load_checkpoint(path)
    assert "TINYTORCH_TEST_PWNED" not in os.environ


# --------------------------------------------------------------------------- bad files
def _truncated(tmp_path):
    good = save_checkpoint(tmp_path / "good.npz", {"w": np.arange(10000.0)})
    data = open(good, "rb").read()
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[: len(data) // 2])
    return bad


def _npz_without_structure(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, w=np.ones(3))
    return path


def _npy(tmp_path):
    path = tmp_path / "weights.npy"
    np.save(path, np.ones(3))
    return path


def _text(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("these are not the weights you are looking for\n")
    return path


def _wrong_format(tmp_path):
    path = tmp_path / "future.npz"
    np.savez(path, __structure__=np.array('{"format": 99, "state": {}}'))
    return path


def _bad_json(tmp_path):
    path = tmp_path / "badjson.npz"
    np.savez(path, __structure__=np.array('{"format": 1, "state": '))
    return path


def _dangling_reference(tmp_path):
    path = tmp_path / "dangling.npz"
    np.savez(path, __structure__=np.array('{"format": 1, "state": {"__array__": "a7"}}'))
    return path


def _corrupt_member(tmp_path):
    good = save_checkpoint(tmp_path / "good2.npz", {"w": np.arange(1000.0)})
    buf = io.BytesIO(open(good, "rb").read())
    with zipfile.ZipFile(buf) as z:
        names = z.namelist()
    data = bytearray(buf.getvalue())
    i = data.find(b"\x93NUMPY", 100)  # corrupt the header of a member (.npy magic)
    data[i:i + 6] = b"XXXXXX"
    path = tmp_path / "corrupt.npz"
    path.write_bytes(bytes(data))
    assert names
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.npz"
    path.write_bytes(b"")
    return path


def _plain_pickle(tmp_path):
    import pickle

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    return path


def _binary(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(bytes(range(200, 256)) * 10)
    return path


def _lying_header(tmp_path):
    """A stored entry whose .npy header declares a 2 GiB array over 80 bytes of data."""
    path = tmp_path / "lying.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (2 ** 28,)})
    structure = io.BytesIO()
    np.lib.format.write_array(structure, np.array('{"format": 1, "state": {"__array__": "a0"}}'))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a0.npy", header.getvalue() + bytes(80))
        z.writestr("__structure__.npy", structure.getvalue())
    return path


def _folder(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.mark.parametrize("make, message", [
    (_truncated, r"is truncated or damaged: not a complete \.npz file"),
    (_npz_without_structure, "not a TinyTorch checkpoint"),
    (_npy, "not a TinyTorch checkpoint"),
    (_text, "is not a TinyTorch checkpoint .*: it is a text file \\(it starts 'these are not"),
    (_wrong_format, "unsupported checkpoint format 99"),
    (_bad_json, "is damaged: its '__structure__' entry is not valid JSON"),
    (_dangling_reference, "damaged"),
    (_corrupt_member, "is damaged: entry '.*' is not a readable .npy array"),
    (_empty, r"is empty \(0 bytes\)"),
    (_plain_pickle, "it is a Python pickle, which is never loaded"),
    (_binary, "it is not a zip file \\(it starts with the bytes c8 c9"),
    (_lying_header, r"declares a float64 array of shape \(268435456,\) \(2,147,483,648 bytes\) "
                    r"but holds 80 bytes"),
    (_folder, "is a folder, not a checkpoint file"),
])
def test_checkpoint_bad_files_give_a_checkpoint_error_naming_the_file(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert str(path) in text and "\n" not in text  # one line, naming the file
    assert "allow_pickle" not in text  # numpy's wording for "not an npz" never leaks through
    assert isinstance(info.value, ValueError)  # CheckpointError is a ValueError


def test_checkpoint_unreadable_file_names_the_file_and_the_reason(tmp_path, monkeypatch):
    from tinytorch.core.training import checkpoint as module

    path = save_checkpoint(tmp_path / "ck.npz", {"epoch": 1})
    real_open = open

    def no_permission(file, *args, **kwargs):
        if os.fspath(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(module, "open", no_permission, raising=False)
    with pytest.raises(CheckpointError, match=re.escape(f"cannot read checkpoint {path}: Permission denied")):
        load_checkpoint(path)


def test_checkpoint_an_inflating_entry_is_refused_before_it_is_allocated(tmp_path):
    """64 MiB of zeros compress to ~64 KB; loading it would allocate the 64 MiB (a 2 GiB one,
    2 GB): refused from the zip directory and the .npy header, before any array exists."""
    import tracemalloc

    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, a0=np.zeros(8 << 20),
                        __structure__=np.array('{"format": 1, "state": {"__array__": "a0"}}'))
    assert os.path.getsize(path) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match=r"entry 'a0' would expand from [\d,]+ to "
                                                  r"67,108,992 bytes \(more than 64x\)") as info:
            load_checkpoint(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert peak < 4 << 20  # nowhere near the 64 MiB the array would take


def test_checkpoint_max_bytes_bounds_the_arrays_a_file_may_declare(tmp_path):
    path = save_checkpoint(tmp_path / "big.npz", {"w": np.zeros(1000)})  # 8,000 bytes of weights
    assert load_checkpoint(path, max_bytes=100_000)["w"].shape == (1000,)
    with pytest.raises(CheckpointError, match=r"declares [\d,]+ bytes of arrays, more than the "
                                              r"4,000 a checkpoint of this model can need"):
        load_checkpoint(path, max_bytes=4000)


def test_checkpoint_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint not found: {tmp_path / 'nope.npz'}")):
        load_checkpoint(tmp_path / "nope.npz")
    # a run killed during its first epoch: its folder exists, its last.npz does not yet
    with pytest.raises(CheckpointError, match="holds no checkpoint of that name yet .*a run stopped "
                                              "during its first epoch has none"):
        load_checkpoint(tmp_path / "last.npz")
    with pytest.raises(CheckpointError, match=re.escape(f"{tmp_path / 'gone'}/ does not exist")):
        load_checkpoint(tmp_path / "gone" / "last.npz")


# --------------------------------------------------------------------------- interrupted saves
def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_checkpoint_temp_file_is_named_after_the_target_and_the_process(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_checkpoint(tmp_path / "last.npz", {"epoch": 1})
    assert seen == [f".last.npz.tmp-{os.getpid()}"]


def test_checkpoint_stale_temp_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    dead = tmp_path / f".last.npz.tmp-{_dead_pid()}"  # a save killed with SIGKILL left this
    dead.write_bytes(b"PK\x03\x04" + bytes(10_000))
    alive = tmp_path / f".last.npz.tmp-{os.getppid()}"  # a save still running in another process
    alive.write_bytes(b"in progress")
    legacy_old = tmp_path / ".tmp-abc123.npz"  # earlier versions' mkstemp names
    legacy_old.write_bytes(b"x")
    os.utime(legacy_old, (1_000_000, 1_000_000))  # untouched since 1970
    legacy_new = tmp_path / ".tmp-def456.npz"
    legacy_new.write_bytes(b"y")
    unrelated = tmp_path / ".notes.tmp-abc"
    unrelated.write_bytes(b"z")

    save_checkpoint(tmp_path / "last.npz", {"epoch": 2})
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["last.npz", alive.name, legacy_new.name, unrelated.name])
    assert load_checkpoint(tmp_path / "last.npz") == {"epoch": 2}


def test_checkpoint_clean_stale_temps_reports_what_it_removed(tmp_path):
    from tinytorch.core.training.checkpoint import clean_stale_temps

    dead = tmp_path / f".best.npz.tmp-{_dead_pid()}"
    dead.write_bytes(b"x")
    assert clean_stale_temps(tmp_path) == [str(dead)]
    assert clean_stale_temps(tmp_path / "missing") == []

