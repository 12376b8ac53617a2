"""Every ``tito`` command, invoked wrongly: one line naming the bad value, never a traceback.

The table below holds bad invocations of every command tito has when all the wheels are
installed (setup's own commands and the plugins: train, data, serve, registry, benchmark,
kernels, capstone, milestone, system graph). Each row runs through the real entry point,
:func:`tinytorch.setup.cli.main`, in process (an exception escaping ``main`` fails the row),
and must:

* exit non-zero — 2 for a usage mistake (a wrong type, a number out of range, a missing or
  wrong-kind file, an unknown name), 1 for a run that failed once started;
* print no ``Traceback``;
* name the bad value (the number, the path, the name) in what it prints.

A few rows also run as a separate process (``python -m tinytorch.setup``), where an uncaught
exception would print a real traceback, and ``TINYTORCH_DEBUG=1`` is checked to bring it back.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinytorch.setup.cli import main

pytestmark = pytest.mark.filterwarnings("ignore")


@dataclass(frozen=True)
class Row:
    """One bad invocation: ``argv`` (``{tmp}`` is the test's scratch folder), the exit status
    it must end with, and text its output must contain (the bad value)."""

    id: str
    argv: tuple[str, ...]
    code: int
    names: str


def row(id: str, cmd: str | list[str], code: int, names: str) -> Row:
    argv = cmd.split() if isinstance(cmd, str) else cmd
    return Row(id, tuple(argv), code, names)


# Scratch files every row may use (made by the `scratch` fixture):
#   {tmp}/notes.txt     a text file           {tmp}/adir/      an empty folder
#   {tmp}/bad.json      not JSON              {tmp}/list.json  JSON, but a list
#   {tmp}/subs/alice/   one submission        {tmp}/reg/       a registry: model m, v1 (metadata
#   {tmp}/cifar/        CIFAR-10 with damaged files            "version": null), model ok v1
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
    # ---- tito train (tinytorch-training)
    row("train-epochs-negative", "train cifar10 --epochs -1 --data {tmp}/cifar --out {tmp}/r",
        2, "-1"),
    row("train-epochs-text", "train cifar10 --epochs ten", 2, "ten"),
    row("train-limit-train-zero", "train cifar10 --limit-train 0 --out {tmp}/r", 2, "0"),
    row("train-resume-missing", "train cifar10 --resume {tmp}/nope.npz --out {tmp}/r", 2,
        "nope.npz"),
    row("train-resume-text", "train cifar10 --resume {tmp}/notes.txt --out {tmp}/r", 2,
        "notes.txt"),
    row("train-out-file", "train cifar10 --out {tmp}/notes.txt", 2, "notes.txt"),
    row("train-out-under-file", "train cifar10 --out {tmp}/notes.txt/run", 2, "notes.txt"),
    row("train-out-proc", "train cifar10 --out /proc/tito-run", 2, "/proc/tito-run"),
    row("train-data-damaged", "train cifar10 --data {tmp}/cifar --out {tmp}/r --epochs 1", 2,
        "cifar"),
    row("train-dataset-unknown", "train imagenet", 2, "imagenet"),
    # ---- tito data (tinytorch-dataloader, through training's plugin)
    row("data-unknown-dataset", "data verify imagenet", 2, "imagenet"),
    # `tito data verify` reports missing data as a failed check (exit 1), not a usage mistake
    row("data-verify-root-file", "data verify cifar10 --root {tmp}/notes.txt", 1, "notes.txt"),
    row("data-verify-missing", "data verify mnist --root {tmp}/adir", 1, "adir"),
    # ---- tito serve / tito registry (tinytorch-mlops)
    row("serve-port-too-big", "serve ok --port 99999 --registry {tmp}/reg", 2, "99999"),
    row("serve-port-negative", "serve ok --port -1 --registry {tmp}/reg", 2, "-1"),
    row("serve-port-text", "serve ok --port http --registry {tmp}/reg", 2, "http"),
    row("serve-unknown-model", "serve nosuch --registry {tmp}/reg --engine stdlib", 2, "nosuch"),
    row("serve-version-null", "serve m:1 --registry {tmp}/reg --engine stdlib", 2, "version"),
    row("registry-list-missing", "registry list --registry {tmp}/nonexistent", 2, "nonexistent"),
    row("registry-list-file", "registry list --registry {tmp}/notes.txt", 2, "notes.txt"),
    row("registry-show-version-null", "registry show m:1 --registry {tmp}/reg", 2, "version"),
    row("registry-show-unknown", "registry show nosuch --registry {tmp}/reg", 2, "nosuch"),
    row("registry-promote-unknown-version", "registry promote ok 7 production --registry {tmp}/reg",
        2, "7"),
    row("registry-rollback-nothing", "registry rollback ok production --registry {tmp}/reg", 2,
        "production"),
    # ---- tito benchmark / kernels / capstone / system graph
    row("benchmark-model-unknown", "benchmark profile --model resnet", 2, "resnet"),
    row("benchmark-batch-text", "benchmark profile --batch big", 2, "big"),
    row("benchmark-batch-zero", "benchmark profile --batch 0 --quick", 2, "0"),
    row("benchmark-json-folder", "benchmark profile --quick --json {tmp}/adir", 2, "adir"),
    row("kernels-only-unknown", "kernels --quick --only warp", 2, "warp"),
    row("kernels-repeat-zero", "kernels --quick --repeat 0", 2, "0"),
    row("kernels-json-folder", "kernels --quick --only threads --json {tmp}/adir", 2, "adir"),
    row("capstone-track-unknown", "capstone run warpdrive", 2, "warpdrive"),
    row("milestone-unknown", "milestone run 1999", 2, "1999"),
    row("milestone-record-folder", "milestone run 1957 --record {tmp}/adir", 2, "adir"),
    row("milestone-cifar-missing", "milestone run 1998 --quick --data {tmp}/adir --record "
        "{tmp}/m.json", 2, "CIFAR-10"),
    row("milestone-status-bad-record", "milestone status --record {tmp}/bad.json", 2, "bad.json"),
    row("train-kernels-unknown", "train cifar10 --kernels fast", 2, "fast"),
    row("graph-format-unknown", "system graph --format gif", 2, "gif"),
    row("graph-repo-missing", "system graph --source repo --repo {tmp}/nowhere", 2, "nowhere"),
    row("graph-output-folder", "system graph --output {tmp}/adir", 2, "adir"),
]


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The files the rows refer to; the working directory is a fresh folder, no debug mode."""
    monkeypatch.delenv("TINYTORCH_DEBUG", raising=False)
    monkeypatch.setenv("TINYTORCH_REGISTRY", str(tmp_path / "default-registry"))
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "default-data"))
    (tmp_path / "notes.txt").write_text("remember to buy milk\n")
    (tmp_path / "adir").mkdir()
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "subs" / "alice").mkdir(parents=True)
    cifar = tmp_path / "cifar" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]:
        (cifar / name).write_bytes(b"\x80\x02damaged")
    from tinytorch.core.mlops.registry import METADATA_FILE, METADATA_FORMAT

    for name, version in (("m", None), ("ok", 1)):
        folder = tmp_path / "reg" / name / "v1"
        folder.mkdir(parents=True)
        meta = {"format": METADATA_FORMAT, "name": name, "version": version, "files": {}}
        (folder / METADATA_FILE).write_text(json.dumps(meta))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path


class _Timeout(Exception):
    pass


def run_tito(argv: list[str], seconds: int = 60) -> tuple[int, str]:
    """``tito argv`` in process: (exit status, stdout + stderr). A row that starts real work
    instead of refusing is stopped after ``seconds``."""
    out = io.StringIO()

    def stop(*_):
        raise _Timeout(f"tito {' '.join(argv)} still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        with redirect_stdout(out), redirect_stderr(out):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue()


def expand(values: tuple[str, ...], tmp: Path) -> list[str]:
    return [v.replace("{tmp}", str(tmp)) for v in values]


def test_the_table_covers_every_command():
    """At least 48 rows, and rows for every top-level command tito has here (plugins too)."""
    import tinytorch.setup.cli as cli

    parser, problems = cli.build_parser()
    assert not problems
    commands = set(cli._subcommands(parser))  # noqa: SLF001
    assert len(ROWS) >= 48
    missing = commands - {r.argv[0] for r in ROWS}
    assert not missing, f"no bad invocation of: {sorted(missing)}"


@pytest.mark.parametrize("bad", ROWS, ids=[r.id for r in ROWS])
def test_bad_invocation_is_one_clear_line(bad: Row, scratch: Path):
    argv = expand(bad.argv, scratch)
    code, text = run_tito(argv)
    shown = f"tito {' '.join(argv)} -> exit {code}:\n{text}"
    assert "Traceback" not in text, shown
    assert code == bad.code, shown
    assert bad.names.replace("{tmp}", str(scratch)) in text, shown
    assert "error" in text.lower() or "tito " in text, shown


SUBPROCESS_ROWS = ["grade-pytest-unbalanced-quote", "serve-port-too-big",
                   "registry-show-version-null", "release-out-file"]


@pytest.mark.parametrize("name", SUBPROCESS_ROWS)
def test_as_a_process_no_traceback(name: str, scratch: Path):
    bad = next(r for r in ROWS if r.id == name)
    argv = expand(bad.argv, scratch)
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_DEBUG"}
    done = subprocess.run([sys.executable, "-m", "tinytorch.setup", *argv], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == bad.code, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert bad.names.replace("{tmp}", str(scratch)) in done.stderr


def test_debug_mode_brings_the_traceback_back(scratch: Path):
    """``TINYTORCH_DEBUG=1``: the exception a usage mistake raised, with its traceback."""
    bad = next(r for r in ROWS if r.id == "release-out-file")
    env = dict(os.environ, TINYTORCH_DEBUG="1")
    done = subprocess.run([sys.executable, "-m", "tinytorch.setup", *expand(bad.argv, scratch)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1  # the exception escaped main
    assert "Traceback" in done.stderr and "UsageError: --out" in done.stderr


@pytest.mark.parametrize("row_id, exception", [
    ("serve-unknown-model", "RegistryError"),         # tinytorch-mlops's plugin
    ("registry-show-version-null", "Error"),          # its registry command
    ("data-verify-missing", "DatasetNotFoundError"),  # tinytorch-dataloader's plugin
    ("milestone-unknown", "MilestoneError"),          # tinytorch-capstone's milestones
])
def test_debug_mode_reaches_into_the_plugins(scratch: Path, row_id: str, exception: str):
    """A plugin that catches a user's mistake itself lets it through under TINYTORCH_DEBUG=1."""
    bad = next((r for r in ROWS if r.id == row_id), None)
    if bad is None:
        pytest.fail(f"no row {row_id!r} in the table")
    env = dict(os.environ, TINYTORCH_DEBUG="1")
    done = subprocess.run([sys.executable, "-m", "tinytorch.setup", *expand(bad.argv, scratch)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0
    assert "Traceback" in done.stderr and exception in done.stderr, done.stderr[-800:]
