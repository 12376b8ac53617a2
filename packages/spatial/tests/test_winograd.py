"""Winograd F(2×2, 3×3): the same convolution as the im2col path, forward and backward.

This package comes before autograd: the derivative is called through the registry with the
recorded node, as the engine calls it."""

import numpy as np
import pytest

from tinytorch.core.spatial import CONV2D_OP, Conv2d, conv2d
from tinytorch.core.spatial.fused import winograd
from tinytorch.core.spatial.fused.winograd import WINOGRAD, winograd_applies
from tinytorch.core.spatial.geometry import conv_geometry
from tinytorch.core.tensor import Tensor, from_numpy, get_derivative
from tinytorch.core.tensor.runtime import threads

WIDE = winograd.MIN_CHANNELS


def _run(x, w, b, g, enabled):
    """Output and (dx, dw, db) of conv2d(padding=1) with Winograd on or off."""
    xt = Tensor(x, dtype=x.dtype, requires_grad=True)
    wt = Tensor(w, dtype=w.dtype, requires_grad=True)
    bt = None if b is None else Tensor(b, dtype=b.dtype, requires_grad=True)
    with WINOGRAD(enabled):
        y = conv2d(xt, wt, bt, padding=1)
        assert (y.grad_fn.saved[4] == "winograd") == enabled
        grads = get_derivative(CONV2D_OP)(g, y.grad_fn)
    return y.data.copy(), [None if a is None else np.array(a) for a in grads]


@pytest.mark.parametrize("size", [(7, 7), (8, 8), (5, 6), (3, 2)])
@pytest.mark.parametrize("dtype, tol", [(np.float32, 1e-4), (np.float64, 1e-11)])
def test_winograd_matches_im2col(size, dtype, tol):
    rng = np.random.default_rng(sum(size))
    h, w_ = size
    geo = conv_geometry((3, WIDE, h, w_), (WIDE + 8, WIDE, 3, 3), 1, 1, 1, 1)
    assert winograd_applies(geo)
    x = rng.standard_normal((3, WIDE, h, w_)).astype(dtype)
    w = (rng.standard_normal((WIDE + 8, WIDE, 3, 3)) * 0.1).astype(dtype)
    b = rng.standard_normal(WIDE + 8).astype(dtype)
    g = rng.standard_normal((3, WIDE + 8, h, w_)).astype(dtype)
    y1, grads1 = _run(x, w, b, g, True)
    y0, grads0 = _run(x, w, b, g, False)
    scale = np.abs(y0).max()
    np.testing.assert_allclose(y1, y0, rtol=0, atol=tol * scale)
    for ours, ref in zip(grads1, grads0):
        np.testing.assert_allclose(ours, ref, rtol=0, atol=tol * np.abs(ref).max())


def _direct(x, w):
    """NHWC 'same' 3×3 correlation by its definition: nine shifted matrix products."""
    n, h, wd, _ = x.shape
    p = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    return sum(p[:, a:a + h, b:b + wd] @ w[:, :, a, b].T for a in range(3) for b in range(3))


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 3), (4, 1)])
def test_winograd_kernels_on_small_and_odd_maps(size):
    """Sizes the layer leaves to im2col (too much tile waste) still compute correctly."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, *size, 5))
    w = rng.standard_normal((4, 5, 3, 3))
    g = rng.standard_normal((3, *size, 4))
    out = np.empty((3, *size, 4))
    winograd.winograd_forward(x, winograd.filter_transform(w, np.float64), out)
    np.testing.assert_allclose(out, _direct(x, w), rtol=1e-12, atol=1e-12)
    dx, dw = winograd.winograd_backward(x, g, w, True, True)
    # the adjoints: <conv(x), g> = <x, dx> = <w, dw> for a convolution linear in each
    total = (_direct(x, w) * g).sum()
    np.testing.assert_allclose((x * dx).sum(), total, rtol=1e-10)
    np.testing.assert_allclose((w * dw).sum(), total, rtol=1e-10)
    eps, v = 1e-6, rng.standard_normal(w.shape)
    numeric = ((_direct(x, w + eps * v) - _direct(x, w - eps * v)) * g).sum() / (2 * eps)
    np.testing.assert_allclose((dw * v).sum(), numeric, rtol=1e-6)


def test_winograd_is_used_only_where_it_applies():
    geo = conv_geometry((2, WIDE, 8, 8), (WIDE, WIDE, 3, 3), 1, 1, 1, 1)
    assert winograd_applies(geo)
    for x_shape, w_shape, stride, pad, dil, groups in [
            ((2, WIDE, 8, 8), (WIDE, WIDE, 3, 3), 2, 1, 1, 1),       # strided
            ((2, WIDE, 8, 8), (WIDE, WIDE, 3, 3), 1, 0, 1, 1),       # no padding
            ((2, WIDE, 8, 8), (WIDE, WIDE, 3, 3), 1, 2, 2, 1),       # dilated
            ((2, WIDE, 8, 8), (WIDE, WIDE // 2, 3, 3), 1, 1, 1, 2),  # grouped
            ((2, WIDE, 8, 8), (WIDE, WIDE, 5, 5), 1, 2, 1, 1),       # 5×5
            ((2, 3, 8, 8), (WIDE, 3, 3, 3), 1, 1, 1, 1),            # few input channels
            ((2, WIDE, 3, 3), (WIDE, WIDE, 3, 3), 1, 1, 1, 1)]:      # a 3×3 map: tile waste
        assert not winograd_applies(conv_geometry(x_shape, w_shape, stride, pad, dil, groups))
    with WINOGRAD(False):
        assert not winograd_applies(geo)


def test_winograd_gradients_match_finite_differences_along_random_directions():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, WIDE, 5, 5))
    w = rng.standard_normal((WIDE, WIDE, 3, 3)) * 0.1
    g = rng.standard_normal((2, WIDE, 5, 5))
    _, (dx, dw) = _run(x, w, None, g, True)

    def f(xa, wa):
        with WINOGRAD(True):
            return float((conv2d(Tensor(xa, dtype=np.float64), Tensor(wa, dtype=np.float64),
                                 padding=1).data * g).sum())

    eps = 1e-6
    for _ in range(3):
        vx, vw = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
        numeric_x = (f(x + eps * vx, w) - f(x - eps * vx, w)) / (2 * eps)
        numeric_w = (f(x, w + eps * vw) - f(x, w - eps * vw)) / (2 * eps)
        assert abs((dx * vx).sum() - numeric_x) <= 1e-6 * max(1.0, abs(numeric_x))
        assert abs((dw * vw).sum() - numeric_w) <= 1e-6 * max(1.0, abs(numeric_w))


def test_channels_last_input_and_two_threads_give_the_same_result():
    rng = np.random.default_rng(3)
    nhwc = rng.standard_normal((8, 6, 6, WIDE)).astype(np.float32)
    layer = Conv2d(WIDE, WIDE, 3, padding=1)
    results = []
    for n, data in ((1, nhwc.transpose(0, 3, 1, 2)), (2, np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))):
        with threads(n):
            x = from_numpy(data)
            x.requires_grad = True
            y = layer(x)
            dx, dw, _ = get_derivative(CONV2D_OP)(np.ones(y.shape, np.float32), y.grad_fn)
            results.append((y.data.copy(), np.array(dx), np.array(dw)))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_weight_without_grad_and_input_without_grad():
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, WIDE, 4, 4)).astype(np.float32))
    w = Tensor(rng.standard_normal((WIDE, WIDE, 3, 3)).astype(np.float32), requires_grad=True)
    ones = np.ones((2, WIDE, 4, 4), np.float32)
    dx, dw = get_derivative(CONV2D_OP)(ones, conv2d(x, w, padding=1).grad_fn)
    assert dx is None and dw.shape == w.shape
    x.requires_grad, w.requires_grad = True, False
    dx, dw = get_derivative(CONV2D_OP)(ones, conv2d(x, w, padding=1).grad_fn)
    assert dx.shape == x.shape and dw is None
