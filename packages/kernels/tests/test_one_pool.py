"""One thread pool in the framework: the kernels lab and spatial's fused kernels share it."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import numpy as np

import tinytorch.core.kernels as kernels
import tinytorch.core.kernels.threads as kernel_threads
import tinytorch.core.spatial as spatial
import tinytorch.core.spatial.fused.conv as fused_conv
import tinytorch.core.spatial.fused.pool as fused_pool
import tinytorch.core.tensor as tensor
from tinytorch.core.tensor import runtime


def test_one_pool_the_same_functions_everywhere():
    assert kernel_threads.run_in_threads is runtime.run_in_threads
    assert kernels.run_in_threads is runtime.run_in_threads
    assert fused_conv.parallel_for is runtime.parallel_for
    assert fused_pool.parallel_for is runtime.parallel_for
    assert fused_conv.WORKSPACE is runtime.WORKSPACE is spatial.WORKSPACE


def test_one_pool_kernels_and_spatial_run_on_the_same_executor():
    seen = []
    both = threading.Barrier(2, timeout=20)  # each chunk waits for the other: two threads ran

    def record(start: int, stop: int) -> int:
        seen.append(threading.current_thread())
        both.wait()
        return stop - start

    with runtime.threads(2):
        assert runtime.parallel_for(2, record) == [1, 1]  # how the fused kernels split a batch
    pool = runtime.executor(1)

    def piece(part: np.ndarray) -> np.ndarray:
        seen.append(threading.current_thread())
        return part * 2

    x = np.arange(8.0).reshape(4, 2)
    np.testing.assert_array_equal(kernels.map_batch(piece, x, threads=2), x * 2)
    assert runtime.executor(1) is pool  # the kernels lab did not start a pool of its own
    workers = [t for t in seen if t is not threading.main_thread()]
    assert len(workers) == 2
    assert set(workers) <= set(pool._threads)


def _makes_an_executor(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("ThreadPoolExecutor", "Thread", "Pool", "ProcessPoolExecutor"):
                return True
    return False


def test_one_pool_no_other_module_starts_threads():
    roots = [Path(m.__file__).parent for m in (tensor, spatial, kernels)]
    makers = sorted(
        p.relative_to(p.parents[2]).as_posix()
        for root in roots for p in root.rglob("*.py")
        if "tests" not in p.relative_to(root).parts and _makes_an_executor(p)
    )
    assert makers == ["core/tensor/runtime.py"]


def test_one_pool_nested_work_runs_inline_instead_of_waiting_forever():
    """A convolution (which splits its batch with parallel_for) inside map_batch's pieces under
    threads(2): the piece on the pool's thread runs its nested split inline. Before, it queued
    the split behind itself on the one-thread pool and waited forever."""
    conv = spatial.Conv2d(3, 4, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((8, 3, 6, 6)).astype(np.float32)
    want = conv(tensor.Tensor(x)).numpy()
    done: dict = {}

    def run() -> None:
        with runtime.threads(2):
            done["y"] = kernels.map_batch(lambda part: conv(tensor.Tensor(part)).numpy(), x,
                                          threads=2)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "map_batch of a convolution under threads(2) deadlocked"
    np.testing.assert_allclose(done["y"], want, rtol=1e-5, atol=1e-6)
    seen = []
    nested = runtime.executor(1).submit(lambda: runtime.run_in_threads(
        [lambda: seen.append(threading.current_thread()) or 1] * 2)).result(timeout=20)
    assert nested == [1, 1] and len(set(seen)) == 1 and runtime.on_pool_thread() is False
