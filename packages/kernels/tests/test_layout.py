"""Strides and contiguity computed by hand agree with numpy's own bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.kernels import (
    Layout,
    contiguous_strides,
    describe,
    is_contiguous,
    memory_span,
    nchw_to_nhwc,
    nhwc_to_nchw,
)
from tinytorch.core.tensor import Tensor

DTYPES = [np.float32, np.float64, np.int8, np.int16, np.complex128]


def test_strides_by_hand():
    assert contiguous_strides((2, 3, 4), 4) == (48, 16, 4)
    assert contiguous_strides((2, 3, 4), 4, "F") == (4, 8, 24)
    assert contiguous_strides((), 8) == ()
    assert contiguous_strides((5,), 2) == (2,)
    with pytest.raises(ValueError, match="order"):
        contiguous_strides((2, 2), 4, "K")


@given(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=6),
       st.sampled_from(DTYPES), st.sampled_from("CF"))
@settings(max_examples=80, deadline=None)
def test_strides_match_numpy(shape, dtype, order):
    a = np.empty(shape, dtype=dtype, order=order)
    expected = a.strides
    got = contiguous_strides(shape, a.itemsize, order)
    # numpy is free to pick any stride for an axis it never steps along (length 1, or any
    # axis of an empty array); everywhere else the strides must agree
    if a.size:
        assert all(g == e for n, g, e in zip(shape, got, expected) if n != 1)
    assert is_contiguous(shape, got, a.itemsize, order)


@st.composite
def views(draw):
    """An array and a view of it made by transposing, stepping, cutting and adding axes."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    a = np.arange(int(np.prod(shape)), dtype=draw(st.sampled_from(DTYPES))).reshape(shape)
    if draw(st.booleans()):
        a = np.asfortranarray(a)
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["T", "step", "cut", "newaxis", "flip"]))
        axis = draw(st.integers(0, a.ndim - 1))
        if op == "T":
            a = a.transpose(draw(st.permutations(range(a.ndim))))
        elif op == "step":
            index = [slice(None)] * a.ndim
            index[axis] = slice(None, None, draw(st.integers(1, 3)))
            a = a[tuple(index)]
        elif op == "cut":
            index = [slice(None)] * a.ndim
            index[axis] = slice(draw(st.integers(0, a.shape[axis])), None)
            a = a[tuple(index)]
        elif op == "newaxis":
            a = np.expand_dims(a, axis)
        else:
            a = np.flip(a, axis)
    return a


@given(views())
@settings(max_examples=150, deadline=None)
def test_contiguity_matches_numpy_flags(a):
    assert is_contiguous(a.shape, a.strides, a.itemsize, "C") == a.flags.c_contiguous
    assert is_contiguous(a.shape, a.strides, a.itemsize, "F") == a.flags.f_contiguous
    info = describe(a)
    assert info.c_contiguous == a.flags.c_contiguous
    assert info.element_strides == tuple(s // a.itemsize for s in a.strides)


def test_contiguity_by_hand():
    assert is_contiguous((3, 4), (16, 4), 4)
    assert not is_contiguous((3, 4), (4, 12), 4)
    assert is_contiguous((3, 4), (4, 12), 4, "F")
    assert not is_contiguous((3, 4), (32, 8), 4)  # every other column
    assert is_contiguous((3, 1, 4), (16, 999, 4), 4)  # a length-1 axis never moves
    assert is_contiguous((0, 4), (123, 4), 4)  # empty: trivially contiguous
    with pytest.raises(ValueError, match="strides"):
        is_contiguous((3, 4), (4,), 4)


def test_describe_views_and_copies():
    a = np.zeros((3, 4), np.float32)
    info = describe(a)
    assert isinstance(info, Layout)
    assert info == Layout((3, 4), (16, 4), (4, 1), 4, True, False, False, 48, 48)
    t = describe(a.T)
    assert t.strides == (4, 16) and t.element_strides == (1, 4)
    assert not t.c_contiguous and t.f_contiguous and t.is_view
    s = describe(a[:, ::2])
    assert s.strides == (16, 8) and not s.c_contiguous and not s.f_contiguous
    assert s.nbytes == 24 and s.span == 2 * 16 + 2 * 4 + 4  # from a[0, 0] to a[2, 2]
    assert "strided" in str(s) and "view" in str(s)
    assert describe(Tensor(np.zeros((2, 2), np.float32))).shape == (2, 2)


@given(views())
@settings(max_examples=80, deadline=None)
def test_memory_span_covers_exactly_first_to_last_element(a):
    if a.size == 0:
        assert memory_span(a) == 0
        return
    offsets = np.array(np.meshgrid(*[np.arange(n) for n in a.shape], indexing="ij"))
    byte_offsets = sum(o * s for o, s in zip(offsets, a.strides))
    assert memory_span(a) == int(byte_offsets.max() - byte_offsets.min()) + a.itemsize
    if a.flags.c_contiguous or a.flags.f_contiguous:
        assert memory_span(a) == a.nbytes


def test_nchw_nhwc_round_trip():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    y = nchw_to_nhwc(x)
    assert y.shape == (2, 4, 5, 3) and y.flags.c_contiguous
    assert y.strides == (240, 60, 12, 4)  # the channels of one pixel are adjacent
    assert y[1, 2, 3, 0] == x[1, 0, 2, 3] and y[1, 2, 3, 2] == x[1, 2, 2, 3]
    back = nhwc_to_nchw(y)
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, x)
    with pytest.raises(ValueError, match="4-D"):
        nchw_to_nhwc(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="4-D"):
        nhwc_to_nchw(np.zeros((2, 3)))
