"""The load test, quick form: ``tito serve`` (``python -m tinytorch.core.mlops serve``) as a
real process, under concurrent clients and the probes of ``capstone/benchmarks/serve_load.py``
at small sizes. Correctness only — every answer checked, the server's count equal to the
clients' — the speed is the benchmark's to measure."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tinytorch.core.mlops import Predictor
from tinytorch.core.mlops.loadtest import (ServerProcess, build_request, metric_sum,
                                           probe_connection_cap, probe_idle_connections,
                                           probe_memory, probe_requests, probe_trickle,
                                           read_metrics, run_load, serve_command)


def test_load_quick_form_of_the_benchmark(registry, make_cnn):
    model = make_cnn()
    rng = np.random.default_rng(0)
    registry.register("cnn", model, data=(rng.normal(size=(200, 3, 8, 8)).astype(np.float32),
                                          rng.integers(0, 5, 200)), reference_size=100)
    images = rng.normal(size=(32, 3, 8, 8)).astype(np.float32)
    want_classes, want_probs = Predictor(model).predict(images)
    bodies = [json.dumps({"inputs": images[i:i + 1].tolist()}).encode() for i in range(32)]

    def check(index, resp):
        out = resp.json()
        if not np.allclose(out["probabilities"][0], want_probs[index], atol=1e-5):
            return f"image {index}: wrong probabilities"
        if out["predictions"][0] != want_classes[index]:
            return f"image {index}: predicted {out['predictions'][0]}"
        return None

    server = ServerProcess(serve_command("cnn", registry.root, "--max-connections", "300",
                                         "--header-timeout", "1"), nofile=1024)
    try:
        assert "uvicorn: batches of up to 32 samples" in server.lines[1]
        load = run_load(server.host, server.port, bodies, clients=6, duration=2.0, check=check)
        assert load.failed == 0 and load.ok > 0, load.failures
        metrics = read_metrics(server.url)
        assert metric_sum(metrics, "tinytorch_requests_total", endpoint="/predict",
                          status="200") == load.ok
        passes = metric_sum(metrics, "tinytorch_forward_passes_total")
        assert 0 < passes <= load.ok

        request = build_request("POST", "/predict", bodies[0])
        idle = probe_idle_connections(server.host, server.port, 200, request, requests=3,
                                      within=10.0)
        assert idle["opened"] == 200 and idle["statuses"] == {200: 3}, idle

        trickle = probe_trickle(server.host, server.port, connections=2, interval=0.25,
                                limit=15.0)
        assert trickle["closed"] == 2 and trickle["answers"] == {"408": 2}, trickle

        cap = probe_connection_cap(server.host, server.port, 310, request)
        assert cap["status_during"] == 503 and cap["status_after"] == 200, cap

        cases = probe_requests(server.host, server.port, [
            {"name": "text/plain", "expect": 415, "data": build_request(
                "POST", "/predict", bodies[0], headers={"Content-Type": "text/plain"})},
            {"name": "deep", "expect": 400, "data": build_request(
                "POST", "/predict", b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")},
            {"name": "huge int", "expect": 422, "data": build_request(
                "POST", "/predict", b'{"inputs": [[' + b"9" * 5000 + b"]]}")},
            {"name": "cut short", "expect": 400, "half_close": True, "data": build_request(
                "POST", "/predict", bodies[0], content_length=len(bodies[0]) + 10)},
        ])
        assert [c["got"] for c in cases] == [c["expect"] for c in cases], cases

        if os.path.exists(f"/proc/{server.pid}/status"):  # Linux: RSS is sampled
            big = json.dumps({"inputs": rng.normal(size=(40, 3, 8, 8)).tolist()}).encode()
            memory = probe_memory(server.host, server.port, server.pid, big, concurrent=3)
            assert memory["statuses"] == {200: 3}, memory
            assert memory["rss_peak_mb"] >= memory["rss_before_mb"] > 0

        metrics = read_metrics(server.url)
        assert metric_sum(metrics, "tinytorch_request_errors_total", reason="internal") == 0
        assert metric_sum(metrics, "tinytorch_requests_total", status="500") == 0
    finally:
        assert server.stop() == 0  # SIGTERM: a graceful shutdown, exit code 0


def test_read_metrics_names_a_url_without_a_port():
    # urlparse gives port None for "http://localhost/": one clear error instead of a failure
    # deep inside the socket call
    with pytest.raises(ValueError, match="has no host and port"):
        read_metrics("http://localhost/metrics")
