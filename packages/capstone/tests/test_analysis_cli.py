"""Track 4's report (without PyTorch: its formatting and checks) and ``tito capstone``."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.capstone import TRACKS, get_track
from tinytorch.capstone import cli
from tinytorch.capstone.analysis import OpCase, analysis_markdown, check_case, plot_ratios

ROWS = [{"section": "op", "name": "matmul", "torch_s": 1e-3, "tinytorch_s": 2e-3, "ratio": 2.0,
         "low": 1.8, "high": 2.2, "verdict": "regression", "work": 64},
        {"section": "model", "name": "cnn: training step", "torch_s": 0.1, "tinytorch_s": 0.05,
         "ratio": 0.5, "low": 0.45, "high": 0.55, "verdict": "improvement", "work": 64}]


def test_check_case_compares_outputs():
    same = OpCase("same", lambda: np.ones(3), lambda: np.ones(3) * (1 + 1e-7))
    assert check_case(same) < 1e-6
    with pytest.raises(ValueError, match="differ by"):
        check_case(OpCase("wrong", lambda: np.ones(3), lambda: np.zeros(3) + 2))
    with pytest.raises(ValueError, match="shapes differ"):
        check_case(OpCase("shape", lambda: np.ones(3), lambda: np.ones(4)))


def test_analysis_markdown():
    text = analysis_markdown(ROWS, {"cpu_count": 2, "load_average": [1.0, 1.0, 1.0]})
    assert "### Op by op" in text and "### Model by model" in text
    assert "| matmul | 1.00 ms | 2.00 ms | 2x | [1.8, 2.2] | regression |" in text
    assert "cpu_count: 2" in text


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_ratios(ROWS, str(tmp_path / "r.png"))
    assert open(path, "rb").read(4) == b"\x89PNG"


def test_tracks():
    assert list(TRACKS) == ["performance", "extensions", "systems", "analysis", "devtools"]
    for t in TRACKS.values():
        module = t.load()
        assert callable(module.add_arguments) and callable(module.run_from_args)
    with pytest.raises(ValueError, match="tracks: performance"):
        get_track("speed")


def test_cli_list_run_report(tmp_path, capsys):
    assert cli.main(["list"]) == 0
    assert "systems" in capsys.readouterr().out
    out = tmp_path / "runs"
    assert cli.main(["run", "devtools", "--out", str(out / "devtools")]) == 0
    assert (out / "devtools" / "report.md").is_file()
    capsys.readouterr()
    assert cli.main(["report", "--dir", str(out), "-o", str(tmp_path / "all.md")]) == 0
    page = (tmp_path / "all.md").read_text()
    assert "## Developer tools" in page and "1 of 5 tracks have results" in page
    assert "(not run yet: `tito capstone run systems`)" in page


def test_cli_check_keeps_given_options(tiny_cifar, tmp_path):
    assert cli.main(["run", "extensions", "--check", "--data", tiny_cifar, "--widths", "4,8",
                     "--train-images", "64", "--test-images", "20", "--batch-size", "32",
                     "--out", str(tmp_path / "ext")]) == 0
    assert "| label_smoothing |" in (tmp_path / "ext" / "report.md").read_text()


def test_cli_track_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "systems", "--help"])
    assert "--procs" in capsys.readouterr().out
