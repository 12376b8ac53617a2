"""The model in a process of its own: the server's event loop and the model stop sharing a GIL.

A Python process runs Python code on one core at a time. The uvicorn server spends about as
much CPU per request on HTTP, JSON and validation (on its event loop) as the model spends on
the forward pass, and most of both holds the GIL — so in one process they take turns, and a
2-core machine serves at the speed of one core. :class:`ProcessPredictor` runs the forward
passes in a child process started with ``spawn`` (a fresh interpreter: no threads or locks
inherited): the server sends each batch down a pipe and reads the classes and probabilities
back. The child loads the model itself from its registry folder (verified, like any load), so
nothing but arrays crosses the pipe.

    predictor = ProcessPredictor("runs/registry/cnn/v3", output="logits")
    classes, probabilities = predictor.predict(x)   # same contract as Predictor.predict
    predictor.close()

If the child dies (killed, out of memory), the batch in flight fails (the server answers 500)
and the next batch starts a new child.
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import numpy as np

__all__ = ["ProcessPredictor"]


def _serve_model(conn: Any, path: str, output: str) -> None:
    """The child: load the model, then answer ``x -> ("ok", (classes, probabilities))`` or
    ``("error", text)`` until it receives None or the pipe closes."""
    try:
        from .predictor import Predictor
        from .registry import ModelVersion
        predictor = Predictor(ModelVersion.from_dir(path).load_model(), output)
    except Exception as err:  # noqa: BLE001 - reported to the parent in one line
        conn.send(("error", f"{type(err).__name__}: {err}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            x = conn.recv()
        except (EOFError, OSError):
            return
        if x is None:
            return
        try:
            conn.send(("ok", predictor.predict(x)))
        except Exception as err:  # noqa: BLE001 - the model failed on this batch
            conn.send(("error", f"{type(err).__name__}: {err}"))


class ProcessPredictor:
    """``predict(x) -> (classes, probabilities)`` by a model loaded in a child process.

    Args:
        path: the registry folder of the model version (``ModelVersion.path``).
        output: what the model returns (``"logits"``...), as for :class:`Predictor`.
        start_timeout: seconds to wait for the child to load the model.
    """

    def __init__(self, path: str, output: str = "logits", start_timeout: float = 120.0) -> None:
        self.path = str(path)
        self.output = output
        self.start_timeout = float(start_timeout)
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Any = None
        self.restarts = 0
        self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id."""
        return None if self._proc is None else self._proc.pid

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve_model, args=(child, self.path, self.output),
                           name="tinytorch-model", daemon=True)
        proc.start()
        child.close()
        if not parent.poll(self.start_timeout):
            proc.kill()
            raise RuntimeError(f"the model process did not start within "
                               f"{self.start_timeout:g} s")
        try:
            kind, value = parent.recv()
        except (EOFError, OSError):
            proc.join(5)
            kind, value = "error", f"it exited with code {proc.exitcode}"
        if kind != "ready":
            proc.join(5)
            raise RuntimeError(f"the model process could not load {self.path}: {value}")
        self._proc, self._conn = proc, parent

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classes and probabilities of the batch ``x`` (one forward pass in the child)."""
        with self._lock:
            if self._conn is None:
                self.restarts += 1
                self._start()
            try:
                self._conn.send(np.ascontiguousarray(x, dtype=np.float32))
                kind, value = self._conn.recv()
            except (EOFError, OSError) as err:
                self._discard()
                raise RuntimeError(f"the model process died ({type(err).__name__}); a new one "
                                   "serves the next batch") from None
        if kind != "ok":
            raise RuntimeError(f"the model failed in its process: {value}")
        return value

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        if self._proc is not None:
            self._proc.join(5)
        self._proc = self._conn = None

    def close(self) -> None:
        """Stop the child (politely, then firmly)."""
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.send(None)
                except OSError:
                    pass
            if self._proc is not None:
                self._proc.join(10)
            self._discard()
