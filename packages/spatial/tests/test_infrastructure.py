"""The package's public names, the buffer workspace, the thread splitter and the fused flag."""

import threading

import numpy as np
import pytest

import tinytorch.core.spatial as spatial
from tinytorch.core.layers import Flatten as LayersFlatten
from tinytorch.core.spatial import fused_kernels, fused_kernels_enabled, set_fused_kernels
from tinytorch.core.tensor.runtime import (
    Workspace,
    CHUNKS_PER_THREAD,
    get_num_threads,
    parallel_for,
    set_num_threads,
    threads,
)


def test_public_names():
    for name in ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "BatchNorm2d",
                 "BatchNorm1d", "Flatten", "conv2d_naive", "conv2d", "max_pool2d", "avg_pool2d",
                 "adaptive_avg_pool2d", "batch_norm", "fused_kernels"):
        assert hasattr(spatial, name), name
    assert set(spatial.__all__) <= set(dir(spatial))
    assert spatial.Flatten is LayersFlatten


def test_workspace_hands_out_a_buffer_only_when_nobody_holds_it():
    ws = Workspace(max_per_key=2, min_bytes=0)
    a = ws.get("t", (100,), np.float32)
    b = ws.get("t", (100,), np.float32)
    assert a is not b  # a is still held
    view = a[10:20]
    del a
    c = ws.get("t", (100,), np.float32)
    assert c is not view.base  # a view keeps its buffer busy
    del view, c
    d = ws.get("t", (100,), np.float32)
    e = ws.get("t", (100,), np.float32)
    assert d is not e
    # beyond max_per_key busy buffers, fresh arrays are made and not kept
    f = ws.get("t", (100,), np.float32)
    assert f is not d and f is not e and f is not b
    assert ws.nbytes() == 2 * 400
    ws.clear()
    assert ws.nbytes() == 0


def test_workspace_fill_is_the_initial_value_and_keys_separate_dtypes():
    ws = Workspace(min_bytes=0)
    a = ws.get("pad", (4,), np.float32, fill=0.0)
    np.testing.assert_array_equal(a, 0)
    a[1:3] = 5
    del a
    again = ws.get("pad", (4,), np.float32, fill=0.0)
    np.testing.assert_array_equal(again, [0, 5, 5, 0])  # the same buffer, as left
    assert ws.get("pad", (4,), np.float64, fill=0.0).dtype == np.float64


def test_parallel_for_covers_the_range_once_in_order():
    for n, workers in ((10, 3), (2, 4), (1000, 2), (7, 2)):
        with threads(workers):
            parts = parallel_for(n, lambda a, b: (a, b))
        assert parts[0][0] == 0 and parts[-1][1] == n
        assert all(p[1] == q[0] and p[0] < p[1] for p, q in zip(parts, parts[1:]))
        assert len(parts) == min(n, workers * CHUNKS_PER_THREAD)
    assert parallel_for(5, lambda a, b: (a, b)) == [(0, 5)]  # one thread: one call


def test_parallel_for_hands_chunks_to_whichever_thread_is_free():
    # Chunk 0 waits until every other chunk is done: with a fixed share per thread the other
    # chunks of chunk 0's thread could never run, so this finishes only if the free thread
    # takes them all (the event's timeout turns a hang into a failure).
    done = []
    others_done = threading.Event()

    def fn(a, b):
        if a == 0:
            ok = others_done.wait(timeout=20)
            return ("first", ok)
        done.append(a)
        if len(done) == 2 * CHUNKS_PER_THREAD - 1:
            others_done.set()
        return (a, b)

    with threads(2):
        parts = parallel_for(16, fn)
    assert parts[0] == ("first", True)
    assert [p[0] for p in parts[1:]] == sorted(done)


def test_parallel_for_raises_what_a_worker_raised():
    def boom(a, b):
        if a > 0:
            raise RuntimeError("part failed")

    with threads(2), pytest.raises(RuntimeError, match="part failed"):
        parallel_for(4, boom)


def test_thread_settings_restore():
    assert get_num_threads() == 1
    with threads(2):
        assert get_num_threads() == 2
    assert get_num_threads() == 1
    with pytest.raises(ValueError):
        set_num_threads(0)


def test_fused_flag_context_restores():
    assert fused_kernels_enabled()
    with fused_kernels(False):
        assert not fused_kernels_enabled()
        with fused_kernels(True):
            assert fused_kernels_enabled()
        assert not fused_kernels_enabled()
    assert fused_kernels_enabled()
    assert set_fused_kernels(False) is True
    assert set_fused_kernels(True) is False


def test_blas_runs_single_threaded_while_the_runtime_runs_several_threads():
    from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads

    before = get_blas_threads()
    if before is None:
        pytest.skip("numpy's BLAS is not a bundled OpenBLAS: its threads cannot be queried")
    set_blas_threads(2)
    try:
        with threads(2):
            assert get_blas_threads() == 1  # the default: TinyTorch's threads own the cores
            assert parallel_for(2, lambda a, b: get_blas_threads()) == [1, 1]
        assert get_blas_threads() == 2  # put back
        with threads(2, blas=2):  # chosen explicitly: BLAS outside the kernels, not inside
            assert get_blas_threads() == 2
            assert parallel_for(2, lambda a, b: get_blas_threads()) == [1, 1]
            assert get_blas_threads() == 2
        with threads(1):  # one thread of its own: BLAS is left alone
            assert parallel_for(2, lambda a, b: get_blas_threads()) == [2]
        set_num_threads(2)
        assert get_blas_threads() == 1
        set_num_threads(1)
        assert get_blas_threads() == 1
    finally:
        set_num_threads(1)
        set_blas_threads(before)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_gets_working_threads():
    import os

    with threads(2):
        parallel_for(4, lambda a, b: None)  # the parent's pool now exists
        pid = os.fork()
        if pid == 0:  # the child: its inherited pool has no threads
            import signal

            signal.alarm(20)  # a hang (work queued for threads that do not exist) fails the test
            try:
                ok = parallel_for(4, lambda a, b: (a, b)) == [(0, 1), (1, 2), (2, 3), (3, 4)]
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
