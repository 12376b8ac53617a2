"""Server metrics in the Prometheus text exposition format (``GET /metrics``).

Prometheus (and most monitoring systems that copy it) scrapes a plain-text page listing every
metric as ``name{label="value",...} number``, with ``# HELP`` and ``# TYPE`` comment lines
before each metric family::

    # HELP tinytorch_requests_total HTTP requests handled, by endpoint and status code.
    # TYPE tinytorch_requests_total counter
    tinytorch_requests_total{endpoint="/predict",status="200"} 1027

A *counter* only goes up (requests, errors, predictions per class). A *histogram* counts
observations (here: request latencies) into cumulative buckets — ``le="0.05"`` is the number
of requests that took at most 50 ms, ``le="+Inf"`` all of them — plus their ``_sum`` and
``_count``, from which a dashboard computes averages and percentiles over any time range.
A *gauge* is a value that goes up and down (the drift statistics, the model version).

:class:`ServerMetrics` is what the server updates (thread-safe), :func:`render_metrics` turns
a snapshot of it into the text, and :func:`parse_metrics` reads such text back (for tests,
benchmarks and scripts).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ServerMetrics", "MetricFamily", "render_metrics", "parse_metrics",
           "LATENCY_BUCKETS", "escape_label_value"]

# seconds; Prometheus' default buckets with finer steps below 5 ms
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class MetricFamily:
    """One metric family: a name, its type, a help line and samples.

    ``samples`` is a list of ``(suffix, labels, value)``: the suffix is appended to the name
    (``""``, or ``"_bucket"``, ``"_sum"``, ``"_count"`` for a histogram) and ``labels`` is a
    list of ``(label, value)`` pairs in the order they are printed.
    """

    name: str
    type: str
    help: str
    samples: list = field(default_factory=list)


def escape_label_value(value: Any) -> str:
    """A label value as the format requires: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_metrics(families: list[MetricFamily]) -> str:
    """The text exposition format of ``families``: for each, a ``# HELP`` line, a ``# TYPE``
    line, then one line per sample; the text ends with a newline.

    A sample ``(suffix, labels, value)`` is printed as
    ``<name><suffix>{k1="v1",k2="v2"} <value>`` — labels in the given order, each value passed
    through :func:`escape_label_value`, no braces at all when there are no labels — and the
    value through ``_format_value`` (``3``, ``0.25``, ``+Inf``, ``NaN``). In the help text a
    backslash becomes ``\\\\`` and a newline ``\\n``.

    Example:
        >>> fam = MetricFamily("requests_total", "counter", "Requests.",
        ...                    [("", [("endpoint", "/predict")], 3)])
        >>> print(render_metrics([fam]), end="")
        # HELP requests_total Requests.
        # TYPE requests_total counter
        requests_total{endpoint="/predict"} 3
    """
    lines: list[str] = []
    for family in families:
        ### BEGIN SOLUTION
        ### HINT: help text escapes backslash and newline; a sample without labels has no {}
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {family.name} {help_text}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for suffix, labels, value in family.samples:
            label_text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)
            label_text = f"{{{label_text}}}" if label_text else ""
            lines.append(f"{family.name}{suffix}{label_text} {_format_value(value)}")
        ### END SOLUTION
    return "\n".join(lines) + "\n"


_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*')


def parse_metrics(text: str) -> dict:
    """Read exposition text back: ``{(name, frozenset of (label, value)): value}``, plus the
    types under ``("# TYPE", name)``. Raises ValueError on a line that is not valid.

    Example:
        >>> m = parse_metrics('# TYPE x counter\\nx{a="1"} 2\\n')
        >>> m[("x", frozenset({("a", "1")}))], m[("# TYPE", "x")]
        (2.0, 'counter')
    """
    out: dict = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                out[("# TYPE", parts[2])] = parts[3]
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {number} is not a metric sample: {line!r}")
        name, label_text, value = m.groups()
        labels = []
        pos = 0
        label_text = label_text or ""
        while pos < len(label_text):
            lm = _LABEL.match(label_text, pos)
            if not lm:
                raise ValueError(f"line {number}: bad labels {label_text!r}")
            raw = lm.group(2)
            unescaped = re.sub(r'\\(.)', lambda g: "\n" if g.group(1) == "n" else g.group(1), raw)
            labels.append((lm.group(1), unescaped))
            pos = lm.end()
        out[(name, frozenset(labels))] = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
    return out


class ServerMetrics:
    """Counters and a latency histogram for a model server; safe to update from many threads.

    Args:
        buckets: latency histogram bucket upper bounds, in seconds.
    """

    def __init__(self, buckets: tuple = LATENCY_BUCKETS) -> None:
        self.buckets = tuple(sorted(float(b) for b in buckets))
        self._lock = threading.Lock()
        self.requests: dict = {}        # (endpoint, status) -> count
        self.errors: dict = {}          # (endpoint, reason) -> count
        self.latency: dict = {}         # endpoint -> [bucket counts..., sum, count]
        self.predictions: dict = {}     # class label -> count
        self.samples = 0                # inputs predicted
        self.gauges: dict = {}          # (name, help) -> {labels tuple: value}

    def observe_request(self, endpoint: str, status: int, seconds: float,
                        error: str | None = None) -> None:
        """Count one handled request and its latency (and its error reason if it failed)."""
        with self._lock:
            key = (endpoint, str(int(status)))
            self.requests[key] = self.requests.get(key, 0) + 1
            if error is not None:
                ekey = (endpoint, error)
                self.errors[ekey] = self.errors.get(ekey, 0) + 1
            hist = self.latency.setdefault(endpoint, [0] * len(self.buckets) + [0.0, 0])
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    hist[i] += 1
            hist[-2] += float(seconds)
            hist[-1] += 1

    def observe_predictions(self, classes: list) -> None:
        """Count predicted classes (labels as they are reported, e.g. names)."""
        with self._lock:
            for c in classes:
                self.predictions[c] = self.predictions.get(c, 0) + 1
            self.samples += len(classes)

    def set_gauge(self, name: str, help: str, labels: tuple, value: float) -> None:
        """Set a gauge sample (``labels``: a tuple of (label, value) pairs)."""
        with self._lock:
            self.gauges.setdefault((name, help), {})[tuple(labels)] = float(value)

    def families(self, info: dict | None = None) -> list[MetricFamily]:
        """A consistent snapshot of everything, as metric families."""
        with self._lock:
            fams = [
                MetricFamily("tinytorch_requests_total", "counter",
                             "HTTP requests handled, by endpoint and status code.",
                             [("", [("endpoint", e), ("status", s)], n)
                              for (e, s), n in sorted(self.requests.items())]),
                MetricFamily("tinytorch_request_errors_total", "counter",
                             "Requests answered with an error, by endpoint and reason.",
                             [("", [("endpoint", e), ("reason", r)], n)
                              for (e, r), n in sorted(self.errors.items())]),
            ]
            latency = MetricFamily("tinytorch_request_latency_seconds", "histogram",
                                   "Time to handle a request (parse, validate, predict, "
                                   "serialise), in seconds.")
            for endpoint, hist in sorted(self.latency.items()):
                for bound, count in zip(self.buckets, hist):
                    latency.samples.append(("_bucket", [("endpoint", endpoint),
                                                        ("le", _format_value(bound))], count))
                latency.samples.append(("_bucket", [("endpoint", endpoint), ("le", "+Inf")],
                                        hist[-1]))
                latency.samples.append(("_sum", [("endpoint", endpoint)], hist[-2]))
                latency.samples.append(("_count", [("endpoint", endpoint)], hist[-1]))
            fams.append(latency)
            fams.append(MetricFamily("tinytorch_predictions_total", "counter",
                                     "Predicted class of every served sample.",
                                     [("", [("class", c)], n) for c, n in
                                      sorted(self.predictions.items(), key=lambda kv: str(kv[0]))]))
            fams.append(MetricFamily("tinytorch_predicted_samples_total", "counter",
                                     "Samples predicted (a request may hold a batch).",
                                     [("", [], self.samples)]))
            for (name, help_text), samples in sorted(self.gauges.items()):
                fams.append(MetricFamily(name, "gauge", help_text,
                                         [("", list(labels), v) for labels, v in
                                          sorted(samples.items())]))
        if info:
            fams.append(MetricFamily("tinytorch_model_info", "gauge",
                                     "The model being served (value is always 1).",
                                     [("", sorted((k, str(v)) for k, v in info.items()), 1)]))
        return fams

    def render(self, info: dict | None = None) -> str:
        """The ``/metrics`` page."""
        return render_metrics(self.families(info))
