"""Load and robustness probes for a model server, over raw sockets on loopback.

``capstone/benchmarks/serve_load.py`` runs them at full size against ``tito serve`` (and the
server it replaced), and ``tests/test_loadtest.py`` runs a quick form of each. Everything
here is bounded — every socket has a timeout, every probe a deadline — and speaks HTTP/1.1
by hand, so that the client costs little next to the server it measures and can do what
ordinary clients never do: open a thousand connections and say nothing, send headers one
byte at a time, announce a body and stop halfway.

* :func:`run_load` — ``clients`` threads, each on its own keep-alive connection, sending
  requests back to back for ``duration`` seconds; every answer checked;
* :func:`probe_idle_connections` — ``idle`` connections opened and left silent, then valid
  requests on new connections: do they still get an answer, and how fast?
* :func:`probe_trickle` — connections sending their headers one byte every ``interval``
  seconds: when does the server close them?
* :func:`probe_connection_cap` — more connections than the cap: is the next request answered
  503 at once (not left hanging)?
* :func:`probe_requests` — a list of crafted requests and the status each got;
* :func:`probe_memory` — concurrent large bodies while the server's resident memory (Linux
  ``/proc``) is sampled.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import numpy as np

__all__ = ["ServerProcess", "Response", "LoadResult", "build_request", "exchange",
           "read_response", "run_load",
           "probe_idle_connections", "probe_trickle", "probe_connection_cap",
           "probe_requests", "probe_memory", "read_metrics", "metric_sum", "process_rss",
           "process_tree", "tree_rss", "process_cpu_seconds", "raise_own_file_limit",
           "serve_command"]


def raise_own_file_limit(minimum: int) -> int:
    """Raise this process's open-file soft limit to at least ``minimum`` (up to the hard
    limit); returns the soft limit now in force."""
    try:
        import resource
    except ImportError:  # Windows
        return minimum
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < minimum:
        new = minimum if hard == resource.RLIM_INFINITY else min(minimum, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------- HTTP by hand
def build_request(method: str, path: str, body: bytes = b"", headers: dict | None = None,
                  content_length: int | None = None) -> bytes:
    """The bytes of an HTTP/1.1 request (``content_length`` may lie about the body)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    hdrs = {"Content-Type": "application/json"} if body else {}
    hdrs.update(headers or {})
    for key, value in hdrs.items():
        if value is not None:
            lines.append(f"{key}: {value}")
    if body or content_length is not None or method == "POST":
        if "Transfer-Encoding" not in hdrs:
            lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Response:
    """A parsed HTTP response (``status`` 0: none arrived)."""

    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    error: str = ""

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def read_response(sock: socket.socket, buf: bytearray) -> Response:
    """One response from ``sock`` (``buf`` holds bytes already received; what follows the
    response is left in it)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection without an answer")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        body += chunk
    buf[:] = body[length:]
    return Response(status, headers, bytes(body[:length]))


def exchange(host: str, port: int, data: bytes, timeout: float = 10.0,
             half_close: bool = False, pause_after: int | None = None) -> Response:
    """Send ``data`` on a new connection and read one response (status 0 and ``error`` when
    none came within ``timeout``). ``half_close``: shut the sending side after the data;
    ``pause_after``: send only that many bytes."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(data if pause_after is None else data[:pause_after])
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            resp = read_response(sock, bytearray())
    except (OSError, ConnectionError, ValueError) as err:
        return Response(0, seconds=time.perf_counter() - t0, error=f"{type(err).__name__}: {err}")
    resp.seconds = time.perf_counter() - t0
    return resp


def read_metrics(url: str, timeout: float = 30.0) -> dict:
    """``GET /metrics``, parsed: ``{(name, frozenset(labels)): value}``."""
    from .metrics import parse_metrics
    u = urlparse(url)
    if u.hostname is None or u.port is None:
        raise ValueError(f"read_metrics: {url!r} has no host and port; "
                         "pass one like http://127.0.0.1:8000")
    resp = exchange(u.hostname, u.port, build_request("GET", "/metrics"), timeout)
    if resp.status != 200:
        raise RuntimeError(f"GET /metrics answered {resp.status} {resp.error}")
    return parse_metrics(resp.body.decode())


def metric_sum(metrics: dict, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in metrics.items()
               if n == name and isinstance(ls, frozenset) and want <= ls)


# ---------------------------------------------------------------------------- a server
class ServerProcess:
    """``python -m tinytorch.core.mlops serve ...`` (or any command printing ``... on
    http://host:port`` on its first line) in a child process."""

    def __init__(self, args: list[str], env: dict | None = None, nofile: int | None = None,
                 timeout: float = 120.0) -> None:
        def limit() -> None:  # the child starts under this open-file soft limit
            if nofile is not None:
                import resource
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env={**os.environ, "PYTHONUNBUFFERED": "1",
                                                     **(env or {})},
                                     preexec_fn=limit if nofile is not None else None)
        self.lines: list[str] = []
        got = threading.Event()

        stdout = self.proc.stdout
        assert stdout is not None  # stdout=PIPE

        def reader() -> None:
            for line in iter(stdout.readline, ""):
                self.lines.append(line)
                got.set()
            got.set()

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self.lines and time.monotonic() < deadline and self.proc.poll() is None:
            got.wait(0.2)
        match = re.search(r" on (http://\S+)", self.lines[0]) if self.lines else None
        if not match:
            self.stop()
            raise RuntimeError("the server did not start: " + "".join(self.lines)[-2000:])
        self.url = match.group(1)
        u = urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        time.sleep(0.3)  # let it print the rest of its banner

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def process_rss(pid: int) -> tuple[int, int]:
    """(resident, peak resident) bytes of a process, from ``/proc`` (Linux)."""
    values = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                values[key] = int(value.split()[0]) * 1024
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc``), e.g. a server and its model process."""
    children: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss(pids: list[int]) -> int:
    """Resident bytes of these processes together (those that have exited count 0)."""
    total = 0
    for p in pids:
        try:
            total += process_rss(p)[0]
        except OSError:
            pass
    return total


def process_cpu_seconds(pid: int, tree: bool = False) -> float:
    """User + system CPU seconds a process (``tree``: and its descendants) has used (Linux)."""
    total = 0.0
    for p in (process_tree(pid) if tree else [pid]):
        try:
            with open(f"/proc/{p}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# ---------------------------------------------------------------------------- load
@dataclass
class LoadResult:
    """What :func:`run_load` measured."""

    ok: int = 0
    failed: int = 0
    wall: float = 0.0
    latencies: list = field(default_factory=list)   # seconds, the successful requests
    failures: list = field(default_factory=list)    # the first few, described

    @property
    def throughput(self) -> float:
        """Successful requests per second."""
        return self.ok / self.wall if self.wall else 0.0

    def summary(self) -> dict:
        """Counts, throughput and latency percentiles (milliseconds)."""
        lat = np.asarray(self.latencies) * 1000.0
        pct = np.percentile(lat, [50, 90, 99]) if lat.size else [float("nan")] * 3
        return {"ok": self.ok, "failed": self.failed, "wall_s": round(self.wall, 3),
                "requests_per_s": round(self.throughput, 1),
                "p50_ms": round(float(pct[0]), 2), "p90_ms": round(float(pct[1]), 2),
                "p99_ms": round(float(pct[2]), 2),
                "max_ms": round(float(lat.max()), 2) if lat.size else None,
                "failures": self.failures[:5]}


def run_load(host: str, port: int, bodies: list[bytes], clients: int, duration: float,
             check: Callable[[int, Response], str | None] | None = None,
             timeout: float = 60.0) -> LoadResult:
    """``clients`` threads, each on its own keep-alive connection, POST ``/predict`` the
    ``bodies`` in turn for ``duration`` seconds. ``check(index, response)`` returns what is
    wrong with an answer (None when it is right)."""
    requests = [build_request("POST", "/predict", b) for b in bodies]
    result = LoadResult()
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + duration
    finished = [start]

    def client(k: int) -> None:
        sock, buf = None, bytearray()
        lat, ok, failed, problems = [], 0, 0, []
        i = k * 7
        while time.perf_counter() < stop_at:
            index = i % len(requests)
            i += 1
            t0 = time.perf_counter()
            try:
                if sock is None:
                    sock = socket.create_connection((host, port), timeout=timeout)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buf = bytearray()
                sock.sendall(requests[index])
                resp = read_response(sock, buf)
            except (OSError, ConnectionError, ValueError) as err:
                failed += 1
                problems.append(f"client {k}: {type(err).__name__}: {err}")
                if sock is not None:
                    sock.close()
                sock = None
                continue
            t1 = time.perf_counter()
            problem = None if resp.status == 200 else f"HTTP {resp.status} {resp.body[:120]!r}"
            if problem is None and check is not None:
                problem = check(index, resp)
            if problem is None:
                ok += 1
                lat.append(t1 - t0)
            else:
                failed += 1
                problems.append(f"client {k}: {problem}")
            if resp.headers.get("connection", "").lower() == "close":
                sock.close()
                sock = None
        if sock is not None:
            sock.close()
        with lock:
            result.ok += ok
            result.failed += failed
            result.latencies.extend(lat)
            result.failures.extend(problems[:3])
            finished[0] = max(finished[0], time.perf_counter())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.wall = finished[0] - start
    return result


# ---------------------------------------------------------------------------- probes
def _readable(socks: list, timeout: float) -> list:
    """The sockets of ``socks`` with something to read (or EOF) within ``timeout`` seconds
    (a selector: ``select.select`` cannot watch descriptors above 1,023)."""
    if not socks:
        time.sleep(timeout)
        return []
    with selectors.DefaultSelector() as sel:
        for s in socks:
            sel.register(s, selectors.EVENT_READ)
        return [key.fileobj for key, _ in sel.select(timeout)]


def _still_open(sock: socket.socket) -> bool:
    """Whether the server has left a silent connection open (nothing to read, no EOF)."""
    try:
        if not _readable([sock], 0):
            return True
        return bool(sock.recv(1, socket.MSG_PEEK))
    except OSError:
        return False


def probe_idle_connections(host: str, port: int, idle: int, request: bytes,
                           requests: int = 20, within: float = 1.0,
                           give_up_after: int = 3) -> dict:
    """Open ``idle`` connections that send nothing; then send ``requests`` valid requests,
    one at a time, each on a new connection. How many got a 200 within ``within`` seconds?
    (Each waits at most ``2 × within``; after ``give_up_after`` failures in a row, stop.)"""
    raise_own_file_limit(idle + 256)
    socks: list[socket.socket] = []
    refused: Counter[str] = Counter()
    t0 = time.perf_counter()
    for _ in range(idle):
        try:
            socks.append(socket.create_connection((host, port), timeout=5))
        except OSError as err:
            refused[type(err).__name__] += 1
    opened_s = time.perf_counter() - t0
    time.sleep(0.2)
    answers = []
    misses = 0
    for _ in range(requests):
        resp = exchange(host, port, request, timeout=2 * within)
        answers.append(resp)
        good = resp.status == 200 and resp.seconds <= within
        misses = 0 if good else misses + 1
        if misses >= give_up_after:
            break
    still_open = sum(_still_open(s) for s in socks)
    for s in socks:
        s.close()
    seconds = [round(r.seconds, 4) for r in answers]
    return {"idle_connections": idle, "opened": len(socks), "refused": dict(refused),
            "open_s": round(opened_s, 2), "requests": len(answers),
            "ok_within": sum(r.status == 200 and r.seconds <= within for r in answers),
            "within_s": within, "statuses": dict(Counter(r.status for r in answers)),
            "max_s": max(seconds) if seconds else None,
            "median_s": float(np.median(seconds)) if seconds else None,
            "idle_still_open_after": still_open,
            "errors": sorted({r.error for r in answers if r.error})[:3]}


def probe_trickle(host: str, port: int, connections: int = 10, interval: float = 1.0,
                  limit: float = 30.0) -> dict:
    """``connections`` clients sending a request head one byte every ``interval`` seconds
    (it never ends). When did the server close each (within ``limit`` seconds)?"""
    head = (b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + b"".join(b"X-Slow-%d: %s\r\n" % (i, b"z" * 40) for i in range(200)))
    start = time.perf_counter()
    socks = {}
    for k in range(connections):
        s = socket.create_connection((host, port), timeout=5)
        s.setblocking(False)
        socks[s] = 0
    closed_after: list[float] = []
    statuses: Counter[str] = Counter()
    next_send = start
    while socks and time.perf_counter() - start < limit:
        now = time.perf_counter()
        if now >= next_send:
            for s, sent in list(socks.items()):
                try:
                    s.send(head[sent % len(head):sent % len(head) + 1])
                    socks[s] = sent + 1
                except OSError:
                    closed_after.append(round(time.perf_counter() - start, 3))
                    statuses["reset"] += 1
                    s.close()
                    del socks[s]
            next_send += interval
        readable = _readable(list(socks), max(0.0, min(0.05, next_send - now)))
        for s in readable:
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                match = re.match(rb"HTTP/1\.1 (\d{3})", data)
                statuses[match.group(1).decode() if match else "data"] += 1
            else:
                statuses["closed"] += 1
            closed_after.append(round(time.perf_counter() - start, 3))
            s.close()
            del socks[s]
    for s in socks:
        s.close()
    return {"connections": connections, "interval_s": interval, "limit_s": limit,
            "closed": len(closed_after), "still_open_at_limit": len(socks),
            "close_after_s": sorted(closed_after), "answers": dict(statuses)}


def probe_connection_cap(host: str, port: int, hold: int, request: bytes,
                         within: float = 1.0) -> dict:
    """Hold ``hold`` silent connections (more than the server's cap), then send a valid
    request: it should be answered 503 at once. Then let them go: 200 again."""
    raise_own_file_limit(hold + 256)
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(hold)]
    time.sleep(0.2)
    during = exchange(host, port, request, timeout=5 * within)
    for s in socks:
        s.close()
    time.sleep(0.5)
    after = exchange(host, port, request, timeout=5 * within)
    return {"held": hold, "status_during": during.status,
            "seconds_during": round(during.seconds, 4), "status_after": after.status,
            "seconds_after": round(after.seconds, 4), "error_during": during.error}


def probe_requests(host: str, port: int, cases: list[dict], timeout: float = 10.0) -> list:
    """Each case: ``{"name", "data" (bytes), "expect" (status), optional "half_close",
    "pause_after", "timeout"}`` → the same with ``got``, ``seconds``, ``reason``."""
    out = []
    for case in cases:
        resp = exchange(host, port, case["data"], case.get("timeout", timeout),
                        case.get("half_close", False), case.get("pause_after"))
        try:
            reason = resp.json().get("reason") if resp.body else None
        except (ValueError, AttributeError):
            reason = None
        out.append({"name": case["name"], "expect": case["expect"], "got": resp.status,
                    "seconds": round(resp.seconds, 4), "reason": reason,
                    "error": resp.error or None})
    return out


def probe_memory(host: str, port: int, pid: int, body: bytes, concurrent: int,
                 timeout: float = 120.0) -> dict:
    """``concurrent`` clients POST ``body`` to ``/predict`` at once while the resident memory
    of the server and its child processes (a model process), together, is sampled every 10 ms:
    baseline, peak, and the statuses."""
    pids = process_tree(pid)
    rss0 = tree_rss(pids)
    peak = [rss0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss(pids))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    request = build_request("POST", "/predict", body)
    results: list = [None] * concurrent
    go = threading.Barrier(concurrent)

    def client(k: int) -> None:
        go.wait()
        results[k] = exchange(host, port, request, timeout)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrent)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    time.sleep(0.2)
    stop.set()
    sampler.join()
    rss1 = tree_rss(pids)
    return {"concurrent": concurrent, "body_bytes": len(body), "wall_s": round(wall, 3),
            "processes": len(pids),
            "statuses": dict(Counter(r.status for r in results)),
            "rss_before_mb": round(rss0 / 2**20, 1), "rss_peak_mb": round(peak[0] / 2**20, 1),
            "rss_after_mb": round(rss1 / 2**20, 1),
            "peak_growth_mb": round((peak[0] - rss0) / 2**20, 1),
            "errors": sorted({r.error for r in results if r.error})[:3]}


def serve_command(model: str, registry: str, *options: str) -> list[str]:
    """The command line of ``tito serve`` without tito (``python -m tinytorch.core.mlops``)."""
    return [sys.executable, "-m", "tinytorch.core.mlops", "serve", model, "--registry",
            registry, "--port", "0", *options]
