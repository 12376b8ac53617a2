"""Worker process of ``tito dev check-stubs`` (copied to a temp dir and run as a script).

It owns one copy of the package under test (its folder is the first argument; ``src/`` of
that copy is first on ``PYTHONPATH``). It reads one JSON job per line on stdin::

    {"file": "src/…/ops.py", "stubbed": "...", "original": "...",
     "args": ["-x", "tests/test_ops.py::test_add"], "timeout": 300, "log": "/tmp/…/log"}

writes the stubbed file, runs pytest on it, puts the original back, and answers one JSON line
``{"exit": code, "failed": "nodeid" | null, "seconds": s}`` on stdout.

Where ``os.fork`` exists the worker imports pytest, numpy and hypothesis once and forks a
child per job, so a job costs a fork instead of a fresh interpreter; the package under test is
imported only in the child, from the freshly written files. Elsewhere each job is a subprocess.
It imports nothing from ``tinytorch``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

PLUGIN = "_tt_stubcheck_plugin"
BASE_ARGS = ["-p", PLUGIN, "-p", "no:cacheprovider", "--import-mode=importlib", "-q",
             "-c", "pytest.ini", "--rootdir", "."]


def _read_result(path: str, code: int) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        data = {"exit": code, "failed": None}
    data["exit"] = code
    return data


def _run_forked(workdir: str, args: list[str], log: str, result: str, timeout: float) -> int:
    pid = os.fork()
    if pid == 0:  # child: run pytest, never return
        code = 3
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.chdir(workdir)
            os.environ["TT_STUBCHECK_RESULT"] = result
            import pytest

            code = int(pytest.main([*BASE_ARGS, *args]))
        except BaseException as exc:  # noqa: BLE001 - report anything, then exit
            print(f"worker child crashed: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1
        time.sleep(0.01)


def _run_subprocess(workdir: str, args: list[str], log: str, result: str, timeout: float) -> int:
    env = dict(os.environ, TT_STUBCHECK_RESULT=result)
    with open(log, "w", encoding="utf-8") as out:
        try:
            proc = subprocess.run([sys.executable, "-m", "pytest", *BASE_ARGS, *args], cwd=workdir,
                                  env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return -1
    return proc.returncode


def main() -> int:
    """Serve jobs until stdin closes."""
    workdir = os.path.abspath(sys.argv[1])
    sys.dont_write_bytecode = True
    use_fork = hasattr(os, "fork")
    if use_fork:
        for name in ("pytest", "numpy", "hypothesis"):
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - optional speed-up only
                pass
    runner = _run_forked if use_fork else _run_subprocess
    print(json.dumps({"ready": True, "fork": use_fork}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        path = os.path.join(workdir, job["file"])
        result_file = job["log"] + ".json"
        if os.path.exists(result_file):
            os.remove(result_file)
        start = time.monotonic()
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(job["stubbed"])
        try:
            code = runner(workdir, job["args"], job["log"], result_file, float(job["timeout"]))
        finally:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(job["original"])
        answer = _read_result(result_file, code)
        answer["seconds"] = round(time.monotonic() - start, 3)
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
