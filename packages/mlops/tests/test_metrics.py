"""The Prometheus text format: rendering, escaping, histogram buckets, reading it back."""

from __future__ import annotations

import threading

import pytest

from tinytorch.core.mlops import MetricFamily, ServerMetrics, parse_metrics, render_metrics


def test_render_metrics_exact_text():
    families = [
        MetricFamily("requests_total", "counter", "Requests by status.",
                     [("", [("endpoint", "/predict"), ("status", "200")], 3),
                      ("", [("endpoint", "/predict"), ("status", "422")], 1)]),
        MetricFamily("temperature", "gauge", "A gauge\nwith a newline \\ and backslash.",
                     [("", [], 21.5)]),
        MetricFamily("latency_seconds", "histogram", "Latency.",
                     [("_bucket", [("le", "0.1")], 2), ("_bucket", [("le", "+Inf")], 3),
                      ("_sum", [], 0.75), ("_count", [], 3)]),
    ]
    assert render_metrics(families) == (
        "# HELP requests_total Requests by status.\n"
        "# TYPE requests_total counter\n"
        'requests_total{endpoint="/predict",status="200"} 3\n'
        'requests_total{endpoint="/predict",status="422"} 1\n'
        "# HELP temperature A gauge\\nwith a newline \\\\ and backslash.\n"
        "# TYPE temperature gauge\n"
        "temperature 21.5\n"
        "# HELP latency_seconds Latency.\n"
        "# TYPE latency_seconds histogram\n"
        'latency_seconds_bucket{le="0.1"} 2\n'
        'latency_seconds_bucket{le="+Inf"} 3\n'
        "latency_seconds_sum 0.75\n"
        "latency_seconds_count 3\n"
    )


def test_render_metrics_escapes_label_values_and_reads_back():
    fam = MetricFamily("x_total", "counter", "X.",
                       [("", [("class", 'a "quoted"\\path\nline')], 2),
                        ("", [("class", "inf")], float("inf"))])
    text = render_metrics([fam])
    assert 'x_total{class="a \\"quoted\\"\\\\path\\nline"} 2\n' in text
    assert 'x_total{class="inf"} +Inf\n' in text
    parsed = parse_metrics(text)
    assert parsed[("x_total", frozenset({("class", 'a "quoted"\\path\nline')}))] == 2.0
    assert parsed[("x_total", frozenset({("class", "inf")}))] == float("inf")
    assert parsed[("# TYPE", "x_total")] == "counter"


def test_parse_refuses_garbage():
    with pytest.raises(ValueError, match="line 2"):
        parse_metrics("ok 1\nthis is not a sample\n")


def test_render_metrics_of_server_histogram_is_cumulative():
    m = ServerMetrics(buckets=(0.01, 0.1, 1.0))
    for seconds in (0.005, 0.05, 0.05, 0.5, 5.0):
        m.observe_request("/predict", 200, seconds)
    m.observe_request("/predict", 422, 0.002, error="bad_shape")
    m.observe_request("/health", 200, 0.0001)
    m.observe_predictions(["cat", "dog", "cat"])
    parsed = parse_metrics(m.render({"name": "m", "version": 2}))

    def get(metric, **labels):
        return parsed[(metric, frozenset(labels.items()))]

    assert get("tinytorch_requests_total", endpoint="/predict", status="200") == 5
    assert get("tinytorch_requests_total", endpoint="/predict", status="422") == 1
    assert get("tinytorch_requests_total", endpoint="/health", status="200") == 1
    assert get("tinytorch_request_errors_total", endpoint="/predict", reason="bad_shape") == 1
    buckets = [get("tinytorch_request_latency_seconds_bucket", endpoint="/predict", le=le)
               for le in ("0.01", "0.1", "1.0", "+Inf")]
    assert buckets == [2, 4, 5, 6]
    assert get("tinytorch_request_latency_seconds_count", endpoint="/predict") == 6
    assert get("tinytorch_request_latency_seconds_sum", endpoint="/predict") == pytest.approx(5.607)
    assert get("tinytorch_predictions_total", **{"class": "cat"}) == 2
    assert get("tinytorch_predicted_samples_total") == 3
    assert get("tinytorch_model_info", name="m", version="2") == 1
    assert parsed[("# TYPE", "tinytorch_request_latency_seconds")] == "histogram"


def test_render_metrics_of_server_counts_every_update_from_many_threads():
    m = ServerMetrics()

    def hammer():
        for _ in range(2000):
            m.observe_request("/predict", 200, 0.001)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parsed = parse_metrics(m.render())
    key = ("tinytorch_requests_total", frozenset({("endpoint", "/predict"), ("status", "200")}))
    assert parsed[key] == 16000
