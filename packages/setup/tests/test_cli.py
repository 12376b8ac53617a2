"""The command line: --help everywhere, argument errors, and commands end to end."""

from __future__ import annotations

import json

import pytest

from tinytorch.setup.cli import build_parser, main

COMMANDS = [
    [], ["system"], ["system", "info"], ["system", "doctor"], ["system", "sandbox"], ["module"],
    ["module", "list"], ["module", "status"], ["module", "start"], ["module", "reset"], ["export"],
    ["test"], ["dev"], ["dev", "check-stubs"], ["dev", "check-hints"], ["dev", "blocks"], ["dev", "stub"],
    ["lab"], ["autograder"], ["autograder", "gradescope"], ["autograder", "classroom"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tito")
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tito" + "".join(f" {c}" for c in command))
    assert len(out.splitlines()) > 3


def test_group_without_subcommand_prints_its_help(capsys):
    assert main(["module"]) == 0
    out = capsys.readouterr().out
    assert "start" in out and "reset" in out and "status" in out


def test_bare_tito_prints_the_overview(capsys):
    assert main([]) == 0
    assert "tito module start tensor" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("tito ")


def test_unknown_module_is_a_usage_error(capsys):
    assert main(["module", "start", "nonsense"]) == 2
    err = capsys.readouterr().err
    assert "unknown module 'nonsense'" in err and "02/tensor" in err


def test_missing_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["module", "start"])
    assert info.value.code == 2
    assert "module" in capsys.readouterr().err


def test_parser_lists_builtin_groups():
    parser, problems = build_parser(path=[])
    assert problems == []
    help_text = parser.format_help()
    for name in ("system", "module", "export", "test", "dev", "autograder"):
        assert name in help_text


def test_system_info_json_lists_this_distribution(tito):
    result = tito("system", "info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["cores"] >= 1 and info["python"].count(".") == 2
    names = {d["name"]: d for d in info["distributions"]}
    assert names["tinytorch-setup"]["kind"].startswith("reference")


def test_system_info_table(tito):
    result = tito("system", "info")
    assert result.returncode == 0, result.stderr
    for word in ("Python", "Cores", "numpy", "tinytorch-setup", "Data cache"):
        assert word in result.stdout


def test_module_list_shows_all_seventeen(tito):
    result = tito("module", "list")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "tinytorch-" in line]
    assert len(lines) == 17
    assert "tinytorch-introduction" in lines[0] and "tinytorch-capstone" in lines[-1]
    setup_line = next(line for line in lines if "tinytorch-setup" in line)
    assert "reference" in setup_line


def test_module_status_without_tests(tito):
    result = tito("module", "status", "--no-tests")
    assert result.returncode == 0, result.stderr
    assert "not installed" in result.stdout or "reference" in result.stdout


def test_test_command_on_a_module_that_is_not_installed(tito, tmp_path, make_dist):
    result = tito("test", "introduction")
    if "is not installed" not in result.stderr:
        pytest.skip("tinytorch-introduction is installed here")
    assert result.returncode == 1
    assert "pip install tinytorch-introduction" in result.stderr


def test_dev_stub_prints_the_student_version(tito, tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")
    result = tito("dev", "stub", str(source), "--module-name", "pkg.m")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ('def f():\n    raise NotImplementedError("pkg.m.f: implement this '
                             '(see the docstring)")\n')
    source.write_text("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    result = tito("dev", "stub", str(source))
    assert result.returncode == 1
    assert f"{source}:2: ### BEGIN SOLUTION without a matching" in result.stderr


def test_dev_blocks_lists_a_package(tito, toy_package):
    result = tito("dev", "blocks", "--path", str(toy_package))
    assert result.returncode == 0, result.stderr
    assert "3 solution block(s)" in result.stdout
    assert "Scaler.__call__" in result.stdout and "multiply by two" in result.stdout


def test_dev_commands_need_the_checkout_or_a_path(tito):
    result = tito("dev", "check-stubs", "tensor")
    assert result.returncode == 1
    assert "no TinyTorch checkout" in result.stderr and "--path" in result.stderr
