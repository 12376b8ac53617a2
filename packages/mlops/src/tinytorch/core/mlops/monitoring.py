"""Monitoring a served model: drift of its inputs and predictions, accuracy once labels arrive,
alerts when a threshold is crossed, and a report.

    monitor = Monitor(DriftDetector.from_version(version), baseline_accuracy=0.71)
    monitor.observe(inputs, probabilities)          # every request (the server does this)
    monitor.observe_labels(predictions, labels)     # whenever true labels come back
    report = monitor.check()                        # drift on the recent window + accuracy
    for alert in report.alerts: print(alert)
    report.write("runs/monitoring")                 # report.md (+ drift.png with matplotlib)

The monitor keeps a sliding window of the most recent ``window`` samples (their summary
features and predicted probabilities) and compares it with the reference each time
:meth:`Monitor.check` runs. It is thread-safe: a server calls ``observe`` from many threads.
"""

from __future__ import annotations

import datetime as _dt
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .drift import DriftDetector, DriftResult, summarize_features

__all__ = ["Alert", "AccuracyTracker", "Monitor", "MonitorReport"]


@dataclass(frozen=True)
class Alert:
    """A threshold crossed: what kind, on which feature, the value and the threshold."""

    kind: str          # "input_drift", "prediction_drift" or "accuracy_drop"
    feature: str       # the feature (or "accuracy")
    statistic: str     # "psi", "ks_pvalue" or "accuracy"
    value: float
    threshold: float
    message: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.message}"


class AccuracyTracker:
    """Accuracy over the last ``window`` labelled predictions.

    Args:
        window: how many recent labelled samples count.
        baseline: the accuracy measured before deployment (e.g. test accuracy); with it,
            :meth:`alert` reports a drop of more than ``max_drop``.
        max_drop: the largest acceptable drop below the baseline (absolute, 0.05 = 5 points).
        min_samples: no verdict before this many labelled samples.
    """

    def __init__(self, window: int = 500, baseline: float | None = None, max_drop: float = 0.05,
                 min_samples: int = 50) -> None:
        if window < 1:
            raise ValueError(f"AccuracyTracker: window must be >= 1, got {window}")
        self.window = int(window)
        self.baseline = None if baseline is None else float(baseline)
        self.max_drop = float(max_drop)
        self.min_samples = int(min_samples)
        self._correct: deque = deque(maxlen=self.window)
        self.total = 0
        self._lock = threading.Lock()

    def update(self, predictions: Any, labels: Any) -> None:
        """Record predicted and true classes (same length)."""
        predictions = np.asarray(predictions).ravel()
        labels = np.asarray(labels).ravel()
        if predictions.shape != labels.shape:
            raise ValueError(f"AccuracyTracker.update: {predictions.size} predictions but "
                             f"{labels.size} labels")
        with self._lock:
            self._correct.extend((predictions == labels).tolist())
            self.total += predictions.size

    @property
    def samples(self) -> int:
        """Labelled samples in the window."""
        return len(self._correct)

    @property
    def accuracy(self) -> float | None:
        """Accuracy over the window (None before any label)."""
        with self._lock:
            return sum(self._correct) / len(self._correct) if self._correct else None

    def alert(self) -> Alert | None:
        """An ``accuracy_drop`` alert when the window's accuracy is more than ``max_drop`` below
        the baseline (and the window holds at least ``min_samples``)."""
        acc = self.accuracy
        if self.baseline is None or acc is None or self.samples < self.min_samples:
            return None
        floor = self.baseline - self.max_drop
        if acc >= floor:
            return None
        return Alert("accuracy_drop", "accuracy", "accuracy", acc, floor,
                     f"accuracy {acc:.3f} over the last {self.samples} labelled samples is more "
                     f"than {self.max_drop:.3f} below the baseline {self.baseline:.3f}")


def drift_alerts(result: DriftResult, psi_threshold: float, ks_alpha: float) -> list[Alert]:
    """One alert per threshold a feature crosses (PSI above, KS p-value below)."""
    alerts = []
    for f in result.features:
        kind = "prediction_drift" if f.feature.startswith("prediction.") else "input_drift"
        if f.psi_drift:
            alerts.append(Alert(kind, f.feature, "psi", f.psi, psi_threshold,
                                f"{f.feature}: PSI {f.psi:.3f} > {psi_threshold}"))
        if f.ks_drift and f.ks_pvalue is not None:  # a KS verdict always has its p-value
            alerts.append(Alert(kind, f.feature, "ks_pvalue", float(f.ks_pvalue), ks_alpha,
                                f"{f.feature}: KS p-value {f.ks_pvalue:.2e} < {ks_alpha} "
                                f"(D = {f.ks_statistic:.3f})"))
    return alerts


@dataclass
class MonitorReport:
    """What :meth:`Monitor.check` found."""

    drift: DriftResult | None
    accuracy: float | None
    labelled: int
    baseline_accuracy: float | None
    alerts: list[Alert] = field(default_factory=list)
    created: str = ""
    model: str = ""
    _ref: Any = field(default=None, repr=False)
    _cur: Any = field(default=None, repr=False)
    _threshold: float | None = field(default=None, repr=False)

    def to_markdown(self) -> str:
        """The report as Markdown: alerts, per-feature drift table, accuracy."""
        lines = [f"# Monitoring report{(' — ' + self.model) if self.model else ''}", "",
                 f"Generated {self.created}.", ""]
        if self.drift is not None:
            lines.append(f"Window: {self.drift.samples} recent samples against "
                         f"{self.drift.reference_samples} reference samples.")
            lines.append("")
        lines.append("## Alerts")
        lines.append("")
        lines += [f"- **{a.kind}** — {a.message}" for a in self.alerts] or ["None."]
        lines += ["", "## Drift", ""]
        if self.drift is None or not self.drift.features:
            lines.append("Not enough samples yet.")
        else:
            lines += ["| feature | PSI | KS D | KS p-value | drift |",
                      "|---|---:|---:|---:|---|"]
            for f in self.drift.features:
                d = "—" if f.ks_statistic is None else f"{f.ks_statistic:.3f}"
                p = "—" if f.ks_pvalue is None else f"{f.ks_pvalue:.2e}"
                lines.append(f"| {f.feature} | {f.psi:.3f} | {d} | {p} | "
                             f"{'**yes**' if f.drifted else 'no'} |")
        lines += ["", "## Accuracy", ""]
        if self.accuracy is None:
            lines.append("No labels received yet.")
        else:
            base = ("" if self.baseline_accuracy is None
                    else f" (baseline {self.baseline_accuracy:.3f})")
            lines.append(f"{self.accuracy:.3f} over the last {self.labelled} labelled "
                         f"samples{base}.")
        return "\n".join(lines) + "\n"

    def plot(self, path: str, max_features: int = 5) -> str:
        """Reference vs current histograms of the most drifted features and a PSI bar chart, as
        a PNG. Needs matplotlib (``pip install 'tinytorch-mlops[plot]'``)."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("MonitorReport.plot needs matplotlib: pip install "
                              "'tinytorch-mlops[plot]'") from None
        if self.drift is None or not self.drift.features or self._ref is None:
            raise ValueError("MonitorReport.plot: no drift was computed (not enough samples)")
        features = [f for f in self.drift.features if f.feature in self._ref]
        features = sorted(features, key=lambda f: -f.psi)[:max_features]
        cols = 3
        rows = (len(features) + 1 + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
        axes = axes.ravel()
        names = [f.feature for f in self.drift.features]
        values = [f.psi for f in self.drift.features]
        colors = ["tab:red" if f.drifted else "tab:blue" for f in self.drift.features]
        axes[0].barh(names, values, color=colors)
        if self.drift.features and self._threshold is not None:
            axes[0].axvline(self._threshold, color="black", linestyle="--", linewidth=1)
        axes[0].set_title("PSI per feature (red: drift)", fontsize=10)
        axes[0].tick_params(labelsize=7)
        for ax, f in zip(axes[1:], features):
            ref, cur = self._ref[f.feature], self._cur[f.feature]
            edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins=30)
            ax.hist(ref, bins=edges, density=True, alpha=0.5, label="reference")
            ax.hist(cur, bins=edges, density=True, alpha=0.5, label="current")
            p = "" if f.ks_pvalue is None else f", KS p {f.ks_pvalue:.1e}"
            ax.set_title(f"{f.feature}: PSI {f.psi:.2f}{p}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=7)
        for ax in axes[len(features) + 1:]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path

    def write(self, directory: str) -> dict:
        """Write ``report.md`` (and ``drift.png`` when matplotlib is installed and drift was
        computed) into ``directory``; returns the paths written."""
        os.makedirs(directory, exist_ok=True)
        markdown = os.path.join(directory, "report.md")
        out: dict[str, str | None] = {"markdown": markdown, "plot": None}
        text = self.to_markdown()
        if self.drift is not None and self.drift.features and self._ref is not None:
            try:
                out["plot"] = self.plot(os.path.join(directory, "drift.png"))
                text += "\n![drift](drift.png)\n"
            except ImportError:
                text += ("\n(No plot: `pip install 'tinytorch-mlops[plot]'` for drift.png.)\n")
        with open(markdown, "w", encoding="utf-8") as f:
            f.write(text)
        return out


class Monitor:
    """Sliding-window drift and accuracy monitoring with alerts.

    Args:
        detector: the drift detector (holds the reference and the thresholds); None to track
            accuracy only.
        window: how many recent samples the drift check compares with the reference.
        min_samples: no drift verdict on fewer recent samples than this.
        baseline_accuracy: accuracy before deployment, for accuracy-drop alerts.
        max_accuracy_drop: see :class:`AccuracyTracker`.
        accuracy_window: see :class:`AccuracyTracker`.
        name: a label for reports.
    """

    def __init__(self, detector: DriftDetector | None = None, window: int = 1000,
                 min_samples: int = 100, baseline_accuracy: float | None = None,
                 max_accuracy_drop: float = 0.05, accuracy_window: int = 500,
                 name: str = "") -> None:
        self.detector = detector
        self.window = int(window)
        self.min_samples = int(min_samples)
        self.accuracy = AccuracyTracker(accuracy_window, baseline_accuracy, max_accuracy_drop)
        self.name = name
        self._features: deque = deque()
        self._probabilities: deque = deque()
        self._count = 0
        self.observed = 0
        self._lock = threading.Lock()

    def observe(self, inputs: Any, probabilities: Any = None) -> None:
        """Add a batch of served inputs (raw, as the model takes them) and the model's
        probabilities to the window."""
        features, _ = summarize_features(inputs)
        probs = None if probabilities is None else np.asarray(probabilities, dtype=np.float64)
        with self._lock:
            self._features.append(features)
            self._probabilities.append(probs)
            self._count += len(features)
            self.observed += len(features)
            while self._features and self._count - len(self._features[0]) >= self.window:
                self._count -= len(self._features.popleft())
                self._probabilities.popleft()

    def observe_labels(self, predictions: Any, labels: Any) -> None:
        """True labels for earlier predictions (for accuracy tracking)."""
        self.accuracy.update(predictions, labels)

    def _window(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        with self._lock:
            if not self._features:
                return None, None
            features = np.concatenate(list(self._features))[-self.window:]
            probs = None
            if all(p is not None for p in self._probabilities):
                probs = np.concatenate(list(self._probabilities))[-self.window:]
        return features, probs

    def check(self) -> MonitorReport:
        """Drift of the current window against the reference, accuracy, and the alerts."""
        drift, ref, cur = None, None, None
        features, probs = self._window()
        alerts: list[Alert] = []
        d = self.detector
        if d is not None and features is not None and len(features) >= self.min_samples:
            drift = d.check(features, probs, summarized=True)
            alerts += drift_alerts(drift, d.psi_threshold, d.ks_alpha)
            ref = {n: d.reference[:, i] for i, n in enumerate(d.feature_names)}
            cur = {n: features[:, i] for i, n in enumerate(d.feature_names)}
            if probs is not None and d.reference_probabilities is not None:
                ref["prediction.confidence"] = d.reference_probabilities.max(axis=1)
                cur["prediction.confidence"] = probs.max(axis=1)
        elif d is not None:
            drift = DriftResult(samples=0 if features is None else len(features),
                                reference_samples=len(d.reference))
        acc_alert = self.accuracy.alert()
        if acc_alert is not None:
            alerts.append(acc_alert)
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        return MonitorReport(drift, self.accuracy.accuracy, self.accuracy.samples,
                             self.accuracy.baseline, alerts, created, self.name, ref, cur,
                             None if d is None else d.psi_threshold)
