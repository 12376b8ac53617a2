"""Data-parallel training: every rank holds the whole model and a slice of each batch.

One step, on every rank at once:

1. take this rank's slice of the global batch (:func:`shard_slice`);
2. forward and backward on it: local gradients of the local mean loss;
3. **all-reduce** the gradients: each rank's gradient weighted by its share of the global
   batch, summed over ranks — the gradient of the mean loss over the *global* batch
   (:func:`allreduce_gradients`, one message for all parameters);
4. the optimizer step, identical on every rank, keeps the copies identical.

The copies start identical because rank 0's initial weights are **broadcast** to the others
(:func:`broadcast_state`). So N ranks on a global batch of B images compute the same weights as
one process on the same B images, up to the order of float32 additions in the sum.

Batch norm computes its statistics over the local slice, so with batch norm the ranks agree
with each other but not exactly with one process on the whole batch; :func:`average_buffers`
keeps their running statistics in step.
"""

from __future__ import annotations

import time
from typing import Any, Iterable

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

from .comm import Communicator

__all__ = ["shard_slice", "broadcast_state", "allreduce_gradients", "average_buffers",
           "DataParallel"]


def shard_slice(n: int, rank: int, size: int) -> slice:
    """Rank ``rank``'s contiguous part of ``n`` items split over ``size`` ranks.

    The parts cover 0..n exactly once, in rank order, and differ in length by at most one (the
    first ``n % size`` ranks take one more): ``shard_slice(10, r, 3)`` gives 0:4, 4:7, 7:10.
    When ``n < size`` the last ranks get empty slices.
    """
    if not 0 <= rank < size:
        raise ValueError(f"shard_slice: rank {rank} is not in 0..{size - 1}")
    ### BEGIN SOLUTION
    ### HINT: divmod(n, size) gives each rank's base length and how many ranks take one more;
    ### HINT: rank r starts after r base-length parts plus the extra items of the ranks before it
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    stop = start + base + (1 if rank < extra else 0)
    return slice(start, stop)
    ### END SOLUTION


def _state_tensors(model: Module) -> list:
    return [t for _, t in model.state_dict(keep_vars=True).items() if isinstance(t, Tensor)]


def broadcast_state(model: Module, comm: Communicator, root: int = 0) -> None:
    """Copy rank ``root``'s parameters and buffers into every rank's model, in place."""
    for t in _state_tensors(model):
        data = t.data if t.data.flags.c_contiguous else np.ascontiguousarray(t.data)
        comm.broadcast(data, root)
        if data is not t.data:
            t.data[...] = data


def allreduce_gradients(params: Iterable[Tensor], comm: Communicator, weight: float | None = None,
                        bucket: np.ndarray | None = None) -> np.ndarray:
    """Turn every rank's local gradients into the global-batch gradient, in one all-reduce.

    Each rank packs its parameters' gradients into one float32 buffer (a parameter without a
    gradient contributes zeros), multiplies it by ``weight`` — its share of the global batch,
    ``local images / global images`` (default ``1 / size``: equal shards) — sums the buffers
    over ranks with ``comm.allreduce_sum``, and unpacks the sum into the gradients.

    Args:
        params: the parameters, in the same order on every rank.
        comm: the communicator.
        weight: this rank's share of the global batch.
        bucket: a float32 buffer to reuse (resized when too small).

    Returns:
        The buffer (to pass back as ``bucket`` next step).
    """
    params = list(params)
    total = sum(p.data.size for p in params)
    if bucket is None or bucket.size != total:
        bucket = np.empty(total, dtype=np.float32)
    weight = (1.0 / comm.size) if weight is None else float(weight)
    ### BEGIN SOLUTION
    ### HINT: copy each p.grad.data (zeros when p.grad is None) into its slice of the bucket,
    ### HINT: scale, comm.allreduce_sum(bucket), then give each parameter a new gradient from
    ### HINT: its slice: p.grad = Tensor(slice reshaped to p.data.shape, dtype=p.data.dtype)
    offset = 0
    for p in params:
        n = p.data.size
        if p.grad is None:
            bucket[offset:offset + n] = 0
        else:
            bucket[offset:offset + n] = p.grad.data.reshape(-1)
        offset += n
    bucket *= np.float32(weight)
    comm.allreduce_sum(bucket)
    offset = 0
    for p in params:
        n = p.data.size
        p.grad = Tensor(bucket[offset:offset + n].reshape(p.data.shape), dtype=p.data.dtype)
        offset += n
    ### END SOLUTION
    return bucket


def average_buffers(model: Module, comm: Communicator) -> None:
    """Average the floating-point buffers (batch norm's running statistics) over the ranks."""
    for name, t in model.named_buffers():
        if t is None or t.data.dtype.kind != "f":
            continue
        data = np.ascontiguousarray(t.data, dtype=t.data.dtype)
        comm.allreduce_sum(data)
        t.data[...] = data / data.dtype.type(comm.size)


class DataParallel:
    """Train ``model`` on ``comm.size`` ranks: broadcast once, all-reduce every step.

    Args:
        model: this rank's copy of the model (built the same way on every rank).
        optimizer: its optimizer (``zero_grad()``, ``step()``).
        loss_fn: ``loss_fn(output, target) -> scalar Tensor`` (a mean over the batch).
        comm: the communicator.

    Example (every rank runs it, e.g. under ``mpiexec -n 2``)::

        dp = DataParallel(model, SGD(model.parameters(), lr=0.1), cross_entropy, comm)
        for x, y in global_batches:            # the same global batches on every rank
            loss = dp.step(x, y)               # this rank trains on its slice
    """

    def __init__(self, model: Module, optimizer: Any, loss_fn: Any, comm: Communicator) -> None:
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.comm = comm
        self.params = list(model.parameters())
        self._bucket: np.ndarray | None = None
        self._loss = np.zeros(2, dtype=np.float64)
        self.comm_seconds = 0.0  # wall time inside the collectives of step() (for reports)
        broadcast_state(model, comm)

    def local_batch(self, x: Any, y: Any) -> tuple:
        """This rank's slice of a global batch ``(x, y)`` (arrays or Tensors)."""
        n = (x.shape[0])
        part = shard_slice(n, self.comm.rank, self.comm.size)
        return _take(x, part), _take(y, part)

    def step(self, x: Any, y: Any, local: bool = False) -> float:
        """One training step on a global batch (or, with ``local=True``, on this rank's slice
        of it, when the caller already sharded); returns the global batch's mean loss."""
        if local:
            xl, yl = x, y
            n_local = x.shape[0]
            counts = np.array([n_local], dtype=np.float64)
            t0 = time.perf_counter()
            self.comm.allreduce_sum(counts)
            self.comm_seconds += time.perf_counter() - t0
            n_global = float(counts[0])
        else:
            n_global = float(x.shape[0])
            xl, yl = self.local_batch(x, y)
            n_local = xl.shape[0]
        self.model.train()
        loss = self.loss_fn(self.model(xl), yl)
        self.optimizer.zero_grad()
        loss.backward()
        t0 = time.perf_counter()
        self._bucket = allreduce_gradients(self.params, self.comm, n_local / n_global, self._bucket)
        self.comm_seconds += time.perf_counter() - t0
        self.optimizer.step()
        summed = np.array([float(loss.item()) * n_local], dtype=np.float64)
        t0 = time.perf_counter()
        self.comm.allreduce_sum(summed)
        self.comm_seconds += time.perf_counter() - t0
        return float(summed[0] / n_global)


def _take(a: Any, part: slice) -> Any:
    if isinstance(a, Tensor):
        return Tensor(a.data[part], dtype=a.data.dtype)
    return a[part]
