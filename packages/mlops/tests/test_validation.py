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


# ---------------------------------------------------------------- beyond check_inputs: the body
from tinytorch.core.mlops.validation import (MAX_JSON_DEPTH, check_content_type,  # noqa: E402
                                             check_labels, json_nesting_depth, scan_json)


@pytest.mark.parametrize("text,depth", [
    (b"1", 0), (b"[]", 1), (b"[1, [2]]", 2), (b'{"a": "[["}', 1), (b'{"a": "]]]]"}', 1),
    (b'{"a": "\\"[[", "b": [[[]]]}', 4), (b'{"a": "\\\\", "b": [[[]]]}', 4),
    (b'[[1], [[2]], 3]', 3), (b"[" * 50 + b"]" * 50, 50)])
def test_nesting_depth_counts_brackets_outside_strings(text, depth):
    assert json_nesting_depth(text) == depth
    assert json_nesting_depth(bytearray(text)) == depth


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab"),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(alphabet="[]\"\\k", max_size=3), inner, max_size=3),
                    max_leaves=12))
def test_nesting_depth_matches_the_parsed_structure(value):
    def depth(v):
        if isinstance(v, list):
            return 1 + max((depth(x) for x in v), default=0)
        if isinstance(v, dict):
            return 1 + max((depth(x) for x in v.values()), default=0)
        return 0
    def literal(v):
        if isinstance(v, list):
            return any(literal(x) for x in v)
        if isinstance(v, dict):
            return any(literal(x) for x in v.values())
        return v is None or isinstance(v, bool)
    text = json.dumps(value).encode()
    assert json_nesting_depth(text) == depth(value)
    if literal(value):  # the hint may say yes wrongly (a string), never no wrongly
        assert scan_json(text)[1]
    assert not scan_json(b"[[1.5, -2e3], [3, 4]]")[1]


def test_deeply_nested_json_is_a_400_not_a_crash():
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    err = refused(deep)
    assert (err.status, err.reason) == (400, "too_deep") and "100001 levels" in err.message
    just_over = b'{"inputs": ' + b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH + b"}"
    assert refused(just_over).reason == "too_deep"
    at_limit = b'{"inputs": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert refused(at_limit).reason != "too_deep"  # parsed: a shape error, not a depth one


def test_an_integer_too_long_to_convert_is_a_422():
    err = refused(b'{"inputs": [[1, ' + b"9" * 5000 + b"]]}")
    assert (err.status, err.reason) == (422, "not_finite") and "4300 digits" in err.message


@pytest.mark.parametrize("labels,words", [
    (5, "got int"), ([1], "got 1"), ([0, 3], "labels[1] is 3; the model has 3 classes"),
    ([0, -1], "labels[1] is -1"), ([True, 0], "labels[0] is a boolean"),
    ([0, 1.0], "labels[1] is float"), ([0, None], "labels[1] is null"),
    ([0, "zebra"], "labels[1] is a string"), ([0, 10**50], "labels[1] is 1000000000")])
def test_labels_outside_the_models_classes_are_refused(labels, words):
    with pytest.raises(RequestError) as err:
        check_labels(labels, 2, 3, ["cat", "dog", "ship"])
    assert (err.value.status, err.value.reason) == (422, "bad_labels")
    assert words in err.value.message, err.value.message


def test_labels_by_index_or_name():
    np.testing.assert_array_equal(check_labels([2, "cat", "dog"], 3, 3, ["cat", "dog", "ship"]),
                                  [2, 0, 1])
    assert check_labels([0, 9], 2, 10).dtype == np.int64


@pytest.mark.parametrize("value,ok", [
    (None, True), ("", True), ("application/json", True), ("Application/JSON; charset=utf-8", True),
    ("application/vnd.api+json", True), ("text/plain", False), ("image/png", False),
    ("application/x-www-form-urlencoded", False), ("text/json", False)])
def test_content_type_must_be_json(value, ok):
    if ok:
        check_content_type(value)
    else:
        with pytest.raises(RequestError) as err:
            check_content_type(value)
        assert (err.value.status, err.value.reason) == (415, "unsupported_media_type")
        assert repr(value) in err.value.message
