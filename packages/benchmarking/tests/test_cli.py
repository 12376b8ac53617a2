"""``tito benchmark`` / ``python -m tinytorch.core.benchmarking`` on the small MLP, --quick.
What is checked is the output's structure and the saved files, never a timing."""

from __future__ import annotations

import argparse
import importlib.metadata
import json

import pytest

from tinytorch.core.benchmarking import MODELS, cli, torch_twin


def test_model_names_match_the_registry():
    assert tuple(MODELS) == cli.MODEL_NAMES


def test_profile(capsys, tmp_path):
    code = cli.main(["profile", "--model", "mlp", "--quick", "--blas-threads", "1",
                     "--json", str(tmp_path / "p.json"), "--markdown", str(tmp_path / "p.md")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Layer (type)" in out and "└ 0: Dense" in out and "└ 1: ReLU" in out
    assert "Total params: 101,770" in out
    data = json.loads((tmp_path / "p.json").read_text())
    layers = data["sections"][0]["result"]["layers"]
    assert [row["type"] for row in layers] == ["Sequential", "Dense", "ReLU", "Dense"]
    assert all(row["backward_s"] is not None for row in layers)
    assert (tmp_path / "p.md").read_text().startswith("# Profile of mlp")


def test_profile_inference(capsys):
    assert cli.main(["profile", "--model", "mlp", "--quick", "--inference"]) == 0
    assert "Backward" not in capsys.readouterr().out


def test_scenarios(capsys, tmp_path):
    code = cli.main(["scenarios", "--model", "mlp", "--quick", "--queries", "20", "--qps", "200",
                     "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "Single-stream" in out and "Offline" in out and "Server" in out
    data = json.loads((tmp_path / "s.json").read_text())
    scenarios = [s["result"]["scenario"] for s in data["sections"]]
    assert scenarios == ["single-stream", "offline", "server"]
    assert data["sections"][2]["result"]["target_qps"] == 200
    assert data["sections"][2]["result"]["queries"] == 20


def test_compare_versions(capsys):
    code = cli.main(["compare", "--model", "mlp", "--quick", "--against", "same",
                     "--modes", "latency", "--rounds", "3"])
    out = capsys.readouterr().out
    assert code == 0 and "TinyTorch (B) vs TinyTorch (A)" in out and "| latency, 1 sample |" in out


def test_compare_without_torch(capsys, monkeypatch):
    def missing():
        raise torch_twin.TorchNotInstalled("no torch here: pip install torch==2.13.0")

    monkeypatch.setattr(torch_twin, "import_torch", missing)
    assert cli.main(["compare", "--model", "mlp", "--quick"]) == 2
    err = capsys.readouterr().err
    assert "pip install torch==2.13.0" in err and "--against composite" in err


def test_bad_values_exit_2(capsys):
    assert cli.main(["profile", "--model", "mlp", "--steps", "0"]) == 2
    assert "--steps must be >= 1" in capsys.readouterr().err
    assert cli.main(["profile", "--model", "mlp", "--blas-threads", "-1"]) == 2


def test_registers_as_a_tito_plugin():
    parser = argparse.ArgumentParser(prog="tito")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["benchmark", "profile", "--model", "mlp", "--quick"])
    assert args.action == "profile" and args.model == "mlp" and args.quick
    assert callable(args.func)


def test_entry_point_is_declared():
    try:
        dist = importlib.metadata.distribution("tinytorch-benchmarking")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        pytest.skip("tinytorch-benchmarking is not installed")
    eps = [ep for ep in dist.entry_points if ep.group == "tinytorch.tito"]
    assert [(ep.name, ep.value) for ep in eps] == [("benchmark", "tinytorch.core.benchmarking.cli:register")]
