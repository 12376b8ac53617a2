"""``tito``'s own commands invoked wrongly: one line naming the bad value, never a traceback.

Each row of the table is a bad invocation of a command tinytorch-setup provides (module names,
numbers out of range or of the wrong type, missing or wrong-kind files and folders, bad JSON,
an unbalanced quote); it runs in process through :func:`tinytorch.setup.cli.main` — an
exception escaping ``main`` fails the row — and must exit 2 (a usage mistake), print no
``Traceback``, and name the bad value. Two rows also run as a separate process. The plugins'
commands (train, serve, registry, ...) are in ``integration/test_cli_no_tracebacks.py``, where
every wheel is installed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

import tinytorch.setup.cli as cli
from tinytorch.setup.cli import main


@dataclass(frozen=True)
class Row:
    """A bad invocation (``{tmp}``: the scratch folder), its exit status, the value it names."""

    id: str
    argv: tuple[str, ...]
    code: int
    names: str


def row(id: str, cmd: str | list[str], code: int, names: str) -> Row:
    argv = cmd.split() if isinstance(cmd, str) else cmd
    return Row(id, tuple(argv), code, names)


# Scratch files: {tmp}/notes.txt (text), {tmp}/adir/ (empty folder), {tmp}/bad.json (not JSON),
# {tmp}/list.json (a JSON list), {tmp}/subs/alice/ (one submission folder).
ROWS = [
    # ---- the command words
    row("unknown-command", "frobnicate", 2, "frobnicate"),
    row("unknown-subcommand", "system frob", 2, "frob"),
    row("unknown-option", "system info --colour", 2, "--colour"),
    # ---- module names
    row("module-start-unknown", "module start tensr --no-install --dir {tmp}/ws", 2, "tensr"),
    row("module-start-number", "module start 42 --no-install --dir {tmp}/ws", 2, "42"),
    row("module-reset-unknown", "module reset nosuch", 2, "nosuch"),
    row("export-unknown", "export nosuch", 2, "nosuch"),
    row("test-unknown", "test nosuch", 2, "nosuch"),
    row("lab-unknown", "lab nosuch --print-command", 2, "nosuch"),
    row("release-unknown", "release nosuch --out {tmp}/rel", 2, "nosuch"),
    row("grade-module-unknown", "grade {tmp}/subs --module nosuch", 2, "nosuch"),
    row("autograder-unknown", "autograder gradescope nosuch --out {tmp}/ag", 2, "nosuch"),
    row("dev-check-stubs-jobs-zero", "dev check-stubs tensor --jobs 0", 2, "0"),
    row("dev-check-stubs-timeout-text", "dev check-stubs tensor --timeout long", 2, "long"),
    # ---- numbers: wrong type, out of range
    row("module-status-timeout-text", "module status --timeout soon", 2, "soon"),
    row("module-status-timeout-negative", "module status --no-tests --timeout -5", 2, "-5"),
    row("grade-timeout-text", "grade {tmp}/subs --timeout abc", 2, "abc"),
    row("grade-timeout-negative", "grade {tmp}/subs --timeout -1", 2, "-1"),
    row("grade-jobs-zero", "grade {tmp}/subs --jobs 0", 2, "0"),
    row("grade-memory-negative", "grade {tmp}/subs --memory -2", 2, "-2"),
    row("autograder-timeout-negative",
        "autograder gradescope tensor --out {tmp}/ag --timeout -1", 2, "-1"),
    row("classroom-timeout-zero", "autograder classroom tensor --out {tmp}/cr --timeout 0", 2,
        "0"),
    row("classroom-points-negative",
        "autograder classroom tensor --out {tmp}/cr --points -3", 2, "-3"),
    # ---- files and folders of the wrong kind
    row("release-out-file", "release tensor --out {tmp}/notes.txt", 2, "notes.txt"),
    row("release-out-under-file", "release tensor --out {tmp}/notes.txt/rel", 2, "notes.txt"),
    row("release-out-proc", "release tensor --out /proc/tito-release", 2, "/proc/tito-release"),
    row("grade-missing", "grade {tmp}/nowhere", 2, "nowhere"),
    row("grade-out-file", "grade {tmp}/subs --out {tmp}/notes.txt", 2, "notes.txt"),
    row("grade-points-missing", "grade {tmp}/subs --points {tmp}/nope.json", 2, "nope.json"),
    row("grade-points-not-json", "grade {tmp}/subs --points {tmp}/bad.json", 2, "bad.json"),
    row("grade-points-folder", "grade {tmp}/subs --points {tmp}/adir", 2, "adir"),
    row("grade-points-list", "grade {tmp}/subs --points {tmp}/list.json", 2, "list.json"),
    row("grade-pytest-unbalanced-quote", ["grade", "{tmp}/subs", "--pytest", "-k 'x"], 2,
        "-k 'x"),
    row("grade-gradescope-folder", "grade {tmp}/subs/alice --gradescope {tmp}/adir", 2, "adir"),
    row("autograder-out-file", "autograder gradescope tensor --out {tmp}/notes.txt", 2,
        "notes.txt"),
    row("autograder-points-not-json",
        "autograder gradescope tensor --out {tmp}/ag --points {tmp}/bad.json", 2, "bad.json"),
    row("classroom-out-file", "autograder classroom tensor --out {tmp}/notes.txt", 2,
        "notes.txt"),
    row("dev-stub-missing", "dev stub {tmp}/nope.py", 2, "nope.py"),
    row("dev-stub-folder", "dev stub {tmp}/adir", 2, "adir"),
    row("module-start-dir-file", "module start tensor --no-install --dir {tmp}/notes.txt", 2,
        "notes.txt"),
    row("export-dir-missing", "export tensor --dir {tmp}/nowhere", 2, "nowhere"),
    row("lab-dir-missing", "lab tensor --dir {tmp}/nowhere --print-command", 2, "nowhere"),
]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("TINYTORCH_DEBUG", raising=False)
    (tmp_path / "notes.txt").write_text("remember to buy milk\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def run_tito(argv: list[str]) -> tuple[int, str]:
    """``tito argv`` in process: (exit status, stdout and stderr together)."""
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(out):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue()


def expand(values, tmp: Path) -> list[str]:
    return [v.replace("{tmp}", str(tmp)) for v in values]


def test_the_table_covers_every_built_in_command():
    parser, _ = cli.build_parser(path=[])  # no plugins: setup's own commands only
    commands = set(cli._subcommands(parser))
    assert len(ROWS) >= 40
    assert commands <= {r.argv[0] for r in ROWS} | {"frobnicate"}


@pytest.mark.parametrize("bad", ROWS, ids=[r.id for r in ROWS])
def test_bad_invocation_is_one_clear_line(bad: Row, scratch: Path):
    argv = expand(bad.argv, scratch)
    code, text = run_tito(argv)
    shown = f"tito {' '.join(argv)} -> exit {code}:\n{text}"
    assert "Traceback" not in text, shown
    assert code == bad.code, shown
    assert bad.names.replace("{tmp}", str(scratch)) in text, shown
    assert "error" in text, shown


def test_a_usage_mistake_leaves_no_folder_behind(scratch: Path):
    """--out is checked by writing to it; the folders made for the check are removed."""
    code, text = run_tito(["release", "tensor", "--out", "/proc/tito-release/a/b"])
    assert code == 2 and "/proc/tito-release/a/b" in text
    code, _ = run_tito(["grade", str(scratch / "subs"), "--out", str(scratch / "new" / "grades"),
                        "--pytest", "-k 'x"])
    assert code == 2
    assert not (scratch / "new").exists()


@pytest.mark.parametrize("name", ["grade-pytest-unbalanced-quote", "release-out-file"])
def test_as_a_process_no_traceback(name: str, scratch: Path):
    bad = next(r for r in ROWS if r.id == name)
    argv = expand(bad.argv, scratch)
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_DEBUG"}
    done = subprocess.run([sys.executable, "-m", "tinytorch.setup", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == bad.code, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert bad.names.replace("{tmp}", str(scratch)) in done.stderr
    assert done.stderr.startswith("error: ")


def _broken_module_list(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    """Make ``tito module list`` raise ``exc`` (a bug, as far as tito can tell)."""
    real_build = cli.build_parser

    def raising(args):
        raise exc

    def patched(path=None):
        parser, problems = real_build(path)
        module = cli._subcommands(parser)["module"]
        cli._subcommands(module)["list"].set_defaults(func=raising)
        return parser, problems

    monkeypatch.setattr(cli, "build_parser", patched)


def test_an_unexpected_exception_is_one_line_and_exit_1(scratch: Path, monkeypatch):
    _broken_module_list(monkeypatch, ZeroDivisionError("the lesson's bug"))
    code, text = run_tito(["module", "list"])
    assert code == 1
    assert "Traceback" not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0] == "error: tito module list failed: ZeroDivisionError: the lesson's bug"
    assert lines[1:] == ["hint: run with TINYTORCH_DEBUG=1 for the traceback"]


def test_an_os_error_names_its_file(scratch: Path, monkeypatch):
    _broken_module_list(monkeypatch, PermissionError(13, "Permission denied", "/srv/x.npz"))
    code, text = run_tito(["module", "list"])
    assert code == 1
    assert "PermissionError: [Errno 13] Permission denied: '/srv/x.npz'" in text


@pytest.mark.parametrize("exc", [ZeroDivisionError("bug"), cli.TitoError("failed"),
                                 cli.UsageError("bad value")])
def test_debug_mode_shows_the_traceback(scratch: Path, monkeypatch, exc):
    _broken_module_list(monkeypatch, exc)
    monkeypatch.setenv("TINYTORCH_DEBUG", "1")
    with pytest.raises(type(exc)):
        run_tito(["module", "list"])
    monkeypatch.setenv("TINYTORCH_DEBUG", "0")  # 0 is off
    assert run_tito(["module", "list"])[0] == getattr(exc, "exit_code", 1)


def test_exit_statuses_of_the_error_classes():
    assert cli.TitoError("x").exit_code == 1
    assert cli.UsageError("x").exit_code == 2
    assert isinstance(cli.UsageError("x"), cli.TitoError)
