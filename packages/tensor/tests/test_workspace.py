"""The scratch-buffer pool (workspace.py) and the ops that return pooled arrays (ReLU)."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.tensor.workspace import WORKSPACE, Workspace


@pytest.fixture
def pool_everything():
    """Pool arrays of every size, so the tests' small tensors exercise buffer reuse."""
    previous = WORKSPACE.min_bytes
    WORKSPACE.min_bytes = 0
    yield
    WORKSPACE.min_bytes = previous


def test_a_buffer_is_handed_out_only_when_nobody_holds_it():
    ws = Workspace(max_per_key=2, min_bytes=0)
    a = ws.get("t", (100,), np.float32)
    assert ws.get("t", (100,), np.float32) is not a  # a is still held
    view = a[10:20]
    del a
    c = ws.get("t", (100,), np.float32)
    assert c is not view.base  # a view keeps its buffer busy
    pooled = {id(view.base), id(c)}
    del view, c
    # both free again: the next two requests reuse them, nothing new is allocated
    d, e = ws.get("t", (100,), np.float32), ws.get("t", (100,), np.float32)
    assert {id(d), id(e)} == pooled and ws.nbytes() == 2 * 400


def test_only_arrays_of_at_least_min_bytes_are_pooled():
    # the size is the product of the shape (numpy integers and 0-d shapes included) × itemsize
    ws = Workspace(min_bytes=64)
    assert ws.get("t", (np.int64(4), np.int64(4)), np.float32).shape == (4, 4)  # 64 bytes
    assert ws.nbytes() == 64
    ws.get("t", (3, 5), np.float32)   # 60 bytes: allocated normally, not kept
    ws.get("t", (), np.float64)       # 8 bytes
    ws.get("t", (0, 100), np.float64)  # empty
    assert ws.nbytes() == 64
    ws.get("t", (2, 2, 2), np.float64)  # 64 bytes again, another key
    assert ws.nbytes() == 128


def test_like_keeps_the_memory_layout():
    ws = Workspace(min_bytes=0)
    nhwc = np.zeros((2, 4, 5, 3), np.float32)
    nchw_view = nhwc.transpose(0, 3, 1, 2)  # channels-last memory, NCHW shape
    buf = ws.like("t", nchw_view)
    assert buf.shape == nchw_view.shape and buf.strides == nchw_view.strides
    assert ws.like("t", nhwc).flags.c_contiguous
    assert ws.like("t", nhwc, np.float64).dtype == np.float64
    # not dense in any axis order (a strided slice): a plain empty_like
    sliced = np.zeros((8, 8), np.float32)[:, ::2]
    assert ws.like("t", sliced).shape == (8, 4)


def test_unary_math_relu_output_is_never_overwritten_while_it_is_held(pool_everything):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 8)).astype(np.float32)
    first = Tensor(a).relu()
    kept = first.data.copy()
    second = Tensor(-a).relu()  # same shape and dtype: must get another buffer
    assert not np.shares_memory(first.data, second.data)
    np.testing.assert_array_equal(first.data, kept)
    np.testing.assert_array_equal(second.data, np.maximum(-a, 0))
    raw = first.data  # holding only the array (the tensor gone) keeps it busy too
    del first
    third = Tensor(a * 2).relu()
    assert not np.shares_memory(raw, third.data)
    np.testing.assert_array_equal(raw, kept)


def test_unary_math_relu_keeps_a_channels_last_layout_and_values(pool_everything):
    rng = np.random.default_rng(1)
    nhwc = rng.standard_normal((2, 5, 6, 3)).astype(np.float32)
    x = from_numpy(nhwc.transpose(0, 3, 1, 2))  # (N, C, H, W) view of channels-last memory
    y = x.relu()
    assert y.data.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(y.data, np.maximum(x.data, 0))


def test_unary_math_relu_never_returns_negative_zero():
    # The max-pool / ReLU reordering (module 06) relies on this: every non-positive input,
    # -0.0 included, becomes +0.0, whatever the layout or dtype.
    for dtype in (np.float32, np.float64):
        a = np.array([-0.0, 0.0, -1.0, 2.0] * 64, dtype=dtype)
        for data in (a, a.reshape(16, 16).T, a[::2]):
            out = Tensor(data, dtype=dtype).relu().data
            assert not np.signbit(out).any()


def test_a_request_is_the_same_however_its_dtype_and_shape_are_spelled():
    # the lookup caches each spelling of a request; all of them share one list of buffers
    ws = Workspace(max_per_key=1, min_bytes=0)
    a = ws.get("t", (4, 4), np.float32)
    del a
    b = ws.get("t", (4, 4), np.dtype("float32"))
    del b
    c = ws.get("t", [np.int64(4), 4], "float32")  # a list shape: not hashable, still pooled
    assert ws.nbytes() == 64  # one buffer, handed out three times
    held = ws.get("t", (4, 4), np.float32)  # c is held: another (unkept) array
    assert held is not c and ws.nbytes() == 64


def test_changing_min_bytes_applies_to_requests_seen_before():
    ws = Workspace(min_bytes=1 << 20)
    ws.get("t", (16,), np.float32)
    assert ws.nbytes() == 0  # too small: not pooled
    ws.min_bytes = 0
    kept = ws.get("t", (16,), np.float32)
    assert ws.nbytes() == 64 and kept.shape == (16,)
    ws.clear()
    assert ws.nbytes() == 0
    assert ws.get("t", (16,), np.float32, fill=2.0)[0] == 2.0


def test_the_pool_keeps_no_new_buffer_past_max_bytes():
    ws = Workspace(min_bytes=0, max_bytes=1000)
    held = [ws.get("a", (100,), np.float32), ws.get("b", (100,), np.float32)]  # 800 bytes kept
    extra = ws.get("c", (100,), np.float32)  # would make 1200: handed out, not kept
    assert ws.nbytes() == 800 and extra.shape == (100,)
    del extra
    ws.get("c", (100,), np.float32)
    assert ws.nbytes() == 800  # still not kept
    del held
    ws.clear()
    assert ws.nbytes() == 0
    ws.get("c", (100,), np.float32)
    assert ws.nbytes() == 400  # after clear() the budget is free again
