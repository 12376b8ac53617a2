"""The DataLoader: shuffle the indices, cut them into batches, stack each batch into Tensors.

    loader = DataLoader(train_set, batch_size=128, shuffle=True, seed=0, prefetch=2)
    for epoch in range(10):
        for images, labels in loader:      # Tensor (128, 3, 32, 32) float32, Tensor (128,) int64
            ...

Three ideas, in the order a student writes them:

1. **Batching with a reproducible shuffle.** Each epoch is a permutation of ``range(len(ds))``
   drawn from a generator seeded by ``(seed, epoch)``: the same seed gives the same sequence
   of epochs, every epoch is different, and every sample appears exactly once per epoch.
2. **Collate.** A batch of samples ``[(x0, y0), (x1, y1), ...]`` becomes a tuple of stacked
   Tensors ``(X[N, ...], Y[N])``. Datasets that hold their samples in arrays skip the
   per-sample calls entirely: ``dataset.get_batch(indices)`` gathers the batch with one
   fancy-indexing copy, which is tens of times faster than N calls of ``dataset[i]``.
3. **Prefetch.** With ``prefetch=k`` a background thread prepares up to ``k`` batches ahead
   (decoding, augmenting) while the training step runs; numpy releases the GIL in its heavy
   loops, so the two overlap on a multi-core machine. An exception in the thread is re-raised
   in the training loop; leaving the loop early stops the thread.
"""

from __future__ import annotations

import math
import secrets
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np

from tinytorch.core.tensor import Tensor, from_numpy

from .transforms import apply_batch

__all__ = ["DataLoader", "default_collate", "to_batch_tensor"]


def to_batch_tensor(field: Any) -> Tensor:
    """One stacked field of a batch as a Tensor (no copy when it is already a numpy array).

    dtypes follow the framework's conventions: floating point -> float32; bool and uint8
    (raw pixels) keep their dtype; every other integer type -> int64 (class labels).
    """
    if isinstance(field, Tensor):
        return field
    arr = np.asarray(field)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
    elif kind in "iu":
        if arr.dtype != np.uint8 and arr.dtype != np.int64:
            arr = arr.astype(np.int64)
    elif kind != "b":
        raise TypeError(f"collate: cannot make a Tensor of dtype {arr.dtype}; samples must hold "
                        "numbers or arrays of numbers")
    return from_numpy(arr)


def _sample_array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def default_collate(samples: list) -> Any:
    """Stack a list of samples into a batch of Tensors.

    ``[(x0, y0), (x1, y1), ...]`` -> ``(Tensor[N, *x.shape], Tensor[N])``: each field of the
    tuples is stacked along a new first axis. Samples that are single arrays or numbers give
    one Tensor; dicts give a dict of Tensors.

    Example:
        >>> xb, yb = default_collate([(np.zeros(3), 1), (np.ones(3), 0)])
        >>> xb.shape, yb.tolist()
        ((2, 3), [1, 0])
    """
    if not samples:
        raise ValueError("collate: got an empty list of samples")
    first = samples[0]
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        n = len(first)
        for i, s in enumerate(samples):
            if not isinstance(s, (tuple, list)) or len(s) != n:
                raise ValueError(f"collate: sample 0 has {n} fields but sample {i} is {type(s).__name__}"
                                 f" with {len(s) if isinstance(s, (tuple, list)) else 1}")
    ### BEGIN SOLUTION
    ### HINT: tuples of K fields: collate each field separately (recursion), return a tuple
    ### HINT: otherwise np.stack the samples (Tensors: use .data) and call to_batch_tensor
    if isinstance(first, (tuple, list)):
        # transpose: N samples of K fields -> K fields of N values, each stacked
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    arrays = [np.asarray(_sample_array(s)) for s in samples]
    try:
        stacked = np.stack(arrays)
    except ValueError:
        shapes = sorted({a.shape for a in arrays})
        raise ValueError(f"collate: samples of different shapes {shapes} cannot be stacked into "
                         "one batch") from None
    return to_batch_tensor(stacked)
    ### END SOLUTION


class DataLoader:
    """Iterate over a dataset in (optionally shuffled) batches of Tensors.

    Args:
        dataset: anything with ``len()`` and ``[i]``; when it also has ``get_batch(indices)``
            (array-backed datasets do) whole batches are gathered at once.
        batch_size: samples per batch.
        shuffle: draw a fresh permutation every epoch (else the dataset's order).
        drop_last: drop the final batch when it is smaller than ``batch_size``.
        seed: seed of the loader's own random generator; the permutation of epoch ``e`` depends
            only on ``(seed, e)``. ``None`` picks a random seed once.
        transform: a batch transform applied to the first field of every collated batch (its
            ``apply_batch`` when it has one), e.g. augmentation of ``(N, C, H, W)`` images.
        prefetch: how many batches a background thread prepares ahead (0: no thread).
        collate_fn: how to turn a list of samples into a batch (default :func:`default_collate`);
            giving one disables the ``get_batch`` fast path.

    Example:
        >>> from tinytorch.core.dataloader import TensorDataset
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
        >>> [len(y) for _, y in DataLoader(ds, batch_size=4)]
        [4, 4, 2]
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 transform: Callable | None = None, prefetch: int = 0,
                 collate_fn: Callable | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be an integer >= 0, got {prefetch!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: the dataset ({type(dataset).__name__}) needs __len__ and "
                            "__getitem__")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {transform!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.prefetch = int(prefetch)
        self.collate_fn = collate_fn
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        # the seed is fixed here even when not given, so epochs stay distinct and replayable
        self.seed = int(seed) if seed is not None else secrets.randbits(128)  # as SeedSequence()
        self.epoch = 0

    # ------------------------------------------------------------------ the index plan
    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (to resume a run with the same shuffles)."""
        self.epoch = int(epoch)

    def _generator(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch])

    def batch_indices(self, epoch: int | None = None) -> list:
        """The index arrays of the batches of ``epoch`` (default: the next one), in order.

        The sample order is ``0, 1, ..., n-1``, or with ``shuffle`` a permutation drawn from
        ``self._generator(epoch)`` (a generator seeded by ``(seed, epoch)``: the same epoch gives
        the same order, the next epoch another). Cut it into consecutive 1-D integer arrays of
        ``batch_size``; the last one is shorter when ``batch_size`` does not divide ``n``, and
        with ``drop_last`` it is left out. Every index appears at most once per epoch.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        n, bs = len(self.dataset), self.batch_size
        ### BEGIN SOLUTION
        ### HINT: shuffle: self._generator(epoch).permutation(n); else np.arange(n)
        ### HINT: cut into slices of bs; drop_last drops the short final slice
        order = self._generator(epoch).permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % bs if self.drop_last else n
        return [order[start:start + bs] for start in range(0, stop, bs)]
        ### END SOLUTION

    # ------------------------------------------------------------------ resuming
    def _random_transforms(self) -> list:
        """Every transform inside ``self.transform`` that owns a random generator."""
        found, stack = [], [self.transform]
        while stack:
            t = stack.pop()
            if t is None:
                continue
            if isinstance(getattr(t, "rng", None), np.random.Generator):
                found.append(t)
            stack.extend(reversed(getattr(t, "transforms", [])))
        return found

    def state_dict(self) -> dict:
        """Where the loader is: the next epoch and its random transforms' generator states.

        With ``load_state_dict`` a resumed run sees the same shuffles and augmentations as an
        unbroken one.
        """
        return {"seed": self.seed, "epoch": self.epoch,
                "transforms": [t.rng.bit_generator.state for t in self._random_transforms()]}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        randoms = self._random_transforms()
        if len(state["transforms"]) != len(randoms):
            raise ValueError(f"DataLoader.load_state_dict: the state has {len(state['transforms'])} "
                             f"random transforms, this loader has {len(randoms)}")
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])
        for t, rng_state in zip(randoms, state["transforms"]):
            t.rng.bit_generator.state = rng_state

    # ------------------------------------------------------------------ one batch
    @property
    def uses_fast_path(self) -> bool:
        """Whether batches are gathered with ``dataset.get_batch`` (no per-sample calls)."""
        return self.collate_fn is None and callable(getattr(self.dataset, "get_batch", None))

    def fetch(self, indices: Any) -> Any:
        """The collated (and batch-transformed) batch of these sample indices."""
        batch: Any  # a tuple, list or dict of Tensors, or one Tensor: what the dataset gives
        if self.uses_fast_path:
            fields = self.dataset.get_batch(indices)
            if isinstance(fields, dict):
                batch = {k: to_batch_tensor(v) for k, v in fields.items()}
            elif isinstance(fields, (tuple, list)):
                batch = tuple(to_batch_tensor(f) for f in fields)
            else:
                batch = to_batch_tensor(fields)
        else:
            collate = self.collate_fn or default_collate
            batch = collate([self.dataset[int(i)] for i in indices])
        if self.transform is not None:
            if isinstance(batch, tuple):
                batch = (apply_batch(self.transform, batch[0]),) + batch[1:]
            elif isinstance(batch, list):
                batch = [apply_batch(self.transform, batch[0])] + batch[1:]
            elif isinstance(batch, dict):
                raise TypeError("DataLoader: transform= needs tuple batches; dict batches have no "
                                "'first field' to transform (transform inside the dataset instead)")
            else:
                batch = apply_batch(self.transform, batch)
        return batch

    # ------------------------------------------------------------------ iteration
    def _batches(self, plan: list) -> Iterator[Any]:
        for indices in plan:
            yield self.fetch(indices)

    def __iter__(self) -> Iterator[Any]:
        plan = self.batch_indices(self.epoch)  # fixed now, in the caller's thread
        self.epoch += 1
        if self.prefetch == 0:
            return self._batches(plan)
        return PrefetchIterator(self._batches(plan), self.prefetch)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, prefetch={self.prefetch})")


_DONE = object()


class _Channel:
    """What the producer thread shares with the consumer: a bounded queue and a stop flag.

    The thread holds only this object, never the :class:`PrefetchIterator`, so an iterator
    that the training loop abandons is garbage-collected (and its ``__del__`` stops the thread).
    """

    poll = 0.05  # seconds between the producer's checks of the stop flag while the queue is full

    def __init__(self, depth: int) -> None:
        self.queue: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
        self.stop = threading.Event()

    def put(self, item: Any) -> bool:
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=self.poll)
                return True
            except queue.Full:
                continue
        return False


def _produce(source: Iterator[Any], channel: _Channel) -> None:
    try:
        for item in source:
            if not channel.put((True, item)):
                return
        channel.put((True, _DONE))
    except BaseException as err:  # noqa: BLE001 -- everything goes back to the consumer
        channel.put((False, err))
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


class PrefetchIterator:
    """Runs an iterator in a background thread, ``depth`` items ahead, through a bounded queue.

    * The queue is bounded, so the thread never runs more than ``depth`` batches ahead
      (memory stays bounded however slow the consumer is).
    * An exception raised in the thread is handed over through the queue and re-raised by
      ``next()`` in the consumer, with its original traceback.
    * ``close()`` (also called when the iterator is garbage-collected, e.g. after ``break``)
      tells the thread to stop, empties the queue so a blocked ``put`` returns, and joins it.
    """

    def __init__(self, source: Iterator[Any], depth: int) -> None:
        self._channel = _Channel(depth)
        self._finished = False
        self._thread = threading.Thread(target=_produce, args=(source, self._channel),
                                        name="tinytorch-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self) -> "PrefetchIterator":
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        ok, item = self._channel.queue.get()
        if ok and item is not _DONE:
            return item
        self.close()
        if not ok:
            note = "(raised in the DataLoader's prefetch thread)"
            if hasattr(item, "add_note"):
                item.add_note(note)
            raise item
        raise StopIteration

    @property
    def alive(self) -> bool:
        """Whether the background thread is still running."""
        return self._thread.is_alive()

    def close(self) -> None:
        """Stop the background thread and wait for it (it finishes the batch it is making)."""
        self._finished = True
        channel = self._channel
        channel.stop.set()
        while True:
            try:
                channel.queue.get_nowait()
            except queue.Empty:
                break
        if self._thread is not threading.current_thread():
            self._thread.join()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 -- never raise from a finaliser
            pass
