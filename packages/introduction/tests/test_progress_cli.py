"""Progress (student versions, their tests) and the command line."""

from __future__ import annotations

import json
import re
import sys

import pytest

from tinytorch.introduction import ModuleGraph, progress
from tinytorch.introduction import cli as cli_module
from tinytorch.introduction import student_status as progress_module


@pytest.fixture
def fake_tests(monkeypatch):
    """Module tests that pass for 'a' and fail for anything else, without running pytest."""
    ran = []

    def command(folder: str) -> list:
        ran.append(folder)
        code = 0 if folder == "a" else 1
        return [sys.executable, "-c", f"print('3 passed in 0.1s' if {code} == 0 else "
                                      f"'1 failed, 2 passed in 0.2s'); raise SystemExit({code})"]
    monkeypatch.setattr(progress_module, "test_command", command)
    return ran


def _graph(node) -> ModuleGraph:
    return ModuleGraph.from_nodes([
        node("a", 1, installed_version="0.1.0+student"),
        node("b", 2, ("a",), installed_version="0.1.0+student"),
        node("c", 3, ("b",), installed_version="0.1.0"),
        node("d", 4, ("c",)),
    ])


def test_progress_runs_the_students_modules_only(node, fake_tests):
    rows = progress(_graph(node), run_tests="student")
    assert fake_tests == ["a", "b"]
    state = {r.folder: (r.student, r.tests, r.summary) for r in rows}
    assert state == {"a": (True, "passed", "3 passed in 0.1s"),
                     "b": (True, "failed", "1 failed, 2 passed in 0.2s"),
                     "c": (False, "not run", ""), "d": (False, "not installed", "")}


def test_progress_all_and_none(node, fake_tests):
    rows = progress(_graph(node), run_tests="all")
    assert fake_tests == ["a", "b", "c"]
    assert [r.tests for r in rows] == ["passed", "failed", "failed", "not installed"]
    fake_tests.clear()
    progress(_graph(node), run_tests="none")
    assert fake_tests == []
    with pytest.raises(ValueError):
        progress(_graph(node), run_tests="some")


def test_the_real_command_is_tito_test(monkeypatch):
    import importlib.util
    if importlib.util.find_spec("tinytorch.setup") is None:
        with pytest.raises(RuntimeError, match="tinytorch-setup"):
            progress_module.test_command("tensor")
    else:
        assert progress_module.test_command("tensor")[1:5] == ["-m", "tinytorch.setup", "test", "tensor"]


def _run(argv: list, capsys) -> tuple:
    code = cli_module.main(argv)
    return code, capsys.readouterr()


@pytest.fixture
def fake_repo(tmp_path, package, monkeypatch):
    if sys.version_info < (3, 11):
        pytest.skip("reading pyproject.toml needs tomllib")
    package(tmp_path, "tensor", 2, files={"src/t.py": "def f():\n    pass\n",
                                          "tests/test_t.py": "def test_f():\n    pass\n"})
    package(tmp_path, "layers", 4, ("tensor",))
    package(tmp_path, "train", 11, ("layers", "tensor"))
    monkeypatch.setenv("TINYTORCH_REPO", str(tmp_path))
    return tmp_path


def test_cli_text_roadmap_stats(fake_repo, capsys):
    code, out = _run(["--roadmap", "--stats"], capsys)
    assert code == 0
    assert "level 2\n  11 train" in out.out
    assert "3. 11 train" in out.out and "unlocks:  04 layers" in out.out
    assert re.search(r"02 tensor\s+2\s+1\s+0\s+1\s+0", out.out)


def test_cli_json_and_mermaid(fake_repo, capsys):
    code, out = _run(["--format", "json", "--roadmap", "--stats"], capsys)
    data = json.loads(out.out)
    assert code == 0
    assert [m["folder"] for m in data["modules"]] == ["tensor", "layers", "train"]
    assert data["reduced_edges"] == [["tinytorch-tensor", "tinytorch-layers"],
                                     ["tinytorch-layers", "tinytorch-train"]]
    assert data["stats"]["tinytorch-tensor"]["tests"] == 1
    assert data["roadmap"][1]["unlocks"] == ["11 train"]
    code, out = _run(["--format", "mermaid", "--all-edges"], capsys)
    assert out.out.count("-->") == 3


def test_cli_pictures_and_markdown(fake_repo, tmp_path, capsys):
    code, out = _run(["--format", "svg", "-o", str(tmp_path / "g.svg")], capsys)
    assert code == 0 and (tmp_path / "g.svg").read_text().startswith("<svg")
    code, out = _run(["--format", "svg", "-o", str(tmp_path / "g.png")], capsys)
    assert code == 2 and "ending in .svg" in out.err
    code, out = _run(["--format", "markdown", "-o", str(tmp_path / "o.md")], capsys)
    assert code == 0 and "## Roadmap" in (tmp_path / "o.md").read_text()


def test_cli_reports_a_cycle(tmp_path, package, monkeypatch, capsys):
    if sys.version_info < (3, 11):
        pytest.skip("reading pyproject.toml needs tomllib")
    package(tmp_path, "a", 1, ("b",))
    package(tmp_path, "b", 2, ("a",))
    monkeypatch.setenv("TINYTORCH_REPO", str(tmp_path))
    code, out = _run([], capsys)
    assert code == 1 and "cycle" in out.err


def test_cli_progress_exit_code(fake_repo, monkeypatch, capsys, fake_tests, dist, tmp_path):
    from tinytorch.introduction import graph as graph_module
    real = graph_module._installed
    site = tmp_path / "site"
    dist(site, "tinytorch-tensor", "0.1.0+student")
    monkeypatch.setattr(graph_module, "_installed", lambda path=None: real([str(site)]))
    code, out = _run(["--progress"], capsys)
    assert fake_tests == ["tensor"]
    assert code == 1 and "their tests pass: 0" in out.out


def test_registered_as_tito_system_graph():
    import argparse
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    cli_module.register(sub)
    args = parser.parse_args(["graph", "--format", "mermaid", "--all-edges"])
    assert args.func is cli_module.run and args.format == "mermaid" and args.all_edges
