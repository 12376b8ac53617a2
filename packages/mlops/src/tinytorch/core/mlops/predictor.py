"""``Predictor``: a model made safe to call from many threads at once.

An HTTP server answers each request on its own thread, but a TinyTorch model is not safe to
run on several threads at the same time:

* grad mode is one flag for the whole process (``tinytorch.core.tensor.graph``). ``no_grad``
  saves the old value on entry and restores it on exit; two threads interleaving their
  enter/exit can leave it switched on for a third, which then records a graph it never frees
  until its output dies;
* the fused kernels of tinytorch-spatial already split every batch across a pool of threads
  (``tensor.runtime``). That pool is shared and is *replaced* when a bigger one is needed, so
  a second caller can find the pool it was handed shut down mid-submission; and each call
  switches numpy's BLAS to one thread and back, which concurrent calls would undo for each
  other;
* a model in training mode mutates itself on every call (BatchNorm's running statistics).

The scratch buffers (``tensor.runtime``) are safe on their own — the pool takes a lock and
only hands out an array that nobody else references — but the points above are not. So a
Predictor runs one forward pass at a time, behind a lock, in eval mode, under ``no_grad``.
That costs little in throughput on a small machine: each forward pass already uses every
core through the kernels' own threads.

One more setting matters for serving: numpy's BLAS threads. Requests are small batches, often
one image, and a batch of one is not split across the kernels' threads — so the kernels leave
BLAS multi-threaded, and a multi-threaded BLAS on tiny matrices spends its time waking and
synchronising threads. Measured on the 2-core course machine under load, one CIFAR image
through the small CNN took 28 ms of CPU with two BLAS threads and 0.9 ms with one. A Predictor
therefore runs its forward passes with BLAS on one thread (``blas_threads=1``; restored after
each call) — the kernels' own data parallelism still splits batches of two or more.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.runtime import get_num_threads, threads

__all__ = ["Predictor", "probabilities_from"]


def probabilities_from(outputs: np.ndarray, kind: str = "logits") -> np.ndarray:
    """Class probabilities from a model's outputs: softmax of logits, exp of log-probabilities,
    or the outputs themselves when the model ends in a Softmax."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if kind == "probabilities":
        return outputs
    if kind == "log_probabilities":
        return np.exp(outputs)
    if kind != "logits":
        raise ValueError(f"unknown output kind {kind!r} (logits, probabilities, log_probabilities)")
    shifted = outputs - outputs.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


class Predictor:
    """Thread-safe classification with a model: ``predict(x) -> (classes, probabilities)``.

    Args:
        model: any callable taking a Tensor batch and returning (N, K) outputs; switched to
            eval mode if it has ``eval()``.
        output: what the model returns: ``"logits"`` (default), ``"probabilities"`` or
            ``"log_probabilities"``.
        blas_threads: numpy BLAS threads during a forward pass (None: leave them alone).
    """

    def __init__(self, model: Any, output: str = "logits", blas_threads: int | None = 1) -> None:
        if hasattr(model, "eval"):
            model.eval()
        self.model = model
        self.output = output
        self.blas_threads = blas_threads
        self._lock = threading.Lock()

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """The model's raw outputs for the batch ``x`` (one forward pass at a time)."""
        batch = Tensor(np.ascontiguousarray(x, dtype=np.float32))
        with self._lock, no_grad():
            if self.blas_threads is None:
                out = self.model(batch)
            else:
                with threads(get_num_threads(), blas=self.blas_threads):
                    out = self.model(batch)
            # a copy: the kernels' output buffers are reused by the next call
            return np.array(getattr(out, "data", out), dtype=np.float32)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Predicted class per sample (int64) and class probabilities (float64, rows sum to 1)."""
        out = self.outputs(x)
        if out.ndim != 2:
            raise ValueError(f"the model returned outputs of shape {out.shape}; a classifier "
                             "must return (batch, classes)")
        probabilities = probabilities_from(out, self.output)
        return probabilities.argmax(axis=-1).astype(np.int64), probabilities
