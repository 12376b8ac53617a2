"""Plugins: a distribution's `tinytorch.tito` entry point adds a tito command."""

from __future__ import annotations

import pytest

from tinytorch.setup.cli import plugin_problems
from tinytorch.setup.plugins import discover_plugins


def write_plugin(site, make_dist, name, value, code):
    make_dist(site, "tinytorch-fakeplugin", "0.1.0",
              entry_points=f"[tinytorch.tito]\n{name} = {value}\n")
    (site / "fake_tito_plugin.py").write_text(code)


GOOD = '''
def run(args):
    print("graph of", args.what)
    return 3

def register(subparsers):
    p = subparsers.add_parser("graph", help="draw the graph", description="Draw the graph.")
    p.add_argument("what")
    p.set_defaults(func=run)
'''


@pytest.mark.slow  # pip-installs into sandbox environments
def test_installed_wheel_plugin_adds_a_top_level_command(toy_sandbox):
    result = toy_sandbox.run("-m", "tinytorch.setup", "toy", "--word", "hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "toy says hello"
    helped = toy_sandbox.run("-m", "tinytorch.setup", "--help")
    assert "toy" in helped.stdout and "say something" in helped.stdout


def test_dotted_name_extends_a_builtin_group(tmp_path, make_dist, tito, pythonpath, monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, make_dist, "system.graph", "fake_tito_plugin:register", GOOD)
    monkeypatch.syspath_prepend(str(site))
    plugins = discover_plugins([str(site)])
    assert [(p.name, p.group, p.distribution) for p in plugins] == [
        ("system.graph", "system", "tinytorch-fakeplugin")]
    assert plugin_problems([str(site)]) == []
    result = tito("system", "graph", "tensor", env=pythonpath(site))
    assert result.returncode == 3 and result.stdout.strip() == "graph of tensor"
    assert "graph" in tito("system", "--help", env=pythonpath(site)).stdout
    assert tito("system", "graph", "--help", env=pythonpath(site)).stdout.startswith(
        "usage: tito system graph")


def test_broken_plugins_are_skipped_with_a_warning(tmp_path, make_dist, tito, pythonpath,
                                                  monkeypatch):
    site = tmp_path / "site"
    write_plugin(site, make_dist, "boom", "fake_tito_plugin_broken:register",
                 "def register(subparsers):\n    raise RuntimeError('kaboom')\n")
    (site / "fake_tito_plugin.py").rename(site / "fake_tito_plugin_broken.py")
    monkeypatch.syspath_prepend(str(site))
    problems = plugin_problems([str(site)])
    assert len(problems) == 1 and "RuntimeError: kaboom" in problems[0]
    assert "tinytorch-fakeplugin" in problems[0]
    result = tito("module", "list", env=pythonpath(site))
    assert result.returncode == 0
    assert "skipped a tito plugin" in result.stderr and "kaboom" in result.stderr


def test_unknown_group_missing_module_and_name_clash_are_problems(tmp_path, make_dist,
                                                                 monkeypatch):
    site = tmp_path / "site"
    monkeypatch.syspath_prepend(str(site))
    make_dist(site, "tinytorch-a", "0.1.0", entry_points=(
        "[tinytorch.tito]\n"
        "nogroup.cmd = fake_tito_plugin_c:register\n"
        "missing = no_such_module_here:register\n"
        "test = fake_tito_plugin_c:register_test\n"))
    (site / "fake_tito_plugin_c.py").write_text(
        "def register(s):\n    pass\n\n"
        "def register_test(s):\n    s.add_parser('test')\n")
    problems = "\n".join(plugin_problems([str(site)]))
    assert "no command group 'nogroup'" in problems
    assert "ModuleNotFoundError" in problems and "no_such_module_here" in problems
    assert "plugin 'test'" in problems and "conflicting subparser" in problems
