"""The framework's runtime: the one thread pool and the one scratch-buffer pool.

**Not lesson material.** Nothing in here is an exercise; it is the machinery the fast paths
share, kept out of the lesson files so that a student reads the maths (``np.maximum(x, 0)``,
a convolution's loops, ...) without meeting the speed tricks. It lives in the tensor module because
that is the earliest module that needs it (ReLU's output buffer); the fused kernels of
the spatial module, the kernels module's lab, compression, benchmarking, mlops and the capstone all
use these same objects: there is exactly one thread pool (:func:`executor`) and one buffer
pool (:data:`WORKSPACE`) in the code base.

Threads
=======
Data parallelism for the fused kernels: split the batch across Python threads.

numpy releases the GIL inside its loops and inside BLAS, so two Python threads that each
convolve part of the batch really do run at the same time. For the narrow GEMMs of a small
CNN that is faster than one thread calling a multi-threaded BLAS (time a step under
``threads(2)`` and under ``threads(1, blas=2)``) — provided BLAS itself runs
single-threaded meanwhile, or the threads fight over the cores.

**The rule: one owner of the cores.** While TinyTorch runs more than one thread of its own,
numpy's bundled OpenBLAS runs one: at import, and whenever ``set_num_threads(n > 1)`` or
``threads(n > 1)`` is called, the runtime sets it to one thread (``threads`` puts the previous
value back when its block ends). Switching BLAS to one thread only *inside* a kernel is not
enough: after every multi-threaded call (a Dense layer's GEMM, say) OpenBLAS leaves its idle
workers spinning for about 0.1 s, whatever the thread count is set to meanwhile — measured
here: 110 ms of CPU burnt during a 0.5 s sleep after one 128×4096 @ 4096×128 product, the
same after ``set_blas_threads(1)`` — so a training step that contains one GEMM ran every
kernel after it on oversubscribed cores. With one TinyTorch thread, BLAS keeps whatever it
was set to (numpy's default: every core), and ``threads(n, blas=k)`` or
``set_blas_threads(k)`` choose both explicitly. The cost: a GEMM that no kernel splits runs on
one core; a caller that wants it on several splits it over :func:`parallel_for` (the Dense
layer's fused op does: ``tinytorch.core.tensor.fused.split_rows``).

**How the work is split.** :func:`parallel_for` cuts ``range(n)`` into a few contiguous
chunks per thread (``CHUNKS_PER_THREAD``) and every thread takes the next chunk when it is
done with one: on a machine where another process holds a core, the thread that shares that
core simply takes fewer chunks, instead of everyone waiting for its fixed half.
The threads wait for each other by blocking, never by spinning, so an oversubscribed core
costs them nothing but the share they lose.

**The default thread count** is the number of CPUs this process may run on
(``os.sched_getaffinity``: it honours ``taskset`` and container CPU sets), at most 4, or the
``TINYTORCH_NUM_THREADS`` environment variable. The load average is deliberately not used:
it is a one-minute average read once at import, it includes this process's own past work, and
the chunked split above already adapts, step by step, to a core that someone else takes.

    set_num_threads(1)          # one thread: the kernels run on the calling thread only
    with threads(2): ...        # two, inside the block (numpy's BLAS on one)
    with threads(2, blas=2): ...  # two kernel threads and two-thread BLAS outside the kernels
    set_blas_threads(1)         # numpy's OpenBLAS single-threaded everywhere

``set_blas_threads`` is best effort: it finds the OpenBLAS that numpy's wheels bundle and calls
its ``set_num_threads``; with any other BLAS it changes nothing and returns False (set
``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` before starting Python
instead).

Tasks of any kind run on the same pool with :func:`run_in_threads` (the kernels module's
``map_batch`` does). The pool grows when more workers are asked for and is started afresh in
a forked child.

Scratch buffers
===============
Reusable scratch buffers: big arrays handed out again instead of allocated afresh.

A fresh array of tens of megabytes costs milliseconds of page faults before a single number is
written into it, and a training step of a small CNN makes a dozen of them — the
im2col matrix, a ReLU's output and its gradient, pooling masks... Returning the memory to the
operating system and faulting it in again every step is pure overhead. So the ops that make
big arrays on every step ask this pool for them and get back an array from an earlier step
when one of the right shape is free: ReLU's fast form here in the tensor module (``fused.relu``,
its output) and its derivative in the autograd module (its gradient), the fused kernels of the spatial module
(their padded inputs, patch matrices, outputs and gradient accumulators).

"Free" is decided by reference counting, so a buffer can never be handed out while something
still reads it: an array is reused only when the pool holds the last reference to it. A graph
node that saved the im2col matrix for its backward pass, an output tensor the user kept, a
gradient the autograd engine is still holding, a view of any of them — each keeps its buffer
busy, and the pool simply makes another one. So an op may return a pooled array as its result:
whoever receives it owns it for as long as they hold it.

**What the pool keeps, and its bounds.** A buffer stays in the pool after its step, free,
waiting for the same request in the next step — that is the point — so the pool holds, between
steps, one set of the step's scratch arrays. Two rules keep that set small and bounded:

* kernels ask for *chunk-sized* scratch where they can: the fused convolution lays out its
  patch matrix a few images (about 2 MB) at a time, in the forward pass and again in the
  backward one, and max pooling keeps its intermediate per run of images, so no batch-sized
  patch matrix is ever kept (it used to be: a small CNN's step at batch 128 rose by 170 MiB
  against PyTorch's 115; see the spatial CHANGELOG for the figures now);
* at most ``max_per_key`` buffers per (tag, shape, dtype, fill), and at most ``max_bytes`` in
  all (1 GiB by default): past either bound an array is allocated normally and forgotten by
  the pool, so a one-off batch size (an evaluation pass) cannot grow it without limit.

``clear_workspace()`` drops every cached buffer (e.g. after evaluating with a huge batch).

Switches
========
Process-wide on/off settings — which path a fast op takes, whether ops record a graph — are
:class:`Switch` objects, one idiom for all of them: ``s.enabled`` to read (one attribute
lookup, cheap enough for every op), ``s.set(flag)`` to change (returns the old value),
``with s(flag): ...`` for a block, ``s.resolve(arg)`` for an op's ``fused=None`` argument.
:func:`switch` hands out the process's one switch of a name, creating it on first use, so a
module imported twice under different names (pytest's importlib mode does that) still shares
its setting; :func:`switches` lists them all:

    FUSED = switch("spatial.fused_kernels", default=True)
    with FUSED(False): ...                 # the composite path inside the block
"""

from __future__ import annotations

import ctypes
import glob
import math
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = [
    # threads
    "executor", "run_in_threads", "parallel_for", "set_num_threads",
    "get_num_threads", "threads", "set_blas_threads", "get_blas_threads",
    # scratch buffers
    "Workspace", "WORKSPACE", "clear_workspace",
    # switches
    "Switch", "switch", "switches",
    # freed memory
    "keep_freed_memory",
]


# ============================================================================ threads
def _default_threads() -> int:
    env = os.environ.get("TINYTORCH_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


_STATE: dict = {"threads": _default_threads(), "pool": None, "pool_size": 0}
_LOCK = threading.Lock()

# Chunks per thread in parallel_for: enough that a thread slowed by another process hands
# most of its share to the others, few enough that per-chunk work (a GEMM call, a partial
# weight gradient) stays negligible.
CHUNKS_PER_THREAD = 4


def set_num_threads(n: int) -> int:
    """Split each fused kernel's batch across ``n`` threads; returns the previous number.

    With ``n > 1`` numpy's BLAS is set to one thread too (the module docstring says why);
    with ``n == 1`` it is left as it is.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n!r}")
    previous = _STATE["threads"]
    _STATE["threads"] = int(n)
    if n > 1:
        set_blas_threads(1)
    return previous


def get_num_threads() -> int:
    """How many threads the fused kernels split a batch across."""
    return _STATE["threads"]


def executor(workers: int) -> ThreadPoolExecutor:
    """The framework's one thread pool, with at least ``workers`` threads.

    Every part of TinyTorch that runs work on other threads (the fused kernels through
    :func:`parallel_for`, the kernels module's ``map_batch`` through :func:`run_in_threads`) submits to
    this executor. It is replaced by a bigger one when more workers are asked for (the old one
    finishes what it was given), and started afresh in a forked child, which inherits the
    object but none of its threads.
    """
    with _LOCK:
        if _STATE.get("pid") != os.getpid():
            _STATE["pool"], _STATE["pool_size"], _STATE["pid"] = None, 0, os.getpid()
        if _STATE["pool"] is None or _STATE["pool_size"] < workers:
            if _STATE["pool"] is not None:
                _STATE["pool"].shutdown(wait=False)
            _STATE["pool"] = ThreadPoolExecutor(workers, thread_name_prefix=POOL_PREFIX)
            _STATE["pool_size"] = workers
        return _STATE["pool"]


POOL_PREFIX = "tinytorch"  # the names of the pool's threads start with it


def on_pool_thread() -> bool:
    """True on one of the runtime's own pool threads (inside ``map_batch``'s work, say)."""
    return threading.current_thread().name.startswith(POOL_PREFIX)


def run_in_threads(tasks: Sequence[Callable[[], Any]]) -> list:
    """Run every zero-argument callable at once, one per thread (the first on the calling
    thread); return their results in order. An exception in any task is raised here, after
    every task has finished.

    Called on one of the pool's own threads (work nested in work already split, e.g. a
    convolution inside ``map_batch``), the tasks run one after another right there: waiting
    for tasks queued behind the pool's busy threads — this one among them — would wait forever.
    """
    tasks = list(tasks)
    if len(tasks) <= 1 or on_pool_thread():
        return [task() for task in tasks]
    futures = [executor(len(tasks) - 1).submit(task) for task in tasks[1:]]
    try:
        first = tasks[0]()
    finally:
        for f in futures:  # no task may still be running when this returns or raises
            f.exception()
    return [first] + [f.result() for f in futures]


def parallel_for(n: int, fn: Callable[[int, int], Any]) -> list:
    """Run ``fn(start, stop)`` over contiguous chunks of ``range(n)`` on the runtime's threads.

    With one thread this is ``[fn(0, n)]``. Otherwise ``range(n)`` is cut into up to
    ``CHUNKS_PER_THREAD`` chunks per thread, and each thread (the calling one included) takes
    the next chunk as soon as it is free, so a thread that shares its core with another
    process does less of the work. numpy's OpenBLAS runs single-threaded meanwhile. Returns
    ``fn``'s results in chunk order (whichever thread ran them: the same list every time);
    an exception in any chunk is raised here, after every thread has stopped.
    """
    workers = min(_STATE["threads"], n)
    if workers <= 1:
        return [fn(0, n)]
    chunks = min(n, workers * CHUNKS_PER_THREAD)
    edges = [n * i // chunks for i in range(chunks + 1)]
    results: list = [None] * chunks
    taken = iter(range(chunks))  # next() on a shared iterator hands each chunk out once
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                i = next(taken, None)
            if i is None:
                return
            results[i] = fn(edges[i], edges[i + 1])

    blas = get_blas_threads()
    if blas is not None and blas > 1:
        set_blas_threads(1)  # the chunks are the parallelism: no BLAS threads on top
    try:
        run_in_threads([worker] * workers)
    finally:
        if blas is not None and blas > 1:
            set_blas_threads(blas)
    return results


# --------------------------------------------------------------------------- BLAS threads
_BLAS: dict = {"looked": False, "set": None, "get": None}


def _find_openblas() -> None:
    if _BLAS["looked"]:
        return
    _BLAS["looked"] = True
    root = os.path.dirname(np.__file__)
    candidates = glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*"))
    candidates += glob.glob(os.path.join(root, ".dylibs", "*openblas*"))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)  # already loaded by numpy: this returns the same library
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    getter.restype = ctypes.c_int
                    _BLAS["set"], _BLAS["get"] = setter, getter
                    return


def set_blas_threads(n: int) -> bool:
    """Ask numpy's bundled OpenBLAS to use ``n`` threads; False if no such BLAS was found."""
    _find_openblas()
    if _BLAS["set"] is None:
        return False
    _BLAS["set"](int(n))
    return True


def get_blas_threads() -> int | None:
    """The thread count of numpy's bundled OpenBLAS, or None if it cannot be queried."""
    _find_openblas()
    return None if _BLAS["get"] is None else int(_BLAS["get"]())


@contextmanager
def threads(n: int, blas: int | None = None) -> Iterator[None]:
    """Context manager: ``n`` data-parallel threads inside the block, and numpy's BLAS on
    ``blas`` threads (None: the runtime's rule — one thread when ``n > 1``, else unchanged).
    Both are put back when the block ends."""
    previous_blas = get_blas_threads()
    previous = set_num_threads(n)  # with n > 1 this also puts numpy's BLAS on one thread
    if blas is not None:
        set_blas_threads(blas)
    try:
        yield
    finally:
        set_num_threads(previous)
        if previous_blas is not None:
            set_blas_threads(previous_blas)


if _STATE["threads"] > 1:  # the rule of the module docstring, from the first import on
    set_blas_threads(1)


# ============================================================================ scratch buffers
def _refcount_baseline() -> int:
    """References to a pooled buffer that is free, counted exactly the way :meth:`get` counts."""
    pool = [np.empty(1)]
    for buf in pool:
        return sys.getrefcount(buf)
    return 0  # pragma: no cover


class Workspace:
    """A pool of scratch arrays keyed by (tag, shape, dtype, initial fill).

    Args:
        max_per_key: how many buffers of one kind are kept at most.
        min_bytes: smaller arrays are not worth pooling; they are allocated normally.
        max_bytes: the pool keeps no new buffer once it holds this many bytes.
    """

    def __init__(self, max_per_key: int = 4, min_bytes: int = 1 << 18,
                 max_bytes: int = 1 << 30) -> None:
        self.max_per_key = int(max_per_key)
        self.max_bytes = int(max_bytes)
        self._held = 0  # bytes of every buffer kept
        self._min_bytes = int(min_bytes)
        self._pool: dict = {}   # (tag, shape, dtype.str, fill) -> list of buffers
        self._index: dict = {}  # a request as given -> its list in _pool (None: not pooled)
        self._spec: dict = {}   # id(list) -> (shape, dtype, fill) to make a new buffer
        self._lock = threading.Lock()
        # reuse needs reference counts (CPython); elsewhere nothing is pooled
        self._pooling = hasattr(sys, "getrefcount")
        self._baseline = _refcount_baseline() if self._pooling else 0

    @property
    def min_bytes(self) -> int:
        """Arrays smaller than this are allocated normally, not pooled."""
        return self._min_bytes

    @min_bytes.setter
    def min_bytes(self, value: int) -> None:
        with self._lock:
            self._min_bytes = int(value)
            self._index.clear()  # which requests are pooled may change

    def get(self, tag: str, shape: tuple, dtype: Any, fill: float | None = None) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that nobody else references.

        Its contents are whatever the last user left, except that a buffer made with ``fill``
        starts out filled with that value — callers that only ever write the same region of a
        ``tag`` (e.g. the inside of a zero-padded image) can rely on the rest staying ``fill``.
        """
        # Every pooled op calls this, so the request as given — (tag, shape, dtype, fill),
        # hashable as it comes — is looked up directly; only the first request of a kind pays
        # for normalising it (np.dtype, int sizes, the byte count).
        raw = (tag, shape, dtype, fill)
        try:
            pool = self._index[raw]
        except KeyError:
            pool = self._register(raw)
        except TypeError:  # an unhashable shape (a list): normalise every time
            pool = self._register(raw, remember=False)
        if pool is None:  # too small to pool, or no reference counts on this Python
            return self._new(tuple(int(n) for n in shape), np.dtype(dtype), fill)
        with self._lock:
            for buf in pool:
                if sys.getrefcount(buf) <= self._baseline:
                    return buf
            buf = self._new(*self._spec[id(pool)])
            if len(pool) < self.max_per_key and self._held + buf.nbytes <= self.max_bytes:
                pool.append(buf)
                self._held += buf.nbytes
            return buf

    def _register(self, raw: tuple, remember: bool = True) -> list | None:
        """The pool list of a request (None: not pooled), normalised and remembered."""
        tag, shape, dtype, fill = raw
        dtype = np.dtype(dtype)
        shape = tuple(int(n) for n in shape)
        nbytes = math.prod(shape) * dtype.itemsize
        if not self._pooling or nbytes < self._min_bytes:
            pool = None
        else:
            key = (tag, shape, dtype.str, fill)
            with self._lock:
                pool = self._pool.setdefault(key, [])
                self._spec[id(pool)] = (shape, dtype, fill)
        if remember:
            with self._lock:
                self._index[raw] = pool
        return pool

    def like(self, tag: str, a: np.ndarray, dtype: Any = None) -> np.ndarray:
        """An array shaped like ``a`` *and laid out like it in memory* (uninitialised).

        An elementwise op that writes its result with ``out=`` into such a buffer keeps its
        input's layout — a channels-last (N, C, H, W) view stays channels-last — just as
        numpy's own ``np.maximum(a, 0)`` would. ``a`` must be dense in some axis order (any
        transpose of a contiguous array); otherwise, and for small arrays, this is a plain
        ``np.empty_like``.
        """
        dtype = a.dtype if dtype is None else np.dtype(dtype)
        if a.flags.c_contiguous:
            return self.get(tag, a.shape, dtype)
        # the axes from the largest stride to the smallest: the order the memory runs in
        order = sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))
        if not a.transpose(order).flags.c_contiguous:
            return np.empty_like(a, dtype=dtype)
        buf = self.get(tag, tuple(a.shape[i] for i in order), dtype)
        return buf.transpose(np.argsort(order))

    @staticmethod
    def _new(shape: tuple, dtype: np.dtype, fill: float | None) -> np.ndarray:
        if fill is None:
            return np.empty(shape, dtype=dtype)
        return np.full(shape, fill, dtype=dtype)

    def clear(self) -> None:
        """Forget every cached buffer (arrays still in use stay valid)."""
        with self._lock:
            self._pool.clear()
            self._index.clear()
            self._spec.clear()
            self._held = 0

    def nbytes(self) -> int:
        """Bytes held by the pool."""
        with self._lock:
            return sum(b.nbytes for pool in self._pool.values() for b in pool)


WORKSPACE = Workspace()


def clear_workspace() -> None:
    """Release the scratch buffers the fast paths (ReLU, the fused kernels) keep between calls."""
    WORKSPACE.clear()


# ============================================================================ switches
class Switch:
    """A named process-wide on/off setting (see "Switches" in the module docstring).

    Args:
        name: what it switches, e.g. ``"layers.fused_linear"``.
        enabled: the initial setting.
    """

    __slots__ = ("name", "enabled")

    def __init__(self, name: str, enabled: bool = True) -> None:
        self.name = str(name)
        self.enabled = bool(enabled)

    def set(self, enabled: bool) -> bool:
        """Turn the switch on (True) or off (False); returns the previous setting."""
        previous = self.enabled
        self.enabled = bool(enabled)
        return previous

    @contextmanager
    def __call__(self, enabled: bool = True) -> Iterator[None]:
        """Context manager: the switch is ``enabled`` inside the block, as before after it."""
        previous = self.set(enabled)
        try:
            yield
        finally:
            self.set(previous)

    def resolve(self, value: bool | None) -> bool:
        """An op's own argument when given, else the switch: ``fused=None`` means "as set"."""
        return self.enabled if value is None else bool(value)

    def __repr__(self) -> str:
        return f"Switch({self.name!r}, enabled={self.enabled})"


_SWITCHES: dict = {}


def switch(name: str, default: bool = True) -> Switch:
    """The process's one :class:`Switch` called ``name``; made (set to ``default``) on first use."""
    with _LOCK:
        found = _SWITCHES.get(name)
        if found is None:
            found = _SWITCHES[name] = Switch(name, default)
        return found


def switches() -> dict:
    """Every switch made so far and its setting, by name (e.g. for a run's provenance)."""
    with _LOCK:
        return {name: s.enabled for name, s in sorted(_SWITCHES.items())}


# ============================================================================ freed memory
# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_GLIBC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
_MALLOC: dict = {"mallopt": None, "looked": False}


def _mallopt() -> Any:
    if not _MALLOC["looked"]:
        _MALLOC["looked"] = True
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _MALLOC["mallopt"] = getattr(libc, "mallopt", None)
        except OSError:
            _MALLOC["mallopt"] = None
    return _MALLOC["mallopt"]


def keep_freed_memory(enabled: bool = True) -> bool:
    """Let the C allocator keep the memory of freed arrays for the next ones (glibc only).

    glibc's malloc hands every block above its mmap threshold (32 MiB at most) to the kernel
    with ``mmap`` and returns it with ``munmap`` when freed, so each big array starts on fresh
    pages and pays a page fault per 4 KiB the first time it is written. At airbench's batch of
    1024 most activations are 15–60 MB; on the course VM (with a training job running beside)
    one 59 MB array cost 100–200 ms to fill the first time and 10 ms in memory used before. Enabled, big blocks come from malloc's
    heap and freed ones stay there (``M_MMAP_MAX`` 0, ``M_TRIM_THRESHOLD`` unbounded), so a
    training loop reuses the same pages step after step. The price: the process keeps its peak
    memory until it ends. Process-wide, like the thread settings: it applies to every library
    in the process (PyTorch too, in a side-by-side benchmark). ``enabled=False`` puts glibc's
    defaults back.

    Returns:
        True when the setting was applied; False where there is no glibc ``mallopt``
        (macOS, Windows, musl), which changes nothing.
    """
    mallopt = _mallopt()
    if mallopt is None:
        return False
    wanted = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: (1 << 31) - 1} if enabled else _GLIBC_DEFAULTS
    return all(mallopt(param, value) == 1 for param, value in wanted.items())

