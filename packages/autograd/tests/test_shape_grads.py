"""Finite-difference checks of the ops that move elements: reshape, permute, transpose,
broadcast_to, pad, indexing (slices, repeated integer indices, boolean masks), cat, stack and
the sliding window — plus a check that the sliding window's backward is vectorised."""

import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.autograd import gradcheck
from tinytorch.core.autograd.derivatives.shape import sliding_window_backward
from tinytorch.core.tensor import Tensor, cat, stack
from tinytorch.core.tensor.testing import shapes

FAST = settings(deadline=None, max_examples=30)
seeds = st.integers(0, 2**32 - 1)


def rand(shape, seed):
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)


# ---------------------------------------------------------------- reshape family
@FAST
@given(shape=shapes(0, 4, max_side=3), seed=seeds, data=st.data())
def test_moves_reshape_to_any_compatible_shape(shape, seed, data):
    n = int(np.prod(shape))
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    first = data.draw(st.sampled_from(divisors))
    assert gradcheck(lambda a: a.reshape(first, -1) * 1.5, [rand(shape, seed)])


def test_moves_flatten_squeeze_unsqueeze_view_contiguous():
    x = rand((2, 1, 3), 0)
    assert gradcheck(lambda a: a.flatten(), [x])
    assert gradcheck(lambda a: a.flatten(1), [x])
    assert gradcheck(lambda a: a.squeeze(1).unsqueeze(0).unsqueeze(-1), [x])
    assert gradcheck(lambda a: a.view(3, 2), [x])
    assert gradcheck(lambda a: a.transpose(0, 2).contiguous().reshape(-1), [x])


@FAST
@given(shape=shapes(1, 4, max_side=3), seed=seeds, data=st.data())
def test_moves_permute(shape, seed, data):
    order = data.draw(st.permutations(range(len(shape))))
    assert gradcheck(lambda a: a.permute(*order), [rand(shape, seed)])


@FAST
@given(shape=shapes(1, 4, max_side=3), seed=seeds, data=st.data())
def test_moves_transpose_of_two_axes_and_of_all(shape, seed, data):
    nd = len(shape)
    i = data.draw(st.integers(-nd, nd - 1))
    j = data.draw(st.integers(-nd, nd - 1))
    x = rand(shape, seed)
    assert gradcheck(lambda a: a.transpose(i, j), [x])
    assert gradcheck(lambda a: a.T, [x])


def test_moves_permute_gradient_is_the_inverse_permutation():
    x = Tensor(np.zeros((2, 3, 4)), requires_grad=True)
    g = np.arange(24.0).reshape(3, 4, 2)
    x.permute(1, 2, 0).backward(g)
    np.testing.assert_array_equal(x.grad.data, g.transpose(2, 0, 1))


@FAST
@given(shape=shapes(0, 3, max_side=3), seed=seeds, data=st.data())
def test_broadcast_to_and_expand(shape, seed, data):
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2))
    target = tuple(lead) + tuple(data.draw(st.sampled_from([n, 3])) if n == 1 else n for n in shape)
    x = rand(shape, seed)
    assert gradcheck(lambda a: a.broadcast_to(target), [x])
    assert gradcheck(lambda a: a.expand(*target), [x])


@FAST
@given(shape=shapes(1, 3, max_side=3), seed=seeds, data=st.data())
def test_moves_pad(shape, seed, data):
    widths = tuple(
        (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in shape
    )
    value = data.draw(st.sampled_from([0.0, -1.5]))
    assert gradcheck(lambda a: a.pad(widths, value), [rand(shape, seed)])


def test_moves_pad_with_an_int_width():
    assert gradcheck(lambda a: a.pad(1), [rand((2, 3), 4)])


# ---------------------------------------------------------------- indexing
@st.composite
def basic_key(draw, shape):
    """A tuple of ints and slices (steps may be negative) valid for ``shape``."""
    parts = []
    for n in shape[: draw(st.integers(0, len(shape)))]:
        if draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.none() | st.integers(-n, n))
            stop = draw(st.none() | st.integers(-n, n))
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            parts.append(slice(start, stop, step))
    if draw(st.booleans()) and parts:
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts)


@FAST
@given(shape=shapes(1, 3, max_side=4), seed=seeds, data=st.data())
def test_basic_indexing_and_slicing(shape, seed, data):
    key = data.draw(basic_key(shape))
    assert gradcheck(lambda a: a[key], [rand(shape, seed)])


@FAST
@given(shape=shapes(1, 3, max_side=4), seed=seeds, data=st.data())
def test_integer_array_indexing_with_repeats_is_a_scatter_add(shape, seed, data):
    n = shape[0]
    idx = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    assert gradcheck(lambda a: a[idx], [rand(shape, seed)])
    if len(shape) >= 2:
        m = shape[1]
        idx2 = np.array(data.draw(st.lists(st.integers(0, m - 1), min_size=len(idx),
                                           max_size=len(idx))))
        assert gradcheck(lambda a: a[idx, idx2], [rand(shape, seed)])
        assert gradcheck(lambda a: a[1:, idx2], [rand(shape, seed)])


def test_index_repeats_add_their_gradients():
    x = Tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[np.array([0, 2, 0, 0])].backward(np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32))
    np.testing.assert_array_equal(x.grad.data, [8.0, 0.0, 2.0])
    y = Tensor(np.zeros((2, 2)), requires_grad=True)
    y[[0, 0, 1], [1, 1, 0]].sum().backward()  # lists and tensors work as indices too
    np.testing.assert_array_equal(y.grad.data, [[0.0, 2.0], [1.0, 0.0]])
    z = Tensor(np.zeros((3, 2)), requires_grad=True)
    z.gather_rows(Tensor(np.array([1, 1, 0]))).sum().backward()
    np.testing.assert_array_equal(z.grad.data, [[0, 1], [0, 1], [1, 0]])


@FAST
@given(shape=shapes(1, 3, max_side=4), seed=seeds, data=st.data())
def test_boolean_mask_indexing(shape, seed, data):
    x = rand(shape, seed)
    mask = x > 0
    assert gradcheck(lambda a: a[mask], [x])
    rows = np.array(data.draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    assert gradcheck(lambda a: a[rows], [x])


# ---------------------------------------------------------------- cat / stack
@FAST
@given(shape=shapes(1, 3, max_side=3), seed=seeds, data=st.data())
def test_concat_along_any_axis(shape, seed, data):
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for i, s in enumerate(sizes):
        sh = list(shape)
        sh[axis] = s
        parts.append(rand(tuple(sh), seed + i))
    assert gradcheck(lambda *ts: cat(list(ts), axis=axis), parts)


@FAST
@given(shape=shapes(0, 3, max_side=3), seed=seeds, data=st.data())
def test_stack_along_any_axis(shape, seed, data):
    nd = len(shape) + 1
    axis = data.draw(st.integers(-nd, nd - 1))
    count = data.draw(st.integers(1, 3))
    parts = [rand(shape, seed + i) for i in range(count)]
    assert gradcheck(lambda *ts: stack(ts, axis=axis), parts)


def test_concat_and_stack_with_inputs_that_do_not_require_grad():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0])
    cat([b, a]).backward(np.array([1.0, 2.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal(a.grad.data, [2.0, 3.0])
    assert b.grad is None
    c = Tensor([1.0, 2.0], requires_grad=True)
    stack([Tensor([0.0, 0.0]), c], axis=1).backward(np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(c.grad.data, [1.0, 3.0])


# ---------------------------------------------------------------- sliding window
@st.composite
def window_case(draw):
    k = draw(st.integers(1, 2))
    window = tuple(draw(st.integers(1, 3)) for _ in range(k))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(k))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(k))
    extent = [d * (w - 1) + 1 for w, d in zip(window, dilation)]
    spatial = tuple(e + draw(st.integers(0, 3)) for e in extent)
    lead = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    return lead + spatial, window, stride, dilation


@settings(deadline=None, max_examples=25)
@given(case=window_case(), seed=seeds)
def test_fold_with_strides_and_dilations(case, seed):
    shape, window, stride, dilation = case
    assert gradcheck(lambda a: a.sliding_window(window, stride, dilation), [rand(shape, seed)])


def test_fold_overlapping_windows_add_up():
    x = Tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)
    x.sliding_window((2, 2)).sum().backward()  # four 2x2 windows: the centre is in all four
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_fold_convolution_built_from_sliding_window_and_matrix_products():
    def conv(x, w):  # (N, C, H, W) * (O, C, 3, 3), stride 2, padding 1
        cols = x.pad(((0, 0), (0, 0), (1, 1), (1, 1))).sliding_window((3, 3), stride=2)
        cols = cols.permute(0, 2, 3, 1, 4, 5)  # N, Ho, Wo, C, kh, kw
        n, ho, wo = cols.shape[:3]
        out = cols.reshape(n * ho * wo, -1) @ w.reshape(w.shape[0], -1).T
        return out.reshape(n, ho, wo, -1)

    assert gradcheck(conv, [rand((2, 2, 5, 4), 1), rand((3, 2, 3, 3), 2)])


def _lines_run_in(fn, *args):
    """How many lines of ``fn``'s own body Python executes for this call."""
    code = fn.__code__
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if frame.f_code is code:
            if event == "line":
                count += 1
            return tracer
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        fn(*args)
    finally:
        sys.settrace(previous)
    return count


def test_fold_is_vectorised():
    """Its Python work depends on the window's taps only, not on the number of pixels."""

    def lines_for(shape):
        x = Tensor(np.ones(shape), requires_grad=True)
        y = x.sliding_window((3, 3), stride=(1, 2), dilation=(2, 1))
        g = np.ones(y.shape)
        return _lines_run_in(sliding_window_backward, g, y.grad_fn)

    small = lines_for((1, 1, 7, 7))
    large = lines_for((4, 3, 40, 40))  # ~160× the pixels
    assert small == large
    assert small < 100  # a handful of lines per tap of the 3×3 window


def test_fold_gradient_is_laid_out_like_the_input():
    # a channels-last (N, C, H, W) input — the layout of a composite convolution's feature maps
    # — gets a channels-last gradient, with the same values as for a plain NCHW copy of it
    nhwc = np.random.default_rng(3).standard_normal((2, 7, 6, 4))
    x = Tensor(nhwc, dtype=np.float64).permute(0, 3, 1, 2).detach().requires_grad_()
    plain = Tensor(np.ascontiguousarray(x.data), requires_grad=True)
    g = np.random.default_rng(4).standard_normal(x.sliding_window((3, 2), stride=2).shape)
    (gx,) = sliding_window_backward(g, x.sliding_window((3, 2), stride=2).grad_fn)
    (want,) = sliding_window_backward(g, plain.sliding_window((3, 2), stride=2).grad_fn)
    np.testing.assert_array_equal(gx, want)
    assert gx.transpose(0, 2, 3, 1).flags.c_contiguous


def test_moves_reshape_gradient_comes_back_in_the_input_memory_order():
    # flattening a channels-last (N, C, H, W) view: the gradient has the input's shape and
    # values, and runs through memory in the input's order (so later elementwise ops see
    # matching layouts)
    rng = np.random.default_rng(0)
    nhwc = rng.standard_normal((2, 3, 4, 5))
    x = Tensor(nhwc, dtype=np.float64).permute(0, 3, 1, 2).detach().requires_grad_()
    assert not x.data.flags.c_contiguous
    w = rng.standard_normal((2, 5 * 3 * 4))
    (x.flatten(1) * Tensor(w, dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, w.reshape(2, 5, 3, 4))
    assert x.grad.data.transpose(0, 2, 3, 1).flags.c_contiguous  # channels-last, like x
    y = Tensor(np.ones((3, 4)), requires_grad=True)  # a plain array: the reshape's own view
    (y.reshape(12) * 2.0).sum().backward()
    np.testing.assert_array_equal(y.grad.data, 2.0)
