"""What a model server does with a request, whatever carries it over HTTP.

Both servers hand request bodies to a :class:`ModelService`: :class:`~.server.ModelServer`
(the standard library, one thread per connection — the server of the lesson, with no
dependency) and :class:`~.asgi.ASGIModelServer` (uvicorn, the ``serve`` extra — what
``tito serve`` runs). The service validates bodies (:mod:`.validation`), runs the model
(a :class:`~.predictor.Predictor`), feeds the monitor, remembers each prediction for
``/feedback``, and writes the answers. The transport around it decides how requests meet
the model: one at a time (``ModelServer``) or gathered into shared forward passes
(``ASGIModelServer``'s dynamic batching).

JSON decoding has two paths and one dispatch point, :meth:`ModelService.parse_predict`: with
the ``orjson`` package installed (part of the ``serve`` extra) a body is decoded by orjson —
about ten times faster than the standard library on a batch of images, where decoding costs
more than the forward pass — and its ``inputs`` checked by the same
:func:`~.validation.check_inputs`; a body orjson refuses goes through the standard library's
path (:func:`~.validation.parse_predict_request`), so every error gets exactly the same
status and message either way. :attr:`ModelService.json_backend` says which ran.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .monitoring import Monitor
from .predictor import Predictor

if TYPE_CHECKING:
    from .workers import ProcessPredictor
from .validation import (RequestError, check_depth, check_labels, check_payload,
                         decode_json_body, parse_predict_request)

_orjson: ModuleType | None
try:  # the serve extra's fast JSON decoder; the standard library's otherwise
    import orjson

    _orjson = orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

__all__ = ["ModelService", "version_settings", "FEEDBACK_MEMORY", "dump_json"]

FEEDBACK_MEMORY = 10000  # predictions remembered for /feedback


def dump_json(obj: Any) -> bytes:
    """Compact JSON bytes (NaN and infinity refused: they are not JSON)."""
    return json.dumps(obj, allow_nan=False, separators=(",", ":")).encode()


def version_settings(version: Any, monitor: bool = True, load: bool = True) -> dict:
    """Constructor arguments of a server for a registered model version (loaded and verified;
    ``load=False``: the model is left to whoever loads it, e.g. a model process): the model,
    its input shape, class names, output kind, info labels and — with ``monitor`` and a saved
    reference — a :class:`Monitor` tracking drift against the training data."""
    from .drift import DriftDetector
    model = version.load_model() if load else None
    mon = None
    if monitor and version.reference() is not None:
        baseline = next((v for k, v in version.metrics.items()
                         if "acc" in k.lower() and isinstance(v, float)), None)
        mon = Monitor(DriftDetector.from_version(version), baseline_accuracy=baseline,
                      name=f"{version.name} v{version.version}")
    return {"model": model, "input_shape": version.input_shape, "classes": version.classes,
            "monitor": mon, "info": {"name": version.name, "version": version.version},
            "output": version.metadata.get("output", "logits")}


class ModelService:
    """The endpoints' logic, without HTTP.

    Args:
        predictor: the model, wrapped (one forward pass at a time, eval mode, no_grad).
        input_shape: the shape of one sample (requests are checked against it).
        classes: class names, in output order (reported as ``labels``).
        max_batch: the most samples one request may hold (422 beyond).
        monitor: fed with every batch that runs (drift, accuracy).
        info: the model's labels (name, version...) for ``/health`` and ``/metrics``.
        metrics: where predictions and gauges are counted (a :class:`~.metrics.ServerMetrics`
            or the ``serve`` extra's Prometheus registry: same methods).
        fast_json: decode ``/predict`` bodies with orjson when it is installed.
    """

    def __init__(self, predictor: Predictor | ProcessPredictor, input_shape: tuple | None, classes: list | None,
                 max_batch: int, monitor: Monitor | None, info: dict, metrics: Any,
                 fast_json: bool = True) -> None:
        self.predictor = predictor
        self.input_shape = None if input_shape is None else tuple(int(n) for n in input_shape)
        self.classes = list(classes) if classes else None
        self.max_batch = int(max_batch)
        self.monitor = monitor
        self.info = dict(info)
        self.metrics = metrics
        self.started = time.time()
        self._orjson = _orjson if fast_json else None
        self._recent: OrderedDict = OrderedDict()  # prediction id -> (classes, num_classes)
        self._recent_lock = threading.Lock()

    @property
    def json_backend(self) -> str:
        """``"orjson"`` or ``"json"``: which decoder reads ``/predict`` bodies."""
        return "orjson" if self._orjson is not None else "json"

    # ------------------------------------------------------------------ /predict
    def parse_predict(self, body: bytes | bytearray) -> np.ndarray:
        """The validated batch of a ``/predict`` body (float32, (N, *input_shape)), or a
        RequestError (400 / 422)."""
        if self._orjson is None:
            return parse_predict_request(body, self.input_shape, self.max_batch)
        literals = check_depth(body)
        try:
            payload = self._orjson.loads(body)
        except self._orjson.JSONDecodeError:
            # NaN, huge integers, bad UTF-8, malformed text...: the standard library's path
            # accepts or names each exactly as it would without orjson
            return parse_predict_request(body, self.input_shape, self.max_batch)
        return check_payload(payload, self.input_shape, self.max_batch, literals)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classes and probabilities of a batch (one forward pass), and the monitor fed."""
        classes, probabilities = self.predictor.predict(x)
        if self.monitor is not None:
            self.monitor.observe(x, probabilities)
        return classes, probabilities

    def answer(self, classes: np.ndarray, probabilities: np.ndarray) -> bytes:
        """The ``/predict`` response for one request's rows: counted, remembered under a new
        prediction id for ``/feedback``."""
        labels = ([self.classes[c] if c < len(self.classes) else str(c) for c in classes]
                  if self.classes else None)
        self.metrics.observe_predictions(labels if labels else [str(int(c)) for c in classes])
        request_id = uuid.uuid4().hex
        num_classes = len(self.classes) if self.classes else int(probabilities.shape[1])
        with self._recent_lock:
            self._recent[request_id] = (classes, num_classes)
            while len(self._recent) > FEEDBACK_MEMORY:
                self._recent.popitem(last=False)
        out = {"predictions": classes.tolist(),
               "probabilities": np.round(probabilities, 6).tolist(),
               "model": self.info, "id": request_id}
        if labels:
            out["labels"] = labels
        return dump_json(out)

    # ------------------------------------------------------------------ /feedback
    def feedback(self, body: bytes | bytearray) -> bytes:
        """True labels for an earlier prediction → the accuracy tracker. A refused body (400,
        404, 422) leaves the prediction id usable: it is spent only by accepted labels."""
        payload, _ = decode_json_body(body)
        if not isinstance(payload, dict) or "id" not in payload or "labels" not in payload:
            raise RequestError(400, "the body must be {\"id\": <prediction id>, \"labels\": "
                                    "[class per sample]}", "missing_field")
        pid = payload["id"]
        if not isinstance(pid, str):
            raise RequestError(422, f"'id' must be the string id of a prediction, got "
                                    f"{json.dumps(pid)[:40]}", "bad_id")
        with self._recent_lock:
            entry = self._recent.get(pid)
        if entry is None:
            raise RequestError(404, f"no recent prediction with id {pid[:40]!r} (ids are kept "
                                    f"for the last {FEEDBACK_MEMORY} predictions, once)",
                               "unknown_id")
        predicted, num_classes = entry
        labels = check_labels(payload["labels"], len(predicted), num_classes, self.classes)
        with self._recent_lock:
            if self._recent.pop(pid, None) is None:  # another request spent it meanwhile
                raise RequestError(404, f"no recent prediction with id {pid[:40]!r} (its "
                                        "labels were just received)", "unknown_id")
        tracker = self.monitor.accuracy if self.monitor is not None else None
        if tracker is not None:
            tracker.update(predicted, labels)
        correct = int(np.sum(predicted == labels))
        return dump_json({"accepted": len(labels), "correct": correct,
                          "window_accuracy": None if tracker is None else tracker.accuracy})

    # ------------------------------------------------------------------ /health, /metrics
    def health(self, draining: bool, extra: dict | None = None) -> tuple[int, bytes]:
        """``/health``: 200 ``ok``, or 503 ``shutting down`` while draining."""
        body = {"status": "shutting down" if draining else "ok", "model": self.info,
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "uptime_seconds": round(time.time() - self.started, 3), **(extra or {})}
        return (503 if draining else 200), dump_json(body)

    def metrics_text(self) -> str:
        """``/metrics``: the monitor's gauges refreshed, then everything rendered."""
        if self.monitor is not None:
            self.update_monitor_gauges()
        return self.metrics.render(self.info)

    def update_monitor_gauges(self) -> None:
        """Drift statistics, window accuracy and firing alerts as gauges (none without a
        monitor)."""
        if self.monitor is None:
            return
        report = self.monitor.check()
        m = self.metrics
        if report.drift is not None:
            for f in report.drift.features:
                m.set_gauge("tinytorch_drift_psi", "Population stability index of a monitored "
                            "feature, recent window vs training reference.",
                            (("feature", f.feature),), f.psi)
                if f.ks_pvalue is not None:
                    m.set_gauge("tinytorch_drift_ks_pvalue", "Two-sample Kolmogorov-Smirnov "
                                "p-value of a monitored feature, recent window vs reference.",
                                (("feature", f.feature),), f.ks_pvalue)
        if report.accuracy is not None:
            m.set_gauge("tinytorch_window_accuracy", "Accuracy over the recent labelled "
                        "predictions (POST /feedback).", (), report.accuracy)
        kinds = {"input_drift": 0, "prediction_drift": 0, "accuracy_drop": 0}
        for alert in report.alerts:
            kinds[alert.kind] = kinds.get(alert.kind, 0) + 1
        for kind, n in kinds.items():
            m.set_gauge("tinytorch_alerts", "Alerts firing now, by kind.", (("kind", kind),), n)
