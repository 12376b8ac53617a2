"""Benchmark: ``tito serve`` under load and under abuse, side by side with the server it replaced.

    python capstone/benchmarks/serve_load.py            # the full run (~10 min); writes
                                                        # capstone/benchmarks/results/serve_load.json
    python capstone/benchmarks/serve_load.py --quick    # every part, small (~2 min); no file
                                                        # unless --out is given

The model is the course's small CIFAR-10 CNN (``small_cnn()``, random weights), registered
with a reference sample so drift monitoring runs as in production; a request is one CIFAR
image as JSON (62 kB). Every server runs in its own process (``python -m tinytorch.core.mlops
serve``, i.e. ``tito serve``) on 127.0.0.1, started under the usual open-file soft limit of
1,024; the clients are threads of this process speaking HTTP/1.1 over raw sockets
(:mod:`tinytorch.core.mlops.loadtest`). Contenders:

* ``uvicorn`` — ``tito serve`` as it is now: uvicorn, dynamic batching (32 samples, 5 ms), the
  model in a process of its own;
* ``uvicorn-1process`` — the same with ``--no-model-process`` (what the second process buys);
* ``uvicorn-nobatch`` — the same with ``--max-batch 1`` (what batching buys);
* ``old-stdlib`` — the server ``tito serve`` ran before (ThreadingHTTPServer, one thread per
  connection), taken from git (``--baseline``, the commit before this work) with
  ``git archive`` and put first on PYTHONPATH; the rest of the framework is the same (one
  module the old code imports has moved since: ``OLD_SHIM`` points the old name at it).

Parts:

1. **Throughput**: ``--clients`` keep-alive clients × ``--duration`` s against each contender,
   interleaved over ``--rounds`` rounds with a pause between runs (so the machine's background
   load falls on all of them alike); every answer is checked against the model's own
   prediction, and the server's ``/metrics`` count against the requests made. Reports
   requests/s, latency percentiles, server (with its model process) and client CPU seconds,
   load average.
2. **Probes**, against ``uvicorn`` and ``old-stdlib``: 1,100 idle connections then valid
   requests (200 within 1 s?); connections trickling their headers one byte a second (closed
   within the header deadline?); each client error (status, and no 500 / no ``internal`` in
   ``/metrics``); 12 (and 24) concurrent 7.9 MiB bodies while the server's RSS (with its
   model process) is sampled.
3. **Connection cap** (``uvicorn``, ``--max-connections 100``): 110 silent connections, then a
   request: 503 at once.

Nothing here asserts a speed: the numbers go to the results file, and the README quotes them
from there. Timings on a shared 2-core machine move with its load: the load average is
recorded before and after every run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import io
import tempfile
import time
from pathlib import Path

import numpy as np

from tinytorch.core.dense import MLP
from tinytorch.core.mlops import ModelRegistry, Predictor
from tinytorch.core.mlops.loadtest import (ServerProcess, build_request, exchange, metric_sum,
                                           probe_connection_cap, probe_idle_connections,
                                           probe_memory, probe_requests, probe_trickle,
                                           process_cpu_seconds, raise_own_file_limit,
                                           read_metrics, run_load, serve_command)
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training.cifar10 import CIFAR10_MEAN, CIFAR10_STD, small_cnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import write_block

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(__file__).parent / "results" / "serve_load.json"
RESULTS_MLP = Path(__file__).parent / "results" / "serve_load_mlp.json"
BLOCKS = {RESULTS: "serve_load", RESULTS_MLP: "serve_load_mlp"}  # README block per results file
README = REPO / "packages" / "mlops" / "README.md"
BASELINE = "bc0ec5f"  # the last commit whose `tito serve` was the ThreadingHTTPServer
# The old server imports the kernels' thread settings from tinytorch.core.spatial.parallel,
# which has since moved, unchanged, to tinytorch.core.tensor.runtime: point the old name at
# the new module, then run the old `python -m tinytorch.core.mlops`. Only mlops is old; the
# framework under both servers is the same.
OLD_SHIM = """
import runpy, sys
try:
    import tinytorch.core.spatial.parallel
except ImportError:
    import tinytorch.core.tensor.runtime as runtime
    sys.modules["tinytorch.core.spatial.parallel"] = runtime
sys.argv[0] = "tinytorch.core.mlops"
runpy.run_module("tinytorch.core.mlops", run_name="__main__", alter_sys=True)
"""
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck"]


def cifar_like(n: int, seed: int) -> np.ndarray:
    """Normalised CIFAR-shaped images (uniform pixels through the course's normalisation)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(n, 3, 32, 32)).astype(np.float32) / 255.0
    mean = np.array(CIFAR10_MEAN, np.float32)[:, None, None]
    std = np.array(CIFAR10_STD, np.float32)[:, None, None]
    return ((pixels - mean) / std).astype(np.float32)


def flat_like(n: int, seed: int) -> np.ndarray:
    """Flattened 28×28 images (784 uniform pixels in [0, 1)) for the MLP workload."""
    return np.random.default_rng(seed).random((n, 784), dtype=np.float32)


def old_server_path(ref: str, into: Path) -> Path:
    """The mlops sources of commit ``ref``, extracted under ``into``; their ``src`` folder."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", ref, "packages/mlops/src"],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into)
    return into / "packages" / "mlops" / "src"


class Contenders:
    """How to start each server."""

    def __init__(self, registry: str, old_src: Path | None) -> None:
        self.registry = registry
        self.old_src = old_src

    def start(self, name: str, *options: str) -> ServerProcess:
        if name == "uvicorn":
            return ServerProcess(serve_command("small-cnn", self.registry, *options), nofile=1024)
        if name == "uvicorn-nobatch":
            return ServerProcess(serve_command("small-cnn", self.registry, "--max-batch", "1",
                                               *options), nofile=1024)
        if name == "uvicorn-1process":
            return ServerProcess(serve_command("small-cnn", self.registry, "--no-model-process",
                                               *options), nofile=1024)
        if name == "old-stdlib":
            env = {"PYTHONPATH": os.pathsep.join([str(self.old_src)] + [
                p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
            command = serve_command("small-cnn", self.registry, *options)
            command[1:3] = ["-c", OLD_SHIM]  # instead of -m tinytorch.core.mlops
            server = ServerProcess(command, env=env, nofile=1024)
            health = exchange(server.host, server.port, build_request("GET", "/health")).json()
            if "engine" in health:
                server.stop()
                raise SystemExit("the baseline server is not the old one (PYTHONPATH shadowing "
                                 "failed)")
            return server
        raise ValueError(name)


def loadavg() -> list:
    return [round(x, 2) for x in os.getloadavg()]


def throughput(contenders: Contenders, names: list, args: argparse.Namespace,
               bodies: list, check) -> dict:
    runs = []
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
        for name in order:
            time.sleep(args.pause)
            server = contenders.start(name)
            try:
                warm = run_load(server.host, server.port, bodies, args.clients, args.warmup, check)
                load0, cpu0 = loadavg(), process_cpu_seconds(server.pid, tree=True)
                client0 = os.times()
                res = run_load(server.host, server.port, bodies, args.clients, args.duration,
                               check)
                client1 = os.times()
                cpu1, load1 = process_cpu_seconds(server.pid, tree=True), loadavg()
                metrics = read_metrics(server.url)
                counted = metric_sum(metrics, "tinytorch_requests_total", endpoint="/predict")
                made = res.ok + res.failed + warm.ok + warm.failed
                run = {"contender": name, "round": r + 1, **res.summary(),
                       "server_cpu_s": round(cpu1 - cpu0, 2),
                       "server_cpu_ms_per_request": round((cpu1 - cpu0) / max(1, res.ok) * 1000,
                                                          3),
                       "client_cpu_s": round(client1.user + client1.system - client0.user
                                             - client0.system, 2),
                       "server_counted": int(counted), "requests_made": made,
                       "forward_passes": int(metric_sum(metrics,
                                                        "tinytorch_forward_passes_total")) or None,
                       "load_average_before": load0, "load_average_after": load1}
            finally:
                server.stop()
            runs.append(run)
            print(f"  round {r + 1} {name:16s} {run['requests_per_s']:7.1f} req/s  p50 "
                  f"{run['p50_ms']:6.1f}  p99 {run['p99_ms']:6.1f} ms  server CPU "
                  f"{run['server_cpu_ms_per_request']:.2f} ms/request  failed {run['failed']}  "
                  f"counted {run['server_counted']}/{made}  load {load1[0]}", flush=True)
    summary = {}
    for name in names:
        mine = [x for x in runs if x["contender"] == name]
        summary[name] = {k: float(np.median([x[k] for x in mine]))
                         for k in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms",
                                   "server_cpu_ms_per_request")}
    return {"clients": args.clients, "duration_s": args.duration, "warmup_s": args.warmup,
            "rounds": args.rounds, "pause_s": args.pause, "runs": runs, "median": summary}


def client_error_cases(server: ServerProcess, image: np.ndarray, big: bytes) -> list:
    """The crafted requests, for one server: (cases, follow-ups checked after)."""
    good = json.dumps({"inputs": image[None].tolist()}).encode()
    huge_int = re.sub(rb"-?\d+\.\d+(e-?\d+)?", b"9" * 5000, good, count=1)
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    nan = re.sub(rb"-?\d+\.\d+(e-?\d+)?", b"NaN", good, count=1)
    post = lambda body, **kw: build_request("POST", "/predict", body, **kw)  # noqa: E731
    cases = [
        {"name": "5,000-digit integer in inputs", "data": post(huge_int), "expect": 422},
        {"name": "JSON nested 100,000 deep", "data": post(deep), "expect": 400},
        {"name": "NaN in inputs", "data": post(nan), "expect": 422},
        {"name": "wrong sample shape", "data": post(b'{"inputs": [[1, 2, 3]]}'), "expect": 422},
        {"name": "malformed JSON", "data": post(b'{"inputs": [[1, 2'), "expect": 400},
        {"name": "Content-Type text/plain", "data": post(good, headers={"Content-Type":
                                                                          "text/plain"}),
         "expect": 415},
        {"name": "Content-Type image/png", "data": post(good, headers={"Content-Type":
                                                                         "image/png"}),
         "expect": 415},
        {"name": "body shorter than Content-Length, client half-closes",
         "data": post(good, content_length=len(good) + 100), "half_close": True,
         "expect": 400, "timeout": 40},
        {"name": "body shorter than Content-Length, client waits",
         "data": post(good, content_length=len(good) + 100), "expect": 408, "timeout": 40},
        {"name": "body over the 8 MiB limit (Content-Length, sent in full)",
         "data": post(big + b" " * (8 * 2**20 + 1 - len(big))), "expect": 413},
        {"name": "body over the limit, chunked (no Content-Length)",
         "data": build_request("POST", "/predict", headers={"Transfer-Encoding": "chunked"})
         + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in [b"[" * 65536] * 130) + b"0\r\n\r\n",
         "expect": 413},
        {"name": "unknown path", "data": build_request("GET", "/nowhere"), "expect": 404},
        {"name": "wrong method", "data": build_request("GET", "/predict"), "expect": 405},
    ]
    return cases


def feedback_cases(server: ServerProcess, image: np.ndarray) -> list:
    """/feedback: `labels: 5` (and is the prediction id still usable after?), label 999."""
    good = json.dumps({"inputs": image[None].tolist()}).encode()
    out = []
    pid = exchange(server.host, server.port, build_request("POST", "/predict", good)).json()["id"]
    bad = exchange(server.host, server.port, build_request(
        "POST", "/feedback", json.dumps({"id": pid, "labels": 5}).encode()))
    out.append({"name": "/feedback labels: 5 (not a list)", "expect": 422, "got": bad.status})
    again = exchange(server.host, server.port, build_request(
        "POST", "/feedback", json.dumps({"id": pid, "labels": [3]}).encode()))
    out.append({"name": "/feedback with the same id after the refused one", "expect": 200,
                "got": again.status})
    pid = exchange(server.host, server.port, build_request("POST", "/predict", good)).json()["id"]
    wrong = exchange(server.host, server.port, build_request(
        "POST", "/feedback", json.dumps({"id": pid, "labels": [999]}).encode()))
    out.append({"name": "/feedback label 999 on a 10-class model", "expect": 422,
                "got": wrong.status})
    return out


def probes(contenders: Contenders, name: str, args: argparse.Namespace, images: np.ndarray,
           big: bytes) -> dict:
    out: dict = {}
    good = build_request("POST", "/predict", json.dumps({"inputs": images[:1].tolist()}).encode())
    server = contenders.start(name)
    try:
        t0 = time.perf_counter()
        out["idle"] = probe_idle_connections(server.host, server.port, args.idle, good,
                                             requests=args.idle_requests, within=1.0)
        out["idle"]["wall_s"] = round(time.perf_counter() - t0, 2)
        print(f"  {name}: {args.idle} idle connections: {out['idle']['ok_within']}/"
              f"{out['idle']['requests']} requests answered 200 within 1 s (max "
              f"{out['idle']['max_s']} s)", flush=True)
        time.sleep(1.0)
        t0 = time.perf_counter()
        out["trickle"] = probe_trickle(server.host, server.port, args.trickle, 1.0,
                                       args.trickle_limit)
        out["trickle"]["wall_s"] = round(time.perf_counter() - t0, 2)
        print(f"  {name}: {args.trickle} trickling connections: {out['trickle']['closed']} closed, "
              f"after {out['trickle']['close_after_s'][:1]}..{out['trickle']['close_after_s'][-1:]}"
              f" s", flush=True)
        t0 = time.perf_counter()
        cases = probe_requests(server.host, server.port,
                               client_error_cases(server, images[0], big))
        cases += feedback_cases(server, images[0])
        metrics = read_metrics(server.url)
        out["client_errors"] = {
            "cases": cases,
            "as_expected": sum(c["got"] == c["expect"] for c in cases), "total": len(cases),
            "answered_500": int(metric_sum(metrics, "tinytorch_requests_total", status="500")),
            "internal_errors_in_metrics": int(metric_sum(metrics,
                                                         "tinytorch_request_errors_total",
                                                         reason="internal")),
            "wall_s": round(time.perf_counter() - t0, 2)}
        print(f"  {name}: client errors: {out['client_errors']['as_expected']}/{len(cases)} got "
              f"the expected status; /metrics counts {out['client_errors']['answered_500']} "
              f"answers 500", flush=True)
        for c in cases:
            if c["got"] != c["expect"]:
                print(f"      {c['name']}: expected {c['expect']}, got {c['got']}", flush=True)
        memory = []
        for n in args.memory_concurrency:
            time.sleep(1.0)
            m = probe_memory(server.host, server.port, server.pid, big, n)
            memory.append(m)
            print(f"  {name}: {n} concurrent {len(big) / 2**20:.1f} MiB bodies: RSS "
                  f"{m['rss_before_mb']} -> peak {m['rss_peak_mb']} MB, statuses "
                  f"{m['statuses']}, {m['wall_s']} s", flush=True)
        out["memory"] = memory
    finally:
        server.stop()
    return out


def costs(predictor: Predictor, images: np.ndarray, body: bytes, repeat: int = 30,
          input_shape: tuple = (3, 32, 32)) -> dict:
    """In this process, one thread: the forward pass per image at a few batch sizes, and the
    decoding of one image's JSON by the standard library, by orjson (medians, ms)."""
    from tinytorch.core.mlops import parse_predict_request
    from tinytorch.core.mlops.service import ModelService

    def median_ms(fn, n):
        fn()
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times)) * 1000.0

    out = {"forward_ms_per_image": {}}
    for b in (1, 4, 16, 32):
        x = np.ascontiguousarray(np.resize(images, (b, *input_shape)))
        out["forward_ms_per_image"][str(b)] = round(median_ms(lambda: predictor.predict(x),
                                                              repeat) / b, 3)
    service = ModelService(predictor, tuple(input_shape), None, 256, None, {}, None)
    out["decode_ms_one_image"] = {
        "json (standard library)": round(median_ms(
            lambda: parse_predict_request(body, tuple(input_shape)), 10 * repeat), 3),
        service.json_backend: round(median_ms(lambda: service.parse_predict(body),
                                              10 * repeat), 3)}
    out["load_average"] = loadavg()
    return out


OLD_FIGURE = 377  # req/s of the old server in the probe that opened issue 21


def target(med: dict) -> dict:
    """Issue 21's bar: with dynamic batching, at least twice the old server's requests/s
    measured side by side (and twice the 377 req/s the issue measured), at a p99 <= 100 ms."""
    new = med["uvicorn"]
    old = med.get("old-stdlib", {}).get("requests_per_s")
    side_by_side = old is not None and new["requests_per_s"] >= 2 * old
    absolute = new["requests_per_s"] >= 2 * OLD_FIGURE
    tail = new["p99_ms"] <= 100
    return {"description": "`uvicorn` at least 2× the requests/s of `old-stdlib` side by side, "
                           f"and at least 2 × {OLD_FIGURE} = {2 * OLD_FIGURE} requests/s, "
                           "at a p99 of at most 100 ms",
            "side_by_side_ratio": None if old is None else round(new["requests_per_s"] / old, 2),
            "requests_per_s": new["requests_per_s"], "p99_ms": new["p99_ms"],
            "met_side_by_side": bool(side_by_side), "met_absolute": bool(absolute),
            "met_p99": bool(tail), "met": bool(side_by_side and absolute and tail),
            "measured": (f"{new['requests_per_s']:.0f} requests/s"
                         + ("" if old is None else f", {new['requests_per_s'] / old:.2f}× "
                            f"the old server's {old:.0f}")
                         + f", p99 {new['p99_ms']:.0f} ms")}


def _median(values: list) -> float:
    return float(np.median(values)) if values else float("nan")


def render_readme(results: dict) -> str:
    """The mlops README's block of figures, from a results file of this script."""
    out = []
    m = results["machine"]
    out.append(f"Measured {results['started'][:16].replace('T', ' ')} UTC by "
               f"`{results['command']}` on {m['cores']} cores (1-minute load average "
               f"{m['load_average_start'][0]} at the start, {m['load_average_end'][0]} at the "
               f"end); {results['model']['name']}, {results['model']['request']}, drift "
               f"monitoring on. Servers start under an open-file soft limit of "
               f"{results['servers_started_with_open_file_soft_limit']}.")
    tp = results.get("throughput")
    if tp:
        out.append("")
        out.append(f"**Throughput**: {tp['clients']} keep-alive clients × {tp['duration_s']:g} s "
                   f"per run, contenders interleaved over {tp['rounds']} rounds with "
                   f"{tp['pause_s']:g} s pauses; every answer checked against the model's own "
                   "prediction. Medians over the rounds (each round's figure in the results "
                   "file):")
        out.append("")
        out.append("| server | requests/s | p50 ms | p90 ms | p99 ms | server CPU ms/request "
                   "| failed |")
        out.append("|---|---|---|---|---|---|---|")
        for name in results["contenders"]:
            runs = [r for r in tp["runs"] if r["contender"] == name]
            if not runs:
                continue
            cells = [f"{_median([r[k] for r in runs]):.1f}" for k in
                     ("requests_per_s", "p50_ms", "p90_ms", "p99_ms")]
            cells.append(f"{_median([r['server_cpu_ms_per_request'] for r in runs]):.2f}")
            cells.append(str(sum(r["failed"] for r in runs)))
            out.append(f"| `{name}` | " + " | ".join(cells) + " |")
        med = {name: {k: _median([r[k] for r in tp["runs"] if r["contender"] == name])
                      for k in ("requests_per_s", "p99_ms")}
               for name in {r["contender"] for r in tp["runs"]}}
        goal = target(med) if "uvicorn" in med else None
        if goal:
            out.append("")
            yes = {True: "met", False: "**not met**"}
            ratio = goal["side_by_side_ratio"]
            out.append(f"Issue 21's bar, for `uvicorn`: at least 2× `old-stdlib` side by side — "
                       f"{yes[goal['met_side_by_side']]}"
                       + ("" if ratio is None else f" ({ratio:.2f}×)")
                       + f"; a p99 of at most 100 ms — {yes[goal['met_p99']]} "
                       f"({goal['p99_ms']:.0f} ms); at least 2 × {OLD_FIGURE} = "
                       f"{2 * OLD_FIGURE} requests/s (the old server's figure in the issue) — "
                       f"{yes[goal['met_absolute']]} ({goal['requests_per_s']:.0f}"
                       + ("" if ratio is None else
                          f"; the old server does {goal['requests_per_s'] / ratio:.0f} on this "
                          "workload")
                       + ").")
    pr = results.get("probes")
    if pr:
        new, old = pr.get("uvicorn", {}), pr.get("old-stdlib", {})
        st = pr["settings"]

        def idle(p: dict) -> str:
            if not p:
                return "—"
            i = p["idle"]
            return (f"{i['ok_within']} of {i['requests']} answered 200 within {i['within_s']:g} s"
                    f" (slowest {i['max_s']:.2f} s)")

        def trickle(p: dict) -> str:
            if not p:
                return "—"
            t = p["trickle"]
            after = f", after {max(t['close_after_s']):.1f} s" if t["close_after_s"] else ""
            return f"{t['closed']} of {t['connections']} closed{after}"

        def errors(p: dict) -> str:
            if not p:
                return "—"
            c = p["client_errors"]
            return (f"{c['as_expected']} of {c['total']} as expected; {c['answered_500']} "
                    "answered 500")

        def memory(p: dict, n: int) -> str:
            row = [x for x in p.get("memory", []) if x["concurrent"] == n]
            if not row:
                return "—"
            x = row[0]
            return (f"RSS {x['rss_before_mb']:.0f} → peak {x['rss_peak_mb']:.0f} MB "
                    f"({x['processes']} process{'es' if x['processes'] > 1 else ''})")

        out.append("")
        out.append("**Probes** (`uvicorn` is `tito serve`; `old-stdlib` the server it replaced):")
        out.append("")
        out.append("| probe | `uvicorn` | `old-stdlib` |")
        out.append("|---|---|---|")
        out.append(f"| {st['idle_connections']:,} idle connections open, then valid `/predict` "
                   f"requests | {idle(new)} | {idle(old)} |")
        out.append(f"| {st['trickle_connections']} connections trickling a header byte a second "
                   f"(header deadline {st['header_timeout_s']} s, watched "
                   f"{st['trickle_limit_s']:g} s) | {trickle(new)} | {trickle(old)} |")
        out.append(f"| client errors (the table below) | {errors(new)} | {errors(old)} |")
        mb = st["big_body_bytes"] / 2**20
        for n in sorted({x["concurrent"] for x in new.get("memory", [])}):
            out.append(f"| {n} concurrent {mb:.1f} MiB bodies | {memory(new, n)} | "
                       f"{memory(old, n)} |")
        cap = pr.get("connection_cap")
        if cap:
            out.append(f"| `--max-connections {cap['max_connections']}`, {cap['held']} held "
                       f"open, then a request | {cap['status_during']} in "
                       f"{cap['seconds_during'] * 1000:.0f} ms; {cap['status_after']} once "
                       "they close | — |")
        if new:
            out.append("")
            out.append("| client error | expected | `uvicorn` | `old-stdlib` |")
            out.append("|---|---|---|---|")
            olds = {c["name"]: c for c in old.get("client_errors", {}).get("cases", [])}
            for c in new["client_errors"]["cases"]:
                o = olds.get(c["name"])
                got_old = "—" if o is None else (str(o["got"]) if o["got"] else
                                                  (o.get("error") or "no answer"))
                out.append(f"| {c['name']} | {c['expect']} | {c['got']} | {got_old} |")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every part, small and short")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=None, help="seconds per run (30)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds of warm-up (3)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (2)")
    parser.add_argument("--pause", type=float, default=None, help="seconds between runs (5)")
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the old server")
    parser.add_argument("--no-baseline", action="store_true", help="skip the old server")
    parser.add_argument("--skip-probes", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default {RESULTS.relative_to(REPO)} for a full run)")
    parser.add_argument("--workload", choices=["cnn", "mlp"], default="cnn",
                        help="cnn: the CIFAR-10 CNN, one 62 kB image per request (default; "
                             "probes too); mlp: an MLP 784-128-10, 16 kB per request, "
                             "throughput only (results file serve_load_mlp.json)")
    parser.add_argument("--readme", action="store_true",
                        help="only render the mlops README's figures from the results file")
    args = parser.parse_args()
    if args.readme:
        for path, block in BLOCKS.items():
            changed = write_block(README, block, render_readme(json.loads(path.read_text())))
            print(f"{README.relative_to(REPO)}: {'updated' if changed else 'already up to date'} "
                  f"from {path.relative_to(REPO)}")
        return 0
    q = args.quick
    args.duration = args.duration or (3.0 if q else 30.0)
    args.warmup = args.warmup or (1.0 if q else 3.0)
    args.rounds = args.rounds or (1 if q else 2)
    args.pause = args.pause if args.pause is not None else (1.0 if q else 5.0)
    args.idle = 300 if q else 1100
    args.idle_requests = 5 if q else 20
    args.trickle = 4 if q else 20
    args.trickle_limit = 14.0 if q else 25.0
    args.memory_concurrency = [4] if q else [12, 24]
    out_path = args.out or (None if q else (RESULTS_MLP if args.workload == "mlp" else RESULTS))
    if args.workload == "mlp":
        args.skip_probes = True  # the probes are the CNN run's

    raise_own_file_limit(4096)
    command = "python " + " ".join([str(Path(sys.argv[0]).resolve().relative_to(REPO))
                                    if Path(sys.argv[0]).resolve().is_relative_to(REPO)
                                    else sys.argv[0]] + sys.argv[1:])
    started, wall0, load_start = dt.datetime.now(dt.timezone.utc), time.perf_counter(), loadavg()
    print(f"{command}\nload average at start {load_start} on {os.cpu_count()} cores", flush=True)

    tmp = tempfile.TemporaryDirectory(prefix="serve-load-")
    registry = os.path.join(tmp.name, "registry")
    manual_seed(0)
    mlp = args.workload == "mlp"
    if mlp:  # a small request: the per-request cost of the server, not of the model
        model = MLP(784, [128], 10)
        ModelRegistry(registry).register("small-cnn", model, data=flat_like(2000, seed=0),
                                         reference_size=1000, classes=CLASSES,
                                         description="serve_load.py: random weights")
    else:
        model = small_cnn()
        ModelRegistry(registry).register("small-cnn", model, data=cifar_like(2000, seed=0),
                                         reference_size=1000, classes=CLASSES,
                                         description="serve_load.py: random weights")
    old_src = None if args.no_baseline else old_server_path(args.baseline, Path(tmp.name) / "old")
    contenders = Contenders(registry, old_src)
    names = (["uvicorn"] if mlp else ["uvicorn", "uvicorn-1process", "uvicorn-nobatch"]) + (
        [] if args.no_baseline else ["old-stdlib"])

    images = flat_like(64, seed=1) if mlp else cifar_like(64, seed=1)
    bodies = [json.dumps({"inputs": images[i:i + 1].tolist()}).encode() for i in range(64)]
    predictor = Predictor(ModelRegistry(registry).load("small-cnn"))
    want_classes, want_probs = predictor.predict(images)

    def check(index: int, resp) -> str | None:
        out = resp.json()
        got = np.asarray(out["probabilities"][0])
        if not np.allclose(got, want_probs[index], atol=1e-4):
            return f"image {index}: probabilities differ by {np.abs(got - want_probs[index]).max():.2e}"
        top = np.sort(want_probs[index])[-2:]
        if out["predictions"][0] != want_classes[index] and top[1] - top[0] > 1e-4:
            return f"image {index}: predicted {out['predictions'][0]}, not {want_classes[index]}"
        return None

    results_costs = costs(predictor, images, bodies[0], input_shape=images.shape[1:])
    print(f"costs: {results_costs}", flush=True)

    big_images = flat_like(2600, seed=2) if mlp else cifar_like(131, seed=2)
    big = json.dumps({"inputs": big_images.tolist()}).encode()
    results: dict = {
        "benchmark": "tito serve under load and abuse: uvicorn + dynamic batching vs the old "
                     "ThreadingHTTPServer",
        "command": command, "started": started.isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_average_start": load_start},
        "model": {"name": "MLP 784-128-10 (random weights)" if mlp else "small_cnn (random weights)",
                  "parameters": int(sum(p.data.size for p in model.parameters())),
                  "request": (f"one 784-pixel image, {len(bodies[0])} bytes of JSON" if mlp else
                              f"one CIFAR image, {len(bodies[0])} bytes of JSON"),
                  "drift_monitoring": True},
        "contenders": {
            "uvicorn": "tito serve: uvicorn (h11), Starlette, dynamic batching (32 samples, "
                       "5 ms), the model in a process of its own",
            "uvicorn-1process": "tito serve --no-model-process (the model on a thread of the "
                                "server's process)",
            "uvicorn-nobatch": "tito serve --max-batch 1",
            "old-stdlib": f"the ThreadingHTTPServer of commit {args.baseline} (git archive of "
                          "packages/mlops/src only; tinytorch.core.spatial.parallel pointed at "
                          "tinytorch.core.tensor.runtime, where it moved)"},
        "servers_started_with_open_file_soft_limit": 1024,
        "costs_in_process": results_costs,
    }
    print(f"throughput: {args.clients} keep-alive clients x {args.duration:g} s, one image "
          f"({len(bodies[0]) / 1024:.0f} kB) per request, {args.rounds} round(s)", flush=True)
    if not args.skip_throughput:
        results["throughput"] = throughput(contenders, names, args, bodies, check)
        med = results["throughput"]["median"]
        if "old-stdlib" in med:
            for key in ("requests_per_s", "server_cpu_ms_per_request"):
                results["throughput"][f"ratio_{key}_uvicorn_vs_old"] = round(
                    med["uvicorn"][key] / med["old-stdlib"][key], 2)
        results["throughput"]["target"] = target(med)

    if not args.skip_probes:
        results["probes"] = {"settings": {"idle_connections": args.idle,
                                          "trickle_connections": args.trickle,
                                          "trickle_interval_s": 1.0,
                                          "trickle_limit_s": args.trickle_limit,
                                          "header_timeout_s": 10, "body_timeout_s": 30,
                                          "big_body_bytes": len(big)}}
        for name in ["uvicorn"] + ([] if args.no_baseline else ["old-stdlib"]):
            time.sleep(args.pause)
            print(f"probes: {name}", flush=True)
            results["probes"][name] = probes(contenders, name, args, images, big)
        time.sleep(args.pause)
        server = contenders.start("uvicorn", "--max-connections", "100")
        try:
            cap = probe_connection_cap(server.host, server.port, 110, build_request(
                "POST", "/predict", bodies[0]))
        finally:
            server.stop()
        results["probes"]["connection_cap"] = {"max_connections": 100, **cap}
        print(f"  connection cap 100, 110 held: next request {cap['status_during']} in "
              f"{cap['seconds_during']} s; after release {cap['status_after']}", flush=True)

    results["wall_s"] = round(time.perf_counter() - wall0, 1)
    results["machine"]["load_average_end"] = loadavg()
    print(f"done in {results['wall_s']} s; load average at end {results['machine']['load_average_end']}")
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out_path}")
        if out_path in BLOCKS:
            write_block(README, BLOCKS[out_path], render_readme(results))
            print(f"rendered its figures into {README.relative_to(REPO)}")
    tmp.cleanup()
    failed = sum(r["failed"] for r in results.get("throughput", {}).get("runs", [])
                 if r["contender"] != "old-stdlib")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
