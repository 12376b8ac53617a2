"""Conv1d, ConvTranspose2d, interpolate / Upsample, max-pool indices and MaxUnpool2d: values
against definitions written as loops here, and the errors. (Their gradients come from the ops
they are built of; integration/test_spatial_more_torch.py checks them through the engine, by
finite differences and against PyTorch.)"""

import numpy as np
import pytest

from tinytorch.core.spatial import (Conv1d, ConvTranspose2d, MaxPool2d, MaxUnpool2d, Upsample,
                                    conv1d, conv_transpose2d, interpolate,
                                    max_pool2d_with_indices)
from tinytorch.core.tensor import Tensor


def conv_transpose_loop(x, w, b, s, p, op, d):
    """Each input pixel adds its value times the kernel into the output, stride s apart."""
    n, c, h, wd = x.shape
    _, co, kh, kw = w.shape
    full = np.zeros((n, co, (h - 1) * s + d * (kh - 1) + 1 + op, (wd - 1) * s + d * (kw - 1) + 1 + op))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for e in range(kw):
                    full[:, :, i * s + a * d, j * s + e * d] += x[:, :, i, j] @ w[:, :, a, e]
    out = full[:, :, p:full.shape[2] - p, p:full.shape[3] - p]
    return out + b[None, :, None, None]


@pytest.mark.parametrize("s, p, op, d, k", [(1, 0, 0, 1, 3), (2, 1, 1, 1, 3), (3, 2, 0, 2, 3),
                                            (2, 0, 1, 1, 2), (1, 2, 0, 1, 3)])
def test_conv_transpose2d_is_the_scatter_of_kernels(s, p, op, d, k):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, k, k)), rng.standard_normal(2)
    got = conv_transpose2d(Tensor(x, dtype=np.float64), Tensor(w, dtype=np.float64),
                           Tensor(b, dtype=np.float64), s, p, op, d).numpy()
    np.testing.assert_allclose(got, conv_transpose_loop(x, w, b, s, p, op, d), rtol=1e-12, atol=1e-12)


def test_conv1d_is_a_sliding_dot_product():
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3))
    want = np.stack([np.einsum("nck,ock->no", x[:, :, t * 2:t * 2 + 5:2], w)
                     for t in range(3)], axis=2)  # stride 2, dilation 2, no padding
    got = conv1d(Tensor(x, dtype=np.float64), Tensor(w, dtype=np.float64), None, 2, 0, 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_layers_shapes_parameters_and_unbatched_input():
    conv = Conv1d(4, 6, 3, padding="same")
    assert conv.weight.shape == (6, 4, 3) and conv.bias.shape == (6,)
    assert conv(Tensor(np.zeros((2, 4, 10)))).shape == (2, 6, 10)
    assert conv(Tensor(np.zeros((4, 10)))).shape == (6, 10)  # one signal, no batch axis
    up = ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
    assert up.weight.shape == (8, 4, 3, 3)
    assert up(Tensor(np.zeros((1, 8, 5, 5)))).shape == (1, 4, 10, 10)
    assert [n for n, _ in up.named_parameters()] == ["weight", "bias"]


def test_nearest_and_bilinear_resizing():
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    near = interpolate(Tensor(x), scale_factor=2).numpy()[0, 0]
    np.testing.assert_array_equal(near, np.repeat(np.repeat(x[0, 0], 2, 0), 2, 1))
    corners = interpolate(Tensor(x, dtype=np.float64), size=(3, 5), mode="bilinear",
                          align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(corners[[0, 0, -1, -1], [0, -1, 0, -1]], [0, 2, 3, 5])
    np.testing.assert_allclose(corners[1], [1.5, 2.0, 2.5, 3.0, 3.5])  # the rows' midpoint
    same = interpolate(Tensor(x, dtype=np.float64), size=(2, 3), mode="bilinear").numpy()
    np.testing.assert_allclose(same, x)  # the same size: the input back
    assert Upsample(size=4)(Tensor(np.zeros((2, 3, 2, 2)))).shape == (2, 3, 4, 4)


def test_pool_indices_and_unpool_put_maxima_back():
    rng = np.random.default_rng(2)
    x = rng.permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.float64)
    values, idx = MaxPool2d(2, return_indices=True)(Tensor(x, dtype=np.float64))
    flat = x.reshape(2, 3, 36)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.numpy().reshape(2, 3, 9), 2),
                                  values.numpy().reshape(2, 3, 9))
    back = MaxUnpool2d(2)(values, idx).numpy()
    assert back.shape == x.shape and np.count_nonzero(back) == 2 * 3 * 9
    np.testing.assert_array_equal(back[back != 0], x[back != 0])
    # overlapping windows and padding: the index is the input position, in the unpadded map
    v2, i2 = max_pool2d_with_indices(Tensor(x, dtype=np.float64), 3, 2, 1)
    np.testing.assert_array_equal(np.take_along_axis(flat, i2.numpy().reshape(2, 3, -1), 2),
                                  v2.numpy().reshape(2, 3, -1))


def test_mistakes_name_the_bad_value():
    with pytest.raises(ValueError, match="only groups=1"):
        ConvTranspose2d(4, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"output_padding \(2, 2\) must be smaller than the stride"):
        conv_transpose2d(Tensor(np.zeros((1, 2, 3, 3))), Tensor(np.zeros((2, 2, 3, 3))), None, 2, 0, 2)
    with pytest.raises(ValueError, match="removes the whole 3×3 output of a 1×1 input"):
        conv_transpose2d(Tensor(np.zeros((1, 2, 1, 1))), Tensor(np.zeros((2, 2, 3, 3))), None, 1, 2)
    with pytest.raises(ValueError, match="expects 2 input channels, got 3"):
        conv_transpose2d(Tensor(np.zeros((1, 3, 3, 3))), Tensor(np.zeros((2, 2, 3, 3))))
    with pytest.raises(ValueError, match=r"Conv1d expected \(N, 4, L\)"):
        Conv1d(4, 2, 3)(Tensor(np.zeros((1, 3, 8))))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        interpolate(Tensor(np.zeros((1, 1, 2, 2))))
    with pytest.raises(ValueError, match="mode must be one of"):
        Upsample(scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="outside the 2×2 output"):
        MaxUnpool2d(1)(Tensor(np.ones((1, 1, 2, 2))), np.full((1, 1, 2, 2), 7))
