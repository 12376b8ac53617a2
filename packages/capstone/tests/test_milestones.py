"""``tito milestone``: every quick milestone passes on the reference, and the record says so.

Each quick milestone runs once (module-scoped fixture, one ``milestones.json``); the tests then
read what it printed and recorded. The 1998 milestone needs the real CIFAR-10, so its quick run
on the reference is in ``integration/test_milestones_cifar.py``; here it is checked to fail
with one clear line when the data is missing.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import numpy as np
import pytest

from tinytorch.capstone.milestones import MILESTONES, cli, get_milestone
from tinytorch.capstone.milestones import data as milestone_data
from tinytorch.capstone.milestones.base import Check, Outcome
from tinytorch.capstone.milestones.registry import MilestoneError

QUICK = ["1957", "1969", "1986", "2017", "2018"]
#: End-to-end runs (tens of seconds together): run here and in the package's CI env, left out
#: of the students'-version check, which maps solution blocks to the tests that reach them.
SLOW = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Run each quick milestone (not 1998) once; returns {year: (exit code, stdout)} and the record."""
    record = tmp_path_factory.mktemp("record") / "milestones.json"
    empty = tmp_path_factory.mktemp("no-cifar")  # 2018 then benchmarks on random images
    outputs = {}
    for year in QUICK:
        buf = io.StringIO()
        with redirect_stdout(buf):
            code = cli.main(["run", year, "--quick", "--record", str(record), "--data", str(empty)])
        outputs[year] = (code, buf.getvalue())
    return outputs, record


def _runs(record):
    return json.loads(record.read_text())["runs"]


@SLOW
@pytest.mark.parametrize("year", ["1957", "1969", "1986", "2017"])
def test_milestone_quick_passes_on_the_reference(quick_runs, year):
    outputs, record = quick_runs
    code, out = outputs[year]
    assert code == 0, out
    assert f"{year} {get_milestone(year).name}: PASSED" in out
    entry = next(r for r in _runs(record) if r["year"] == int(year))
    assert entry["passed"] and entry["quick"] and entry["checks"]
    assert all(c["passed"] for c in entry["checks"])


@SLOW
def test_milestone_1969_shows_one_layer_failing_and_a_hidden_layer_succeeding(quick_runs):
    _, record = quick_runs
    entry = next(r for r in _runs(record) if r["year"] == 1969)
    values = {c["name"]: c["value"] for c in entry["checks"]}
    assert values["one hidden layer: accuracy"] == 1.0
    assert values["one layer: accuracy"] <= 0.75


@SLOW
def test_milestone_2017_sorts_and_the_kv_cache_gives_the_same_tokens(quick_runs):
    outputs, record = quick_runs
    entry = next(r for r in _runs(record) if r["year"] == 2017)
    cache = entry["details"]["kv_cache"]
    assert cache["identical"] is True and cache["speedup"] > 0
    assert "tokens identical: yes" in outputs["2017"][1]


@SLOW
def test_milestone_2018_benchmarks_and_its_verdict_follows_the_measured_tail(quick_runs, tmp_path):
    outputs, record = quick_runs
    code, out = outputs["2018"]
    entry = next(r for r in _runs(record) if r["year"] == 2018)
    check = entry["checks"][0]
    server = entry["details"]["server"]
    assert check["value"] * 1e3 == pytest.approx(server["p99_ms"])
    assert check["passed"] == (server["p99_ms"] <= server["bound_ms"]) == entry["passed"]
    assert code == (0 if entry["passed"] else 1)
    assert entry["details"]["samples"] == "random images (no CIFAR-10)"
    assert "untrained LeNet-style network" in entry["details"]["model"]
    report = json.loads((record.parent / "milestones" / "2018-benchmarking.json").read_text())
    assert [s["heading"] for s in report["sections"]] == ["Single-stream", "Offline", "Server"]
    assert entry["details"]["offline_images_per_second"] > 0


@SLOW
def test_milestone_record_holds_machine_versions_and_implementations(quick_runs):
    outputs, record = quick_runs
    runs = _runs(record)
    assert json.loads(record.read_text())["format"] == 1
    assert [r["year"] for r in runs] == [int(y) for y in QUICK]
    for entry in runs:
        hw = entry["hardware"]
        assert hw["cores"] >= 1 and hw["python"] and hw["numpy"] == np.__version__
        assert "tinytorch-tensor" in entry["versions"] and "tinytorch-capstone" in entry["versions"]
        impls = entry["implementations"]
        assert set(impls) == set(get_milestone(str(entry["year"])).modules)
        assert all(i["kind"] == "reference" for i in impls.values())
        assert entry["seconds"] > 0 and entry["started"].endswith("+00:00")
    assert runs[-1]["kernels"] == "fused" and runs[0]["kernels"] is None  # only conv milestones
    out = outputs["1986"][1]
    assert "your code or the reference, module by module:" in out
    assert any(line.split()[:2] == ["dense", "reference"] for line in out.splitlines())


@SLOW
def test_milestone_status_shows_the_latest_runs(quick_runs, capsys):
    _, record = quick_runs
    assert cli.main(["status", "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert f"{len(QUICK)} run(s) recorded in {record}" in out
    assert "1957 perceptron" in out and "quick passed" in " ".join(out.split())
    assert "1998" not in out  # never run here
    assert cli.main(["status", "--record", str(record), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["runs"]) == len(QUICK)
    assert cli.main(["list", "--record", str(record)]) == 0
    listing = capsys.readouterr().out
    assert all(f"{m.year}  {m.name}" in listing for m in MILESTONES.values())
    assert "quick not run yet" in listing  # 1998
    assert f"record: {record}" in listing


def test_milestone_status_of_an_empty_record(tmp_path, capsys):
    assert cli.main(["status", "--record", str(tmp_path / "none.json")]) == 0
    assert "no milestone has been run yet" in capsys.readouterr().out


def test_milestone_missing_cifar10_is_one_line(tmp_path, capsys):
    record = tmp_path / "m.json"
    code = cli.main(["run", "1998", "--quick", "--data", str(tmp_path), "--record", str(record)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tito milestone: CIFAR-10 is needed:") and "tito data fetch cifar10" in err
    assert not record.exists()  # nothing is recorded for a run that could not start


def test_milestone_damaged_or_missing_shipped_data_is_one_line(tmp_path):
    (tmp_path / "digits.csv.gz").write_bytes(b"not the digits")
    with pytest.raises(MilestoneError, match="digits.csv.gz is damaged .*reinstall tinytorch-capstone"):
        milestone_data.load_digits(tmp_path)
    with pytest.raises(MilestoneError, match="tinyshakespeare.txt.xz is missing: reinstall"):
        milestone_data.load_shakespeare(tmp_path)
    images, labels = milestone_data.load_digits()
    assert images.shape == (1797, 64) and images.max() == 1.0 and images.min() == 0.0
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    text = milestone_data.load_shakespeare()
    assert len(text) == 1115394 and text.startswith("First Citizen:")


@pytest.mark.parametrize("argv, message", [
    (["run", "1999"], "no milestone '1999'; choose one of: 1957 (perceptron)"),
    (["run", "1957", "--seed", "-1"], "--seed -1: a seed must be 0 or more"),
])
def test_milestone_usage_mistakes_are_one_line(argv, message, tmp_path, capsys):
    code = cli.main(argv + ["--record", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err


def test_milestone_damaged_record_is_one_line(tmp_path, capsys):
    record = tmp_path / "m.json"
    record.write_text("{not json")
    assert cli.main(["status", "--record", str(record)]) == 2
    assert "is not a milestones record" in capsys.readouterr().err


def test_milestone_that_misses_its_threshold_exits_1_and_is_recorded(tmp_path, capsys, monkeypatch):
    from tinytorch.capstone.milestones import perceptron

    monkeypatch.setattr(perceptron, "run", lambda ctx: Outcome(
        [Check("accuracy on its 200 points", 0.97, ">=", 1.0, percent=True)]))
    record = tmp_path / "m.json"
    assert cli.main(["run", "perceptron", "--record", str(record)]) == 1
    out = capsys.readouterr().out
    assert "accuracy on its 200 points 97.00% >= 100.00%: FAILED" in out
    assert "1957 perceptron: NOT PASSED" in out
    entry = _runs(record)[0]
    assert entry["passed"] is False and entry["quick"] is False
    assert entry["checks"][0] == {"name": "accuracy on its 200 points", "value": 0.97, "op": ">=",
                                  "threshold": 1.0, "passed": False}


def test_milestone_check_verdicts():
    assert Check("x", 2.0, "<=", 2.0).passed and not Check("x", 2.01, "<=", 2.0).passed
    assert not Check("x", float("nan"), ">=", 0.0).passed
    assert not Outcome([]).passed


def test_milestone_all_goes_on_past_missing_data(tmp_path, capsys, monkeypatch):
    """``run all``: a milestone that cannot start is reported and the others still run."""
    for m in MILESTONES.values():
        module = m.load()
        if m.year == 1998:
            def missing(ctx):
                raise MilestoneError("CIFAR-10 is needed: not found")
            monkeypatch.setattr(module, "run", missing)
        else:
            monkeypatch.setattr(module, "run", lambda ctx, year=m.year: Outcome(
                [Check(f"value of {year}", 1.0, ">=", 0.5)]))
    record = tmp_path / "m.json"
    assert cli.main(["run", "all", "--quick", "--record", str(record)]) == 2
    captured = capsys.readouterr()
    assert "tito milestone: 1998 convolution not run: CIFAR-10 is needed" in captured.err
    assert "5 of 6 milestones passed: 1957 passed, 1969 passed, 1986 passed, 1998 not run" in captured.out
    assert [r["year"] for r in _runs(record)] == [1957, 1969, 1986, 2017, 2018]


@SLOW
def test_milestone_2017_full_form_trains_samples_and_checks_the_cache(monkeypatch, tmp_path):
    """The Shakespeare run, shrunk (a tiny model, 30 steps): it learns, samples, compares caches."""
    from tinytorch.capstone.milestones import attention
    from tinytorch.capstone.milestones.base import Context

    monkeypatch.setattr(attention, "SHAKESPEARE", dict(block_size=16, embed_dim=16, num_heads=2,
                                                       num_layers=1))
    monkeypatch.setattr(attention, "SHAKESPEARE_STEPS", 30)
    monkeypatch.setattr(attention, "SHAKESPEARE_BATCH", 8)
    lines = []
    outcome = attention.run(Context(quick=False, artifacts=tmp_path, log=lines.append))
    names = [c.name for c in outcome.checks]
    assert names == ["held-out loss (nats per character)", "minutes of training",
                     "KV cache: identical tokens"]
    assert outcome.checks[0].value < np.log(65)  # better than guessing among 65 characters
    assert outcome.checks[2].passed and outcome.details["kv_cache"]["tokens"] == 15
    assert outcome.details["steps"] == 30 and outcome.details["task"] == "shakespeare"
    assert any(line.startswith("65 characters, 1,003,854 to learn from") for line in lines)
    sample = next(line for line in lines if line.startswith("-" * 60))
    text = sample.split("\n", 1)[1].rsplit("\n", 1)[0]  # between the rules
    assert len(text) == 401 and text[0] == "\n"  # the prompt, a newline, then 400 characters


@SLOW
def test_milestone_1998_full_form_keeps_its_weights_for_2018(tiny_cifar, monkeypatch, tmp_path):
    """The full form's code path on a tiny CIFAR-10 of random pixels (so its bar is missed):
    the checks of the full run, and 2018 then benchmarks the full run's network first."""
    from dataclasses import asdict

    from tinytorch.capstone.milestones import benchmarking, convolution
    from tinytorch.capstone.milestones.base import Context
    from tinytorch.core.training.cifar10 import Recipe

    monkeypatch.setattr(convolution, "RECIPE", Recipe(**{**asdict(convolution.RECIPE),
                                                        "epochs": 1, "batch_size": 64}))
    ctx = Context(quick=False, data=tiny_cifar, artifacts=tmp_path, log=lambda line: None)
    outcome = convolution.run(ctx)
    assert [c.name for c in outcome.checks] == ["test accuracy on the 10,000 test images",
                                                "minutes, training and testing"]
    assert outcome.details["train_images"] == 260 and outcome.details["test_images"] == 60
    full = convolution.weights_path(tmp_path, quick=False)
    model, info = convolution.load_weights(full)
    assert info["quick"] is False and info["test_images"] == 60
    (tmp_path / "1998-convolution-quick.npz").write_bytes(full.read_bytes())  # both exist
    monkeypatch.setattr(benchmarking, "QUICK", {"queries": 10, "batches": 1, "runs": 2})
    lines = []
    bench = benchmarking.run(Context(quick=True, data=tiny_cifar, artifacts=tmp_path,
                                     log=lines.append))
    assert bench.details["model"].startswith(f"the 1998 network from {full} ")
    assert bench.details["samples"] == "CIFAR-10 test images"


def test_train_on_xor_refuses_zero_steps():
    # with no step there is no final loss to report: one clear error (it failed on None.item())
    from tinytorch.capstone.milestones.xor import train_on_xor
    from tinytorch.core.activations import ReLU
    from tinytorch.core.dense import Sequential
    from tinytorch.core.layers import Dense

    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        train_on_xor(Sequential([Dense(2, 4), ReLU(), Dense(4, 1)]), steps=0)
