"""Dynamic batching: requests that arrive within a few milliseconds share one forward pass.

A server answering one image per request runs the model on batches of one. The model is
faster per image on bigger batches (the kernels split a batch across cores, one matrix
product replaces many small ones), and requests from many clients arrive close together.
So the server keeps a queue. Whatever queued up while the model was busy (up to ``max_batch``
samples) goes into the next forward pass as soon as the model is free; when the model was
idle, the first request waits for others — but only for requests that are on their way (the
server announces each request it has started reading with :meth:`DynamicBatcher.incoming`),
and never longer than ``max_wait`` seconds. A fixed wait would leave the model idle while
nobody else is coming; no wait at all would run the requests of a burst one by one. The batch
is concatenated, run in one forward pass on the model's thread, and the rows of the result
are handed back to the request each came from.

    batcher = DynamicBatcher(service.predict, max_batch=32, max_wait=0.005)
    batcher.start()                                  # inside the running event loop
    with batcher.incoming():                         # a request is being read and parsed
        x = ...
    classes, probabilities = await batcher.submit(x) # x: (n, *sample_shape); rows of this x
    await batcher.stop()

Requests are only batched with others of the same sample shape; a request holding more
than ``max_batch`` samples runs on its own, in slices of ``max_batch`` (the activations of a
forward pass grow with its batch: measured on the small CIFAR CNN, a pass over 131 images
grew the process by 141 MB, one over 32 images by 35 MB). ``max_queue`` bounds the requests waiting
(:class:`Overloaded` beyond it: the server answers 503 rather than queueing without end).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["DynamicBatcher", "Overloaded"]


class Overloaded(RuntimeError):
    """The queue of requests waiting for the model is full."""


class _Incoming:
    """See :meth:`DynamicBatcher.incoming`."""

    def __init__(self, batcher: "DynamicBatcher") -> None:
        self._batcher = batcher
        self.open = True
        batcher._upstream += 1

    def close(self) -> None:
        if self.open:
            self.open = False
            self._batcher._gone()

    def __enter__(self) -> "_Incoming":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DynamicBatcher:
    """Gathers concurrent requests into shared forward passes (see the module docstring).

    Args:
        run: ``run(x) -> (classes, probabilities)`` for a batch ``x``; called on a dedicated
            thread, one batch at a time.
        max_batch: the most samples in one forward pass.
        max_wait: seconds the first request of a batch waits for company (0: no waiting; a
            batch is whatever queued up while the previous pass ran).
        max_queue: the most requests waiting for the model.
        on_batch: ``on_batch(samples, requests, seconds)`` after each pass (for metrics).
    """

    def __init__(self, run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                 max_batch: int = 32, max_wait: float = 0.005, max_queue: int = 1024,
                 on_batch: Callable[[int, int, float], None] | None = None) -> None:
        if max_batch < 1:
            raise ValueError(f"DynamicBatcher: max_batch must be >= 1, got {max_batch}")
        if max_wait < 0:
            raise ValueError(f"DynamicBatcher: max_wait must be >= 0, got {max_wait}")
        if max_queue < 1:
            raise ValueError(f"DynamicBatcher: max_queue must be >= 1, got {max_queue}")
        self.run = run
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait)
        self.max_queue = int(max_queue)
        self.on_batch = on_batch
        self.forward_passes = 0   # batches run
        self.requests = 0         # requests answered through a batch
        self.samples = 0          # samples run
        self._pending: deque = deque()
        self._upstream = 0  # requests being read or parsed: they will submit soon
        self._arrived: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def queued(self) -> int:
        """Requests waiting for a forward pass."""
        return len(self._pending)

    def incoming(self) -> "_Incoming":
        """A request is being read and parsed and will (probably) be submitted: an idle batch
        waits for it (up to ``max_wait``) until it is :meth:`submit`-ted or the returned
        handle is closed (``with batcher.incoming(): ...``, or ``.close()``)."""
        return _Incoming(self)

    def _gone(self) -> None:
        self._upstream -= 1
        if self._arrived is not None:
            self._arrived.set()  # a waiting batch re-checks who is still coming

    def start(self) -> None:
        """Start the batching task on the running event loop."""
        if self._task is not None:
            raise RuntimeError("DynamicBatcher.start: already started")
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tinytorch-model")
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="tinytorch-batcher")

    async def stop(self) -> None:
        """Stop batching; requests still queued fail with :class:`Overloaded`."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        while self._pending:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_exception(Overloaded("the server is shutting down"))
        if self._executor is not None:  # a pass still running ends on its own
            self._executor.shutdown(wait=False)
            self._executor = None

    async def submit(self, x: np.ndarray,
                     incoming: _Incoming | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Classes and probabilities for the rows of ``x``, computed in a shared pass
        (``incoming``: the handle of this request, closed as it joins the queue)."""
        if incoming is not None:
            incoming.open = False  # counted as queued from here on, not as on its way
            self._upstream -= 1
        if self._task is None or self._arrived is None:
            raise RuntimeError("DynamicBatcher.submit: call start() first")
        if len(self._pending) >= self.max_queue:
            raise Overloaded(f"{len(self._pending)} requests are already waiting for the model")
        fut = asyncio.get_running_loop().create_future()
        self._pending.append((x, fut))
        self._arrived.set()
        return await fut

    def _take(self, items: list, n: int) -> tuple[int, bool]:
        """Move queued requests into ``items`` (``n`` samples so far) while they fit; returns
        the new count and whether the batch is closed (full, or the next one does not fit)."""
        while self._pending:
            x, fut = self._pending[0]
            if fut.done():  # its client went away
                self._pending.popleft()
                continue
            if items and (x.shape[1:] != items[0][0].shape[1:] or n + len(x) > self.max_batch):
                return n, True
            self._pending.popleft()
            items.append((x, fut))
            n += len(x)
            if n >= self.max_batch:
                return n, True
        return n, False

    async def _collect(self) -> list:
        """The next batch. Requests that queued up while the model was busy go at once (the
        model is the bottleneck: keep it busy); when the model has been idle, the first
        request to arrive waits up to ``max_wait`` for others."""
        arrived = self._arrived
        if arrived is None:
            raise RuntimeError("DynamicBatcher: call start() before collecting batches")
        items: list = []
        n, closed = self._take(items, 0)
        if items:  # they waited for the previous pass already
            return items
        while not items:
            arrived.clear()
            await arrived.wait()
            n, closed = self._take(items, n)
        if closed or self.max_wait <= 0:
            return items
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0 or self._upstream == 0:  # nobody else is on the way
                return items
            arrived.clear()
            try:
                await asyncio.wait_for(arrived.wait(), remaining)
            except asyncio.TimeoutError:
                pass
            n, closed = self._take(items, n)
            if closed:
                return items

    def _run_batch(self, xs: list) -> tuple[np.ndarray, np.ndarray, float]:
        t0 = time.perf_counter()
        x = xs[0] if len(xs) == 1 else np.concatenate(xs, axis=0)
        if len(x) <= self.max_batch:
            classes, probabilities = self.run(x)
        else:  # one big request: in slices, so no pass's activations outgrow max_batch
            parts = [self.run(x[i:i + self.max_batch]) for i in range(0, len(x), self.max_batch)]
            classes = np.concatenate([c for c, _ in parts])
            probabilities = np.concatenate([p for _, p in parts])
        return classes, probabilities, time.perf_counter() - t0

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = await self._collect()
            xs = [x for x, _ in items]
            try:
                classes, probabilities, seconds = await loop.run_in_executor(
                    self._executor, self._run_batch, xs)
            except asyncio.CancelledError:
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(Overloaded("the server is shutting down"))
                raise
            except Exception as err:  # the model failed: every request of the batch hears it
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            start = 0
            for x, fut in items:
                stop = start + len(x)
                if not fut.done():
                    fut.set_result((classes[start:stop], probabilities[start:stop]))
                start = stop
            self.forward_passes += 1
            self.requests += len(items)
            self.samples += start
            if self.on_batch is not None:
                self.on_batch(start, len(items), seconds)
