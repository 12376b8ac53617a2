"""Figures in READMEs are rendered from the results files benchmarks wrote, never typed."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "capstone" / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
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


def test_vs_torch_figures_match_the_results_files():
    """The CNN, MLP and GPT figures against PyTorch (spatial, optimizers, attention, capstone
    pages) are the results files of capstone/benchmarks/*_vs_torch.py, rendered."""
    figures = _load("figures")
    vs_torch = _load("vs_torch")
    for name, (files, page) in vs_torch.BLOCKS.items():
        for f in files:
            assert (BENCHMARKS / "results" / f"{f}.json").is_file(), f"no results file {f}.json"
        assert figures.read_block(page, name) == vs_torch.render(name), (
            f"{page.relative_to(REPO)}'s block {name} differs from its results files: run "
            "`python capstone/benchmarks/vs_torch.py --readme`")


def test_no_page_states_a_ratio_against_pytorch_that_no_results_file_holds():
    figures = _load("figures")
    pages = figures.pages(REPO)
    assert any(p.name == "README.md" and p.parent.name == "spatial" for p in pages)
    bad = figures.unsupported_claims(pages, figures.results_files(REPO))
    assert not bad, ("ratios stated next to PyTorch that no results file "
                     "(capstone/**/results/*.json) holds: "
                     + ", ".join(f"{Path(p).relative_to(REPO)}: {c}×" for p, c in bad))


def test_ratio_claims_are_read_from_statements_that_mention_pytorch(tmp_path):
    figures = _load("figures")
    page = tmp_path / "README.md"
    page.write_text(
        "TinyTorch trains at **0.89×** PyTorch's speed, 0.75–0.9x thread for thread.\n\n"
        "A 3×3 conv on a 64×1000 batch is 4× faster here.\n\n"
        "* a list item that names PyTorch\n* and one that is 2× faster\n\n"
        "| what | TinyTorch ÷ PyTorch |\n|---|---|\n| cnn | 1.31× |\n\n"
        "| what | speed-up |\n|---|---|\n| conv | 1.67x |\n")
    assert figures.torch_ratio_claims(page.read_text()) == ["0.89", "0.75", "0.9", "1.31"]
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"against": "torch", "rows": [
        {"ratio": 0.8912, "ms": 1.31}, {"cpu_ratio": 0.7549}, {"ratio": 0.91}]}))
    unrelated = tmp_path / "other.json"  # names no torch: its ratios do not count
    unrelated.write_text(json.dumps({"ratio": 1.31}))
    assert figures.unsupported_claims([page], [results, unrelated]) == [(str(page), "1.31")]


def test_throughputs_stated_next_to_pytorch_must_be_in_a_results_file(tmp_path):
    figures = _load("figures")
    page = tmp_path / "README.md"
    page.write_text(
        "PyTorch trained at 2,374 img/s, TinyTorch at 2,135 img/s.\n\n"
        "| framework | tokens/s |\n|---|---:|\n| TinyTorch | 99 |\n| PyTorch | 120.5 |\n\n"
        "TinyTorch alone: 4,000 img/s.\n")
    assert figures.torch_rate_claims(page.read_text()) == ["2374", "2135", "120.5"]
    results = tmp_path / "r.json"
    results.write_text(json.dumps({"torch": {"img_per_s": 2373.6}, "tinytorch": 2135.2,
                                   "tokens": [120.49]}))
    assert figures.unsupported_claims([page], [results]) == []
    results.write_text(json.dumps({"torch": {"img_per_s": 2373.6}, "tinytorch": 2135.2}))
    assert figures.unsupported_claims([page], [results]) == [(str(page), "120.5 per s")]


def test_spatial_readme_composite_vs_fused_figures_match_the_results_files():
    """The composite-vs-fused step times in the spatial README are the results files of
    capstone/benchmarks/composite_vs_fused.py (now, and the run before issue 17's changes)."""
    figures = _load("figures")
    bench = _load("composite_vs_fused")
    results = json.loads(bench.DEFAULT_OUT.read_text())
    before = json.loads(bench.BEFORE.read_text()) if bench.BEFORE.exists() else None
    assert figures.read_block(bench.README, "composite_vs_fused") == bench.render_readme(
        results, before), ("packages/spatial/README.md's composite-vs-fused figures differ from "
                           "the results files: run `python capstone/benchmarks/"
                           "composite_vs_fused.py --readme`")
