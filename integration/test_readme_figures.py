"""Figures in READMEs are rendered from the results files benchmarks wrote, never typed."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "capstone" / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlops_readme_serving_figures_match_the_results_file():
    serve_load = _load("serve_load")
    figures = _load("figures")
    results = json.loads((BENCHMARKS / "results" / "serve_load.json").read_text())
    shown = figures.read_block(serve_load.README, "serve_load")
    assert shown == serve_load.render_readme(results), (
        "packages/mlops/README.md's serving figures differ from "
        "capstone/benchmarks/results/serve_load.json: run "
        "`python capstone/benchmarks/serve_load.py --readme`")


def test_figures_block_markers_are_required(tmp_path):
    figures = _load("figures")
    page = tmp_path / "README.md"
    page.write_text("text\n<!-- figures: x begin -->\nold\n<!-- figures: x end -->\nmore\n")
    assert figures.write_block(page, "x", "new\n")
    assert page.read_text() == "text\n<!-- figures: x begin -->\nnew\n<!-- figures: x end -->\nmore\n"
    assert not figures.write_block(page, "x", "new\n")
    with pytest.raises(ValueError, match="no '<!-- figures: y"):
        figures.write_block(page, "y", "z\n")
