"""The composite path keeps feature maps channels-last in memory: (N, C, H, W) tensors whose
numbers are stored in (N, H, W, C) order. The values are the same either way (the other test
files check them); the layout is what makes the composite path fast enough to train with, so
it is checked here: the convolution's output is stored that way, and padding, pooling and
batch norm keep it."""

import numpy as np
import pytest

from tinytorch.core.spatial import (
    avg_pool2d_composite,
    batch_norm_composite,
    conv2d_composite,
    conv2d_naive,
    max_pool2d_composite,
)
from tinytorch.core.spatial.composite import pad_hw
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import assert_close


def channels_last(t: Tensor) -> bool:
    """True when the (N, C, H, W) tensor's memory runs in (N, H, W, C) order."""
    return t.data.transpose(0, 2, 3, 1).flags.c_contiguous


def channels_last_input(shape, seed=0) -> Tensor:
    n, c, h, w = shape
    nhwc = np.random.default_rng(seed).standard_normal((n, h, w, c)).astype(np.float32)
    return Tensor(nhwc, dtype=np.float32).permute(0, 3, 1, 2)


def test_pad_hw_pads_like_numpy_and_stores_the_result_channels_last():
    x = Tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5))  # plain NCHW
    y = pad_hw(x, 1, 2, value=-7.0)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1), (2, 2)), constant_values=-7.0)
    np.testing.assert_array_equal(y.numpy(), expected)
    assert channels_last(y)
    assert pad_hw(x, 0, 0) is x  # nothing to pad: the same tensor, no copy


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
def test_conv_im2col_output_is_stored_channels_last(layout):
    rng = np.random.default_rng(1)
    x = (Tensor(rng.standard_normal((2, 3, 6, 5)).astype(np.float32)) if layout == "nchw"
         else channels_last_input((2, 3, 6, 5)))
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = conv2d_composite(x, Tensor(w), padding=1)
    assert channels_last(y)
    assert_close(y, conv2d_naive(x.numpy(), w, padding=1), rtol=1e-4, atol=1e-4)


def test_max_pool_composite_keeps_channels_last():
    x = channels_last_input((2, 4, 6, 6), seed=2)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        y = max_pool2d_composite(x, **kw)
        assert channels_last(y), kw


def test_avg_pool_composite_keeps_channels_last():
    x = channels_last_input((2, 4, 6, 6), seed=3)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        y = avg_pool2d_composite(x, **kw)
        assert channels_last(y), kw


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_composite_keeps_channels_last(training):
    x = channels_last_input((4, 3, 5, 5), seed=4)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    gamma, beta = Tensor(np.array([1.0, 2.0, -1.0], np.float32)), Tensor(np.zeros(3, np.float32))
    y = batch_norm_composite(x, rm, rv, gamma, beta, training=training)
    assert channels_last(y)
