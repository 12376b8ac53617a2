"""``tito serve``'s server (uvicorn, the serve extra), live on 127.0.0.1 (port 0), spoken to
with raw sockets: every client error gets its 4xx (and /metrics never calls it internal), the
caps and deadlines hold, and dynamic batching gives every request exactly its own answer."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.mlops import Monitor, parse_metrics
from tinytorch.core.mlops.asgi import ASGIModelServer
from tinytorch.core.mlops.loadtest import (build_request, exchange, metric_sum,
                                           probe_connection_cap, probe_idle_connections,
                                           probe_trickle, read_metrics, read_response)
from tinytorch.core.tensor import Tensor


@pytest.fixture
def serve_asgi():
    """``serve_asgi(model, **kwargs)`` -> a started ASGIModelServer on 127.0.0.1, port 0."""
    servers = []

    def start(model, **kwargs):
        kwargs.setdefault("port", 0)
        server = ASGIModelServer(model, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown(timeout=10)


def expected(model, x):
    """(classes, probabilities) computed directly, one sample at a time, without a server."""
    rows = []
    with no_grad():
        for sample in np.asarray(x, np.float32):
            rows.append(model.eval()(Tensor(sample[None])).data.astype(np.float64)[0])
    logits = np.array(rows)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p


def post(server, path, body, **kw):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return exchange(server.host, server.port, build_request("POST", path, data, **kw), 60)


def internal_errors(server) -> tuple[float, float]:
    m = read_metrics(server.url)
    return (metric_sum(m, "tinytorch_request_errors_total", reason="internal"),
            metric_sum(m, "tinytorch_requests_total", status="500"))


def test_asgi_predict_health_and_metrics(serve_asgi, make_mlp, tabular):
    model = make_mlp()
    x, _ = tabular
    server = serve_asgi(model, input_shape=(4,), classes=["setosa", "versicolor", "virginica"],
                        info={"name": "mlp", "version": 1})
    assert server.host == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}"
    resp = post(server, "/predict", {"inputs": x[:5].tolist()})
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    out = resp.json()
    classes, probs = expected(model, x[:5])
    assert out["predictions"] == classes.tolist()
    np.testing.assert_allclose(out["probabilities"], probs, atol=2e-6)
    assert out["labels"] == [["setosa", "versicolor", "virginica"][c] for c in classes]
    assert out["model"] == {"name": "mlp", "version": 1} and len(out["id"]) == 32
    health = exchange(server.host, server.port, build_request("GET", "/health")).json()
    assert health["status"] == "ok" and health["engine"] == "uvicorn"
    assert health["input_shape"] == [4] and health["batching"]["forward_passes"] == 1
    metrics = exchange(server.host, server.port, build_request("GET", "/metrics"))
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    parsed = parse_metrics(metrics.body.decode())
    assert parsed[("tinytorch_requests_total",
                   frozenset({("endpoint", "/predict"), ("status", "200")}))] == 1
    assert parsed[("tinytorch_predicted_samples_total", frozenset())] == 5
    assert parsed[("tinytorch_forward_passes_total", frozenset())] == 1
    assert parsed[("tinytorch_batch_size_count", frozenset())] == 1
    assert parsed[("tinytorch_batch_size_sum", frozenset())] == 5
    assert parsed[("tinytorch_model_info", frozenset({("name", "mlp"), ("version", "1")}))] == 1
    assert parsed[("# TYPE", "tinytorch_request_latency_seconds")] == "histogram"
    assert sum(v for (n, ls), v in parsed.items() if n == "tinytorch_predictions_total") == 5


def test_asgi_every_client_error_is_a_4xx_and_never_internal(serve_asgi, make_mlp):
    model = make_mlp()
    server = serve_asgi(model, input_shape=(4,), max_samples=8, max_body_bytes=6000)
    good = {"inputs": [[0.1, 0.2, 0.3, 0.4]]}
    huge = b'{"inputs": [[' + b"9" * 5000 + b', 1, 2, 3]]}'
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    cases = [  # (request bytes, status, reason, words in the message)
        (build_request("POST", "/predict", b"{not json"), 400, "bad_json", ["malformed JSON"]),
        (build_request("POST", "/predict", deep[:4000]), 400, "too_deep", ["nests", "at most 32"]),
        (build_request("POST", "/predict", b'{"inputs": [[1, 2, 3]]}'), 422, "bad_shape",
         ["shape [4]"]),
        (build_request("POST", "/predict", huge), 422, "not_finite", ["4300 digits"]),
        (build_request("POST", "/predict", b'{"inputs": [[1, 2, NaN, 4]]}'), 422,
         "not_finite", ["inputs[0][2]"]),
        (build_request("POST", "/predict", b'{"inputs": [[1, 2, 3, true]]}'), 422, "bad_dtype",
         ["a boolean"]),
        (build_request("POST", "/predict", json.dumps({"inputs": [[1, 2, 3, 4]] * 9}).encode()),
         422, "batch_too_large", ["at most 8"]),
        (build_request("POST", "/predict", json.dumps(good).encode(),
                       headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type",
         ["'text/plain'", "application/json"]),
        (build_request("POST", "/predict", json.dumps(good).encode(),
                       headers={"Content-Type": "image/png"}), 415, "unsupported_media_type",
         ["'image/png'"]),
        (build_request("POST", "/predict", b"x" * 7000), 413, "too_large", ["limit is 6000"]),
        (build_request("POST", "/predict", headers={"Transfer-Encoding": "chunked"})
         + b"".join(b"400\r\n" + b"[" * 1024 + b"\r\n" for _ in range(7)) + b"0\r\n\r\n",
         413, "too_large", ["passed the limit of 6000"]),
        (build_request("GET", "/predict"), 405, "method_not_allowed", ["takes POST"]),
        (build_request("GET", "/nowhere"), 404, "not_found", ["no endpoint '/nowhere'"]),
        (build_request("POST", "/feedback", b'{"id": "nope", "labels": [1]}'), 404,
         "unknown_id", ["no recent prediction"]),
    ]
    for data, status, reason, words in cases:
        resp = exchange(server.host, server.port, data, 60)
        assert resp.status == status, (data[:80], resp.status, resp.body[:200])
        out = resp.json()
        assert out["status"] == status and out["reason"] == reason, out
        for word in words:
            assert word in out["error"], (word, out)
        if status == 405:
            assert resp.headers["allow"] == "POST"
        ok = post(server, "/predict", good)  # ... and a good request is still served right
        assert ok.status == 200
        assert ok.json()["predictions"] == expected(model, good["inputs"])[0].tolist()
    # the full 100,000-deep body and a Content-Type with parameters
    assert post(server, "/predict", deep).status == 413  # over 6000 bytes: never parsed
    assert exchange(server.host, server.port, build_request(
        "POST", "/predict", json.dumps(good).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"})).status == 200
    m = read_metrics(server.url)
    assert metric_sum(m, "tinytorch_request_errors_total", reason="internal") == 0
    assert metric_sum(m, "tinytorch_requests_total", status="500") == 0
    assert metric_sum(m, "tinytorch_requests_total", endpoint="/predict", status="200") == \
        len(cases) + 1
    for status in (400, 413, 415, 422):
        assert metric_sum(m, "tinytorch_requests_total", endpoint="/predict",
                          status=str(status)) == \
            sum(s == status for d, s, _, _ in cases if b"/predict" in d[:20]) + (status == 413)


def test_asgi_deep_nesting_and_huge_ints_are_4xx_at_the_default_limits(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,))
    deep = post(server, "/predict", b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert deep.status == 400 and deep.json()["reason"] == "too_deep"
    huge = post(server, "/predict", b'{"inputs": [[' + b"9" * 5000 + b', 1, 2, 3]]}')
    assert huge.status == 422 and huge.json()["reason"] == "not_finite"
    assert internal_errors(server) == (0, 0)


def test_asgi_feedback_is_validated_before_the_prediction_id_is_spent(serve_asgi, make_mlp,
                                                                       tabular):
    model = make_mlp()
    x, _ = tabular
    monitor = Monitor(None)
    server = serve_asgi(model, input_shape=(4,), classes=["a", "b", "c"], monitor=monitor)
    out = post(server, "/predict", {"inputs": x[:4].tolist()}).json()
    pid, truth = out["id"], list(out["predictions"])
    refused = [({"id": pid, "labels": 5}, "got int"),
               ({"id": pid, "labels": [0, 1]}, "got 2"),
               ({"id": pid, "labels": [0, 1, 2, 999]}, "labels[3] is 999; the model has 3 classes"),
               ({"id": pid, "labels": [0, 1, 2, -1]}, "labels[3] is -1"),
               ({"id": pid, "labels": [0, 1, 2, True]}, "labels[3] is a boolean"),
               ({"id": pid, "labels": [0, 1, 2, 1.0]}, "labels[3] is float"),
               ({"id": pid, "labels": [0, 1, 2, "zebra"]}, "labels[3] is a string"),
               ({"id": 12, "labels": truth}, "'id' must be the string id")]
    for body, words in refused:
        resp = post(server, "/feedback", body)
        assert resp.status == 422, (body, resp.body)
        assert words in resp.json()["error"], (words, resp.json())
    assert post(server, "/feedback", {"labels": truth}).status == 400
    assert post(server, "/feedback", b"[1, 2").status == 400
    names = [["a", "b", "c"][c] for c in truth]
    names[0] = ["a", "b", "c"][(truth[0] + 1) % 3]  # one wrong, given by name
    ok = post(server, "/feedback", {"id": pid, "labels": names})
    assert ok.status == 200 and ok.json() == {"accepted": 4, "correct": 3,
                                              "window_accuracy": 0.75}
    assert post(server, "/feedback", {"id": pid, "labels": truth}).status == 404  # spent
    assert monitor.accuracy.samples == 4
    assert internal_errors(server) == (0, 0)


def test_asgi_a_body_cut_short_is_a_400_or_a_408_never_a_500(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,), body_timeout=1.0)
    body = json.dumps({"inputs": [[1, 2, 3, 4]]}).encode()
    data = build_request("POST", "/predict", body, content_length=len(body) + 50)
    # the client says it is done (half-close): h11 sees the body end early, answered at once
    cut = exchange(server.host, server.port, data, timeout=60, half_close=True)
    assert cut.status == 400 and cut.json()["reason"] == "truncated"
    assert f"received {len(body)} bytes, expected {len(body) + 50}" in cut.json()["error"]
    # the client just stops sending: the body deadline
    stalled = exchange(server.host, server.port, data, timeout=60)
    assert stalled.status == 408 and stalled.json()["reason"] == "body_timeout"
    assert stalled.headers["connection"] == "close"
    # a complete request followed by a half-close still gets its answer
    whole = exchange(server.host, server.port, build_request("POST", "/predict", body),
                     timeout=60, half_close=True)
    assert whole.status == 200
    m = read_metrics(server.url)
    assert metric_sum(m, "tinytorch_request_errors_total", endpoint="/predict",
                      reason="truncated") == 1
    assert metric_sum(m, "tinytorch_request_errors_total", endpoint="/predict",
                      reason="body_timeout") == 1
    assert internal_errors(server) == (0, 0)


def test_asgi_an_oversized_body_is_refused_and_the_client_reads_the_413(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,), max_body_bytes=100_000)
    # a terabyte announced, nothing sent: refused from the header, connection closed
    announced = exchange(server.host, server.port, build_request(
        "POST", "/predict", content_length=10**12), timeout=60)
    assert announced.status == 413 and announced.headers["connection"] == "close"
    assert "limit is 100000 bytes" in announced.json()["error"]
    # 3 MB sent in full before the client reads: the lingering close lets it read the 413
    # instead of a connection reset
    big = exchange(server.host, server.port,
                   build_request("POST", "/predict", b"[" + b"1," * 1_500_000 + b"1]"),
                   timeout=60)
    assert big.status == 413, big.error
    assert post(server, "/predict", {"inputs": [[1, 2, 3, 4]]}).status == 200


def test_asgi_connection_cap_answers_503_instead_of_hanging(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,), max_connections=8)
    request = build_request("POST", "/predict", b'{"inputs": [[1, 2, 3, 4]]}')
    result = probe_connection_cap(server.host, server.port, 10, request)
    assert result["status_during"] == 503 and result["status_after"] == 200, result


def test_asgi_idle_connections_do_not_stop_it_answering(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,))
    request = build_request("POST", "/predict", b'{"inputs": [[1, 2, 3, 4]]}')
    result = probe_idle_connections(server.host, server.port, 300, request, requests=5,
                                    within=10.0)
    assert result["opened"] == 300 and result["statuses"] == {200: 5}, result
    assert result["idle_still_open_after"] == 300  # silent, not yet past the header deadline


def test_asgi_header_deadline_disconnects_trickling_and_silent_clients(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,), header_timeout=1.0)
    trickle = probe_trickle(server.host, server.port, connections=3, interval=0.2, limit=20.0)
    # one byte every 0.2 s would keep a per-read timeout happy forever; the deadline does not
    assert trickle["closed"] == 3 and trickle["still_open_at_limit"] == 0, trickle
    assert trickle["answers"] == {"408": 3}, trickle
    silent = socket.create_connection((server.host, server.port), timeout=30)
    try:
        assert silent.recv(100) == b""  # closed by the server, without a word
    finally:
        silent.close()
    # a keep-alive client that sends requests in time is not affected
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        buf = bytearray()
        for _ in range(3):
            sock.sendall(build_request("GET", "/health"))
            assert read_response(sock, buf).status == 200
    m = read_metrics(server.url)
    assert metric_sum(m, "tinytorch_connections_closed_total", reason="header_timeout") == 3
    assert metric_sum(m, "tinytorch_connections_closed_total", reason="idle") >= 1
    assert metric_sum(m, "tinytorch_requests_total", endpoint="other", status="408") == 3


def test_asgi_header_size_limit_is_a_431(serve_asgi, make_mlp):
    server = serve_asgi(make_mlp(), input_shape=(4,), max_header_bytes=4096)
    resp = exchange(server.host, server.port, build_request(
        "GET", "/health", headers={f"X-Big-{i}": "y" * 100 for i in range(80)}), timeout=60)
    assert resp.status == 431 and resp.json()["reason"] == "protocol"
    assert exchange(server.host, server.port, build_request("GET", "/health")).status == 200


def test_asgi_dynamic_batching_gives_each_request_exactly_its_own_answer(serve_asgi, make_cnn):
    """24 concurrent requests of 1-3 images each, every one different: fewer forward passes
    than requests, no pass over max_batch, and each answer equal to the unbatched one."""
    model = make_cnn()
    passes = []

    def counting(x):
        passes.append(x.shape[0])
        return model(x)

    server = serve_asgi(counting, input_shape=(3, 8, 8), max_batch=8, batch_wait_ms=50)
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 4, size=24)
    inputs = [rng.normal(size=(n, 3, 8, 8)).astype(np.float32) for n in sizes]
    go = threading.Barrier(len(inputs))

    def client(k):
        go.wait()
        return post(server, "/predict", {"inputs": inputs[k].tolist()})

    with ThreadPoolExecutor(len(inputs)) as ex:
        answers = list(ex.map(client, range(len(inputs))))
    assert [a.status for a in answers] == [200] * len(inputs)
    for x, answer in zip(inputs, answers):
        classes, probs = expected(model, x)
        out = answer.json()
        np.testing.assert_allclose(out["probabilities"], probs, atol=1e-5)
        assert out["predictions"] == classes.tolist()
    assert sum(passes) == sum(sizes) and max(passes) <= 8
    assert len(passes) < len(inputs)  # requests shared forward passes
    assert server.batcher.forward_passes == len(passes) and server.batcher.requests == 24


def test_asgi_batching_off_runs_one_pass_per_request(serve_asgi, make_mlp):
    passes = []
    model = make_mlp()

    def counting(x):
        passes.append(x.shape[0])
        return model(x)

    server = serve_asgi(counting, input_shape=(4,), max_batch=1)
    with ThreadPoolExecutor(6) as ex:
        answers = list(ex.map(lambda k: post(server, "/predict", {"inputs": [[k, 1, 2, 3]]}),
                              range(6)))
    assert [a.status for a in answers] == [200] * 6 and passes == [1] * 6


def test_asgi_a_failing_model_is_a_500_for_its_batch_only(serve_asgi):
    calls = []

    def flaky(x):
        calls.append(x.shape)
        if len(calls) == 1:
            raise RuntimeError("out of cheese")
        return Tensor(np.zeros((x.shape[0], 2), np.float32))

    server = serve_asgi(flaky, input_shape=(3,))
    bad = post(server, "/predict", {"inputs": [[1, 2, 3]]})
    assert bad.status == 500 and "RuntimeError: out of cheese" in bad.json()["error"]
    good = post(server, "/predict", {"inputs": [[1, 2, 3]]})
    assert good.status == 200 and good.json()["probabilities"] == [[0.5, 0.5]]
    assert internal_errors(server) == (1, 1)


def test_asgi_served_batches_feed_the_monitor(serve_asgi, make_mlp, tabular):
    x, _ = tabular
    monitor = Monitor(None)
    server = serve_asgi(make_mlp(), input_shape=(4,), monitor=monitor)
    for i in range(0, 60, 20):
        assert post(server, "/predict", {"inputs": x[i:i + 20].tolist()}).status == 200
    assert monitor.observed == 60


def test_asgi_graceful_shutdown_finishes_the_request_in_progress(make_mlp):
    entered, release = threading.Event(), threading.Event()
    inner = make_mlp()

    def slow_model(x):
        entered.set()
        release.wait(60)
        return inner(x)

    server = ASGIModelServer(slow_model, input_shape=(4,), port=0).start()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault(
        "resp", post(server, "/predict", {"inputs": [[1, 2, 3, 4]]})))
    t.start()
    assert entered.wait(60)
    done = {}
    stopper = threading.Thread(target=lambda: done.setdefault("clean", server.shutdown(60)))
    stopper.start()
    refused = False
    for _ in range(600):  # new connections are refused once the listener is closed ...
        try:
            socket.create_connection((server.host, server.port), timeout=5).close()
        except OSError:
            refused = True
            break
        time.sleep(0.05)
    assert refused and server.draining
    assert stopper.is_alive()  # ... while the request in progress holds the shutdown open
    release.set()
    t.join(60)
    stopper.join(60)
    assert result["resp"].status == 200
    assert result["resp"].json()["predictions"] == expected(inner, [[1, 2, 3, 4]])[0].tolist()
    assert done["clean"] is True
    with pytest.raises(RuntimeError, match="shut down"):
        server.start()


def test_asgi_settings_are_checked(make_mlp):
    for kwargs, words in [({"max_batch": 0}, "max_batch must be >= 1"),
                          ({"header_timeout": 0}, "header_timeout must be > 0"),
                          ({"batch_wait_ms": -1}, "batch_wait_ms must be >= 0")]:
        with pytest.raises(ValueError, match=words):
            ASGIModelServer(make_mlp(), input_shape=(4,), port=0, **kwargs)


def test_asgi_model_process_serves_and_survives_its_childs_death(registry, make_mlp, tabular):
    import os
    import signal
    x, y = tabular
    model = make_mlp()
    version = registry.register("mlp", model, data=(x, y), reference_size=100)
    server = ASGIModelServer.from_version(version, model_process=True, port=0).start()
    try:
        child = server.predictor.pid
        assert child is not None and child != os.getpid()
        health = exchange(server.host, server.port, build_request("GET", "/health")).json()
        assert health["model_process"] == child
        resp = post(server, "/predict", {"inputs": x[:3].tolist()})
        classes, probs = expected(model, x[:3])
        assert resp.status == 200 and resp.json()["predictions"] == classes.tolist()
        np.testing.assert_allclose(resp.json()["probabilities"], probs, atol=2e-6)
        assert server.monitor.observed == 3  # the monitor is fed in the server's process
        os.kill(child, signal.SIGKILL)
        dead = post(server, "/predict", {"inputs": x[:1].tolist()})
        assert dead.status == 500 and "model process died" in dead.json()["error"]
        again = post(server, "/predict", {"inputs": x[:1].tolist()})
        assert again.status == 200 and server.predictor.pid not in (None, child)
    finally:
        assert server.shutdown(timeout=30) is True
    assert server.predictor.pid is None  # the child is stopped with the server
