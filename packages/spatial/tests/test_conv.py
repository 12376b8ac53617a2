"""Convolution: fused kernel vs composite path vs the naive loops; the fused derivative vs
central differences; the Conv2d layer (parameters, init, state_dict, errors)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.spatial import (
    CONV2D_OP,
    Conv2d,
    conv2d,
    conv2d_composite,
    conv2d_fused,
    conv2d_naive,
    fused_kernels,
)
from tinytorch.core.tensor import Tensor, get_derivative, manual_seed
from tinytorch.core.tensor.runtime import threads
from tinytorch.core.tensor.testing import assert_close, numerical_grad

# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
CASES = [
    (2, 3, 7, 6, 4, 3, 1, 0, 1, 1),
    (2, 3, 7, 6, 4, 3, 1, 1, 1, 1),
    (1, 4, 9, 8, 6, 3, 2, 2, 2, 2),
    (2, 6, 5, 7, 6, (2, 3), (2, 1), (0, 1), 1, 3),
    (1, 2, 4, 4, 4, 1, 1, 0, 1, 2),
    (3, 2, 6, 5, 3, (3, 1), 3, (1, 0), (1, 1), 1),
    (1, 4, 8, 8, 4, 3, 1, 2, 2, 4),  # depthwise
]


def _data(case, seed=0, dtype=np.float32):
    n, c, h, w, co, k, s, p, d, g = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((co, c // g, kh, kw)).astype(dtype)
    b = rng.standard_normal(co).astype(dtype)
    return x, wt, b, dict(stride=s, padding=p, dilation=d, groups=g)


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("case", CASES)
def test_conv_im2col_and_fused_equal_the_naive_loops(case):
    x, w, b, kw = _data(case)
    expected = conv2d_naive(x, w, b, **kw).numpy()
    assert_close(conv2d_fused(Tensor(x), Tensor(w), Tensor(b), **kw), expected, rtol=1e-4, atol=1e-4)
    assert_close(conv2d_composite(Tensor(x), Tensor(w), Tensor(b), **kw), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES)
def test_conv_naive_equals_the_fused_kernel(case):
    # the fused kernel is given (and checked against the composite path above); here it is the
    # reference for the loops: strides, padding, dilation and groups
    x, w, b, kw = _data(case)
    y = conv2d_naive(x, w, b, **kw)
    assert isinstance(y, Tensor) and y.dtype == np.float32
    assert_close(y, conv2d_fused(Tensor(x), Tensor(w), Tensor(b), **kw).numpy(), rtol=1e-4, atol=1e-4)
    assert_close(conv2d_naive(x, w, None, **kw),
                 conv2d_fused(Tensor(x), Tensor(w), None, **kw).numpy(), rtol=1e-4, atol=1e-4)


def test_conv_naive_matches_a_hand_computed_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    w = np.array([[[[1, 0], [0, -1]]]], dtype=np.float32)  # x[i, j] - x[i+1, j+1]
    y = conv2d_naive(x, w, np.array([0.5], dtype=np.float32)).numpy()
    np.testing.assert_array_equal(y, np.full((1, 1, 3, 3), -5 + 0.5, dtype=np.float32))
    y = conv2d_naive(x, w, None, stride=2, padding=1).numpy()
    # padded 6×6; windows at rows/cols 0, 2, 4
    xp = np.pad(x[0, 0], 1)
    expected = np.array([[xp[i, j] - xp[i + 1, j + 1] for j in (0, 2, 4)] for i in (0, 2, 4)])
    np.testing.assert_array_equal(y[0, 0], expected)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3), groups=st.sampled_from([1, 2]), c_per=st.integers(1, 3),
    co_per=st.integers(1, 3), h=st.integers(3, 9), w=st.integers(3, 9),
    kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
    ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 2), dw=st.integers(1, 2),
    bias=st.booleans(), seed=st.integers(0, 2 ** 16),
)
def test_conv_im2col_fused_and_naive_agree_on_random_geometries(n, groups, c_per, co_per, h, w, kh, kw, sh, sw,
                                                               ph, pw, dh, dw, bias, seed):
    if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
        return  # the kernel does not fit: covered by the error tests
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c_per * groups, h, w)).astype(np.float32)
    wt = rng.standard_normal((co_per * groups, c_per, kh, kw)).astype(np.float32)
    b = rng.standard_normal(co_per * groups).astype(np.float32) if bias else None
    kw_ = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    expected = conv2d_naive(x, wt, b, **kw_).numpy()
    fused = conv2d_fused(x, wt, b, **kw_).numpy()
    composite = conv2d_composite(x, wt, b, **kw_).numpy()
    assert fused.shape == expected.shape == composite.shape
    np.testing.assert_allclose(fused, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(composite, expected, rtol=1e-4, atol=1e-4)


def test_output_size_formula():
    x = Tensor(np.zeros((2, 3, 32, 28), dtype=np.float32))
    w = Tensor(np.zeros((5, 3, 3, 5), dtype=np.float32))
    y = conv2d(x, w, stride=(2, 3), padding=(1, 2), dilation=(2, 1))
    # H: (32 + 2 - 2·2 - 1)//2 + 1 = 15;  W: (28 + 4 - 4 - 1)//3 + 1 = 10
    assert y.shape == (2, 5, 15, 10)


def test_conv_im2col_and_fused_keep_float64_and_float32():
    x, w, b, kw = _data(CASES[1])
    x, w, b = (Tensor(a, dtype=np.float64) for a in (x, w, b))
    assert conv2d_fused(x, w, b, **kw).dtype == np.float64
    assert conv2d_composite(x, w, b, **kw).dtype == np.float64
    x, w, b, kw = _data(CASES[1])
    assert conv2d_fused(x, w, b, **kw).dtype == np.float32
    assert conv2d_composite(x, w, b, **kw).dtype == np.float32


def test_conv_im2col_and_fused_convolve_integer_images_in_the_weights_dtype():
    x = np.random.default_rng(0).integers(0, 255, (2, 3, 6, 6)).astype(np.uint8)
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = conv2d_fused(x, w)
    assert y.dtype == np.float32
    assert_close(y, conv2d_naive(x.astype(np.float32), w), rtol=1e-4, atol=1e-3)
    assert_close(conv2d_composite(x, w), y, rtol=1e-4, atol=1e-3)


# ----------------------------------------------------------------------------- the fused derivative
def _check_fused_derivative(case, with_bias=True, seed=0):
    x, w, b, kw = _data(case, seed=seed, dtype=np.float64)
    b = b if with_bias else None
    arrays = [x, w] + ([b] if with_bias else [])
    tensors = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    y = conv2d_fused(*tensors, **kw) if with_bias else conv2d_fused(*tensors, None, **kw)
    assert y.grad_fn is not None and y.grad_fn.op == CONV2D_OP
    v = np.random.default_rng(seed + 1).standard_normal(y.shape)
    grads = get_derivative(CONV2D_OP)(v, y.grad_fn)
    assert len(grads) == len(arrays)

    def f(*arrs):
        ts = [Tensor(a, dtype=np.float64) for a in arrs]
        out = conv2d_fused(*ts, **kw) if with_bias else conv2d_fused(*ts, None, **kw)
        return float(np.sum(v * out.numpy()))

    numeric = numerical_grad(f, arrays)
    for i, (got, want) in enumerate(zip(grads, numeric)):
        assert got.shape == arrays[i].shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=f"input {i}")


@pytest.mark.parametrize("case", CASES)
def test_fused_derivative_matches_central_differences(case):
    _check_fused_derivative(case)


def test_fused_derivative_without_bias():
    _check_fused_derivative(CASES[2], with_bias=False)


def test_fused_derivative_skips_inputs_that_need_no_gradient():
    x, w, b, kw = _data(CASES[1])
    y = conv2d_fused(Tensor(x), Tensor(w, requires_grad=True), Tensor(b), **kw)
    gx, gw, gb = get_derivative(CONV2D_OP)(np.ones(y.shape, np.float32), y.grad_fn)
    assert gx is None and gb is None and gw.shape == w.shape


def test_the_fused_derivative_takes_any_memory_layout_of_the_gradient():
    x, w, b, kw = _data(CASES[2])
    tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = conv2d_fused(tx, tw, tb, **kw)
    g = np.random.default_rng(3).standard_normal(y.shape).astype(np.float32)
    a = get_derivative(CONV2D_OP)(np.ascontiguousarray(g), y.grad_fn)
    b_ = get_derivative(CONV2D_OP)(np.asfortranarray(g), y.grad_fn)
    for one, two in zip(a, b_):
        np.testing.assert_allclose(one, two, rtol=1e-6)


def test_two_threads_give_the_same_forward_and_gradients():
    x, w, b, kw = _data((5, 4, 8, 7, 6, 3, 1, 1, 1, 2))
    g = np.random.default_rng(4).standard_normal((5, 6, 8, 7)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        with threads(n):
            tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
            y = conv2d_fused(tx, tw, tb, **kw)
            results.append((y.numpy().copy(),) + tuple(
                r.copy() for r in get_derivative(CONV2D_OP)(g, y.grad_fn)))
    for other in results[1:]:
        for one, two in zip(results[0], other):
            np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)


def test_reused_buffers_never_overwrite_a_live_result():
    x, w, b, kw = _data(CASES[1])
    first = conv2d_fused(x, w, b, **kw)
    kept = first.numpy().copy()
    for seed in range(3):
        x2, _, _, _ = _data(CASES[1], seed=seed + 10)
        conv2d_fused(x2, w, b, **kw)
    np.testing.assert_array_equal(first.numpy(), kept)


def test_saved_patches_survive_later_forwards_until_backward():
    x, w, b, kw = _data(CASES[1])
    tw = Tensor(w, requires_grad=True)
    y = conv2d_fused(Tensor(x), tw, Tensor(b), **kw)
    g = np.ones(y.shape, np.float32)
    expected = get_derivative(CONV2D_OP)(g, y.grad_fn)[1].copy()
    for seed in range(3):  # same shapes: these would reuse the patch buffer if it looked free
        x2, _, _, _ = _data(CASES[1], seed=seed + 20)
        conv2d_fused(Tensor(x2), tw, Tensor(b), **kw)
    np.testing.assert_allclose(get_derivative(CONV2D_OP)(g, y.grad_fn)[1], expected, rtol=1e-6)


# ----------------------------------------------------------------------------- dispatch
def test_conv2d_follows_the_fused_flag():
    x, w, b, kw = _data(CASES[1])
    tw = Tensor(w, requires_grad=True)
    assert conv2d(x, tw, b, **kw).grad_fn.op == CONV2D_OP
    with fused_kernels(False):
        composite = conv2d(x, tw, b, **kw)
    assert composite.grad_fn.op != CONV2D_OP
    assert conv2d(x, tw, b, fused=False, **kw).grad_fn.op != CONV2D_OP
    assert_close(composite, conv2d(x, tw, b, **kw), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- the layer
def test_conv2d_layer_parameters_like_torch():
    conv = Conv2d(6, 12, (3, 5), groups=3)
    names = [(n, p.shape) for n, p in conv.named_parameters()]
    assert names == [("weight", (12, 2, 3, 5)), ("bias", (12,))]
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert conv.weight.dtype == np.float32 and conv.bias.dtype == np.float32
    no_bias = Conv2d(3, 4, 3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]


def test_conv2d_default_init_is_kaiming_uniform_with_a_sqrt5():
    manual_seed(0)
    conv = Conv2d(16, 64, 3)
    fan_in = 16 * 9
    bound = 1 / math.sqrt(fan_in)  # gain √(2/(1+5)) · √(3/fan_in)
    w, b = conv.weight.numpy(), conv.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)  # U(-b, b) has std b/√3
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound


def test_conv2d_layer_runs_the_functional_op():
    manual_seed(1)
    conv = Conv2d(3, 5, 3, stride=2, padding=1, dilation=1)
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 9)).astype(np.float32)
    y = conv(Tensor(x))
    assert y.shape == (2, 5, 5, 5)
    assert_close(y, conv2d_naive(x, conv.weight, conv.bias, stride=2, padding=1), rtol=1e-4, atol=1e-5)
    assert y.grad_fn.op == CONV2D_OP
    with fused_kernels(False):
        assert_close(conv(Tensor(x)), y, rtol=1e-5, atol=1e-5)


def test_padding_same_and_valid():
    x = Tensor(np.zeros((1, 2, 7, 9), dtype=np.float32))
    assert Conv2d(2, 3, 3, padding="same")(x).shape == (1, 3, 7, 9)
    assert Conv2d(2, 3, (5, 3), padding="same", dilation=2)(x).shape == (1, 3, 7, 9)
    assert Conv2d(2, 3, 3, padding="valid")(x).shape == (1, 3, 5, 7)
    assert Conv2d(2, 3, 2, padding="same")(x).shape == (1, 3, 7, 9)  # even: one more at the end
    assert Conv2d(2, 3, (4, 3), padding="same", dilation=(1, 2))(x).shape == (1, 3, 7, 9)
    with pytest.raises(ValueError, match="stride 1"):
        Conv2d(2, 3, 3, stride=2, padding="same")


def test_repr_names_the_settings():
    text = repr(Conv2d(3, 32, 3, stride=2, padding=1, groups=1, bias=False))
    assert text == "Conv2d(3, 32, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=False)"


# ----------------------------------------------------------------------------- errors
def test_wrong_channel_count_names_the_layer_and_the_shape():
    conv = Conv2d(3, 32, 3)
    with pytest.raises(ValueError) as err:
        conv(Tensor(np.zeros((8, 1, 28, 28), dtype=np.float32)))
    assert str(err.value) == (
        "Conv2d(3→32, k=3) expected 3 input channels, got 1 in input of shape (8, 1, 28, 28)"
    )


def test_non_4d_input_is_refused_but_one_image_is_a_batch_of_one():
    conv = Conv2d(3, 8, 3)
    image = np.random.default_rng(0).standard_normal((3, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(conv(Tensor(image)).numpy(), conv(Tensor(image[None])).numpy()[0])
    with pytest.raises(ValueError, match=r"Conv2d\(3→8, k=3\) expected a 4-D input .*\(3, 28\)"):
        conv(Tensor(np.zeros((3, 28), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"4-D input"):
        conv2d(np.zeros((2, 3, 8), np.float32), np.zeros((4, 3, 3, 3), np.float32))


def test_kernel_larger_than_the_padded_input():
    conv = Conv2d(1, 1, 5, padding=1)
    with pytest.raises(ValueError, match=r"Conv2d\(1→1, k=5\).*5×5 kernel.*padded input 4×4"):
        conv(Tensor(np.zeros((1, 1, 2, 2), dtype=np.float32)))
    with pytest.raises(ValueError, match="dilation"):
        conv2d(np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 3), np.float32), dilation=2)


def test_groups_must_divide_the_channels():
    with pytest.raises(ValueError, match=r"groups=2 must divide both in_channels \(3\)"):
        Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"groups=2 must divide .*out_channels \(5\)"):
        Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match="groups=2 does not divide the 5 output channels"):
        conv2d(np.zeros((1, 4, 5, 5), np.float32), np.zeros((5, 2, 3, 3), np.float32), groups=2)
    with pytest.raises(ValueError, match="expected 4 input channels, got 6"):
        conv2d(np.zeros((1, 6, 5, 5), np.float32), np.zeros((4, 2, 3, 3), np.float32), groups=2)


def test_bad_hyper_parameters():
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        Conv2d(0, 4, 3)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Conv2d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        Conv2d(3, 4, 3, padding=-1)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv2d(np.zeros((1, 3, 5, 5), np.float32), np.zeros((4, 3, 3, 3), np.float32),
               np.zeros(3, np.float32))


def test_weight_gradient_of_a_large_first_layer():
    """Enough rows that the thin (27-column) weight gradient is summed in several slices."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 3, 24, 24)).astype(np.float32)
    w = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    y = conv2d_fused(Tensor(x), Tensor(w, requires_grad=True), None, padding=1)
    g = rng.standard_normal(y.shape).astype(np.float32)
    _, gw = get_derivative(CONV2D_OP)(g, y.grad_fn)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # n c i j a b
    expected = np.einsum("noij,ncijab->ocab", g.astype(np.float64), windows)
    np.testing.assert_allclose(gw, expected, rtol=1e-4, atol=1e-3)


def test_layers_whose_padded_inputs_have_the_same_shape_do_not_share_borders():
    # H=10 padded by 1 and H=8 padded by 2 are both 12×12: each must see its own zero border
    # (big enough — 64·12·12·8 floats — for the workspace to pool the padded buffer)
    rng = np.random.default_rng(8)
    w = rng.standard_normal((2, 8, 3, 3)).astype(np.float32)
    a = rng.standard_normal((64, 8, 10, 10)).astype(np.float32)
    b = rng.standard_normal((64, 8, 8, 8)).astype(np.float32)
    for _ in range(2):
        ya = conv2d_fused(a, w, padding=1).numpy().copy()
        yb = conv2d_fused(b, w, padding=2).numpy().copy()
    np.testing.assert_allclose(ya, conv2d_naive(a, w, padding=1).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(yb, conv2d_naive(b, w, padding=2).numpy(), rtol=1e-5, atol=1e-5)


def test_padding_modes_pad_with_what_they_say():
    from tinytorch.core.spatial.padding import pad2d
    row = Tensor(np.arange(4.0).reshape(1, 1, 1, 4), dtype=np.float64)
    assert pad2d(row, (0, 0, 2, 2), "reflect").numpy().ravel().tolist() == [2, 1, 0, 1, 2, 3, 2, 1]
    assert pad2d(row, (0, 0, 2, 2), "replicate").numpy().ravel().tolist() == [0, 0, 0, 1, 2, 3, 3, 3]
    assert pad2d(row, (0, 0, 2, 2), "circular").numpy().ravel().tolist() == [2, 3, 0, 1, 2, 3, 0, 1]
    conv = Conv2d(1, 1, 3, padding=1, padding_mode="reflect", bias=False)
    conv.weight.data[...] = 0
    conv.weight.data[0, 0, 0, 1] = 1  # the output is the pixel above: row -1 reflects row 1
    img = np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(conv(Tensor(img)).numpy()[0, 0, 0], img[0, 0, 1])
    assert "padding_mode='reflect'" in repr(conv)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        Conv2d(1, 1, 3, padding=1, padding_mode="mirror")
    with pytest.raises(ValueError, match="must be smaller than the input's 1×4"):
        Conv2d(1, 1, 3, padding=1, padding_mode="reflect")(Tensor(np.zeros((1, 1, 1, 4))))


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.uint8])
def test_conv2d_layer_computes_in_its_weights_dtype(dtype):
    manual_seed(0)
    conv = Conv2d(2, 3, 3, padding=1)
    raw = np.random.default_rng(0).integers(0, 9, (2, 2, 5, 5))
    want = conv(Tensor(raw.astype(np.float32)))
    for x in (Tensor(raw.astype(dtype), dtype=dtype), raw.astype(dtype)):
        y = conv(x)  # cast to the weights' float32 first (PyTorch refuses the mix)
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y.numpy(), want.numpy())


# ----------------------------------------------------------------------------- chunks and memory
def _forward_and_gradients(x, w, b, kw, g_seed=5):
    tx, tw, tb = (Tensor(a, requires_grad=True) for a in (x, w, b))
    y = conv2d_fused(tx, tw, tb, **kw)
    g = np.random.default_rng(g_seed).standard_normal(y.shape).astype(y.dtype)
    grads = get_derivative(CONV2D_OP)(g, y.grad_fn)
    return [y.numpy().copy()] + [r.copy() for r in grads]


@pytest.mark.parametrize("case", CASES + [(3, 3, 6, 5, 4, 3, 1, 1, 1, 1)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_conv_in_chunks_of_one_image_equals_one_chunk(case, channels_last, monkeypatch):
    # The kernel lays out the patches of a few images at a time (about _CHUNK_BYTES each),
    # in the forward pass and again in the backward one; the tests' batches fit in one chunk,
    # so here every image is a chunk of its own: padded/patch buffers reused chunk after
    # chunk, a partial last chunk, sums of partial weight gradients. Both layouts of the
    # patch matrix run: rows (channels-last input) and transposed (an NCHW input, few columns).
    import tinytorch.core.spatial.fused.conv as fused_conv

    x, w, b, kw = _data(case)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    whole = _forward_and_gradients(x, w, b, kw)
    monkeypatch.setattr(fused_conv, "_CHUNK_BYTES", 1)
    for n in (1, 2):
        with threads(n):
            for one, other in zip(whole, _forward_and_gradients(x, w, b, kw)):
                np.testing.assert_allclose(other, one, rtol=1e-5, atol=1e-5)
    assert_close(whole[0], conv2d_naive(x, w, b, **kw).numpy(), rtol=1e-4, atol=1e-4)


def test_conv_keeps_no_patch_matrix_for_the_backward_pass():
    # A batch whose patch matrix (5.3 MB) is well over one chunk (_CHUNK_BYTES, 2 MB). The
    # chunk size is not monkeypatched: in the installed-wheel test env pytest's importlib mode
    # can load the kernels under a second module name, whose globals a patch would miss.
    import tinytorch.core.spatial.fused.conv as fused_conv
    from tinytorch.core.tensor.runtime import WORKSPACE

    chunk = fused_conv._CHUNK_BYTES
    rng = np.random.default_rng(0)
    n, c, hw, co = 128, 8, 12, 4
    x = Tensor(rng.standard_normal((n, c, hw, hw)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((co, c, 3, 3)).astype(np.float32), requires_grad=True)
    WORKSPACE.clear()
    y = conv2d_fused(x, w, None, padding=1)
    patch_matrix = n * hw * hw * 9 * c * 4  # bytes of the whole batch's patches
    saved = [a for a in y.grad_fn.saved if isinstance(a, np.ndarray)]
    assert all(a.nbytes < patch_matrix // 4 for a in saved)
    # the fused op's own derivative (module 09's engine is not installed with spatial alone)
    get_derivative(CONV2D_OP)(np.ones(y.shape, np.float32), y.grad_fn)
    per_image = hw * hw * 9 * c * 4
    cols = [buf for key, bufs in WORKSPACE._pool.items() if key[0].startswith("conv.cols")
            for buf in bufs]
    assert patch_matrix > 2 * chunk
    assert cols and all(buf.nbytes <= chunk + per_image for buf in cols)


@pytest.mark.parametrize("case", [
    (2, 2, 1, 1, 3, 3, 1, 1, 1, 1),   # one pixel: every tap but the centre lands on padding
    (1, 2, 2, 3, 2, 3, 2, 2, 1, 1),   # padding wider than the input reaches: taps dropped
    (2, 3, 5, 4, 2, (2, 3), (2, 1), (1, 2), (2, 1), 1),  # no tap covers the whole input
])
def test_fused_input_gradient_where_taps_fall_on_the_padding(case):
    # the col2im clips each tap's slab to the input and skips taps that land nowhere
    _check_fused_derivative(case)
