"""Every convolution and im2col equals the definition (tinytorch-spatial's conv2d_naive)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.kernels import (
    conv2d_flops,
    conv2d_im2col,
    conv2d_im2col_nhwc,
    conv2d_loops,
    conv2d_taps,
    conv_output_shape,
    im2col,
    im2col_loops,
    im2col_nhwc,
    nchw_to_nhwc,
)
from tinytorch.core.spatial import conv2d_naive


@st.composite
def conv_cases(draw, max_batch=2, max_channels=3, max_side=7):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), max_side))
    w = draw(st.integers(max(1, kw - 2 * pw), max_side))
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    o = draw(st.integers(1, 4))
    bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((o, c, kh, kw))
    b = rng.standard_normal(o) if bias else None
    return x, weight, b, (sh, sw), (ph, pw)


def _reference(x, w, b, stride, padding):
    return conv2d_naive(x, w, b, stride=stride, padding=padding).data


@given(conv_cases())
@settings(max_examples=40, deadline=None)
def test_conv_loops_equal_the_definition(case):
    x, w, b, stride, padding = case
    np.testing.assert_allclose(conv2d_loops(x, w, b, stride, padding),
                               _reference(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)


@given(conv_cases(max_batch=3, max_channels=4, max_side=9))
@settings(max_examples=60, deadline=None)
def test_conv_taps_equal_the_definition(case):
    x, w, b, stride, padding = case
    expected = _reference(x, w, b, stride, padding)
    np.testing.assert_allclose(conv2d_taps(x, w, b, stride, padding), expected, rtol=1e-10,
                               atol=1e-10)
    assert conv_output_shape(x.shape, w.shape, stride, padding) == expected.shape


@given(conv_cases(max_batch=3, max_channels=4, max_side=9))
@settings(max_examples=60, deadline=None)
def test_conv_gemm_equals_the_definition(case):
    x, w, b, stride, padding = case
    expected = _reference(x, w, b, stride, padding)
    np.testing.assert_allclose(conv2d_im2col(x, w, b, stride, padding), expected, rtol=1e-10,
                               atol=1e-10)
    np.testing.assert_allclose(conv2d_im2col(x, w, b, stride, padding, slices=True), expected,
                               rtol=1e-10, atol=1e-10)


@given(conv_cases(max_batch=3, max_channels=4, max_side=9))
@settings(max_examples=60, deadline=None)
def test_conv_nhwc_equals_the_definition(case):
    x, w, b, stride, padding = case
    expected = _reference(x, w, b, stride, padding)
    nhwc = conv2d_im2col_nhwc(nchw_to_nhwc(x), w, b, stride, padding)
    np.testing.assert_allclose(nhwc.transpose(0, 3, 1, 2), expected, rtol=1e-10, atol=1e-10)


@given(conv_cases(max_batch=3, max_channels=4, max_side=9))
@settings(max_examples=40, deadline=None)
def test_im2col_matrix_both_ways_is_the_same(case):
    x, w, _, stride, padding = case
    k = w.shape[2:]
    cols = im2col_loops(x, k, stride, padding)
    np.testing.assert_array_equal(im2col(x, k, stride, padding), cols)


@given(conv_cases(max_batch=3, max_channels=4, max_side=9))
@settings(max_examples=40, deadline=None)
def test_conv_nhwc_columns_hold_the_nchw_numbers(case):
    x, w, _, stride, padding = case
    k = w.shape[2:]
    cols = im2col_loops(x, k, stride, padding)
    # NHWC columns hold the same numbers, ordered (kh, kw, C) instead of (C, kh, kw)
    c, kh, kw = x.shape[1], k[0], k[1]
    nhwc = im2col_nhwc(nchw_to_nhwc(x), k, stride, padding)
    np.testing.assert_array_equal(
        nhwc.reshape(-1, kh, kw, c).transpose(0, 3, 1, 2).reshape(cols.shape), cols)


def test_im2col_matrix_by_hand():
    x = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    # 2x2 windows, stride 1: four windows, each row is the window read row by row
    expected = [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]]
    np.testing.assert_array_equal(im2col_loops(x, 2), expected)
    np.testing.assert_array_equal(im2col(x, 2), expected)
    # padding 1, stride 2, 3x3 windows: top-left window sees zeros above and left
    cols = im2col(x, 3, stride=2, padding=1)
    assert cols.shape == (4, 9)
    np.testing.assert_array_equal(cols[0], [0, 0, 0, 0, 0, 1, 0, 3, 4])
    np.testing.assert_array_equal(im2col_loops(x, 3, 2, 1), cols)


# the exercise's name is in each id, so ``-k conv_taps`` selects only conv2d_taps's case
_NCHW_CONVS = pytest.mark.parametrize("fn", [conv2d_loops, conv2d_taps, conv2d_im2col],
                                      ids=["conv_loops", "conv_taps", "conv_gemm"])


@_NCHW_CONVS
def test_conv_by_hand(fn):
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    w = np.ones((1, 1, 2, 2))
    expected = [[[[10, 18], [42, 50]]]]  # sums of the four 2x2 blocks, stride 2
    np.testing.assert_array_equal(fn(x, w, None, 2), expected)


def _float32_case():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6), dtype=np.float32)
    w = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    b = rng.standard_normal(4, dtype=np.float32)
    return x, w, b


@_NCHW_CONVS
def test_conv_float32_stays_float32(fn):
    x, w, b = _float32_case()
    y = fn(x, w, b, 1, 1)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, _reference(x, w, b, 1, 1), rtol=1e-4, atol=1e-4)


def test_im2col_matrix_fills_out_buffers():
    x, _, _ = _float32_case()
    out = np.empty((2 * 6 * 6, 27), np.float32)
    assert im2col(x, 3, 1, 1, out=out) is out
    with pytest.raises(ValueError, match="C-contiguous array of shape"):
        im2col(x, 3, 1, 1, out=np.empty((27, 72), np.float32).T)


def test_conv_nhwc_float32_and_out_buffers():
    x, w, b = _float32_case()
    y = conv2d_im2col_nhwc(nchw_to_nhwc(x), w, b, 1, 1)
    assert y.dtype == np.float32 and y.flags.c_contiguous and y.shape == (2, 6, 6, 4)
    np.testing.assert_allclose(y.transpose(0, 3, 1, 2), _reference(x, w, b, 1, 1), rtol=1e-4,
                               atol=1e-4)
    out = np.empty((2 * 6 * 6, 27), np.float32)
    assert im2col_nhwc(nchw_to_nhwc(x), 3, 1, 1, out=out) is out


def test_errors_come_from_the_shared_checks():
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(ValueError, match="input channels"):
        conv2d_taps(x, np.zeros((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="4-D"):
        conv2d_loops(np.zeros((3, 5, 5)), np.zeros((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="larger than"):
        conv2d_im2col(x, np.zeros((2, 3, 7, 7)))
    with pytest.raises(ValueError, match="bias"):
        conv2d_im2col(x, np.zeros((2, 3, 3, 3)), np.zeros(3))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        conv2d_im2col_nhwc(np.zeros((5, 5, 3)), np.zeros((2, 3, 3, 3)))


def test_flops():
    # 2 * N * C_out * H_out * W_out * C_in * kh * kw
    assert conv2d_flops((2, 3, 8, 8), (4, 3, 3, 3), 1, 1) == 2 * 2 * 4 * 64 * 27
    assert conv2d_flops((1, 1, 4, 4), (1, 1, 2, 2), 2, 0) == 2 * 4 * 4
