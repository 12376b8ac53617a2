"""ModelService: the fast JSON path (orjson) and the standard library's accept the same bodies
and refuse the same ones with the same status, reason and message."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops import Predictor, RequestError, ServerMetrics
from tinytorch.core.mlops.service import ModelService


def services(make_mlp):
    model = Predictor(make_mlp())
    fast = ModelService(model, (2,), None, 4, None, {}, ServerMetrics(), fast_json=True)
    slow = ModelService(model, (2,), None, 4, None, {}, ServerMetrics(), fast_json=False)
    return fast, slow


def outcome(service, body):
    try:
        return ("ok", service.parse_predict(body).tolist())
    except RequestError as err:
        return (err.status, err.reason, err.message)


BODIES = [
    b'{"inputs": [[1, 2], [3.5, -4e-3]]}', b'{"inputs": [[1, NaN]]}', b'{"inputs": [[Infinity, 1]]}',
    b'{"inputs": [[1, 1e39]]}', b'{"inputs": [[1, ' + b"9" * 5000 + b']]}',
    b'{"inputs": [[1, 100000000000000000000000000000]]}', b'{"inputs": [[1, true]]}',
    b'{"inputs": [[1, null]]}', b'{"inputs": [[1, "2"]]}', b'{"inputs": [[1, 2], [3]]}',
    b'{"inputs": [[1, 2, 3]]}', b'{"inputs": []}', b'{"inputs": [[1, 2]] }  ', b"{",
    b"", b"\xff\xfe", b"[[1, 2]]", b'"hello"', b'{"input": [[1, 2]]}',
    b'{"inputs": [[1, 2]], "truelabel": "false"}', b'{"inputs": [[1, 2]], "x": "\xc3\xa9"}',
    b'{"inputs": [[1, 2]], "x": "\\ud800"}', b'{"inputs": ' + b"[" * 40 + b"]" * 40 + b"}",
    b'{"inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}", b'{"inputs": [[1, 2]]} trailing',
    b'{"inputs": [[01, 2]]}', b'{"inputs": [[.5, 2]]}', b'{"inputs": [[1., 2]]}',
    b'{"inputs": [[+1, 2]]}', b'{"inputs": [[1, 2],]}', b'{"inputs": [[1, 2]], "inputs": [[3, 4]]}',
]


def test_fast_and_standard_json_paths_agree_on_every_body(make_mlp):
    fast, slow = services(make_mlp)
    assert fast.json_backend == "orjson" and slow.json_backend == "json"
    for body in BODIES:
        assert outcome(fast, body) == outcome(slow, body), body[:60]
        assert outcome(fast, bytearray(body)) == outcome(slow, body), body[:60]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(),
                         min_size=2, max_size=2), min_size=1, max_size=5))
def test_fast_and_standard_json_paths_agree_on_any_numbers(pair, rows):
    fast, slow = pair
    body = json.dumps({"inputs": rows}).encode()
    assert outcome(fast, body) == outcome(slow, body)


@pytest.fixture(scope="module")
def pair():
    """(fast, standard) services on a small MLP (hypothesis reuses one pair)."""
    from tinytorch.core.dense import MLP
    return services(lambda: MLP(2, [4], 3))


def test_monitor_gauges_without_a_monitor_leave_the_metrics_alone(make_mlp):
    # ModelService.monitor is optional: refreshing its gauges without one is a no-op
    # (it used to fail on None.check()).
    fast, _ = services(make_mlp)
    assert fast.monitor is None
    before = fast.metrics.render(fast.info)
    fast.update_monitor_gauges()
    assert fast.metrics.render(fast.info) == before
