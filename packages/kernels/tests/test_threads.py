"""Batch splitting over threads gives the same result as one call; BLAS control restores."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.kernels import (
    blas_threads,
    conv2d_im2col_nhwc,
    map_batch,
    nchw_to_nhwc,
    run_in_threads,
    split_points,
)
from tinytorch.core.kernels.threads import python_work
from tinytorch.core.tensor.runtime import get_blas_threads


@given(st.integers(0, 200), st.integers(1, 9))
@settings(max_examples=100, deadline=None)
def test_split_points_cover_the_range_evenly(n, parts):
    edges = split_points(n, parts)
    assert edges[0] == 0 and edges[-1] == n
    sizes = np.diff(edges)
    assert len(sizes) == max(1, min(parts, n))
    assert (sizes >= 0).all() and sizes.max() - sizes.min() <= 1
    if n:
        assert (sizes > 0).all()


def test_split_points_by_hand():
    assert split_points(10, 3) == [0, 3, 6, 10]
    assert split_points(2, 5) == [0, 1, 2]
    assert split_points(7, 1) == [0, 7]
    with pytest.raises(ValueError):
        split_points(4, 0)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_map_batch_equals_one_call(threads):
    rng = np.random.default_rng(threads)
    x = nchw_to_nhwc(rng.standard_normal((5, 3, 6, 6)).astype(np.float32))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)

    def conv(part):
        return conv2d_im2col_nhwc(part, w, None, 1, 1)

    expected = conv(x)
    np.testing.assert_allclose(map_batch(conv, x, threads), expected, rtol=1e-5, atol=1e-5)
    out = np.full_like(expected, np.nan)
    assert map_batch(conv, x, threads, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_map_batch_really_uses_other_threads():
    seen = set()

    def fn(part):
        seen.add(threading.get_ident())
        return part * 2

    x = np.arange(8.0)
    np.testing.assert_array_equal(map_batch(fn, x, 4), x * 2)
    assert len(seen) > 1
    with pytest.raises(ValueError):
        map_batch(fn, x, 0)


def test_run_in_threads_keeps_order_and_raises_after_all_finish():
    assert run_in_threads([lambda i=i: i * i for i in range(5)]) == [0, 1, 4, 9, 16]
    assert run_in_threads([]) == []
    finished = []

    def slow_ok():
        finished.append("ok")
        return 1

    def boom():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_in_threads([boom, slow_ok])
    assert finished == ["ok"]


def test_blas_threads_restores_the_count():
    before = get_blas_threads()
    with blas_threads(1) as ok:
        if ok:
            assert get_blas_threads() == 1
    assert get_blas_threads() == before
    with pytest.raises(ValueError):
        with blas_threads(0):
            pass


def test_python_work():
    assert python_work(4) == 0 + 1 + 4 + 9
