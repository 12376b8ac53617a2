"""sliding_window (im2col / unfold) against a straightforward loop, for 1-D and 2-D windows."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor, window_output_size
from tinytorch.core.tensor.testing import float_arrays

PROPS = settings(max_examples=50, deadline=None)


def loop_windows(a, window, stride, dilation):
    """The definition, one output element at a time."""
    k = len(window)
    lead, spatial = a.shape[:-k], a.shape[-k:]
    outs = tuple((n - d * (w - 1) - 1) // s + 1
                 for n, w, s, d in zip(spatial, window, stride, dilation))
    result = np.empty(lead + outs + tuple(window), dtype=a.dtype)
    for pos in itertools.product(*(range(o) for o in outs)):
        for tap in itertools.product(*(range(w) for w in window)):
            src = tuple(p * s + t * d for p, t, s, d in zip(pos, tap, stride, dilation))
            result[(Ellipsis,) + pos + tap] = a[(Ellipsis,) + src]
    return result


@st.composite
def window_case(draw):
    k = draw(st.sampled_from([1, 2]))
    window = tuple(draw(st.integers(1, 3)) for _ in range(k))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(k))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(k))
    spatial = tuple(d * (w - 1) + 1 + draw(st.integers(0, 4))
                    for w, d in zip(window, dilation))
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    a = draw(float_arrays(lead + spatial))
    return a, window, stride, dilation


@PROPS
@given(case=window_case(), spelling=st.sampled_from(["tuple", "int"]))
def test_sliding_window_matches_the_loop(case, spelling):
    a, window, stride, dilation = case
    ref = loop_windows(a, window, stride, dilation)
    args = (window, stride, dilation)
    if spelling == "int" and len(set(window)) == 1 and len(set(stride)) == 1 \
            and len(set(dilation)) == 1:
        args = (window if len(window) == 2 else window[0], stride[0], dilation[0])
    out = Tensor(a).sliding_window(*args)
    assert out.shape == ref.shape and out.dtype == a.dtype
    np.testing.assert_array_equal(out.numpy(), ref)
    k = len(window)
    for i in range(k):
        n = a.shape[a.ndim - k + i]
        assert out.shape[a.ndim - k + i] == window_output_size(n, window[i], stride[i], dilation[i])


def test_sliding_window_is_a_view():
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    w = x.sliding_window((2, 2), stride=2)
    assert w.shape == (1, 1, 2, 2, 2, 2)
    assert np.shares_memory(w.numpy(), x.numpy())
    assert w.numpy()[0, 0, 1, 0].tolist() == [[8.0, 9.0], [12.0, 13.0]]


def test_sliding_window_1d_example():
    x = Tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    assert x.sliding_window(3).tolist() == [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]
    assert x.sliding_window(2, stride=2).tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert x.sliding_window(2, dilation=2).tolist() == [[0.0, 2.0], [1.0, 3.0], [2.0, 4.0]]


def test_sliding_window_convolution_matches_direct_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    patches = Tensor(x).sliding_window((3, 2))  # (N, C, Ho, Wo, kh, kw)
    out = (patches.permute(0, 2, 3, 1, 4, 5).reshape(2, 4, 4, 18) @ Tensor(k).reshape(4, 18).T)
    ref = np.zeros((2, 4, 4, 4), dtype=np.float64)
    for n, o, i, j in itertools.product(range(2), range(4), range(4), range(4)):
        ref[n, i, j, o] = (x[n, :, i:i + 3, j:j + 2] * k[o]).sum()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "shape, args, match",
    [
        ((1, 3, 3), ((4, 4),), r"window \(4, 4\).*spans \(4, 4\).*\(3, 3\)"),
        ((1, 5, 5), ((3, 3), 1, 3), r"dilation \(3, 3\) spans \(7, 7\)"),
        ((4,), ((2, 2),), r"2-D window needs at least 2 dimensions.*\(4,\)"),
        ((5, 5), ((2, 2), 0), "stride must be 2 positive ints"),
        ((5, 5), ((2, 2), (1, 1, 1)), "stride must be 2 positive ints"),
        ((5, 5), ((2, 0),), "window_shape must be 2 positive ints"),
        ((5, 5), ((2, 2), 1, -1), "dilation must be 2 positive ints"),
    ],
)
def test_sliding_window_errors(shape, args, match):
    with pytest.raises(ValueError, match=match):
        Tensor(np.zeros(shape)).sliding_window(*args)
