"""The HTTP server, live on 127.0.0.1 (port 0), spoken to with real HTTP requests."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.mlops import ModelServer, Predictor, parse_metrics
from tinytorch.core.tensor import Tensor

JSON = {"Content-Type": "application/json"}

def expected(model, x):
    """(classes, probabilities) computed directly, without the server."""
    with no_grad():
        logits = model.eval()(Tensor(np.asarray(x, np.float32))).data.astype(np.float64)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return p.argmax(axis=1), p


def metric(url, name, **labels):
    with urllib.request.urlopen(url + "/metrics", timeout=60) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        parsed = parse_metrics(resp.read().decode())
    return parsed.get((name, frozenset(labels.items())), 0.0)


def raw_request(server, data: bytes, shut_write: bool = False) -> tuple[int, dict]:
    """Send raw bytes on a fresh socket; parse the status and JSON body of the answer."""
    with socket.create_connection((server.host, server.port), timeout=60) as sock:
        sock.sendall(data)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(payload)


def test_predict_returns_classes_and_probabilities(serve, http, make_mlp, tabular):
    model = make_mlp()
    x, _ = tabular
    server = serve(model, input_shape=(4,), classes=["setosa", "versicolor", "virginica"],
                   info={"name": "mlp", "version": 1})
    status, out, headers = http(server.url + "/predict", {"inputs": x[:5].tolist()})
    assert status == 200 and headers["Content-Type"] == "application/json"
    classes, probs = expected(model, x[:5])
    assert out["predictions"] == classes.tolist()
    np.testing.assert_allclose(out["probabilities"], probs, atol=2e-6)
    assert out["labels"] == [["setosa", "versicolor", "virginica"][c] for c in classes]
    assert out["model"] == {"name": "mlp", "version": 1} and len(out["id"]) == 32


def test_health_and_binding(serve, http, make_mlp):
    server = serve(make_mlp(), input_shape=(4,), info={"name": "mlp", "version": 3})
    assert server.host == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}"
    status, out, _ = http(server.url + "/health")
    assert status == 200 and out["status"] == "ok"
    assert out["model"] == {"name": "mlp", "version": 3} and out["input_shape"] == [4]


def test_every_bad_request_gets_its_4xx_and_the_server_keeps_serving(serve, http, make_mlp):
    model = make_mlp()
    server = serve(model, input_shape=(4,), max_batch=8, max_body_bytes=4096)
    url = server.url
    good = {"inputs": [[0.1, 0.2, 0.3, 0.4]]}
    cases = [  # (path, body, method, status, words in the message)
        ("/predict", b"{not json", None, 400, ["malformed JSON"]),
        ("/predict", b'["inputs"]', None, 400, ["JSON object"]),
        ("/predict", {"data": [[1, 2, 3, 4]]}, None, 400, ["missing field 'inputs'"]),
        ("/predict", {"inputs": [[1, 2, 3]]}, None, 422, ["shape [4]", "got [3]"]),
        ("/predict", {"inputs": [[1, 2, 3, 4], [1, 2]]}, None, 422, ["ragged"]),
        ("/predict", {"inputs": [[1, 2, "x", 4]]}, None, 422, ["inputs[0][2]", "a string"]),
        ("/predict", {"inputs": [[1, 2, 3, True]]}, None, 422, ["inputs[0][3]", "a boolean"]),
        ("/predict", b'{"inputs": [[1, 2, NaN, 4]]}', None, 422, ["inputs[0][2]", "finite"]),
        ("/predict", b'{"inputs": [[1, 2, 3, Infinity]]}', None, 422, ["inputs[0][3]"]),
        ("/predict", {"inputs": []}, None, 422, ["empty batch"]),
        ("/predict", {"inputs": [[1, 2, 3, 4]] * 9}, None, 422, ["9 samples", "at most 8"]),
        ("/predict", b"x" * 5000, None, 413, ["5000 bytes", "limit is 4096"]),
        ("/predict", None, "GET", 405, ["takes POST"]),
        ("/health", b"{}", "POST", 405, ["takes GET"]),
        ("/nowhere", None, "GET", 404, ["no endpoint '/nowhere'"]),
        ("/feedback", {"id": "nope", "labels": [1]}, None, 404, ["no recent prediction"]),
    ]
    for path, body, method, status, words in cases:
        got, out, headers = http(url + path, body, method)
        assert got == status, (path, body, out)
        assert out["status"] == status
        for word in words:
            assert word in out["error"], (word, out)
        if status == 405:
            assert headers["Allow"] in ("GET", "POST")
        # ... and the server still answers a good request correctly
        ok, answer, _ = http(url + "/predict", good)
        assert ok == 200 and answer["predictions"] == expected(model, good["inputs"])[0].tolist()

    counted = {s: metric(url, "tinytorch_requests_total", endpoint="/predict", status=str(s))
               for s in (200, 400, 405, 413, 422)}
    assert counted == {200: len(cases), 400: 3, 405: 1, 413: 1, 422: 8}
    assert metric(url, "tinytorch_requests_total", endpoint="other", status="404") == 1
    assert metric(url, "tinytorch_request_errors_total", endpoint="/predict",
                  reason="bad_shape") == 2


def test_an_oversized_body_is_refused_from_its_headers(serve, make_mlp):
    server = serve(make_mlp(), input_shape=(4,), max_body_bytes=1000)
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Length", str(10**12))  # a terabyte announced, nothing sent
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("Connection") == "close"
    assert "limit is 1000 bytes" in json.loads(resp.read())["error"]
    conn.close()


def test_missing_length_chunked_and_truncated_bodies(serve, http, make_mlp):
    server = serve(make_mlp(), input_shape=(4,))
    status, out = raw_request(server, b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 411 and "Content-Length header is required" in out["error"]
    status, out = raw_request(server, b"POST /predict HTTP/1.1\r\nHost: x\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    assert status == 411 and "chunked" in out["error"]
    status, out = raw_request(server, b"POST /predict HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: -3\r\n\r\n")
    assert status == 400 and "not a non-negative integer" in out["error"]
    status, out = raw_request(server, b"POST /predict HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Length: 100\r\n\r\n{\"inputs\"", shut_write=True)
    assert status == 400 and "ended after 9 of the 100 bytes" in out["error"]
    assert http(server.url + "/predict", {"inputs": [[1, 2, 3, 4]]})[0] == 200


def test_protocol_errors_are_json_and_unread_bodies_never_leak(serve, make_mlp):
    server = serve(make_mlp(), input_shape=(4,))
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(120))
    status, out = raw_request(server, b"GET /health HTTP/1.1\r\n" + many + b"\r\n")
    assert status == 431 and out["reason"] == "protocol" and "Too many headers" in out["error"]
    status, out = raw_request(server, b"OPTIONS /predict HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501 and "method OPTIONS is not supported" in out["error"]
    # a body sent with a refused request must not be read as the next request
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", "/health", body=b'GET /health HTTP/1.1\r\n\r\n')
    resp = conn.getresponse()
    assert resp.status == 405 and resp.getheader("Connection") == "close"
    resp.read()
    conn.request("GET", "/health")  # http.client reconnects after Connection: close
    assert conn.getresponse().status == 200
    conn.close()
    assert metric(server.url, "tinytorch_request_errors_total", endpoint="other",
                  reason="protocol") == 2


def test_a_failing_model_is_a_500_and_the_server_survives(serve, http):
    calls = []

    def flaky(x):
        calls.append(x.shape)
        if len(calls) == 1:
            raise RuntimeError("out of cheese")
        return Tensor(np.zeros((x.shape[0], 2), np.float32))

    server = serve(flaky, input_shape=(3,))
    status, out, _ = http(server.url + "/predict", {"inputs": [[1, 2, 3]]})
    assert status == 500 and "RuntimeError: out of cheese" in out["error"]
    status, out, _ = http(server.url + "/predict", {"inputs": [[1, 2, 3]]})
    assert status == 200 and out["probabilities"] == [[0.5, 0.5]]
    assert metric(server.url, "tinytorch_request_errors_total", endpoint="/predict",
                  reason="internal") == 1


def test_validation_happens_before_the_model_runs(serve, http):
    seen = []

    def model(x):
        seen.append(x.shape)
        return Tensor(np.zeros((x.shape[0], 2), np.float32))

    server = serve(model, input_shape=(2,))
    for bad in ({"inputs": [[1, 2, 3]]}, {"inputs": [[1, None]]}, b'{"inputs": [[NaN, 1]]}'):
        assert http(server.url + "/predict", bad)[0] == 422
    assert seen == []
    assert http(server.url + "/predict", {"inputs": [[1, 2]]})[0] == 200 and seen == [(1, 2)]


def test_metrics_count_what_was_served(serve, http, make_mlp, tabular):
    model = make_mlp()
    x, _ = tabular
    server = serve(model, input_shape=(4,))
    sizes = [1, 3, 2, 5, 1]
    start = 0
    for n in sizes:
        assert http(server.url + "/predict", {"inputs": x[start:start + n].tolist()})[0] == 200
        start += n
    for _ in range(2):
        http(server.url + "/health")
    text = urllib.request.urlopen(server.url + "/metrics", timeout=60).read().decode()
    parsed = parse_metrics(text)

    def get(name, **labels):
        return parsed[(name, frozenset(labels.items()))]

    assert get("tinytorch_requests_total", endpoint="/predict", status="200") == 5
    assert get("tinytorch_requests_total", endpoint="/health", status="200") == 2
    assert get("tinytorch_request_latency_seconds_count", endpoint="/predict") == 5
    assert get("tinytorch_request_latency_seconds_bucket", endpoint="/predict", le="+Inf") == 5
    assert get("tinytorch_request_latency_seconds_sum", endpoint="/predict") > 0
    buckets = [v for (name, labels), v in parsed.items()
               if name == "tinytorch_request_latency_seconds_bucket"
               and ("endpoint", "/predict") in labels]
    assert len(buckets) == 14 and max(buckets) == 5
    classes, _ = expected(model, x[:sum(sizes)])
    for c in range(3):
        assert parsed.get(("tinytorch_predictions_total", frozenset({("class", str(c))})),
                          0) == np.sum(classes == c)
    assert get("tinytorch_predicted_samples_total") == sum(sizes)
    assert parsed[("# TYPE", "tinytorch_request_latency_seconds")] == "histogram"


def test_load_eight_concurrent_clients_nothing_lost(serve, make_cnn):
    """8 clients × 300 requests of 1-4 images each, in parallel, on a CNN with batch norm (the
    fused kernels and their shared buffers under concurrent requests). Every answer must be
    the right one, and the server must count exactly the requests the clients made."""
    model = make_cnn()
    server = serve(model, input_shape=(3, 8, 8))
    clients, per_client = 8, 300
    rng = np.random.default_rng(0)
    pool_x = rng.normal(size=(64, 3, 8, 8)).astype(np.float32)
    want_classes, want_probs = expected(model, pool_x)

    def client(k):
        r = np.random.default_rng(100 + k)
        failures, done = [], 0
        for _ in range(per_client):
            idx = r.choice(64, size=int(r.integers(1, 5)), replace=False)
            data = json.dumps({"inputs": pool_x[idx].tolist()}).encode()
            try:
                req = urllib.request.Request(server.url + "/predict", data, JSON)
                with urllib.request.urlopen(req, timeout=120) as resp:
                    out = json.loads(resp.read())
                done += 1
                if out["predictions"] != want_classes[idx].tolist() or not np.allclose(
                        out["probabilities"], want_probs[idx], atol=1e-5):
                    failures.append(("wrong answer", idx.tolist()))
            except (urllib.error.URLError, OSError) as err:
                failures.append(("failed", repr(err)))
        return done, failures

    with ThreadPoolExecutor(clients) as ex:
        results = list(ex.map(client, range(clients)))
    failures = [f for _, fs in results for f in fs]
    assert failures == []
    made = sum(done for done, _ in results)
    assert made == clients * per_client
    assert metric(server.url, "tinytorch_requests_total", endpoint="/predict",
                  status="200") == made
    assert metric(server.url, "tinytorch_request_latency_seconds_count",
                  endpoint="/predict") == made


def test_graceful_shutdown_finishes_the_request_in_progress(make_mlp):
    entered, release = threading.Event(), threading.Event()
    inner = make_mlp()

    def slow_model(x):
        entered.set()
        release.wait(60)
        return inner(x)

    server = ModelServer(slow_model, input_shape=(4,), port=0).start()
    result = {}

    def client():
        req = urllib.request.Request(server.url + "/predict",
                                     json.dumps({"inputs": [[1, 2, 3, 4]]}).encode(), JSON)
        with urllib.request.urlopen(req, timeout=120) as resp:
            result["status"], result["body"] = resp.status, json.loads(resp.read())

    t = threading.Thread(target=client)
    t.start()
    assert entered.wait(60)
    done = {}
    stopper = threading.Thread(target=lambda: done.setdefault("clean", server.shutdown(60)))
    stopper.start()
    # new connections are refused once the listening socket is closed ...
    refused = False
    for _ in range(600):
        try:
            socket.create_connection((server.host, server.port), timeout=5).close()
        except OSError:
            refused = True
            break
        threading.Event().wait(0.05)
    assert refused and server.draining
    assert stopper.is_alive()  # ... while the request in progress holds the shutdown open
    release.set()
    t.join(60)
    stopper.join(60)
    assert result["status"] == 200 and result["body"]["predictions"] == \
        expected(inner, [[1, 2, 3, 4]])[0].tolist()
    assert done["clean"] is True


def test_shutdown_closes_idle_keep_alive_connections(make_mlp):
    # idle connections would otherwise be closed only by their 600 s timeout
    server = ModelServer(make_mlp(), input_shape=(4,), port=0, idle_timeout=600).start()
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("POST", "/predict", body=json.dumps({"inputs": [[1, 2, 3, 4]]}),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Connection") != "close"
    resp.read()
    conn.request("GET", "/health")  # the same connection, kept alive
    assert conn.getresponse().read()
    # a naive shutdown would wait for the idle connection: False after 300 s
    assert server.shutdown(timeout=300) is True
    conn.close()
    with pytest.raises(RuntimeError, match="shut down"):
        server.start()


def test_feedback_tracks_accuracy(serve, http, make_mlp, tabular):
    from tinytorch.core.mlops import Monitor
    model = make_mlp()
    x, _ = tabular
    monitor = Monitor(None)
    server = serve(model, input_shape=(4,), monitor=monitor)
    status, out, _ = http(server.url + "/predict", {"inputs": x[:10].tolist()})
    truth = list(out["predictions"])
    truth[0] = (truth[0] + 1) % 3  # one wrong
    status, fb, _ = http(server.url + "/feedback", {"id": out["id"], "labels": [1, 2]})
    assert status == 422 and "10 class indices" in fb["error"]
    status, fb, _ = http(server.url + "/feedback", {"id": out["id"], "labels": truth})
    assert status == 200 and fb == {"accepted": 10, "correct": 9, "window_accuracy": 0.9}
    assert http(server.url + "/feedback", {"id": out["id"], "labels": truth})[0] == 404  # once
    assert metric(server.url, "tinytorch_window_accuracy") == pytest.approx(0.9)


def test_served_model_is_monitored_for_drift(registry, http, make_mlp, tabular):
    x, y = tabular
    registry.register("mlp", make_mlp(), metrics={"test_accuracy": 0.9}, data=(x, y),
                      reference_size=400)
    server = ModelServer.from_registry("mlp", root=registry.root, port=0).start()
    try:
        assert server.monitor is not None and server.monitor.accuracy.baseline == 0.9
        for i in range(0, 200, 20):  # same distribution as the training data
            http(server.url + "/predict", {"inputs": x[i:i + 20].tolist()})
        assert metric(server.url, "tinytorch_alerts", kind="input_drift") == 0
        assert metric(server.url, "tinytorch_drift_psi", feature="x[0]") < 0.1
        shifted = x[:200].copy()
        shifted[:, 2] += 2.0  # one feature moves
        for i in range(0, 200, 20):
            http(server.url + "/predict", {"inputs": shifted[i:i + 20].tolist()})
        monitor_window = server.monitor.check()
        drifted = {f.feature for f in monitor_window.drift.drifted}
        assert "x[2]" in drifted and "x[0]" not in drifted
        assert metric(server.url, "tinytorch_drift_psi", feature="x[2]") > 0.2
        assert metric(server.url, "tinytorch_drift_ks_pvalue", feature="x[2]") < 0.01
        assert metric(server.url, "tinytorch_alerts", kind="input_drift") >= 2
    finally:
        server.shutdown()


def test_predictor_runs_in_eval_mode_without_grad_and_one_blas_thread(make_mlp):
    from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads
    from tinytorch.core.tensor import is_grad_enabled
    model = make_mlp()
    model.train()
    seen = {}

    def probe(x):
        seen.update(grad=is_grad_enabled(), blas=get_blas_threads())
        return model(x)

    p = Predictor(probe)
    Predictor(model)
    assert model.training is False  # served models run in eval mode
    before = get_blas_threads()
    if before is not None and before < 2:
        set_blas_threads(2)  # so that the switch to one thread is visible
    try:
        start = get_blas_threads()
        classes, probs = p.predict(np.ones((2, 4), np.float32))
        assert classes.dtype == np.int64 and np.allclose(probs.sum(axis=1), 1)
        assert seen["grad"] is False and is_grad_enabled()  # no_grad only for the call
        assert seen["blas"] in (None, 1) and get_blas_threads() == start  # restored
    finally:
        if before is not None:
            set_blas_threads(before)


def test_stdlib_server_refuses_client_errors_with_4xx_too(serve, http, make_mlp):
    """The lesson's server shares the endpoint logic: the same 4xx, never a 500."""
    server = serve(make_mlp(), input_shape=(4,), classes=["a", "b", "c"])
    url = server.url
    good = json.dumps({"inputs": [[1, 2, 3, 4]]}).encode()
    assert http(url + "/predict", good, headers={"Content-Type": "text/plain"})[0] == 415
    assert http(url + "/predict", good, headers={"Content-Type": "image/png"})[0] == 415
    status, out, _ = http(url + "/predict", b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000
                          + b"}")
    assert status == 400 and out["reason"] == "too_deep"
    status, out, _ = http(url + "/predict", b'{"inputs": [[' + b"9" * 5000 + b", 1, 2, 3]]}")
    assert status == 422 and out["reason"] == "not_finite"
    pid = http(url + "/predict", good)[1]["id"]
    status, out, _ = http(url + "/feedback", {"id": pid, "labels": 5})
    assert status == 422 and out["reason"] == "bad_labels"
    status, out, _ = http(url + "/feedback", {"id": pid, "labels": [999]})
    assert status == 422 and "the model has 3 classes" in out["error"]
    assert http(url + "/feedback", {"id": pid, "labels": ["b"]})[0] == 200  # id not spent
    assert metric(url, "tinytorch_request_errors_total", endpoint="/predict",
                  reason="internal") == 0
    assert metric(url, "tinytorch_requests_total", endpoint="/feedback", status="500") == 0
