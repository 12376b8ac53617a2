"""Benchmark: the course's small CIFAR-10 CNN served over HTTP, under concurrent clients.

    python capstone/benchmarks/serve_load.py [--clients 8] [--requests 100] [--batch 1]

What it does, in order:
1. builds ``small_cnn()`` (tinytorch.core.training.cifar10; 0.3 M parameters) and registers it
   in a temporary registry with a reference sample (so drift monitoring runs as it would in
   production), or serves ``--model NAME[:REF] --registry DIR`` if given;
2. starts ``python -m tinytorch.core.mlops serve`` — the same server as ``tito serve`` — in a
   separate process on 127.0.0.1 (port 0), so the clients do not share its interpreter;
3. pre-encodes the request bodies (real CIFAR-shaped inputs as JSON, ~60 kB per image), warms
   up, then runs ``--clients`` client threads, each sending ``--requests`` POST /predict
   requests back to back on its own keep-alive connection (``--new-connections``: a new TCP
   connection per request, as urllib does);
4. reports client-side latency percentiles (p50/p90/p99), requests and images per second,
   checks every answer (status 200, one prediction per image) and that the server's own
   ``/metrics`` count equals the number of requests the clients made; prints the machine's
   load average before and after (the numbers mean little on a busy machine without it).

This is a benchmark, not a test: it asserts nothing about speed. Latency here is the whole
round trip — JSON encoding, HTTP, parsing and validating ~3,000 numbers per image, the
forward pass (one at a time: the server serialises model calls), the response.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import numpy as np

from tinytorch.core.mlops import ModelRegistry, parse_metrics
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training.cifar10 import CIFAR10_MEAN, CIFAR10_STD, small_cnn


def cifar_like(n: int, seed: int) -> np.ndarray:
    """Normalised CIFAR-shaped images (uniform pixels through the course's normalisation)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 3, 32, 32)).astype(np.float32) / 255.0
    mean = np.array(CIFAR10_MEAN, np.float32)[:, None, None]
    std = np.array(CIFAR10_STD, np.float32)[:, None, None]
    return ((pixels - mean) / std).astype(np.float32)


def start_server(model: str, registry: str, monitor: bool) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "tinytorch.core.mlops", "serve", model, "--registry", registry,
           "--port", "0"]
    if not monitor:
        cmd.append("--no-monitor")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = proc.stdout.readline()
    match = re.search(r"on (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line}{proc.stdout.read()}")
    return proc, match.group(1)


class Client:
    """One client: a keep-alive connection (or a new one per request)."""

    def __init__(self, url: str, new_connections: bool) -> None:
        parsed = urlparse(url)
        self.host, self.port = parsed.hostname, parsed.port
        self.new = new_connections
        self.conn = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        if self.conn is None or self.new:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
        headers = {"Content-Type": "application/json"}
        if self.new:
            headers["Connection"] = "close"
        self.conn.request("POST", "/predict", body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return resp.status, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (8)")
    parser.add_argument("--requests", type=int, default=200, help="requests per client (200)")
    parser.add_argument("--batch", type=int, default=1, help="images per request (1)")
    parser.add_argument("--warmup", type=int, default=20, help="requests before timing (20)")
    parser.add_argument("--new-connections", action="store_true",
                        help="a new TCP connection per request instead of keep-alive")
    parser.add_argument("--no-monitor", action="store_true", help="serve without drift monitoring")
    parser.add_argument("--model", default=None,
                        help="serve this registered model (NAME[:VERSION|STAGE]) instead")
    parser.add_argument("--registry", default=None, help="the registry of --model")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="serve-load-")
    if args.model:
        model_spec, registry = args.model, args.registry or "runs/registry"
    else:
        manual_seed(0)
        model = small_cnn()
        registry = os.path.join(tmp.name, "registry")
        ModelRegistry(registry).register(
            "small-cnn", model, data=cifar_like(2000, seed=0), reference_size=1000,
            classes=["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck"], description="serve_load.py: random weights")
        model_spec = "small-cnn"

    load_before = os.getloadavg()
    proc, url = start_server(model_spec, registry, monitor=not args.no_monitor)
    try:
        n_bodies = 64
        images = cifar_like(n_bodies * args.batch, seed=1).reshape(n_bodies, args.batch, 3, 32, 32)
        bodies = [json.dumps({"inputs": b.tolist()}).encode() for b in images]
        print(f"serving {model_spec} at {url}; {args.clients} clients × {args.requests} requests "
              f"of {args.batch} image(s) ({len(bodies[0]) / 1024:.0f} kB of JSON each), "
              f"{'new connection per request' if args.new_connections else 'keep-alive'}, "
              f"drift monitoring {'off' if args.no_monitor else 'on'}", flush=True)

        warm = Client(url, args.new_connections)
        for i in range(args.warmup):
            status, _ = warm.post(bodies[i % n_bodies])
            assert status == 200, status

        latencies: list[list[float]] = [[] for _ in range(args.clients)]
        failures: list[str] = []
        lock = threading.Lock()

        def run(k: int) -> None:
            client = Client(url, args.new_connections)
            for i in range(args.requests):
                body = bodies[(k * 7 + i) % n_bodies]
                t0 = time.perf_counter()
                try:
                    status, data = client.post(body)
                except OSError as err:
                    with lock:
                        failures.append(f"client {k}: {err!r}")
                    client.conn = None
                    continue
                latencies[k].append(time.perf_counter() - t0)
                if status != 200 or len(json.loads(data)["predictions"]) != args.batch:
                    with lock:
                        failures.append(f"client {k}: HTTP {status} {data[:200]!r}")

        cpu0, wall0 = os.times(), time.perf_counter()
        with ThreadPoolExecutor(args.clients) as ex:
            list(ex.map(run, range(args.clients)))
        wall = time.perf_counter() - wall0
        all_lat = np.array([x for per in latencies for x in per]) * 1000.0
        made = args.warmup + sum(len(per) for per in latencies) + len(failures)

        from urllib.request import urlopen
        metrics = parse_metrics(urlopen(url + "/metrics", timeout=60).read().decode())
        served = sum(v for (name, labels), v in metrics.items()
                     if name == "tinytorch_requests_total" and ("endpoint", "/predict") in labels)
        load_after = os.getloadavg()

        ok = len(all_lat)
        print(f"machine: {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
              f"{load_after[0]:.1f} after (1-minute)")
        print(f"requests: {ok} ok, {len(failures)} failed; server counted {served:.0f} of the "
              f"{made} made (warm-up included){'' if served == made else '  <-- MISMATCH'}")
        if ok:
            p50, p90, p99 = np.percentile(all_lat, [50, 90, 99])
            print(f"latency (ms, client round trip): p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  "
                  f"max {all_lat.max():.1f}")
            print(f"throughput: {ok / wall:.1f} requests/s, {ok * args.batch / wall:.1f} images/s "
                  f"over {wall:.1f} s")
        print(f"client process CPU: {os.times().user - cpu0.user + os.times().system - cpu0.system:.1f} s")
        for f in failures[:5]:
            print("  " + f)
        return 0 if not failures and served == made else 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        tmp.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
