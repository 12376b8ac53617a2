"""Pooling: fused vs composite vs hand-computed values; fused derivatives vs central
differences; tie routing; adaptive average pooling; the layers and their errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.spatial import (
    AVG_POOL2D_OP,
    MAX_POOL2D_OP,
    AdaptiveAvgPool2d,
    AvgPool2d,
    Flatten,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    avg_pool2d_composite,
    avg_pool2d_fused,
    fused_kernels,
    max_pool2d,
    max_pool2d_composite,
    max_pool2d_fused,
)
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.runtime import threads
from tinytorch.core.tensor.testing import assert_close, numerical_grad

MAX_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=2, stride=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(2, 4), stride=(3, 1), padding=(1, 2)),
]
AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
]


def _distinct(shape, seed=0, dtype=np.float32):
    """Random values with no ties (a permutation, scaled), so every max is unique."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))).reshape(shape) / 7.0 - 3.0).astype(dtype)


def _max_pool_loops(x, k, s, p, d):
    """Max pooling by definition: loops over output positions, -inf padding."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf)
    ho = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.empty((n, c, ho, wo), x.dtype)
    for i in range(ho):
        for j in range(wo):
            win = xp[:, :, i * s[0]:i * s[0] + d[0] * (k[0] - 1) + 1:d[0],
                     j * s[1]:j * s[1] + d[1] * (k[1] - 1) + 1:d[1]]
            out[:, :, i, j] = win.max(axis=(2, 3))
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


# ----------------------------------------------------------------------------- max pooling
@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool_composite_and_fused_equal_the_definition(kw):
    x = _distinct((2, 3, 9, 8))
    k = _pair(kw["kernel_size"])
    expected = _max_pool_loops(x, k, _pair(kw.get("stride", k)), _pair(kw.get("padding", 0)),
                               _pair(kw.get("dilation", 1)))
    np.testing.assert_array_equal(max_pool2d_fused(x, **kw).numpy(), expected)
    np.testing.assert_array_equal(max_pool2d_composite(x, **kw).numpy(), expected)


def test_max_pool_2x2_on_a_small_example():
    x = np.array([[1, 2, 5, 0, 9],
                  [4, 3, 1, 7, 9],
                  [0, 0, 2, 2, 9]], dtype=np.float32).reshape(1, 1, 3, 5)
    # the odd last row and column are dropped, like PyTorch
    np.testing.assert_array_equal(max_pool2d(x, 2).numpy()[0, 0], [[4, 7]])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(2, 9), w=st.integers(2, 9),
       k=st.integers(1, 3), s=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_max_pool_composite_and_fused_agree_on_random_shapes(n, c, h, w, k, s, seed):
    if k > min(h, w):
        return
    x = _distinct((n, c, h, w), seed)
    fused = max_pool2d_fused(x, k, s).numpy()
    np.testing.assert_array_equal(fused, max_pool2d_composite(x, k, s).numpy())
    np.testing.assert_array_equal(fused, _max_pool_loops(x, (k, k), (s, s), (0, 0), (1, 1)))


def _check_derivative(op_name, forward, x, seed=1):
    t = Tensor(x, dtype=np.float64, requires_grad=True)
    y = forward(t)
    assert y.grad_fn.op == op_name
    v = np.random.default_rng(seed).standard_normal(y.shape)
    (got,) = get_derivative(op_name)(v, y.grad_fn)
    (want,) = numerical_grad(lambda a: float(np.sum(v * forward(Tensor(a, dtype=np.float64)).numpy())), [x])
    assert got.shape == x.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kw", MAX_CASES)
def test_max_pool_fused_derivative_matches_central_differences(kw):
    # distinct values at least 1/7 apart: a ±1e-6 nudge never changes which element wins
    x = _distinct((2, 2, 7, 6), seed=2, dtype=np.float64)
    _check_derivative(MAX_POOL2D_OP, lambda t: max_pool2d_fused(t, **kw), x)


def test_max_pool_ties_go_to_the_first_element_in_row_major_order():
    x = np.array([[1, 5], [5, 0]], dtype=np.float32).reshape(1, 1, 2, 2)
    y = max_pool2d_fused(Tensor(x, requires_grad=True), 2)
    (g,) = get_derivative(MAX_POOL2D_OP)(np.ones((1, 1, 1, 1), np.float32), y.grad_fn)
    np.testing.assert_array_equal(g[0, 0], [[0, 1], [0, 0]])
    # all four equal: the top-left one
    x = np.full((1, 1, 2, 2), 3.0, np.float32)
    for kw in (dict(kernel_size=2), dict(kernel_size=2, stride=1, padding=1)):
        y = max_pool2d_fused(Tensor(x, requires_grad=True), **kw)
        (g,) = get_derivative(MAX_POOL2D_OP)(np.ones(y.shape, np.float32), y.grad_fn)
        if kw.get("padding"):  # 3×3 outputs; each routes to the first real element it sees
            expected = np.zeros((2, 2))
            for i in range(3):
                for j in range(3):
                    expected[max(i - 1, 0), max(j - 1, 0)] += 1
            np.testing.assert_array_equal(g[0, 0], expected)
        else:
            np.testing.assert_array_equal(g[0, 0], [[1, 0], [0, 0]])


def test_max_pool_odd_sizes_give_the_dropped_border_no_gradient():
    x = _distinct((1, 2, 5, 5), dtype=np.float64)
    _check_derivative(MAX_POOL2D_OP, lambda t: max_pool2d_fused(t, 2), x)
    y = max_pool2d_fused(Tensor(x, requires_grad=True), 2)
    (g,) = get_derivative(MAX_POOL2D_OP)(np.ones(y.shape), y.grad_fn)
    assert not g[:, :, 4, :].any() and not g[:, :, :, 4].any()


def test_max_pool_threads_agree():
    x = _distinct((5, 3, 8, 8))
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        with threads(1):
            y1 = max_pool2d_fused(Tensor(x, requires_grad=True), **kw)
            g1 = get_derivative(MAX_POOL2D_OP)(np.ones(y1.shape, np.float32), y1.grad_fn)[0].copy()
        with threads(2):
            y2 = max_pool2d_fused(Tensor(x, requires_grad=True), **kw)
            g2 = get_derivative(MAX_POOL2D_OP)(np.ones(y2.shape, np.float32), y2.grad_fn)[0]
        np.testing.assert_array_equal(y1.numpy(), y2.numpy())
        np.testing.assert_array_equal(g1, g2)


def test_max_pool_2x2_in_runs_of_one_image_equals_the_definition(monkeypatch):
    # each thread keeps an intermediate of one run of images (about _CHUNK_BYTES), reused run
    # after run; the tests' batches fit in one run, so here every image is a run of its own
    import tinytorch.core.spatial.fused.pool as fused_pool

    x = _distinct((5, 3, 8, 7))
    g = np.random.default_rng(2).standard_normal((5, 3, 4, 3)).astype(np.float32)

    def run():
        y = max_pool2d_fused(Tensor(x, requires_grad=True), kernel_size=2)
        return y.numpy().copy(), get_derivative(MAX_POOL2D_OP)(g, y.grad_fn)[0].copy()

    y_whole, gx_whole = run()
    assert_close(y_whole, max_pool2d_composite(Tensor(x), kernel_size=2).numpy())
    assert gx_whole.sum() == pytest.approx(g.sum(), rel=1e-5)  # every window routes its g once
    monkeypatch.setattr(fused_pool, "_CHUNK_BYTES", 1)
    for n in (1, 2):
        with threads(n):
            y, gx = run()
        np.testing.assert_array_equal(y, y_whole)
        np.testing.assert_array_equal(gx, gx_whole)

# ----------------------------------------------------------------------------- average pooling
@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool_composite_equals_fused(kw):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 8)).astype(np.float32)
    assert_close(avg_pool2d_fused(x, **kw), avg_pool2d_composite(x, **kw), rtol=1e-5, atol=1e-6)


def test_avg_pool_composite_and_fused_on_a_small_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(avg_pool2d(x, 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(avg_pool2d(x, 2, fused=False).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    # padding 1, 3×3 windows, stride 2: the corner window holds x[0:2, 0:2] = 0+1+4+5
    corner_incl = avg_pool2d(x, 3, 2, 1).numpy()[0, 0, 0, 0]
    corner_excl = avg_pool2d(x, 3, 2, 1, count_include_pad=False).numpy()[0, 0, 0, 0]
    assert corner_incl == pytest.approx(10 / 9)
    assert corner_excl == pytest.approx(10 / 4)
    assert avg_pool2d(x, 3, 2, 1, count_include_pad=False, fused=False).numpy()[0, 0, 0, 0] == \
        pytest.approx(10 / 4)


@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool_fused_derivative_matches_central_differences(kw):
    x = np.random.default_rng(3).standard_normal((2, 2, 6, 7))
    _check_derivative(AVG_POOL2D_OP, lambda t: avg_pool2d_fused(t, **kw), x)


# ----------------------------------------------------------------------------- adaptive
def _adaptive_loops(x, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow))
    for i in range(oh):
        h0, h1 = (i * h) // oh, -((-(i + 1) * h) // oh)
        for j in range(ow):
            w0, w1 = (j * w) // ow, -((-(j + 1) * w) // ow)
            out[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return out


@pytest.mark.parametrize("size", [1, (1, 1), (2, 3), (3, 3), 5, (4, 7), (2, None)])
def test_adaptive_pool_matches_its_definition(size):
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 10)).astype(np.float32)
    oh, ow = (size, size) if isinstance(size, int) else size
    ow = 10 if ow is None else ow
    y = adaptive_avg_pool2d(x, size)
    assert y.shape == (2, 3, oh, ow)
    assert_close(y, _adaptive_loops(x.astype(np.float64), oh, ow), rtol=1e-5, atol=1e-6)
    assert_close(AdaptiveAvgPool2d(size)(Tensor(x)), y)


def test_adaptive_pool_equals_avg_pool_when_the_size_divides():
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 6)).astype(np.float32)
    assert_close(adaptive_avg_pool2d(x, (4, 2)), avg_pool2d(x, (2, 3)), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- layers
def test_pool_layers_run_the_fused_op_unless_told_otherwise():
    x = Tensor(_distinct((2, 3, 8, 8)), requires_grad=True)
    assert MaxPool2d(2)(x).grad_fn.op == MAX_POOL2D_OP
    assert AvgPool2d(2)(x).grad_fn.op == AVG_POOL2D_OP
    with fused_kernels(False):
        assert MaxPool2d(2)(x).grad_fn.op != MAX_POOL2D_OP
        assert AvgPool2d(2)(x).grad_fn.op != AVG_POOL2D_OP
    assert MaxPool2d(3, 2, 1)(x).shape == (2, 3, 4, 4)
    assert AvgPool2d(3, 1, 1)(x).shape == (2, 3, 8, 8)
    assert Flatten()(MaxPool2d(2)(x)).shape == (2, 48)


def test_pool_layer_reprs():
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1)"
    assert repr(AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(AdaptiveAvgPool2d((2, 3))) == "AdaptiveAvgPool2d(output_size=(2, 3))"


def test_pool_errors_name_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2, stride=2\) expected a 4-D "
                                         r"input .* shape \(8, 8\)"):
        MaxPool2d(2)(Tensor(np.zeros((8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"AvgPool2d\(kernel_size=5, stride=5\).*5×5 window.*\(1, 1, 3, 3\)"):
        AvgPool2d(5)(Tensor(np.zeros((1, 1, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="padding .* at most half"):
        MaxPool2d(2, padding=2)(Tensor(np.zeros((1, 1, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d\(output_size=2\) expected a 4-D"):
        AdaptiveAvgPool2d(2)(Tensor(np.zeros((8, 8), np.float32)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        MaxPool2d(2, stride=0)


def test_pools_whose_padded_inputs_have_the_same_shape_do_not_share_borders():
    rng = np.random.default_rng(9)
    # all negative, and big enough (64·8·12·12 floats padded) for the workspace to pool
    a = -np.abs(rng.standard_normal((64, 8, 10, 10))).astype(np.float32) - 1
    b = -np.abs(rng.standard_normal((64, 8, 8, 8))).astype(np.float32) - 1
    for _ in range(2):
        ya = max_pool2d_fused(a, 3, 1, 1).numpy().copy()
        yb = max_pool2d_fused(b, 5, 1, 2).numpy().copy()
        za = avg_pool2d_fused(a, 3, 1, 1).numpy().copy()
        zb = avg_pool2d_fused(b, 5, 1, 2).numpy().copy()
    np.testing.assert_array_equal(ya, max_pool2d_composite(a, 3, 1, 1).numpy())
    np.testing.assert_array_equal(yb, max_pool2d_composite(b, 5, 1, 2).numpy())
    assert_close(za, avg_pool2d_composite(a, 3, 1, 1), rtol=1e-5, atol=1e-6)
    assert_close(zb, avg_pool2d_composite(b, 5, 1, 2), rtol=1e-5, atol=1e-6)


def test_torch_signature_order_ceil_mode_divisor_and_one_image():
    # PyTorch's positional order: AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad)
    assert AvgPool2d(3, 2, 1, False, False).count_include_pad is False
    assert MaxPool2d(2, 2, 0, 1, True).return_indices is True  # (..., dilation, return_indices)
    x = np.arange(25.0, dtype=np.float32).reshape(1, 1, 5, 5)
    up = MaxPool2d(2, ceil_mode=True)(Tensor(x)).numpy()[0, 0]  # 3×3: the last windows hang over
    np.testing.assert_array_equal(up, [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    mean = AvgPool2d(2, ceil_mode=True)(Tensor(x)).numpy()[0, 0]
    assert mean[2, 2] == 24 and mean[0, 2] == (4 + 9) / 2  # only the real elements count
    assert AvgPool2d(2, divisor_override=1)(Tensor(x)).numpy()[0, 0, 0, 0] == 0 + 1 + 5 + 6
    image = Tensor(x[0])  # (C, H, W): a batch of one
    np.testing.assert_array_equal(MaxPool2d(2)(image).numpy(), MaxPool2d(2)(Tensor(x)).numpy()[0])
    with pytest.raises(ValueError, match="return_indices together with ceil_mode"):
        MaxPool2d(2, return_indices=True, ceil_mode=True)
    with pytest.raises(ValueError, match="divisor_override must be a positive int"):
        AvgPool2d(2, divisor_override=0)(Tensor(x))
