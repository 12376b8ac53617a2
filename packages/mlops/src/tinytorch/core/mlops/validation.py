"""Validating a prediction request before the model sees it.

A server must assume every request is wrong until shown otherwise: a truncated body, a string
where a number belongs, an image of the wrong size, a NaN. Each is answered with a 4xx status
and a message saying exactly what was wrong — and nothing reaches the model, so a bad request
can neither crash it nor cost it time. The body is JSON::

    {"inputs": [[...], [...]]}      a batch: one entry per sample, each of the model's input shape

=====  ==============================================================================
 400   not JSON, not a JSON object, no ``inputs`` field
 413   body larger than the limit (refused from its Content-Length, before reading it)
 422   JSON fine but unusable: empty batch, too many samples, a ragged or wrongly shaped
       batch, values that are not numbers (strings, booleans, null), NaN or infinity
=====  ==============================================================================
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["RequestError", "parse_predict_request", "check_inputs"]


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


def parse_predict_request(body: bytes, input_shape: tuple | None = None,
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
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestError(400, f"the body is not UTF-8 text ({err.reason} at byte "
                                f"{err.start})", "bad_json") from None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as err:
        raise RequestError(400, f"malformed JSON: {err.msg} at line {err.lineno} column "
                                f"{err.colno}", "bad_json") from None
    if not isinstance(payload, dict):
        what = "a list" if isinstance(payload, list) else _describe(payload)
        raise RequestError(400, f"the body must be a JSON object like {{\"inputs\": [[...]]}}, "
                                f"got {what}", "bad_json")
    if "inputs" not in payload:
        fields = ", ".join(repr(k) for k in payload) or "none"
        raise RequestError(400, f"missing field 'inputs' (fields given: {fields})",
                           "missing_field")
    has_bools = any(token in text for token in ("true", "false", "null"))
    return check_inputs(payload["inputs"], input_shape, max_batch, has_bools)

