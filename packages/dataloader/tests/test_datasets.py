"""Datasets: TensorDataset/Subset, the data root, IDX files (MNIST), CIFAR batches, the safe unpickler."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.dataloader import (
    CIFAR10,
    MNIST,
    DataLoader,
    DatasetNotFoundError,
    FashionMNIST,
    Subset,
    TensorDataset,
    ToTensor,
    UnsafePickleError,
    data_root,
    load_cifar_batch,
    load_restricted,
    parse_idx,
    random_split,
    read_idx,
    write_idx,
)
from tinytorch.core.tensor import Tensor

# ------------------------------------------------------------------ TensorDataset, Subset

def test_tensor_dataset_rows_and_batches():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = Tensor(np.arange(6) % 2)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    assert a.tolist() == [8.0, 9.0] and int(b) == 0
    xb, yb = ds.get_batch([5, 0, 3])
    assert xb.tolist() == [[10, 11], [0, 1], [6, 7]] and yb.tolist() == [1, 0, 1]
    with pytest.raises(IndexError, match="out of range"):
        ds.get_batch([6])


def test_tensor_dataset_length_mismatch_names_the_arguments():
    with pytest.raises(ValueError, match=r"argument 0: 5, argument 1: 4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(3))


def test_subset_and_random_split():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and int(sub[1][0]) == 20
    assert sub.get_batch([0, 2])[0].tolist() == [70, 50]
    assert DataLoader(sub, batch_size=2).uses_fast_path
    train, val = random_split(ds, [7, 3], seed=0)
    both = sorted([int(train[i][0]) for i in range(7)] + [int(val[i][0]) for i in range(3)])
    assert both == list(range(0, 100, 10))
    with pytest.raises(ValueError, match="sum"):
        random_split(ds, [5, 4])


def test_data_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "given") == tmp_path / "given"
    monkeypatch.delenv("TINYTORCH_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".cache" / "tinytorch"


# ------------------------------------------------------------------ IDX / MNIST

def idx_bytes(code: int, shape: tuple, payload: bytes) -> bytes:
    """An IDX file written by hand: 0, 0, dtype code, ndim, big-endian sizes, data."""
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">I", s) for s in shape) + payload


def test_parse_idx_by_hand():
    images = idx_bytes(0x08, (2, 2, 3), bytes(range(12)))
    out = parse_idx(images)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[1, 0].tolist() == [6, 7, 8]
    ints = parse_idx(idx_bytes(0x0C, (3,), struct.pack(">3i", 1, -2, 70000)))
    assert ints.tolist() == [1, -2, 70000] and ints.dtype.isnative
    floats = parse_idx(idx_bytes(0x0D, (2,), struct.pack(">2f", 1.5, -0.25)))
    assert floats.tolist() == [1.5, -0.25]
    shorts = parse_idx(idx_bytes(0x0B, (2,), struct.pack(">2h", -300, 5)))
    assert shorts.tolist() == [-300, 5]


def test_parse_idx_rejects_bad_files():
    with pytest.raises(ValueError, match="not an IDX file"):
        parse_idx(b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="unknown IDX dtype"):
        parse_idx(idx_bytes(0x07, (1,), b"\x00"))
    with pytest.raises(ValueError, match="truncated"):
        parse_idx(idx_bytes(0x08, (2, 3), bytes(5)))
    with pytest.raises(ValueError, match="truncated"):
        parse_idx(idx_bytes(0x08, (2,), bytes(3)))


def test_read_idx_gzipped_and_raw_files(tmp_path):
    payload = idx_bytes(0x08, (3, 2), bytes([9, 8, 7, 6, 5, 4]))
    (tmp_path / "raw-ubyte").write_bytes(payload)
    (tmp_path / "zipped-ubyte.gz").write_bytes(gzip.compress(payload))
    (tmp_path / "zipped-no-suffix").write_bytes(gzip.compress(payload))  # gzip by magic, not name
    for name in ("raw-ubyte", "zipped-ubyte.gz", "zipped-no-suffix"):
        assert read_idx(tmp_path / name).tolist() == [[9, 8], [7, 6], [5, 4]]


def test_write_idx_round_trip(tmp_path):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "a.gz", a)), a)
    assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "b", a.astype(np.uint8))), a.astype(np.uint8))


def write_mnist(folder: Path, prefix: str, n: int, gz: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    pack = gzip.compress if gz else (lambda b: b)
    (folder / f"{prefix}-images-idx3-ubyte{suffix}").write_bytes(
        pack(idx_bytes(0x08, (n, 28, 28), images.tobytes())))
    (folder / f"{prefix}-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(0x08, (n,), labels.tobytes())))
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files(tmp_path, gz):
    images, labels = write_mnist(tmp_path / "MNIST" / "raw", "train", 7, gz)
    test_images, test_labels = write_mnist(tmp_path / "MNIST" / "raw", "t10k", 3, gz, seed=1)
    ds = MNIST(tmp_path, train=True)
    assert ds.data.shape == (7, 28, 28) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, images)
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == labels.tolist()
    assert len(ds.classes) == 10 and ds.classes[3] == "3 - three"
    image, label = ds[2]
    assert label == int(labels[2]) and np.array_equal(image, images[2])
    test = MNIST(tmp_path, train=False, transform=ToTensor())
    x, y = next(iter(DataLoader(test, batch_size=3)))
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x.numpy()[:, 0], test_images / np.float32(255), rtol=1e-6)
    assert y.numpy().tolist() == test_labels.tolist()


def test_fashion_mnist_uses_its_own_folder_and_classes(tmp_path):
    write_mnist(tmp_path / "FashionMNIST", "t10k", 4, gz=True)  # directly in FashionMNIST/ works too
    ds = FashionMNIST(tmp_path, train=False)
    assert len(ds) == 4 and ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    with pytest.raises(DatasetNotFoundError):
        MNIST(tmp_path, train=False)


def test_mnist_mismatched_files_and_missing_files(tmp_path):
    folder = tmp_path / "MNIST" / "raw"
    write_mnist(folder, "train", 5, gz=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(0x08, (4,), bytes(4)))
    with pytest.raises(ValueError, match=r"\(5, 28, 28\).*\(4,\)"):
        MNIST(tmp_path)
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(tmp_path, train=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and str(folder) in message and "download=True" in message


# ------------------------------------------------------------------ CIFAR-10 batches

def test_cifar_batch_layout_from_the_official_format(tmp_path, fake_cifar):
    rows = fake_cifar.rows(4, 100)
    path = tmp_path / "data_batch_1"
    path.write_bytes(fake_cifar.pickle({b"batch_label": b"b", b"labels": [3, 1, 4, 1], b"data": rows,
                                        b"filenames": [b"a", b"b", b"c", b"d"]}))
    images, labels = load_cifar_batch(path)
    assert images.shape == (4, 3, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [3, 1, 4, 1]
    # a row is 1024 red, then 1024 green, then 1024 blue values, each plane row by row
    for i, c, y, x in [(0, 0, 0, 0), (1, 2, 5, 31), (3, 1, 31, 7), (2, 2, 17, 3)]:
        assert images[i, c, y, x] == (100 + i + 7 * c + 3 * y + x) % 256
        assert images[i, c, y, x] == rows[i, c * 1024 + y * 32 + x]


def test_cifar_batch_files_load_as_the_cifar10_dataset(cifar_root, fake_cifar):
    train = CIFAR10(cifar_root, train=True)
    n = 5 * fake_cifar.per_batch
    assert train.data.shape == (n, 3, 32, 32) and train.data.dtype == np.uint8
    assert train.targets.tolist() == [k % 10 for k in range(n)]  # batches concatenated in order
    np.testing.assert_array_equal(train.data.reshape(n, 3072), fake_cifar.rows(n, 0))
    assert train.classes == fake_cifar.classes
    assert train.class_to_idx["cat"] == 3
    test = CIFAR10(cifar_root, train=False)
    assert len(test) == 10 and test.targets.tolist() == list(range(9, -1, -1))
    image, label = test[0]
    assert image.shape == (3, 32, 32) and label == 9
    xb, yb = train.get_batch([13, 2])
    np.testing.assert_array_equal(xb, train.data[[13, 2]])
    assert yb.tolist() == [3, 2]
    # root may also be the batches folder itself
    assert len(CIFAR10(cifar_root / "cifar-10-batches-py", train=False)) == 10


def test_cifar_batches_pickled_by_python3_also_load(tmp_path):
    rows = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    for proto in (2, 3, 4, 5):
        path = tmp_path / f"batch_p{proto}"
        path.write_bytes(pickle.dumps({"data": rows, "labels": [1, 2]}, protocol=proto))
        images, labels = load_cifar_batch(path)
        np.testing.assert_array_equal(images.reshape(2, 3072), rows)
        assert labels.tolist() == [1, 2]


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_restricted_unpickler_refuses_code_and_objects(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _Evil(marker), "labels": []}, protocol=2))
    with pytest.raises(UnsafePickleError, match="posix.makedirs|os.makedirs"):
        load_cifar_batch(path)
    assert not marker.exists()
    objects = pickle.dumps({"data": np.array([1, "x"], dtype=object)}, protocol=2)
    with pytest.raises(UnsafePickleError, match="dtype"):
        load_restricted(io.BytesIO(objects))
    honest = pickle.dumps({"data": np.zeros((2, 4), np.uint8)}, protocol=3)
    assert load_restricted(io.BytesIO(honest))["data"].shape == (2, 4)
    lying = honest.replace(b"K\x02K\x04\x86", b"K\x03K\x04\x86")  # shape (3, 4), 8 bytes of data
    assert lying != honest
    with pytest.raises(UnsafePickleError, match="needs 12 bytes"):
        load_restricted(io.BytesIO(lying))


def test_cifar_batch_with_wrong_shape_is_refused(tmp_path, fake_cifar):
    path = tmp_path / "bad"
    path.write_bytes(fake_cifar.pickle({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ValueError, match=r"\(N, 3072\)"):
        load_cifar_batch(path)


def test_cifar10_not_found_says_where_and_how(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYTORCH_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        CIFAR10(tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in message
    assert "python ../shared/data/cifar10/make_cifar10.py $TINYTORCH_DATA" in message
    assert "download=True" in message and "CI does exactly that" in message
    assert isinstance(info.value, FileNotFoundError)


def test_is_official_compares_every_file_with_the_published_size_and_md5(cifar_root):
    from tinytorch.core.dataloader.download import md5sum

    folder = cifar_root / "cifar-10-batches-py"
    assert not CIFAR10(cifar_root, train=False).is_official()  # the fake copy is not official

    class Published(CIFAR10):
        # pretend the fake files are the published ones
        official_files = {p.name: (p.stat().st_size, md5sum(p)) for p in folder.iterdir()
                          if not p.name.startswith(".")}

    assert Published(cifar_root, train=False).is_official()
    data = bytearray((folder / "data_batch_3").read_bytes())
    data[-5] ^= 0xFF  # one changed pixel byte: same size, different md5
    (folder / "data_batch_3").write_bytes(bytes(data))
    assert not Published(cifar_root, train=False).is_official()
