"""Validating a prediction request before the model sees it.

A server must assume every request is wrong until shown otherwise: a truncated body, a string
where a number belongs, an image of the wrong size, a NaN. Each is answered with a 4xx status
and a message saying exactly what was wrong — and nothing reaches the model, so a bad request
can neither crash it nor cost it time. The body is JSON::

    {"inputs": [[...], [...]]}      a batch: one entry per sample, each of the model's input shape

=====  ==============================================================================
 400   not JSON, nested deeper than :data:`MAX_JSON_DEPTH`, not a JSON object, no
       ``inputs`` field
 413   body larger than the limit (the server stops reading at the limit)
 415   a ``Content-Type`` that is not JSON (:func:`check_content_type`)
 422   JSON fine but unusable: empty batch, too many samples, a ragged or wrongly shaped
       batch, values that are not numbers (strings, booleans, null), NaN or infinity, an
       integer too long to convert
=====  ==============================================================================

``POST /feedback`` bodies (``{"id": ..., "labels": [...]}``) are decoded the same way, and
their labels checked by :func:`check_labels` (422 for anything but one class of the model per
predicted sample).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["RequestError", "parse_predict_request", "check_inputs", "check_labels",
           "check_content_type", "check_depth", "check_payload", "decode_json_body",
           "json_nesting_depth", "scan_json", "MAX_JSON_DEPTH"]

#: Deepest nesting of arrays and objects a request body may have (a batch of images needs 5).
MAX_JSON_DEPTH = 32


class RequestError(ValueError):
    """A request the server refuses: an HTTP status (4xx) and a message for the client."""

    def __init__(self, status: int, message: str, reason: str = "bad_request") -> None:
        super().__init__(message)
        self.status = int(status)
        self.message = message
        self.reason = reason  # a short label for the error counter in /metrics

    def to_json(self) -> dict:
        """The response body."""
        return {"error": self.message, "status": self.status, "reason": self.reason}


def _first_non_number(value: Any, path: str = "inputs") -> tuple[str, Any] | None:
    """Where the first value that is not a number (a bool, a string, null...) sits, if any."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _first_non_number(item, f"{path}[{i}]")
            if found is not None:
                return found
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return path, value
    return None


def _describe(value: Any) -> str:
    return {bool: "a boolean", str: "a string", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__)


def check_inputs(inputs: Any, input_shape: tuple | None, max_batch: int,
                 has_bools: bool = True) -> np.ndarray:
    """The ``inputs`` field as a float32 array of shape (N, *input_shape), or a RequestError.

    Args:
        inputs: the decoded JSON value of ``inputs``.
        input_shape: the shape of one sample (None: any shape, at least one axis per sample).
        max_batch: the most samples one request may hold.
        has_bools: whether the body might contain ``true``/``false``/``null`` (they would be
            silently turned into numbers by numpy, so they must be looked for explicitly).
    """
    ### BEGIN SOLUTION
    ### HINT: in this order, each failure a RequestError(422, message, reason) (the table in the
    ### HINT: module docstring; tests/test_validation.py lists the words each message needs):
    ### HINT: a list ("bad_type"), not empty ("empty_batch"), at most max_batch ("batch_too_large"),
    ### HINT: np.asarray raises on ragged lists ("bad_shape"); if the dtype kind is not integer or
    ### HINT: float, or has_bools, _first_non_number finds the culprit ("bad_dtype"); then the
    ### HINT: sample shape ("bad_shape"); then float32 and np.isfinite ("not_finite")
    if not isinstance(inputs, list):
        raise RequestError(422, f"'inputs' must be a list of samples, got {_describe(inputs)}",
                           "bad_type")
    if len(inputs) == 0:
        raise RequestError(422, "'inputs' is an empty batch: send at least one sample",
                           "empty_batch")
    if len(inputs) > max_batch:
        raise RequestError(422, f"'inputs' holds {len(inputs)} samples; at most {max_batch} "
                                "per request", "batch_too_large")
    try:
        array = np.asarray(inputs)
    except (ValueError, TypeError):
        raise RequestError(422, "'inputs' is ragged: every sample must have the same shape "
                                "(nested lists of equal lengths)", "bad_shape") from None
    if array.dtype.kind not in "iuf" or has_bools:
        found = _first_non_number(inputs)
        if found is not None:
            where, value = found
            raise RequestError(422, f"{where} is {_describe(value)} ({json.dumps(value)[:40]}); "
                                    "inputs must be numbers", "bad_dtype")
    if array.dtype.kind not in "iuf":  # numbers only, yet not an int/float array: huge ints
        try:
            array = np.asarray(inputs, dtype=np.float64)
        except (OverflowError, ValueError, TypeError):
            raise RequestError(422, "'inputs' holds an integer too large for a float: inputs "
                                    "must be finite float32 numbers", "not_finite") from None
    if input_shape is not None and array.shape[1:] != tuple(input_shape):
        raise RequestError(422, f"each sample must have shape {list(input_shape)}, got "
                                f"{list(array.shape[1:])} (batch shape {list(array.shape)})",
                           "bad_shape")
    if array.ndim < 2:
        raise RequestError(422, f"'inputs' must be a batch of samples (a list of lists), got "
                                f"shape {list(array.shape)}", "bad_shape")
    with np.errstate(over="ignore", invalid="ignore"):
        array = array.astype(np.float32)
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = "inputs" + "".join(f"[{i}]" for i in index)
        raise RequestError(422, f"{where} is not a finite float32 number (NaN, infinity, or "
                                "beyond ±3.4e38): inputs must be finite", "not_finite")
    return array
    ### END SOLUTION


def json_nesting_depth(body: bytes | bytearray) -> int:
    """How deeply the arrays and objects of a JSON text nest (brackets inside strings do not
    count), without parsing it: ``b'[1, [2]]'`` is 2, ``b'{"a": "[["}'`` is 1.

    Python's parser recurses once per level and gives up with a RecursionError around a
    thousand; a body nested 100,000 deep must get a 400, not crash the handler.
    """
    return scan_json(body)[0]


def scan_json(body: bytes | bytearray) -> tuple[int, bool]:
    """``(nesting depth, may hold a literal)`` of a JSON text, without parsing it: the depth
    as :func:`json_nesting_depth`, and whether ``true``, ``false`` or ``null`` may appear (a
    hint: True also when a string holds those letters).

    Numbers, commas and blanks cannot change the nesting: they are dropped first, in one C
    pass, so a body of numbers shrinks to its few hundred brackets before numpy follows them
    (a fraction of a millisecond for a 60 kB image).
    """
    data = body.translate(None, _NOT_STRUCTURE)
    literals = b"tru" in data or b"fals" in data or b"null" in data  # 'e' was dropped
    raw = np.frombuffer(data, dtype=np.uint8)
    kind = _BRACKETS[raw]
    where = np.flatnonzero(kind)
    kind = kind[where]
    quotes = where[kind == 2]
    if quotes.size and data.find(b"\\") >= 0:  # escaped quotes do not end a string
        quotes = np.array([q for q in quotes.tolist() if _unescaped(data, q)], dtype=np.intp)
    brackets = kind != 2
    where, kind = where[brackets], kind[brackets]
    if quotes.size:
        outside = np.searchsorted(quotes, where) % 2 == 0
        where, kind = where[outside], kind[outside]
    if kind.size == 0:
        return 0, literals
    return int(max(0, np.cumsum(np.where(kind == 1, 1, -1)).max())), literals


_NOT_STRUCTURE = b"0123456789.-+eE, \t\r\n"
_BRACKETS = np.zeros(256, dtype=np.int8)
_BRACKETS[[ord("["), ord("{")]] = 1
_BRACKETS[[ord("]"), ord("}")]] = 3
_BRACKETS[ord('"')] = 2


def _unescaped(data: bytes | bytearray, i: int) -> bool:
    """Whether the quote at ``data[i]`` is preceded by an even number of backslashes."""
    n = 0
    while i - n - 1 >= 0 and data[i - n - 1] == 0x5C:
        n += 1
    return n % 2 == 0


def decode_json_body(body: bytes | bytearray) -> tuple[Any, str]:
    """The decoded JSON value of a request body and its text, or a RequestError: 400 when it
    is not UTF-8, nests deeper than :data:`MAX_JSON_DEPTH` or is not JSON; 422 when it holds an
    integer too long to convert (Python refuses integers of more than 4,300 digits)."""
    check_depth(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(400, f"the body is not UTF-8 text ({err.reason} at byte "
                                f"{err.start})", "bad_json") from None
    try:
        return json.loads(text), text
    except json.JSONDecodeError as err:
        raise RequestError(400, f"malformed JSON: {err.msg} at line {err.lineno} column "
                                f"{err.colno}", "bad_json") from None
    except RecursionError:  # the depth scan should have caught it; never a 500
        raise RequestError(400, "the JSON nests too deeply to parse", "too_deep") from None
    except ValueError:  # an integer beyond Python's int/str conversion limit
        raise RequestError(422, "the body holds an integer too long to convert (more than "
                                "4300 digits): inputs must be finite float32 numbers",
                           "not_finite") from None


def check_depth(body: bytes | bytearray) -> bool:
    """RequestError 400 when the body's arrays and objects nest deeper than
    :data:`MAX_JSON_DEPTH`; else whether it may hold ``true``/``false``/``null``."""
    depth, literals = scan_json(body)
    if depth > MAX_JSON_DEPTH:
        raise RequestError(400, f"the JSON nests {depth} levels deep; at most {MAX_JSON_DEPTH} "
                                "are accepted", "too_deep")
    return literals


def parse_predict_request(body: bytes | bytearray, input_shape: tuple | None = None,
                          max_batch: int = 256) -> np.ndarray:
    """The batch of a ``POST /predict`` body, validated: float32 of shape (N, *input_shape).

    Raises:
        RequestError: with the HTTP status and a message naming what was wrong.

    Example:
        >>> parse_predict_request(b'{"inputs": [[1, 2], [3, 4]]}', (2,)).shape
        (2, 2)
        >>> parse_predict_request(b'{"inputs": [[1, 2, 3]]}', (2,))
        Traceback (most recent call last):
        ...
        tinytorch.core.mlops.validation.RequestError: each sample must have shape [2], got [3] (batch shape [1, 3])
    """
    payload, text = decode_json_body(body)
    return check_payload(payload, input_shape, max_batch,
                         any(token in text for token in ("true", "false", "null")))


def check_payload(payload: Any, input_shape: tuple | None, max_batch: int,
                  has_bools: bool) -> np.ndarray:
    """The decoded body of a ``POST /predict``: a JSON object with an ``inputs`` field (400
    otherwise), whose batch :func:`check_inputs` validates."""
    if not isinstance(payload, dict):
        what = "a list" if isinstance(payload, list) else _describe(payload)
        raise RequestError(400, f"the body must be a JSON object like {{\"inputs\": [[...]]}}, "
                                f"got {what}", "bad_json")
    if "inputs" not in payload:
        fields = ", ".join(repr(k) for k in payload) or "none"
        raise RequestError(400, f"missing field 'inputs' (fields given: {fields})",
                           "missing_field")
    return check_inputs(payload["inputs"], input_shape, max_batch, has_bools)


def check_labels(labels: Any, count: int, num_classes: int,
                 classes: list | None = None) -> np.ndarray:
    """The ``labels`` of a ``POST /feedback`` body as int64 class indices, or RequestError 422.

    Args:
        labels: the decoded JSON value: a list of ``count`` class indices (or class names).
        count: how many samples the prediction had.
        num_classes: the model's number of classes; an index must be in ``[0, num_classes)``.
        classes: class names, when the model has them (a name stands for its index).
    """
    if not isinstance(labels, list):
        raise RequestError(422, f"'labels' must be a list of {count} class indices (or class "
                                f"names), one per predicted sample; got {_describe(labels)}",
                           "bad_labels")
    if len(labels) != count:
        raise RequestError(422, f"'labels' must be a list of {count} class indices (or class "
                                f"names), one per predicted sample; got {len(labels)}",
                           "bad_labels")
    index = {name: i for i, name in enumerate(classes or [])}
    out = np.empty(count, dtype=np.int64)
    for i, value in enumerate(labels):
        if isinstance(value, str) and value in index:
            value = index[value]
        if isinstance(value, bool) or not isinstance(value, int):
            known = f" (or one of {classes[:10]})" if classes else ""
            raise RequestError(422, f"labels[{i}] is {_describe(value)} "
                                    f"({json.dumps(value)[:40]}); a label is a class index"
                                    f"{known}", "bad_labels")
        if not 0 <= value < num_classes:
            raise RequestError(422, f"labels[{i}] is {str(value)[:40]}; the model has "
                                    f"{num_classes} classes (0 to {num_classes - 1})",
                               "bad_labels")
        out[i] = value
    return out


def check_content_type(value: str | None) -> None:
    """A request body must be JSON: ``Content-Type: application/json`` (or ``…+json``, any
    parameters) or no Content-Type at all; anything else is a 415."""
    if value is None or not value.strip():
        return
    media = value.split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/")
                                       and media.endswith("+json")):
        return
    raise RequestError(415, f"Content-Type {value[:60]!r} is not JSON: send the body as "
                            "application/json", "unsupported_media_type")
