"""Request validation, without a server: every kind of bad body gets its status and message."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.mlops import RequestError, parse_predict_request


def body(obj) -> bytes:
    return json.dumps(obj).encode()


def refused(raw: bytes, shape=(2,), max_batch=4) -> RequestError:
    with pytest.raises(RequestError) as err:
        parse_predict_request(raw, shape, max_batch)
    return err.value


def test_check_inputs_good_batch_becomes_float32():
    x = parse_predict_request(body({"inputs": [[1, 2.5], [-3, 4e3]]}), (2,))
    assert x.dtype == np.float32 and x.shape == (2, 2)
    np.testing.assert_array_equal(x, [[1, 2.5], [-3, 4000]])
    images = parse_predict_request(body({"inputs": np.zeros((3, 2, 4, 4)).tolist()}), (2, 4, 4))
    assert images.shape == (3, 2, 4, 4)
    # extra fields are ignored; any shape is accepted when none is fixed
    assert parse_predict_request(body({"inputs": [[1]], "id": 3}), None).shape == (1, 1)


# (body, status, reason, words the message must contain)
BAD = [
    (b"{", 400, "bad_json", ["malformed JSON", "line 1 column 2"]),
    (b"", 400, "bad_json", ["malformed JSON"]),
    (b"\xff\xfe", 400, "bad_json", ["not UTF-8"]),
    (body([[1, 2]]), 400, "bad_json", ["JSON object", "got a list"]),
    (body("hello"), 400, "bad_json", ["JSON object", "a string"]),
    (body({"input": [[1, 2]]}), 400, "missing_field", ["missing field 'inputs'", "'input'"]),
    (body({}), 400, "missing_field", ["missing field 'inputs'", "none"]),
    (body({"inputs": {"a": 1}}), 422, "bad_type", ["must be a list", "an object"]),
    (body({"inputs": 3}), 422, "bad_type", ["must be a list", "int"]),
    (body({"inputs": []}), 422, "empty_batch", ["empty batch"]),
    (body({"inputs": [[1, 2]] * 5}), 422, "batch_too_large", ["5 samples", "at most 4"]),
    (body({"inputs": [[1, 2], [3]]}), 422, "bad_shape", ["ragged"]),
    (body({"inputs": [[1, 2, 3]]}), 422, "bad_shape", ["shape [2]", "got [3]"]),
    (body({"inputs": [1, 2]}), 422, "bad_shape", ["shape [2]", "got []"]),
    (body({"inputs": [[[1, 2]]]}), 422, "bad_shape", ["shape [2]", "got [1, 2]"]),
    (body({"inputs": [[1, "2"]]}), 422, "bad_dtype", ["inputs[0][1]", "a string", "numbers"]),
    (body({"inputs": [[1, None]]}), 422, "bad_dtype", ["inputs[0][1]", "null"]),
    (body({"inputs": [[1.5, True]]}), 422, "bad_dtype", ["inputs[0][1]", "a boolean"]),
    (body({"inputs": [[1, 2], [3, {"x": 1}]]}), 422, "bad_dtype", ["inputs[1][1]", "an object"]),
    (b'{"inputs": [[1, NaN]]}', 422, "not_finite", ["inputs[0][1]", "finite"]),
    (b'{"inputs": [[Infinity, 1]]}', 422, "not_finite", ["inputs[0][0]", "finite"]),
    (b'{"inputs": [[1, -Infinity]]}', 422, "not_finite", ["inputs[0][1]"]),
    (b'{"inputs": [[1, 1e39]]}', 422, "not_finite", ["inputs[0][1]", "3.4e38"]),
    (b'{"inputs": [[1, 1e400]]}', 422, "not_finite", ["inputs[0][1]"]),
    (body({"inputs": [[1, 10**400]]}), 422, "not_finite", ["too large"]),
]


@pytest.mark.parametrize("raw,status,reason,words", BAD,
                         ids=[f"{i}-{b[3]}" for i, b in enumerate(BAD)])
def test_check_inputs_names_each_bad_request(raw, status, reason, words):
    err = refused(raw)
    assert (err.status, err.reason) == (status, reason), err.message
    for word in words:
        assert word in err.message, (word, err.message)
    assert err.to_json() == {"error": err.message, "status": status, "reason": reason}


def test_check_inputs_word_true_inside_a_key_does_not_fool_the_check():
    # "true" appears in the text (in a field name), but the inputs are all numbers
    x = parse_predict_request(body({"inputs": [[1, 2]], "truelabel": "false"}), (2,))
    assert x.tolist() == [[1, 2]]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-1e6, 1e6, width=32), min_size=3, max_size=3),
                min_size=1, max_size=4))
def test_check_inputs_accepts_any_finite_batch_of_the_right_shape(rows):
    x = parse_predict_request(body({"inputs": rows}), (3,), max_batch=4)
    np.testing.assert_array_equal(x, np.asarray(rows, dtype=np.float32))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.floats(-10, 10), min_size=1, max_size=4), min_size=1, max_size=4)
       .filter(lambda rows: any(len(r) != 3 for r in rows)))
def test_check_inputs_refuses_any_batch_with_a_wrong_sample(rows):
    err = refused(body({"inputs": rows}), shape=(3,))
    assert err.status == 422 and err.reason == "bad_shape"
