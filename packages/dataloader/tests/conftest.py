"""Shared fixtures: tiny datasets written in the official file formats, and a local HTTP server.

Helpers are handed out as fixtures (tests import nothing from this folder), so the tests run the
same from the source tree and from the installed wheel.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
FAKE_PER_BATCH = 12  # images in each fake training batch; the fake test batch has 10


# --------------------------------------------------------------------------------------------
# CIFAR-10 batches, pickled the way the official (Python 2) files are
# --------------------------------------------------------------------------------------------

class _Py2PickleWriter:
    """Emits protocol-2 opcodes by hand, with byte strings as Python 2 ``str`` (SHORT_BINSTRING /
    BINSTRING) and the array as ``numpy.core.multiarray._reconstruct`` + ``BUILD`` — the exact
    shape of the official ``data_batch_*`` files."""

    def __init__(self) -> None:
        self.out = io.BytesIO()

    def w(self, b: bytes) -> None:
        self.out.write(b)

    def int_(self, v: int) -> None:
        if 0 <= v < 256:
            self.w(b"K" + bytes([v]))  # BININT1
        elif 0 <= v < 65536:
            self.w(b"M" + struct.pack("<H", v))  # BININT2
        else:
            self.w(b"J" + struct.pack("<i", v))  # BININT

    def str_(self, s: bytes) -> None:
        if len(s) < 256:
            self.w(b"U" + bytes([len(s)]) + s)  # SHORT_BINSTRING
        else:
            self.w(b"T" + struct.pack("<i", len(s)) + s)  # BINSTRING

    def value(self, v) -> None:
        if isinstance(v, bytes):
            self.str_(v)
        elif isinstance(v, bool) or v is None:
            self.w({True: b"\x88", False: b"\x89", None: b"N"}[v])
        elif isinstance(v, int):
            self.int_(v)
        elif isinstance(v, list):
            self.w(b"]")  # EMPTY_LIST
            if v:
                self.w(b"(")  # MARK
                for item in v:
                    self.value(item)
                self.w(b"e")  # APPENDS
        elif isinstance(v, dict):
            self.w(b"}(")  # EMPTY_DICT, MARK
            for k, item in v.items():
                self.value(k)
                self.value(item)
            self.w(b"u")  # SETITEMS
        elif isinstance(v, np.ndarray):
            self.array(v)
        else:
            raise TypeError(type(v))

    def array(self, a: np.ndarray) -> None:
        assert a.dtype == np.uint8
        self.w(b"cnumpy.core.multiarray\n_reconstruct\n")
        self.w(b"cnumpy\nndarray\n")
        self.int_(0)
        self.w(b"\x85")  # TUPLE1 -> (0,)
        self.str_(b"b")
        self.w(b"\x87R")  # TUPLE3, REDUCE -> _reconstruct(ndarray, (0,), 'b')
        self.w(b"(")  # MARK: the state tuple
        self.int_(1)
        for s in a.shape:
            self.int_(s)
        self.w({1: b"\x85", 2: b"\x86", 3: b"\x87"}[a.ndim])
        self.w(b"cnumpy\ndtype\n")
        self.str_(b"u1")
        self.int_(0)
        self.int_(1)
        self.w(b"\x87R")  # dtype('u1', 0, 1)
        self.w(b"(")
        self.int_(3)
        self.str_(b"|")
        self.w(b"NNN")
        self.w(b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1))
        self.int_(0)
        self.w(b"tb")  # TUPLE, BUILD -> the dtype's state
        self.w(b"\x89")  # NEWFALSE: not Fortran order
        self.str_(np.ascontiguousarray(a).tobytes())
        self.w(b"tb")  # TUPLE, BUILD -> the array's state

    def dumps(self, obj) -> bytes:
        self.w(b"\x80\x02")  # PROTO 2
        self.value(obj)
        self.w(b".")  # STOP
        return self.out.getvalue()


def py2_pickle(obj) -> bytes:
    return _Py2PickleWriter().dumps(obj)


def fake_cifar_rows(n: int, start: int) -> np.ndarray:
    """(n, 3072) uint8 rows whose pixel (c, y, x) of image i is (start + i + 7c + 3y + x) % 256."""
    i = np.arange(start, start + n)[:, None, None, None]
    c = np.arange(3)[None, :, None, None]
    y = np.arange(32)[None, None, :, None]
    x = np.arange(32)[None, None, None, :]
    return ((i + 7 * c + 3 * y + x) % 256).astype(np.uint8).reshape(n, 3072)


def write_fake_cifar(root: Path, folder_name: str = "cifar-10-batches-py") -> Path:
    """A tiny CIFAR-10 in the official layout: 5 x 12 training images, 10 test images."""
    folder = Path(root) / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    for b in range(5):
        start = b * FAKE_PER_BATCH
        rows = fake_cifar_rows(FAKE_PER_BATCH, start)
        labels = [(start + k) % 10 for k in range(FAKE_PER_BATCH)]
        batch = {b"batch_label": f"training batch {b + 1} of 5".encode(), b"labels": labels,
                 b"data": rows, b"filenames": [f"img_{start + k}.png".encode() for k in range(FAKE_PER_BATCH)]}
        (folder / f"data_batch_{b + 1}").write_bytes(py2_pickle(batch))
    test = {b"batch_label": b"testing batch 1 of 1", b"labels": [9 - k for k in range(10)],
            b"data": fake_cifar_rows(10, 1000), b"filenames": [f"t_{k}.png".encode() for k in range(10)]}
    (folder / "test_batch").write_bytes(py2_pickle(test))
    meta = {b"num_cases_per_batch": FAKE_PER_BATCH, b"label_names": [c.encode() for c in CLASSES],
            b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(py2_pickle(meta))
    return folder


def tar_gz_of_folder(folder: Path, arcname: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return buf.getvalue()


@pytest.fixture
def fake_cifar():
    """Namespace of CIFAR helpers: write(root), rows(n, start), py2_pickle(obj), archive(tmp)."""
    class H:
        per_batch = FAKE_PER_BATCH
        classes = CLASSES
        write = staticmethod(write_fake_cifar)
        rows = staticmethod(fake_cifar_rows)
        pickle = staticmethod(py2_pickle)

        @staticmethod
        def archive(tmp: Path) -> bytes:
            """cifar-10-python.tar.gz bytes (cifar-10-batches-py/ inside), built from a fake copy."""
            src = write_fake_cifar(Path(tmp) / "archive-src")
            return tar_gz_of_folder(src, "cifar-10-batches-py")
    return H


@pytest.fixture
def cifar_root(tmp_path):
    """A data root holding the tiny fake CIFAR-10."""
    write_fake_cifar(tmp_path)
    return tmp_path


# --------------------------------------------------------------------------------------------
# A local HTTP server (127.0.0.1) with Range support and fault injection
# --------------------------------------------------------------------------------------------

class _Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.bytes_sent = 0
        self.cut_after: dict[str, int] = {}   # path -> cut the next response after this many bytes
        self.ignore_range = False
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                with server.lock:
                    server.requests.append((self.path, rng))
                    cut = server.cut_after.pop(self.path, None)
                body = server.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    return
                start = 0
                if rng and not server.ignore_range:
                    start = int(rng.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.send_header("Connection", "close")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                payload = body[start:]
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                if cut is not None:
                    payload = payload[:cut]
                with server.lock:  # counted before writing: the client may finish first
                    server.bytes_sent += len(payload)
                self.wfile.write(payload)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.base + path

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def http_server():
    server = _Server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def md5():
    return lambda data: hashlib.md5(data).hexdigest()
