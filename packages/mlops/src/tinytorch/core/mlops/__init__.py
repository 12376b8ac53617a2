"""tinytorch.core.mlops — a model after training — registered, served, watched.

    >>> from tinytorch.core.mlops import ModelRegistry, ModelServer
    >>> registry = ModelRegistry("runs/registry")
    >>> v = registry.register("cnn", model, metrics={"test_accuracy": 0.71}, data=(x, y))
    >>> registry.promote("cnn", v.version, "production")
    >>> server = ModelServer.from_registry("cnn", "production", port=8000).start()

* :mod:`~tinytorch.core.mlops.registry` — versioned models on disk (weights, architecture
  spec, metrics, data fingerprint, content hashes), stages with promote / rollback;
* :mod:`~tinytorch.core.mlops.server` — an HTTP server (``tito serve``): ``/predict``,
  ``/health``, ``/metrics`` in the Prometheus format, strict request validation;
* :mod:`~tinytorch.core.mlops.drift` and :mod:`~tinytorch.core.mlops.monitoring` — PSI and the
  Kolmogorov–Smirnov test against the training data, accuracy once labels arrive, alerts,
  reports;
* :mod:`~tinytorch.core.mlops.export` — ONNX export (optional extra ``onnx``).
"""

from .drift import (DriftDetector, DriftResult, FeatureDrift, kolmogorov_sf, ks_2samp,
                    ks_statistic, psi, psi_categorical, summarize_features)
from .export import export_onnx
from .hashing import IntegrityError, fingerprint_data, sha256_file
from .metrics import MetricFamily, ServerMetrics, parse_metrics, render_metrics
from .monitoring import AccuracyTracker, Alert, Monitor, MonitorReport
from .predictor import Predictor, probabilities_from
from .registry import ModelRegistry, ModelVersion, RegistryError
from .server import ModelServer
from .spec import SpecError, model_from_spec, model_to_spec, register_layer
from .validation import RequestError, parse_predict_request

__all__ = [
    "ModelRegistry", "ModelVersion", "RegistryError", "IntegrityError",
    "model_to_spec", "model_from_spec", "register_layer", "SpecError",
    "sha256_file", "fingerprint_data",
    "ModelServer", "Predictor", "probabilities_from", "RequestError", "parse_predict_request",
    "ServerMetrics", "MetricFamily", "render_metrics", "parse_metrics",
    "psi", "psi_categorical", "ks_statistic", "ks_2samp", "kolmogorov_sf", "summarize_features",
    "DriftDetector", "DriftResult", "FeatureDrift",
    "Monitor", "MonitorReport", "AccuracyTracker", "Alert",
    "export_onnx",
]
