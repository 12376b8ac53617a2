"""Test-time augmentation: the shifted views, the averaging weights, and the accuracy it measures."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training.cifar10 import evaluate_tta, shift_images, tta_logits


def _images(n: int = 3, c: int = 2, h: int = 5, w: int = 6) -> np.ndarray:
    return np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w)


def test_shift_moves_content_and_reflects_the_border():
    x = _images()
    down_right = shift_images(x, 1, 1)
    assert down_right.shape == x.shape and down_right.flags.c_contiguous
    np.testing.assert_array_equal(down_right[..., 1:, 1:], x[..., :-1, :-1])
    # the uncovered top row and left column repeat the image's own pixels (reflection)
    np.testing.assert_array_equal(down_right[..., 0, 1:], x[..., 1, :-1])
    np.testing.assert_array_equal(down_right[..., 1:, 0], x[..., :-1, 1])
    up_left = shift_images(x, -1, -1)
    np.testing.assert_array_equal(up_left[..., :-1, :-1], x[..., 1:, 1:])
    np.testing.assert_array_equal(shift_images(x, 0, 0), x)
    with pytest.raises(ValueError, match="at most one pixel, got dy=2"):
        shift_images(x, 2, 0)


def test_tta_levels_average_the_documented_views():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 5, 6)).astype(np.float32)
    weights = rng.standard_normal((2 * 5 * 6, 3)).astype(np.float32)
    calls = []

    def forward(a):  # a linear "network" that is not mirror-symmetric
        calls.append(a.shape)
        return a.reshape(len(a), -1) @ weights

    np.testing.assert_allclose(tta_logits(forward, x, 0), forward(x))
    def mirror(a):
        return 0.5 * (forward(a) + forward(a[..., ::-1]))

    np.testing.assert_allclose(tta_logits(forward, x, 1), mirror(x), rtol=1e-5, atol=1e-5)
    expected = (0.5 * mirror(x) + 0.25 * mirror(shift_images(x, 1, 1))
                + 0.25 * mirror(shift_images(x, -1, -1)))
    calls.clear()
    np.testing.assert_allclose(tta_logits(forward, x, 2), expected, rtol=1e-5, atol=1e-5)
    assert len(calls) == 6  # three positions, each with its mirror image
    with pytest.raises(ValueError, match="level must be 0, 1 or 2, got 3"):
        tta_logits(forward, x, 3)


def test_evaluate_tta_counts_correct_predictions():
    from tinytorch.core.layers import Dense, Flatten
    from tinytorch.core.dense import Sequential

    manual_seed(0)
    model = Sequential([Flatten(), Dense(2 * 4 * 4, 3)])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 2, 4, 4)).astype(np.float32)
    for level in (0, 1, 2):
        predicted = tta_logits(lambda a: model(Tensor(a)).data, x, level).argmax(axis=1)
        labels = predicted.copy()
        labels[:3] = (labels[:3] + 1) % 3  # three deliberately wrong labels
        loader = [(Tensor(x[:6]), Tensor(labels[:6])), (Tensor(x[6:]), Tensor(labels[6:]))]
        assert evaluate_tta(model, loader, level) == pytest.approx(0.7)
