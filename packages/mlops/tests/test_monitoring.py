"""Accuracy tracking, the monitor's sliding window, alerts and the report."""

from __future__ import annotations

import builtins
import importlib.util
import os

import numpy as np
import pytest

from tinytorch.core.mlops import AccuracyTracker, Alert, DriftDetector, Monitor


def test_accuracy_over_a_sliding_window():
    t = AccuracyTracker(window=4, baseline=0.9, max_drop=0.1, min_samples=4)
    assert t.accuracy is None and t.alert() is None
    t.update([1, 1, 1, 1], [1, 1, 1, 1])
    assert t.accuracy == 1.0 and t.alert() is None
    t.update([0, 0], [1, 1])          # window: 1 1 0 0
    assert t.accuracy == 0.5 and t.samples == 4 and t.total == 6
    alert = t.alert()
    assert isinstance(alert, Alert) and alert.kind == "accuracy_drop"
    assert alert.value == 0.5 and alert.threshold == pytest.approx(0.8)
    assert "accuracy 0.500 over the last 4" in alert.message and "baseline 0.900" in alert.message
    t.update([2, 2, 2, 2], [2, 2, 2, 2])  # the old mistakes slide out
    assert t.accuracy == 1.0 and t.alert() is None
    with pytest.raises(ValueError, match="3 predictions but 2 labels"):
        t.update([1, 2, 3], [1, 2])


def test_no_accuracy_verdict_before_min_samples_or_without_baseline():
    t = AccuracyTracker(window=100, baseline=0.9, min_samples=10)
    t.update([0] * 9, [1] * 9)
    assert t.accuracy == 0.0 and t.alert() is None
    t.update([0], [1])
    assert t.alert() is not None
    assert AccuracyTracker(baseline=None, min_samples=1).alert() is None


def make_monitor(window=300, **kwargs):
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(1000, 2))
    probs = rng.dirichlet(np.ones(3), size=1000)
    return Monitor(DriftDetector(ref, probs), window=window, **kwargs), rng


def test_the_window_keeps_the_most_recent_samples():
    monitor, rng = make_monitor(window=100, min_samples=50)
    monitor.observe(rng.normal(size=(30, 2)) + 5, rng.dirichlet(np.ones(3), size=30))
    for _ in range(10):  # 100 clean samples push the shifted ones out of the window
        monitor.observe(rng.normal(size=(10, 2)), rng.dirichlet(np.ones(3), size=10))
    report = monitor.check()
    assert report.drift.samples == 100 and monitor.observed == 130
    assert report.alerts == []


def test_alerts_for_drift_and_accuracy():
    monitor, rng = make_monitor(window=300, min_samples=100, baseline_accuracy=0.9)
    few = monitor.check()
    assert few.drift.features == [] and few.alerts == []  # nothing observed yet
    x = rng.normal(size=(300, 2))
    x[:, 0] += 1.5
    monitor.observe(x, rng.dirichlet([10, 1, 1], size=300))
    monitor.observe_labels(np.zeros(100), np.r_[np.zeros(70), np.ones(30)])
    report = monitor.check()
    kinds = {(a.kind, a.feature, a.statistic) for a in report.alerts}
    assert ("input_drift", "x[0]", "psi") in kinds and ("input_drift", "x[0]", "ks_pvalue") in kinds
    assert ("prediction_drift", "prediction.class", "psi") in kinds
    assert ("accuracy_drop", "accuracy", "accuracy") in kinds
    assert not any(a.feature == "x[1]" for a in report.alerts)
    psi_alert = next(a for a in report.alerts if a.feature == "x[0]" and a.statistic == "psi")
    assert psi_alert.value > 0.2 and psi_alert.threshold == 0.2
    assert str(psi_alert).startswith("[input_drift] x[0]: PSI ")
    assert report.accuracy == 0.7 and report.labelled == 100


def test_report_markdown_and_files(tmp_path):
    monitor, rng = make_monitor(window=200, min_samples=100, baseline_accuracy=0.8,
                                name="demo v1")
    x = rng.normal(size=(200, 2))
    x[:, 1] *= 3
    monitor.observe(x, rng.dirichlet(np.ones(3), size=200))
    monitor.observe_labels([1] * 60, [1] * 50 + [0] * 10)
    report = monitor.check()
    text = report.to_markdown()
    assert text.startswith("# Monitoring report — demo v1")
    assert "Window: 200 recent samples against 1000 reference samples." in text
    assert "| x[1] |" in text and "**yes**" in text
    assert "**input_drift** — x[1]: PSI" in text
    assert "0.833 over the last 60 labelled samples (baseline 0.800)." in text
    paths = report.write(str(tmp_path / "out"))
    assert paths["markdown"] == str(tmp_path / "out" / "report.md")
    written = open(paths["markdown"]).read()
    assert written.startswith(text)
    if importlib.util.find_spec("matplotlib") is None:  # the plot extra is not installed
        assert paths["plot"] is None and "tinytorch-mlops[plot]" in written
    else:
        assert paths["plot"] and os.path.getsize(paths["plot"]) > 1000
        assert "![drift](drift.png)" in written
        assert open(paths["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_without_matplotlib_the_plot_names_the_extra(tmp_path, monkeypatch):
    monitor, rng = make_monitor(min_samples=10)
    monitor.observe(rng.normal(size=(50, 2)), rng.dirichlet(np.ones(3), size=50))
    report = monitor.check()
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"pip install 'tinytorch-mlops\[plot\]'"):
        report.plot(str(tmp_path / "x.png"))
    assert report.write(str(tmp_path))["plot"] is None


def test_report_before_any_data():
    report = Monitor(None).check()
    text = report.to_markdown()
    assert "None." in text and "No labels received yet." in text and report.drift is None
