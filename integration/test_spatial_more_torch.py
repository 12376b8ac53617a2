"""Conv1d, ConvTranspose2d, interpolate (nearest, bilinear), max-pool indices and MaxUnpool2d,
padding modes, padding="same" with even kernels, ceil_mode and divisor_override of the pools,
one (C, H, W) image, against PyTorch 2.13 — values and gradients, float32 and float64 — and by finite differences
through module 09's engine (gradcheck, float64)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tinytorch.core.autograd import gradcheck  # noqa: E402
from tinytorch.core.spatial import (AvgPool2d, Conv2d, MaxPool2d, conv1d,  # noqa: E402
                                    conv_transpose2d, interpolate, max_pool2d_with_indices,
                                    max_unpool2d)
from tinytorch.core.spatial.padding import (avg_pool2d_options, max_pool2d_ceil,  # noqa: E402
                                            pad2d)
from tinytorch.core.tensor import Tensor  # noqa: E402

rng = np.random.default_rng(0)
X4 = rng.standard_normal((2, 3, 5, 6))
X3 = rng.standard_normal((2, 4, 11))
W_T = rng.standard_normal((3, 4, 3, 3))
W_1 = rng.standard_normal((6, 2, 3))
B = rng.standard_normal(4)

CASES = {
    "conv_transpose2d": ((X4, W_T, B),
                         lambda x, w, b: conv_transpose2d(x, w, b, 2, 1, 1),
                         lambda x, w, b: F.conv_transpose2d(x, w, b, 2, 1, 1)),
    "conv_transpose2d-dilated": ((X4, W_T, B),
                                 lambda x, w, b: conv_transpose2d(x, w, b, 3, 2, 0, 2),
                                 lambda x, w, b: F.conv_transpose2d(x, w, b, 3, 2, 0, 1, 2)),
    "conv1d": ((X3, W_1, rng.standard_normal(6)),
               lambda x, w, b: conv1d(x, w, b, 2, 1, 2, 2),
               lambda x, w, b: F.conv1d(x, w, b, 2, 1, 2, 2)),
    "nearest-x2": ((X4,), lambda x: interpolate(x, scale_factor=2),
                   lambda x: F.interpolate(x, scale_factor=2)),
    "nearest-size": ((X4,), lambda x: interpolate(x, size=(7, 4)),
                     lambda x: F.interpolate(x, size=(7, 4))),
    "bilinear": ((X4,), lambda x: interpolate(x, size=(8, 9), mode="bilinear"),
                 lambda x: F.interpolate(x, size=(8, 9), mode="bilinear")),
    "bilinear-down": ((X4,), lambda x: interpolate(x, size=(3, 4), mode="bilinear"),
                      lambda x: F.interpolate(x, size=(3, 4), mode="bilinear")),
    "bilinear-corners": ((X4,), lambda x: interpolate(x, scale_factor=1.5, mode="bilinear",
                                                      align_corners=True),
                         lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear",
                                                 align_corners=True)),
    "max-ceil": ((X4,), lambda x: max_pool2d_ceil(x, 2),
                 lambda x: F.max_pool2d(x, 2, ceil_mode=True)),
    "max-ceil-pad": ((X4,), lambda x: max_pool2d_ceil(x, 3, 2, 1),
                     lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True)),
    "avg-ceil": ((X4,), lambda x: avg_pool2d_options(x, 3, 2, 1, True, True),
                 lambda x: F.avg_pool2d(x, 3, 2, 1, True, True)),
    "avg-ceil-exclude-pad": ((X4,), lambda x: avg_pool2d_options(x, 3, 2, 1, True, False),
                             lambda x: F.avg_pool2d(x, 3, 2, 1, True, False)),
    "avg-divisor": ((X4,), lambda x: avg_pool2d_options(x, 2, 1, 1, False, True, 3),
                    lambda x: F.avg_pool2d(x, 2, 1, 1, False, True, 3)),
}
for _mode in ("reflect", "replicate", "circular"):
    CASES[f"pad-{_mode}"] = ((X4,), lambda x, m=_mode: pad2d(x, (2, 1, 3, 2), m),
                             lambda x, m=_mode: F.pad(x, (3, 2, 2, 1), mode=m))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_match_torch(name, dtype):
    arrays, ours, theirs = CASES[name]
    a = [Tensor(x.astype(dtype), dtype=dtype, requires_grad=True) for x in arrays]
    b = [torch.tensor(x.astype(dtype), requires_grad=True) for x in arrays]
    ya, yb = ours(*a), theirs(*b)
    assert ya.shape == tuple(yb.shape) and ya.dtype == dtype
    g = np.random.default_rng(1).standard_normal(ya.shape).astype(dtype)
    ya.backward(g)
    yb.backward(torch.from_numpy(g))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), **tol)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), **tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_by_finite_differences(name):
    arrays, ours, _ = CASES[name]
    small = [x[:1, ...] if x.ndim >= 3 and x is not W_T and x is not W_1 else x for x in arrays]
    inputs = [Tensor(x, dtype=np.float64, requires_grad=True) for x in small]
    assert gradcheck(ours, inputs)


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1)])
def test_pool_indices_and_unpool_match_torch(kernel, stride, padding):
    x = np.random.default_rng(2).permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 7.0
    values, idx = max_pool2d_with_indices(Tensor(x, dtype=np.float64), kernel, stride, padding)
    tv, ti = F.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), ti.numpy())
    np.testing.assert_allclose(values.numpy(), tv.numpy())
    v = Tensor(values.numpy(), dtype=np.float64, requires_grad=True)
    tvv = tv.detach().clone().requires_grad_(True)
    out = max_unpool2d(v, idx, kernel, stride, padding, output_size=(7, 7))
    tout = F.max_unpool2d(tvv, ti, kernel, stride, padding, output_size=(7, 7))
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
    g = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(v.grad.data, tvv.grad.numpy())


@pytest.mark.parametrize("kwargs", [dict(padding=1, padding_mode="reflect"),
                                    dict(padding=2, padding_mode="circular"),
                                    dict(padding=(1, 2), padding_mode="replicate"),
                                    dict(padding="same", kernel_size=4),
                                    dict(padding="same", kernel_size=(2, 3), dilation=(3, 1))])
def test_conv2d_layer_options_match_torch(kwargs):
    kwargs = {"kernel_size": 3, **kwargs}
    ours = Conv2d(3, 4, **kwargs)
    theirs = torch.nn.Conv2d(3, 4, **kwargs).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data.astype(np.float64)))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data.astype(np.float64)))
    ours.double()
    x = Tensor(X4, dtype=np.float64, requires_grad=True)
    tx = torch.tensor(X4, requires_grad=True)
    y, ty = ours(x), theirs(tx)
    assert y.shape == tuple(ty.shape)
    g = np.random.default_rng(4).standard_normal(y.shape)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("layer", ["conv", "max", "avg"])
def test_one_image_without_a_batch_axis_matches_torch(layer):
    image = X4[0].astype(np.float32)
    if layer == "conv":
        ours, theirs = Conv2d(3, 2, 3), torch.nn.Conv2d(3, 2, 3)
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.data))
            theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    elif layer == "max":
        ours, theirs = MaxPool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True)
    else:
        ours, theirs = AvgPool2d(2, 1, 1), torch.nn.AvgPool2d(2, 1, 1)
    got, want = ours(Tensor(image)).numpy(), theirs(torch.from_numpy(image)).detach().numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
