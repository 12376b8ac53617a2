"""The worker pool of ``tito dev check-stubs``: one thread per worker process.

Each worker (:mod:`.stubcheck_worker`) owns a copy of the package (``<tmp>/w<i>``). A thread
per worker takes the next block, asks its worker to run the tests that executed the block
(from the reference run's coverage map, fastest first) and, if none of them fails, the whole
suite, and turns the answers into a :class:`BlockResult`. The check itself
(:mod:`.checkstubs`) imports this module, never the other way round.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stubbing import SolutionBlock

__all__ = ["BlockResult", "WorkerPool", "with_site"]

StubFn = Callable[[Path, SolutionBlock], tuple[str, str]]


@dataclass(frozen=True)
class BlockResult:
    """What happened to one block.

    Attributes:
        block: The block (its ``filename`` is relative to the package folder).
        status: ``caught``, ``not caught`` or ``error``.
        test: The first test that failed, when caught.
        runs: How many pytest runs it took.
        seconds: Wall time spent on it.
        detail: Extra information (the log file of an error, the tests that ran…).
    """

    block: SolutionBlock
    status: str
    test: str | None = None
    runs: int = 0
    seconds: float = 0.0
    detail: str = ""


def with_site(env: dict[str, str], site: Path) -> dict[str, str]:
    """``env`` with ``site`` first on ``PYTHONPATH`` (so it shadows the installed package)."""
    return dict(env, PYTHONPATH=os.pathsep.join([str(site), env["PYTHONPATH"]]))


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, tmp: Path, index: int, env: dict[str, str]) -> None:
        self.root = tmp / f"w{index}"
        self.logs = tmp / f"logs{index}"
        self.logs.mkdir(exist_ok=True)
        self.runs = 0
        self.proc = subprocess.Popen(
            [sys.executable, str(tmp / "plugins" / "_tt_stubcheck_worker.py"), str(self.root)],
            cwd=self.root, env=with_site(env, self.root / "src"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        hello = self._read()
        if not hello.get("ready"):
            raise RuntimeError(f"check-stubs worker {index} did not start: {hello}")

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("a check-stubs worker died (see the messages above)")
        return json.loads(line)

    def run(self, file: str, original: str, stubbed: str, args: list[str],
            timeout: float) -> tuple[dict[str, Any], str]:
        """Run pytest with ``file`` stubbed; return the answer and the run's log path."""
        assert self.proc.stdin is not None
        self.runs += 1
        log = str(self.logs / f"run{self.runs}.log")
        job = {"file": file, "original": original, "stubbed": stubbed, "args": args,
               "timeout": timeout, "log": log}
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return self._read(), log

    def close(self) -> None:
        """Stop the worker (it exits when its stdin closes)."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _tail(log: str, lines: int = 15) -> str:
    try:
        text = Path(log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


class WorkerPool:
    """``count`` workers running block checks in parallel (use as a context manager)."""

    def __init__(self, tmp: Path, count: int, env: dict[str, str], timeout: float,
                 select: list[str] | None = None) -> None:
        self.tmp, self.count, self.env, self.timeout = tmp, count, env, timeout
        self.select = list(select or [])
        self.workers: list[_Worker] = []

    def __enter__(self) -> WorkerPool:
        self.workers = [_Worker(self.tmp, i, self.env) for i in range(self.count)]
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.close()

    def _check_one(self, worker: _Worker, folder: Path, block: SolutionBlock,
                   candidates: list[str], stub: StubFn) -> BlockResult:
        original, stubbed = stub(folder, block)
        plans = []
        if candidates:  # first the fastest test's file only: fewer modules to collect
            first_file = candidates[0].split("::")[0]
            same_file = [c for c in candidates if c.split("::")[0] == first_file][:50]
            plans.append(("the tests that run it in " + first_file, ["-x", *same_file]))
            if len(same_file) < len(candidates):
                plans.append(("the tests that run it", ["-x", *candidates]))
        if self.select:  # the suite without the slow tests, then (last resort) with them
            plans.append(("the suite without slow tests", ["-x", *self.select, "tests"]))
        plans.append(("the whole suite", ["-x", "tests"]))
        runs, seconds = 0, 0.0
        for label, args in plans:
            answer, log = worker.run(block.filename, original, stubbed, args, self.timeout)
            runs += 1
            seconds += float(answer.get("seconds", 0.0))
            code = int(answer["exit"])
            if code in (1, 2):
                return BlockResult(block, "caught", answer.get("failed") or "?", runs, seconds)
            if code == 0 or (code in (4, 5) and label != "the whole suite"):
                continue  # passed (or a stale test id, or all deselected): next plan
            if code == -1:
                detail = f"pytest ran past {self.timeout:.0f} s on {label}"
            elif code == 5:
                detail = "no tests collected"
            else:
                detail = f"pytest exit code {code} on {label}:\n{_tail(log)}"
            return BlockResult(block, "error", None, runs, seconds, detail)
        ran = f"{len(candidates)} test(s) that run it, then the whole suite" if candidates \
            else "the whole suite (no test runs it in-process)"
        return BlockResult(block, "not caught", None, runs, seconds, f"all passed: {ran}")

    def check(self, folder: Path, blocks: dict[int, SolutionBlock], hits: dict[int, list[str]],
              durations: dict[str, float], stub: StubFn) -> Iterator[BlockResult]:
        """Check every block; yield each result as soon as it is known."""
        todo: queue.Queue[int] = queue.Queue()
        for index in blocks:
            todo.put(index)
        done: queue.Queue[BlockResult] = queue.Queue()

        def serve(worker: _Worker) -> None:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                block = blocks[index]
                candidates = sorted(hits.get(index, []), key=lambda n: durations.get(n, 0.0))
                try:
                    done.put(self._check_one(worker, folder, block, candidates, stub))
                except Exception as exc:  # noqa: BLE001 - report, keep the others going
                                done.put(BlockResult(block, "error", None, 0, 0.0,
                                         f"{type(exc).__name__}: {exc}"))

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self.workers]
        for thread in threads:
            thread.start()
        for _ in blocks:
            yield done.get()
        for thread in threads:
            thread.join()
