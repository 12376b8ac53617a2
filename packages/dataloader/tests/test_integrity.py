"""Data that repairs itself: every file checked before use, a damaged one named (one line) and,
with ``download=True``, replaced from the verified archive — only that file. Extraction is
capped. The "download" is a local HTTP server (127.0.0.1) serving a small fake archive whose
md5 the test sets; no test touches the network or the real CIFAR-10 cache.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import struct
import tarfile

import numpy as np
import pytest

from tinytorch.core.dataloader import (CIFAR10, MNIST, DatasetCorruptError, DatasetNotFoundError,
                                       UnsafeArchiveError, extract_tar, load_cifar_batch)
from tinytorch.core.dataloader.integrity import MANIFEST_NAME, Expected, Manifest, file_problem

ARCHIVE = "/cifar-10-python.tar.gz"
BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
           "test_batch", "batches.meta")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(http_server, fake_cifar, md5, tmp_path, monkeypatch):
    """The fake CIFAR-10 archive served locally, CIFAR10 pointed at it (url and md5)."""
    body = fake_cifar.archive(tmp_path)
    monkeypatch.setattr(CIFAR10, "url", http_server.serve(ARCHIVE, body))
    monkeypatch.setattr(CIFAR10, "md5", md5(body))
    http_server.body = body
    return http_server


@pytest.fixture
def copy(tmp_path, fake_cifar):
    """A locally prepared copy (not the official files): root, folder."""
    root = tmp_path / "data"
    return root, fake_cifar.write(root)


def truncate(path, keep=1000):
    path.write_bytes(path.read_bytes()[:keep])


def one_line(err) -> str:
    text = str(err)
    assert "\n" not in text, text
    return text


# ------------------------------------------------------------------ a local copy is accepted

def test_integrity_a_local_copy_is_read_completely_once_then_recorded(copy, md5):
    root, folder = copy
    assert not (folder / MANIFEST_NAME).exists()
    assert len(CIFAR10(root, train=True)) == 60
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    recorded = manifest["files"]
    assert sorted(recorded) == sorted(f for f in BATCHES if f != "test_batch")  # what was read
    for name, entry in recorded.items():
        raw = (folder / name).read_bytes()
        assert entry["size"] == len(raw) and entry["md5"] == md5(raw)
        assert "locally prepared copy" in entry["source"]
    CIFAR10(root, train=False)
    assert "test_batch" in json.loads((folder / MANIFEST_NAME).read_text())["files"]


def test_integrity_truncated_batch_is_named_on_first_use(copy):
    root, folder = copy
    truncate(folder / "test_batch")
    with pytest.raises(DatasetCorruptError) as info:
        CIFAR10(root, train=False)
    text = one_line(info.value)
    assert text.startswith(f"CIFAR10: {folder / 'test_batch'} is truncated or damaged "
                           "(pickle data was truncated; 1,000 bytes)")
    assert "tito data fetch cifar10 --root" in text and "download=True" in text
    assert info.value.path == folder / "test_batch"
    assert isinstance(info.value, DatasetNotFoundError) and isinstance(info.value, ValueError)
    assert len(CIFAR10(root, train=True)) == 60  # the training files are fine


def test_integrity_truncated_batch_is_named_from_the_manifest(copy):
    root, folder = copy
    size = (folder / "test_batch").stat().st_size
    CIFAR10(root, train=False)  # recorded
    truncate(folder / "test_batch")
    with pytest.raises(DatasetCorruptError) as info:
        CIFAR10(root, train=False)
    assert one_line(info.value).startswith(
        f"CIFAR10: {folder / 'test_batch'} is truncated: 1,000 bytes where the folder's "
        f"{MANIFEST_NAME} says {size:,} bytes")
    assert f"replaced on purpose? delete {folder / MANIFEST_NAME}" in str(info.value)


def test_integrity_a_flipped_byte_is_caught_by_the_md5(copy, md5):
    root, folder = copy
    CIFAR10(root, train=True)
    path = folder / "data_batch_3"
    raw = bytearray(path.read_bytes())
    raw[-200] ^= 0xFF  # a pixel: the file still unpickles fine
    path.write_bytes(bytes(raw))
    load_cifar_batch(path)  # readable...
    with pytest.raises(DatasetCorruptError, match=f"data_batch_3 is damaged: its md5 is {md5(bytes(raw))}"):
        CIFAR10(root, train=True)  # ...but not the file that was checked


def test_integrity_official_files_are_recognised_and_a_malformed_manifest_is_ignored(copy, md5, monkeypatch):
    root, folder = copy
    official = {name: ((folder / name).stat().st_size, md5((folder / name).read_bytes()))
                for name in BATCHES}
    monkeypatch.setattr(CIFAR10, "official_files", official)  # pretend these are the official ones
    (folder / MANIFEST_NAME).write_text("{not json")
    CIFAR10(root, train=False)
    entries = json.loads((folder / MANIFEST_NAME).read_text())["files"]
    assert entries["test_batch"]["source"] == "matches the official list"


def test_integrity_a_missing_file_of_a_partial_copy_is_named(copy):
    root, folder = copy
    (folder / "data_batch_4").unlink()
    with pytest.raises(DatasetCorruptError) as info:
        CIFAR10(root, train=True)
    assert one_line(info.value).startswith(f"CIFAR10: {folder / 'data_batch_4'} is missing")


def test_integrity_a_truncated_batch_read_directly_is_named(copy):
    _, folder = copy
    truncate(folder / "data_batch_1", 5000)
    with pytest.raises(DatasetCorruptError, match=f"^{folder / 'data_batch_1'} is truncated or damaged"):
        load_cifar_batch(folder / "data_batch_1")


def test_integrity_file_problem_phrases(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    good = Expected(3, "900150983cd24fb0d6963f7d28e17f72", "the list")
    assert file_problem(path, good) is None
    assert file_problem(path, Expected(10, good.md5, "the list")) == \
        "is truncated: 3 bytes where the list says 10 bytes"
    assert file_problem(path, Expected(2, good.md5, "the list")) == "has 3 bytes where the list says 2 bytes"
    assert file_problem(path, Expected(None, "0" * 32, "the list")).startswith("is damaged: its md5 is 9001")
    assert file_problem(tmp_path / "nope", good) == "is missing"
    assert file_problem(tmp_path, good) == "is not a regular file"


def test_integrity_manifest_round_trip_and_forget(tmp_path):
    m = Manifest(tmp_path)
    m.record("a", 3, "900150983cd24fb0d6963f7d28e17f72", "test")
    assert m.save()
    back = Manifest(tmp_path)
    assert back.get("a") == Expected(3, "900150983cd24fb0d6963f7d28e17f72", f"the folder's {MANIFEST_NAME}")
    assert back.how["a"] == "test"
    back.forget("a")
    back.save()
    assert Manifest(tmp_path).get("a") is None
    assert oct((tmp_path / MANIFEST_NAME).stat().st_mode & 0o777) == "0o644"


# ------------------------------------------------------------------ repair

def test_integrity_download_true_repairs_only_the_damaged_file(served, copy, capsys):
    root, folder = copy
    CIFAR10(root, train=True)
    CIFAR10(root, train=False)  # every file recorded
    good = (folder / "test_batch").read_bytes()
    truncate(folder / "test_batch")
    before = {n: (folder / n).stat().st_ino for n in BATCHES if n != "test_batch"}

    with pytest.raises(DatasetCorruptError):
        CIFAR10(root, train=False)  # without download=True: named, not repaired
    assert served.requests == []

    ds = CIFAR10(root, train=False, download=True)
    assert len(ds) == 10 and ds.targets.tolist() == list(range(9, -1, -1))
    assert (folder / "test_batch").read_bytes() == good  # the archive's copy (same fake data)
    assert {n: (folder / n).stat().st_ino for n in before} == before  # nothing else rewritten
    assert len(served.requests) == 1
    err = capsys.readouterr().err
    assert f"{folder / 'test_batch'} is truncated" in err and "restored it from" in err
    entry = json.loads((folder / MANIFEST_NAME).read_text())["files"]["test_batch"]
    assert entry["source"].startswith("extracted from cifar-10-python.tar.gz (md5 ")
    assert not [p for p in folder.iterdir() if p.name.startswith(".repair-")]
    assert len(CIFAR10(root, train=False)) == 10  # and it stays repaired


def test_integrity_a_verified_archive_at_hand_repairs_without_the_network(served, copy):
    root, folder = copy
    (root / "cifar-10-python.tar.gz").write_bytes(served.body)
    (folder / "data_batch_2").unlink()
    assert len(CIFAR10(root, train=True)) == 60
    assert served.requests == []


def test_integrity_repair_offline_says_what_to_do_in_one_line(copy, monkeypatch):
    root, folder = copy
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz")
    truncate(folder / "test_batch")
    with pytest.raises(DatasetCorruptError) as info:
        CIFAR10(root, train=False, download=True)
    text = one_line(info.value)
    assert f"{folder / 'test_batch'} is truncated or damaged" in text
    assert "fetching it again failed: could not download http://127.0.0.1:" in text
    assert f"delete {folder}/ and prepare it again" in text and "make_cifar10.py" in text


def test_integrity_missing_dataset_offline_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz")
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10(tmp_path / "empty", download=True)
    text = one_line(info.value)
    assert text.startswith(f"CIFAR10: {tmp_path / 'empty' / 'cifar-10-batches-py'}/ is still missing, "
                           "and downloading cifar-10-python.tar.gz failed")
    assert text.endswith("; then run again.")


# ------------------------------------------------------------------ extraction cap

def bomb(member_bytes: int, name="cifar-10-batches-py/test_batch") -> bytes:
    """A tar.gz of one member of zeros: tiny compressed, ``member_bytes`` unpacked."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = member_bytes
        tar.addfile(info, io.BytesIO(bytes(member_bytes)))
    return buf.getvalue()


def test_integrity_extraction_cap_refuses_an_archive_that_expands_too_much(tmp_path):
    archive = tmp_path / "small.tar.gz"
    archive.write_bytes(bomb(32 << 20))  # 32 MiB of zeros
    assert archive.stat().st_size < 100_000
    target = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"add up to more than 8,388,608 bytes"):
        extract_tar(archive, target, max_bytes=8 << 20)
    assert list(target.iterdir()) == []  # nothing written
    assert [p.name for p in extract_tar(archive, target, max_bytes=64 << 20)] == ["cifar-10-batches-py"]


def test_integrity_extraction_caps_members_too(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(20):
            tar.addfile(tarfile.TarInfo(f"d/f{i}"), io.BytesIO(b""))
    (tmp_path / "many.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchiveError, match="more than 10 members"):
        extract_tar(tmp_path / "many.tar.gz", tmp_path / "out", max_members=10)


def test_integrity_cifar_refuses_a_bomb_even_when_its_md5_matches(http_server, md5, tmp_path, monkeypatch):
    body = bomb(40 << 20)
    monkeypatch.setattr(CIFAR10, "url", http_server.serve(ARCHIVE, body))
    monkeypatch.setattr(CIFAR10, "md5", md5(body))  # the checksum "matches"
    monkeypatch.setattr(CIFAR10, "max_extract_bytes", 16 << 20)
    root = tmp_path / "data"
    with pytest.raises(UnsafeArchiveError, match="refusing to extract"):
        CIFAR10(root, download=True)
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]


def test_integrity_extract_only_replaces_just_the_named_files(tmp_path, fake_cifar):
    archive = tmp_path / "c.tar.gz"
    archive.write_bytes(fake_cifar.archive(tmp_path))
    target = tmp_path / "t"
    (target / "cifar-10-batches-py").mkdir(parents=True)
    (target / "cifar-10-batches-py" / "keep.txt").write_text("mine")
    out = extract_tar(archive, target, only=["cifar-10-batches-py/test_batch"])
    assert out == [target.resolve() / "cifar-10-batches-py" / "test_batch"]
    assert sorted(p.name for p in (target / "cifar-10-batches-py").iterdir()) == ["keep.txt", "test_batch"]
    with pytest.raises(UnsafeArchiveError, match="has no file 'cifar-10-batches-py/nope'"):
        extract_tar(archive, target, only=["cifar-10-batches-py/nope"])


# ------------------------------------------------------------------ MNIST

def idx_gz(array: np.ndarray) -> bytes:
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, 8, array.ndim, *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


def test_integrity_mnist_damaged_file_is_named_and_refetched(http_server, md5, tmp_path, monkeypatch, capsys):
    images, labels = np.arange(2 * 784).reshape(2, 28, 28) % 256, np.array([4, 2])
    files = {"train-images-idx3-ubyte": idx_gz(images), "train-labels-idx1-ubyte": idx_gz(labels)}
    for stem, body in files.items():
        http_server.serve(f"/m/{stem}.gz", body)
    monkeypatch.setattr(MNIST, "mirrors", (http_server.base + "/m/",))
    monkeypatch.setattr(MNIST, "resources", {**MNIST.resources, **{k: md5(v) for k, v in files.items()}})
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for stem, body in files.items():
        (raw / f"{stem}.gz").write_bytes(body)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(files["train-images-idx3-ubyte"][:40])

    with pytest.raises(DatasetCorruptError) as info:
        MNIST(tmp_path, train=True)
    text = one_line(info.value)
    assert text.startswith(f"MNIST: {raw / 'train-images-idx3-ubyte.gz'} cannot be read as an IDX file")
    assert http_server.requests == []

    ds = MNIST(tmp_path, train=True, download=True)
    assert ds.targets.tolist() == [4, 2] and np.array_equal(ds.data, images)
    assert [p for p, _ in http_server.requests] == ["/m/train-images-idx3-ubyte.gz"]  # just that one
    assert "fetched" in capsys.readouterr().err
    entries = json.loads((raw / MANIFEST_NAME).read_text())["files"]
    assert entries["train-images-idx3-ubyte.gz"]["source"].startswith("downloaded from")


# ------------------------------------------------------------------ tito data

def test_integrity_tito_data_verify_and_fetch(served, copy, capsys):
    from tinytorch.core.dataloader.cli import main

    root, folder = copy
    assert main(["verify", "cifar10", "--root", str(root)]) == 0
    assert f"CIFAR10 in {folder}: 60 training and 10 test images, every file checked" in capsys.readouterr().out

    truncate(folder / "data_batch_5")
    assert main(["verify", "cifar10", "--root", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{folder / 'data_batch_5'} is truncated" in err
    assert served.requests == []  # verify never downloads

    assert main(["fetch", "cifar10", "--root", str(root)]) == 0
    assert len(served.requests) == 1
    assert main(["verify", "cifar10", "--root", str(root)]) == 0


def test_integrity_a_folder_that_cannot_be_written_is_said_so(served, copy, monkeypatch):
    from tinytorch.core.dataloader import datasets

    root, folder = copy
    truncate(folder / "test_batch")

    def read_only(*args, **kwargs):  # chmod does not stop root: refuse the way a read-only mount does
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(datasets.tempfile, "mkdtemp", read_only)
    with pytest.raises(DatasetCorruptError) as info:
        CIFAR10(root, train=False, download=True)
    text = one_line(info.value)
    assert f"{folder / 'test_batch'} is truncated or damaged" in text
    assert f"{folder}/ cannot be written to repair it (Read-only file system)" in text
