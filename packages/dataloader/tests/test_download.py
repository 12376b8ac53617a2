"""The downloader against a local HTTP server (127.0.0.1): verified, resumable, self-healing, safe."""

from __future__ import annotations

import io
import socket
import tarfile

import numpy as np
import pytest

from tinytorch.core.dataloader import (
    CIFAR10,
    MNIST,
    DatasetNotFoundError,
    DownloadError,
    UnsafeArchiveError,
    download_url,
    extract_tar,
)

ARCHIVE = "/cifar-10-python.tar.gz"


@pytest.fixture
def cifar_server(http_server, fake_cifar, md5, tmp_path, monkeypatch):
    """The fake CIFAR-10 archive served locally; CIFAR10 pointed at it."""
    body = fake_cifar.archive(tmp_path)
    url = http_server.serve(ARCHIVE, body)
    monkeypatch.setattr(CIFAR10, "url", url)
    monkeypatch.setattr(CIFAR10, "md5", md5(body))
    http_server.body = body
    return http_server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ the happy path and the cache

def test_download_extract_and_reuse_without_network(cifar_server, tmp_path, fake_cifar):
    root = tmp_path / "data"
    ds = CIFAR10(root, train=True, download=True)
    assert len(ds) == 5 * fake_cifar.per_batch and ds.classes == fake_cifar.classes
    assert (root / "cifar-10-python.tar.gz").read_bytes() == cifar_server.body
    assert not list(root.glob("*.part")) and not list(root.glob(".extract-*"))
    assert len(cifar_server.requests) == 1

    # a copy in place is used as is: no request at all
    assert len(CIFAR10(root, train=False, download=True)) == 10
    # the folder gone but the verified archive there: extracted again, still no request
    for f in (root / "cifar-10-batches-py").iterdir():
        f.unlink()
    assert len(CIFAR10(root, train=False, download=True)) == 10
    assert len(cifar_server.requests) == 1


def test_download_url_keeps_a_good_file_and_replaces_a_bad_one(http_server, md5, tmp_path):
    body = bytes(range(256)) * 40
    url = http_server.serve("/f.bin", body)
    dest = tmp_path / "f.bin"
    dest.write_bytes(body)
    assert download_url(url, dest, md5(body)) == dest
    assert http_server.requests == []  # right md5 already: no network
    dest.write_bytes(b"garbage")
    download_url(url, dest, md5(body))
    assert dest.read_bytes() == body and len(http_server.requests) == 1


# ------------------------------------------------------------------ corrupt downloads

def test_md5_mismatch_is_a_clear_error_and_leaves_nothing(http_server, md5, tmp_path):
    good, bad = b"the real file" * 100, b"a tampered file" * 100
    url = http_server.serve("/f.bin", bad)
    dest = tmp_path / "f.bin"
    with pytest.raises(DownloadError) as info:
        download_url(url, dest, md5(good))
    message = str(info.value)
    assert "md5 mismatch" in message and md5(good) in message and md5(bad) in message and url in message
    assert not dest.exists() and not (tmp_path / "f.bin.part").exists()


def test_cifar_download_with_wrong_md5_explains(cifar_server, tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, "md5", "0" * 32)
    root = tmp_path / "data"
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10(root, download=True)
    message = str(info.value)
    assert "md5 mismatch" in message and "0" * 32 in message
    assert str(root / "cifar-10-batches-py") in message
    assert not (root / "cifar-10-batches-py").exists()


def test_corrupt_archive_in_the_cache_is_fetched_again(cifar_server, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "cifar-10-python.tar.gz").write_bytes(cifar_server.body[:-100] + b"x" * 100)
    with pytest.raises(DatasetNotFoundError, match="md5"):
        CIFAR10(root, download=False)  # without download=True it says what is wrong
    assert cifar_server.requests == []
    assert len(CIFAR10(root, train=False, download=True)) == 10
    assert len(cifar_server.requests) == 1


# ------------------------------------------------------------------ truncated downloads

def test_partial_download_resumes_with_range(http_server, md5, tmp_path):
    body = np.random.default_rng(0).integers(0, 256, 50_000).astype(np.uint8).tobytes()
    url = http_server.serve("/big.bin", body)
    dest = tmp_path / "big.bin"
    (tmp_path / "big.bin.part").write_bytes(body[:20_000])  # what an interrupted run left
    download_url(url, dest, md5(body))
    assert dest.read_bytes() == body
    assert http_server.requests == [("/big.bin", "bytes=20000-")]
    assert http_server.bytes_sent == 30_000  # only the missing part travelled


def test_connection_cut_mid_transfer_is_resumed(http_server, md5, tmp_path):
    body = bytes(range(256)) * 300
    url = http_server.serve("/cut.bin", body)
    http_server.cut_after["/cut.bin"] = 10_000  # first response dies after 10 kB
    dest = tmp_path / "cut.bin"
    download_url(url, dest, md5(body))
    assert dest.read_bytes() == body
    assert [r for _, r in http_server.requests] == [None, "bytes=10000-"]


def test_truncated_cifar_archive_is_completed(cifar_server, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    half = len(cifar_server.body) // 2
    (root / "cifar-10-python.tar.gz.part").write_bytes(cifar_server.body[:half])
    assert len(CIFAR10(root, train=False, download=True)) == 10
    assert cifar_server.requests == [(ARCHIVE, f"bytes={half}-")]


def test_server_ignoring_range_restarts_cleanly(http_server, md5, tmp_path):
    body = b"0123456789" * 1000
    url = http_server.serve("/f.bin", body)
    http_server.ignore_range = True
    (tmp_path / "f.bin.part").write_bytes(body[:3000])
    download_url(url, tmp_path / "f.bin", md5(body))
    assert (tmp_path / "f.bin").read_bytes() == body


def test_corrupt_partial_download_is_thrown_away_and_refetched(http_server, md5, tmp_path):
    body = b"abcdefghij" * 1000
    url = http_server.serve("/f.bin", body)
    (tmp_path / "f.bin.part").write_bytes(b"X" * 4000)  # right length, wrong bytes
    download_url(url, tmp_path / "f.bin", md5(body))
    assert (tmp_path / "f.bin").read_bytes() == body
    assert [r for _, r in http_server.requests] == ["bytes=4000-", None]


def test_complete_partial_file_answered_416_is_accepted(http_server, md5, tmp_path):
    body = b"done" * 500
    url = http_server.serve("/f.bin", body)
    (tmp_path / "f.bin.part").write_bytes(body)
    download_url(url, tmp_path / "f.bin", md5(body))
    assert (tmp_path / "f.bin").read_bytes() == body


# ------------------------------------------------------------------ failures that must be explained

def test_http_404_names_the_url(http_server, tmp_path):
    with pytest.raises(DownloadError, match="404.*/missing.bin"):
        download_url(http_server.base + "/missing.bin", tmp_path / "m", "0" * 32)


def test_offline_download_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.setattr(CIFAR10, "url", f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz")
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10(download=True)
    message = str(info.value)
    assert "\n" not in message  # one line: what is missing, why, what to do
    assert str(tmp_path / "cache" / "cifar-10-batches-py") in message
    assert "python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA" in message
    assert "downloading cifar-10-python.tar.gz failed" in message and "Connection refused" in message
    assert f"copy cifar-10-python.tar.gz (or a good cifar-10-batches-py/ folder) into {tmp_path / 'cache'}/" in message


def test_mnist_download_tries_mirrors_and_checks_md5(http_server, md5, tmp_path, monkeypatch):
    import gzip
    import struct

    files = {}
    for stem, payload in [
        ("train-images-idx3-ubyte", bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 28, 28) + bytes(2 * 784)),
        ("train-labels-idx1-ubyte", bytes([0, 0, 8, 1]) + struct.pack(">I", 2) + bytes([4, 2])),
    ]:
        files[stem] = gzip.compress(payload)
        http_server.serve(f"/good/{stem}.gz", files[stem])
    monkeypatch.setattr(MNIST, "mirrors", (http_server.base + "/dead/", http_server.base + "/good/"))
    monkeypatch.setattr(MNIST, "resources", {**MNIST.resources, **{k: md5(v) for k, v in files.items()}})
    ds = MNIST(tmp_path, train=True, download=True)
    assert len(ds) == 2 and ds.targets.tolist() == [4, 2]
    assert (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()


def test_only_http_urls(tmp_path):
    with pytest.raises(DownloadError, match="only http"):
        download_url("file:///etc/passwd", tmp_path / "x", "0" * 32)


# ------------------------------------------------------------------ safe extraction

def malicious_tar(kind: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        ok = tarfile.TarInfo("cifar-10-batches-py/readme.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        if kind == "dotdot":
            bad = tarfile.TarInfo("cifar-10-batches-py/../../escaped.txt")
        elif kind == "absolute":
            bad = tarfile.TarInfo("/tmp/tinytorch-escaped.txt")
        elif kind == "symlink":
            bad = tarfile.TarInfo("cifar-10-batches-py/link")
            bad.type, bad.linkname = tarfile.SYMTYPE, "../../"
        elif kind == "hardlink":
            bad = tarfile.TarInfo("cifar-10-batches-py/hard")
            bad.type, bad.linkname = tarfile.LNKTYPE, "/etc/passwd"
        elif kind == "device":
            bad = tarfile.TarInfo("cifar-10-batches-py/dev")
            bad.type = tarfile.CHRTYPE
        else:
            raise ValueError(kind)
        if bad.type == tarfile.REGTYPE:
            bad.size = 4
            tar.addfile(bad, io.BytesIO(b"evil"))
        else:
            tar.addfile(bad)
    return buf.getvalue()


@pytest.mark.parametrize("kind,why", [
    ("dotdot", "'..'"), ("absolute", "absolute"), ("symlink", "symbolic link"),
    ("hardlink", "hard link"), ("device", "not a regular file"),
])
def test_malicious_archives_are_refused_before_writing_anything(tmp_path, kind, why):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(malicious_tar(kind))
    target = tmp_path / "a" / "b"
    with pytest.raises(UnsafeArchiveError, match=why):
        extract_tar(archive, target)
    assert list(target.iterdir()) == []  # not even the harmless member
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "a" / "escaped.txt").exists()


def test_cifar_download_of_a_malicious_archive_is_refused(http_server, md5, tmp_path, monkeypatch):
    body = malicious_tar("dotdot")
    monkeypatch.setattr(CIFAR10, "url", http_server.serve(ARCHIVE, body))
    monkeypatch.setattr(CIFAR10, "md5", md5(body))  # even with a "matching" checksum
    root = tmp_path / "x" / "data"
    with pytest.raises(UnsafeArchiveError, match="escaped.txt"):
        CIFAR10(root, download=True)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "x" / "escaped.txt").exists()


def test_extract_tar_writes_plain_files(tmp_path, fake_cifar):
    archive = tmp_path / "c.tar.gz"
    archive.write_bytes(fake_cifar.archive(tmp_path))
    tops = extract_tar(archive, tmp_path / "out")
    assert [p.name for p in tops] == ["cifar-10-batches-py"]
    assert sorted(p.name for p in tops[0].iterdir()) == sorted(
        ["batches.meta", "test_batch"] + [f"data_batch_{i}" for i in range(1, 6)])
