"""``tito train`` invoked wrongly: one line naming the bad value, exit status 2, no traceback.

Each row of the table is a command line (and what it needs on disk); the command runs in
process through the same ``run`` that ``tito`` calls, so an exception escaping it fails the
test. A failed run (the training itself breaks) exits with 1. Two rows also run as a separate
process, where a traceback would be printed: none is, unless ``TINYTORCH_DEBUG=1`` asks for it.
"""

from __future__ import annotations

import os
import pickle
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.training import cli, save_checkpoint

CLASSES = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
           b"ship", b"truck"]


def write_tiny_cifar(root: Path) -> Path:
    """A CIFAR-10 in the official layout with 2 images per batch (random pixels)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(), b"labels": [int(v) for v in rng.integers(0, 10, 2)],
                 b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": CLASSES}, protocol=2))
    return folder


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Each maker gets (tmp_path, monkeypatch) and returns the extra arguments of its command line.
def resume_missing(tmp, mp):
    return ["--resume", str(tmp / "nowhere.npz")]


def resume_text(tmp, mp):
    (tmp / "notes.txt").write_text("remember to buy milk\n")
    return ["--resume", str(tmp / "notes.txt")]


def resume_truncated(tmp, mp):
    good = save_checkpoint(tmp / "good.npz", {"epoch": 1, "w": np.arange(50_000.0)})
    data = Path(good).read_bytes()
    (tmp / "cut.npz").write_bytes(data[: len(data) // 3])
    return ["--resume", str(tmp / "cut.npz")]


def resume_unreadable(tmp, mp):
    from tinytorch.core.training import checkpoint

    path = save_checkpoint(tmp / "locked.npz", {"epoch": 1})
    real_open = open

    def no_permission(file, *args, **kwargs):  # chmod 000 does not stop root, so refuse here
        if os.fspath(file) == path:
            raise PermissionError(13, "Permission denied", path)
        return real_open(file, *args, **kwargs)

    mp.setattr(checkpoint, "open", no_permission, raising=False)
    return ["--resume", path]


def resume_empty(tmp, mp):
    (tmp / "zero.npz").write_bytes(b"")
    return ["--resume", str(tmp / "zero.npz")]


def resume_run_without_checkpoint(tmp, mp):
    (tmp / "run").mkdir()  # a run killed during its first epoch: its folder, no last.npz
    return ["--resume", str(tmp / "run")]


def resume_alone_without_checkpoint(tmp, mp):
    (tmp / "out").mkdir()
    return ["--resume"]  # from OUT/last.npz


def epochs_negative(tmp, mp):
    return ["--epochs", "-1"]


def epochs_zero(tmp, mp):
    return ["--epochs", "0"]


def limit_train_zero(tmp, mp):
    return ["--limit-train", "0"]


def limit_test_zero(tmp, mp):
    return ["--limit-test", "0"]


def seed_negative(tmp, mp):
    return ["--seed", "-3"]


def out_under_a_file(tmp, mp):
    (tmp / "a-file").write_text("x")
    return ["--out", str(tmp / "a-file" / "run")]


def out_is_a_file(tmp, mp):
    (tmp / "a-file").write_text("x")
    return ["--out", str(tmp / "a-file")]


def out_unwritable(tmp, mp):
    if os.path.isdir("/proc/self"):  # Linux: nothing can be created in /proc, not even by root
        return ["--out", "/proc/tinytorch-run"]
    return ["--out", "/dev/null/tinytorch-run"]  # elsewhere: under a device


def data_missing(tmp, mp):
    return ["--data", str(tmp / "no-data-here")]


def data_truncated_first_use(tmp, mp):
    folder = write_tiny_cifar(tmp / "data")
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[:1000])  # damaged before it was ever read
    return ["--data", str(tmp / "data")]


def data_truncated_after_check(tmp, mp):
    from tinytorch.core.dataloader import CIFAR10

    folder = write_tiny_cifar(tmp / "data")
    CIFAR10(tmp / "data", train=False)  # read once: its sizes and md5s are recorded
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[:1000])
    return ["--data", str(tmp / "data")]


def data_truncated_download_offline(tmp, mp):
    from tinytorch.core.dataloader import CIFAR10

    mp.setattr(CIFAR10, "url", f"http://127.0.0.1:{closed_port()}/cifar-10-python.tar.gz")
    return data_truncated_after_check(tmp, mp) + ["--download"]


CASES = [
    # (maker, exit status, what the message must say: a regex; {tmp} is the test's folder)
    (resume_missing, 2, r"--resume: checkpoint not found: {tmp}/nowhere\.npz"),
    (resume_text, 2, r"--resume: {tmp}/notes\.txt is not a TinyTorch checkpoint .*a text file"),
    (resume_truncated, 2, r"--resume: {tmp}/cut\.npz is truncated or damaged"),
    (resume_unreadable, 2, r"--resume: cannot read checkpoint {tmp}/locked\.npz: Permission denied"),
    (resume_empty, 2, r"--resume: {tmp}/zero\.npz is empty \(0 bytes\)"),
    (resume_run_without_checkpoint, 2, r"checkpoint not found: {tmp}/run/last\.npz: {tmp}/run/ "
                                       r"holds no checkpoint of that name yet"),
    (resume_alone_without_checkpoint, 2, r"checkpoint not found: {tmp}/out/last\.npz"),
    (epochs_negative, 2, r"--epochs -1: the number of epochs must be at least 1"),
    (epochs_zero, 2, r"--epochs 0:"),
    (limit_train_zero, 2, r"--limit-train 0: .*keep at least 128"),
    (limit_test_zero, 2, r"--limit-test 0:"),
    (seed_negative, 2, r"--seed -3:"),
    (out_under_a_file, 2, r"--out {tmp}/a-file/run: {tmp}/a-file is a file"),
    (out_is_a_file, 2, r"--out {tmp}/a-file is a file, not a folder"),
    (out_unwritable, 2, r"--out /(proc|dev/null)/tinytorch-run: cannot write there"),
    (data_missing, 2, r"--data {tmp}/no-data-here: CIFAR10 not found"),
    (data_truncated_first_use, 2, r"--data {tmp}/data: CIFAR10: {tmp}/data/cifar-10-batches-py/"
                                  r"test_batch is truncated or damaged \(pickle data was truncated"),
    (data_truncated_after_check, 2, r"{tmp}/data/cifar-10-batches-py/test_batch is truncated: "
                                    r"1,000 bytes where the folder's \.tinytorch-manifest\.json says"),
    (data_truncated_download_offline, 2, r"test_batch is truncated: .*, and fetching it again "
                                         r"failed: could not download"),
]


@pytest.mark.parametrize("make, status, message", CASES, ids=[c[0].__name__ for c in CASES])
def test_cli_bad_invocation_is_one_line_without_traceback(make, status, message, tmp_path,
                                                          monkeypatch, capsys):
    import re

    monkeypatch.delenv("TINYTORCH_DEBUG", raising=False)
    out = tmp_path / "out"
    argv = ["cifar10", "--no-progress", "--out", str(out)] + make(tmp_path, monkeypatch)
    if "--data" not in argv:
        argv += ["--data", str(tmp_path / "unused-data")]  # never reached: the mistake is earlier
    had_out = out.exists()

    code = cli.main(argv)  # an exception escaping here fails the test: that is the traceback

    err = capsys.readouterr().err
    assert code == status, err
    assert "Traceback" not in err
    first = err.splitlines()[0]
    assert first.startswith("tito train: ")
    assert re.search(message.format(tmp=re.escape(str(tmp_path))), first), first
    if make is not data_missing:  # that one explains how to get the data, on a few lines
        assert err.count("\n") == 1, err
    assert out.exists() == had_out  # a refused command leaves nothing behind
    assert "allow_pickle" not in err


def test_cli_a_failed_run_exits_1_in_one_line(tmp_path, monkeypatch, capsys):
    from tinytorch.core.training import cifar10

    def diverges(*args, **kwargs):
        raise FloatingPointError("the loss became nan at epoch 1, step 3: lower the learning rate")

    monkeypatch.setattr(cifar10, "train_cifar10", diverges)
    monkeypatch.delenv("TINYTORCH_DEBUG", raising=False)
    assert cli.main(["cifar10", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err == ("tito train: the run failed: FloatingPointError: the loss became nan at epoch 1, "
                   "step 3: lower the learning rate (TINYTORCH_DEBUG=1 shows the traceback)\n")


def test_cli_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYTORCH_DEBUG", "1")
    with pytest.raises(cli.UsageError, match="--epochs -1"):
        cli.main(["cifar10", "--epochs", "-1", "--out", str(tmp_path / "run")])


def _subprocess(args, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TINYTORCH_DEBUG"}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "tinytorch.core.training.cli", *args],
                          capture_output=True, text=True, env=environment, timeout=300)


def test_cli_in_a_process_prints_no_traceback_unless_asked(tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    argv = ["cifar10", "--resume", str(tmp_path / "notes.txt"), "--out", str(tmp_path / "run")]
    quiet = _subprocess(argv)
    assert quiet.returncode == 2
    assert quiet.stderr.count("\n") == 1 and "Traceback" not in quiet.stderr
    assert f"{tmp_path / 'notes.txt'} is not a TinyTorch checkpoint" in quiet.stderr

    loud = _subprocess(argv, TINYTORCH_DEBUG="1")
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr and "UsageError" in loud.stderr


def test_cli_registers_tito_data_too():
    import argparse

    parser = argparse.ArgumentParser(prog="tito")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(["data", "fetch", "cifar10", "--root", "/somewhere"])
    assert (args.dataset, args.root) == ("cifar10", "/somewhere") and callable(args.func)
    again = argparse.ArgumentParser(prog="tito").add_subparsers(dest="command")
    from tinytorch.core.dataloader import cli as data_cli

    data_cli.register(again)
    cli.register(again)  # `tito data` already there (from tinytorch-dataloader itself): kept
    assert sorted(again.choices) == ["data", "train"]
