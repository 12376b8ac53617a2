"""Reports: Markdown structure, JSON round trip, the plot (when matplotlib is installed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.core.benchmarking import (PlotUnavailable, Report, ab_compare, build_tinytorch,
                                         get_model_spec, machine_info, offline, profile, server)


def fake_results(clock):
    def predict(batch):
        clock.advance(0.002 * batch.shape[0])

    srv = server(predict, np.zeros((4, 2), np.float32), target_qps=100, queries=30, warmup=0,
                 clock=clock, sleep=clock.sleep, name="fake")
    off = offline(predict, np.zeros((4, 2), np.float32), batch_size=4, batches=2, runs=3,
                  clock=clock, name="fake")
    ticks = iter([1.0] * 4 + [1.5, 1.6, 1.4, 1.5])

    def fn():
        clock.advance(next(ticks))
    ab = ab_compare({"A": fn, "B": fn}, rounds=3, min_time=0.0, timer=clock)
    return srv, off, ab


def test_markdown_structure(clock):
    srv, off, ab = fake_results(clock)
    model = build_tinytorch(get_model_spec("mlp"))
    prof = profile(model, np.zeros((2, 784), np.float32), steps=1, warmup=0)
    report = Report("Session", machine={"cpu_count": 2, "load_average": [1.0, 2.0, 3.0]})
    report.add(prof, "Profile").add(srv, "Server", note="a note").add(off).add(ab, "A/B")
    md = report.to_markdown()
    lines = md.splitlines()
    assert lines[0] == "# Session"
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Machine", "## Profile", "## Server", "## ThroughputResult", "## A/B"]
    assert "| load_average | 1.0, 2.0, 3.0 |" in md
    assert "a note" in md
    assert "| Layer (type) | Output shape | Params | FLOPs | Fwd ms | Bwd ms | Memory |" in md
    # every table row has the same number of cells as its header
    for block in md.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            assert len({r.count(" | ") for r in rows}) == 1, block


def test_json_round_trip(clock, tmp_path):
    srv, off, ab = fake_results(clock)
    report = Report("Session").add(srv, "Server").add(off, "Offline").add(ab, "A/B")
    data = json.loads(report.to_json())
    assert data["title"] == "Session"
    assert {"python", "numpy", "cpu_count", "load_average"} <= set(data["machine"])
    kinds = [(s["heading"], s["result"]["kind"]) for s in data["sections"]]
    assert kinds == [("Server", "scenario"), ("Offline", "scenario"), ("A/B", "ab")]
    server_dict = data["sections"][0]["result"]
    assert server_dict["queries"] == 30 and len(server_dict["latencies"]) == 30
    assert server_dict["achieved_qps"] == pytest.approx(srv.achieved_qps)
    path = report.save(tmp_path / "out" / "r.json")
    assert json.loads(path.read_text())["sections"][1]["result"]["batch_size"] == 4
    md = report.save(tmp_path / "r.md")
    assert md.read_text().startswith("# Session")
    with pytest.raises(ValueError):
        report.save(tmp_path / "r.txt")


def test_non_finite_values_are_json_safe():
    class Weird:
        def to_markdown(self):
            return "weird"

        def to_dict(self):
            return {"inf": float("inf"), "arr": np.arange(2), "flag": np.bool_(True)}

    data = json.loads(Report("x", machine={}).add(Weird()).to_json())
    assert data["sections"][0]["result"] == {"inf": "inf", "arr": [0, 1], "flag": True}
    with pytest.raises(TypeError):
        Report("x").add(object())


def test_machine_info():
    info = machine_info()
    assert info["cpu_count"] >= 1 and info["numpy"] == np.__version__


def test_plot(clock, tmp_path):
    srv, off, ab = fake_results(clock)
    report = Report("Session").add(srv).add(off).add(ab)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        with pytest.raises(PlotUnavailable, match="pip install"):
            report.plot(tmp_path / "p.png")
        return
    path = report.plot(tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="nothing to plot"):
        Report("empty").plot(tmp_path / "q.png")
