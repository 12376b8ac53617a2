"""The full airbench runs' figures in the docs are the ones their results files hold."""

import copy
import importlib.util
import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "capstone" / "performance" / "airbench_runs.py"
DIAGNOSIS = REPO / "capstone" / "performance" / "results" / "airbench-diagnosis-result.json"


@pytest.fixture(scope="module")
def runs():
    spec = importlib.util.spec_from_file_location("_airbench_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def two_framework_result():
    """A real speed-run result of both frameworks (the short diagnosis run), as --keep reads it."""
    result = json.loads(DIAGNOSIS.read_text())
    result["data"] = {"official": False, "note": "a copy that is not the official one"}
    return result


def test_every_block_matches_the_kept_results(runs):
    results = runs.kept_results()
    figures = runs._figures()
    assert figures.read_block(runs.README, runs.RUNS_BLOCK) == runs.render_runs(results), \
        "capstone/performance/README.md: run `python capstone/performance/airbench_runs.py`"
    for page in runs.SUMMARY_PAGES:
        assert figures.read_block(page, runs.SUMMARY_BLOCK) == runs.render_summary(results), \
            f"{page}: run `python capstone/performance/airbench_runs.py`"


def test_kept_summaries_are_recomputed_from_the_histories(runs):
    for result in runs.kept_results():
        assert result["command"].startswith("python -m tinytorch.capstone.speedrun --recipe airbench")
        assert result["summary"] == runs.summarize(result), "a kept summary was edited by hand"
        for run in result["runs"]:
            assert run["train_images"] == 50_000 and run["test_images"] == 10_000, "not a full run"


def test_summary_times_and_ratios(runs, two_framework_result):
    s = runs.summarize(two_framework_result)
    ours, theirs = two_framework_result["runs"]
    assert s["TinyTorch"]["train_minutes"] == pytest.approx(ours["train_seconds"] / 60)
    assert s["PyTorch"]["final_test_acc"] == theirs["final_test_acc"]
    assert s["time_ratio"]["total"] == pytest.approx(ours["train_seconds"] / theirs["train_seconds"])
    # 20 % was reached by both (a ratio); 30 % by neither (no ratio)
    assert s["time_ratio"]["0.20"] == pytest.approx(
        ours["crossings"]["0.20"]["train_seconds"] / theirs["crossings"]["0.20"]["train_seconds"])
    assert "0.30" not in s["time_ratio"]


def test_rendered_run_states_every_epoch_and_threshold(runs, two_framework_result):
    result = two_framework_result
    result["command"] = "python -m tinytorch.capstone.speedrun --recipe airbench ..."
    result["summary"] = runs.summarize(result)
    text = runs.render_run(result)
    epoch_rows = [line for line in text.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(epoch_rows) == len(result["runs"][0]["history"])
    assert "| 30% | not reached | not reached | — |" in text
    ratio = result["summary"]["time_ratio"]["0.20"]
    assert f"| {ratio:.2f} |" in text
    assert "a copy that is not the official one" in text


def test_a_run_without_pytorch_renders_without_a_ratio(runs, two_framework_result):
    result = copy.deepcopy(two_framework_result)
    result["runs"] = result["runs"][:1]
    result["command"] = "python -m tinytorch.capstone.speedrun --recipe airbench --frameworks tinytorch"
    result["summary"] = runs.summarize(result)
    assert "time_ratio" not in result["summary"]
    text = runs.render_run(result)
    assert "PyTorch" not in runs.summary_sentence(result)
    assert "| 20% | " in text and "ratio" not in text


def test_keep_refuses_another_recipe(runs, tmp_path):
    (tmp_path / "result.json").write_text(json.dumps({"recipe": "full", "runs": []}))
    with pytest.raises(SystemExit, match="'full' run, not airbench"):
        runs.keep(str(tmp_path), "python -m tinytorch.capstone.speedrun --recipe full")


def test_cli_help_states_seed_0s_measured_figures(runs):
    """`tito train cifar10 --help` quotes the kept seed-0 run, read from its results file."""
    kept = {r["runs"][0]["seed"]: r for r in runs.kept_results()}
    if 0 not in kept:
        pytest.fail("no kept seed-0 run: the CLI help quotes one (capstone/performance/results)")
    ours = kept[0]["summary"]["TinyTorch"]
    text = (REPO / "packages" / "training" / "src" / "tinytorch" / "core" / "training" / "cli.py").read_text()
    assert f"measured {ours['final_test_acc'] * 100:.2f}%% test accuracy with its TTA" in text
    assert f"after {ours['train_minutes']:.0f} min of" in text
