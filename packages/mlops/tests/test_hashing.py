"""SHA-256 of files and fingerprints of data sets."""

from __future__ import annotations

import hashlib

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops import fingerprint_data, sha256_file
from tinytorch.core.tensor import Tensor


def test_sha256_file_of_known_bytes(tmp_path):
    path = tmp_path / "abc"
    path.write_bytes(b"abc")
    # FIPS 180-2's test vector for "abc"
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_file_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


@settings(max_examples=25, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_sha256_file_chunked_reading_hashes_every_byte(tmp_path_factory, data, chunk):
    path = tmp_path_factory.mktemp("h") / "f"
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=chunk) == hashlib.sha256(data).hexdigest()


def test_sha256_file_one_flipped_bit_changes_the_hash(tmp_path):
    data = bytearray(np.random.default_rng(0).bytes(100_000))
    path = tmp_path / "f"
    path.write_bytes(bytes(data))
    before = sha256_file(path)
    data[54_321] ^= 1
    path.write_bytes(bytes(data))
    assert sha256_file(path) != before


def test_fingerprint_is_stable_and_sensitive():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype(np.float32)
    y = rng.integers(0, 3, size=50)
    base = fingerprint_data((x, y))
    assert len(base) == 64 and base == fingerprint_data((x.copy(), y.copy()))
    assert base == fingerprint_data([Tensor(x), y])  # a Tensor is its numbers
    changed = x.copy()
    changed[17, 1] += 1e-3
    assert fingerprint_data((changed, y)) != base
    assert fingerprint_data((x[::-1].copy(), y[::-1].copy())) != base  # order matters
    assert fingerprint_data((x.astype(np.float64), y)) != base        # dtype matters
    assert fingerprint_data((x.reshape(25, 6), y)) != base            # shape matters
    assert fingerprint_data((x, y)) != fingerprint_data(x)            # the labels count


def test_fingerprint_of_non_contiguous_views_hashes_the_values():
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    assert fingerprint_data(x[:, ::2]) == fingerprint_data(np.ascontiguousarray(x[:, ::2]))


def test_fingerprint_same_bytes_other_dtype_differ():
    a = np.zeros(4, dtype=np.int32)
    assert fingerprint_data(a) != fingerprint_data(a.view(np.float32))


def test_fingerprint_known_value():
    # written out by hand: dtype and shape header, then the raw bytes
    x = np.array([1, 2], dtype="<i4")
    expected = hashlib.sha256(b"<i4(2,);" + x.tobytes()).hexdigest()
    assert fingerprint_data(x) == expected
