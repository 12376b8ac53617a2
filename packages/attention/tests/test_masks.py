"""causal_mask, padding_mask, combine_masks: values, shapes, broadcasting and errors."""

import numpy as np
import pytest

from tinytorch.core.attention import causal_mask, combine_masks, padding_mask
from tinytorch.core.tensor import Tensor


@pytest.mark.parametrize("n", [1, 2, 5, 9])
def test_causal_mask_is_lower_triangular(n):
    m = causal_mask(n)
    assert m.dtype == np.bool_ and m.shape == (n, n)
    np.testing.assert_array_equal(m.numpy(), np.tril(np.ones((n, n), dtype=bool)))


def test_causal_mask_rectangular_is_top_left_aligned():
    # like torch's is_causal: query i sees keys 0..i, whatever the key length
    np.testing.assert_array_equal(causal_mask(2, 4).numpy(),
                                  [[True, False, False, False], [True, True, False, False]])
    np.testing.assert_array_equal(causal_mask(4, 2).numpy(),
                                  [[True, False], [True, True], [True, True], [True, True]])


def test_causal_mask_rejects_bad_sizes():
    with pytest.raises(ValueError, match="size_query"):
        causal_mask(-1)
    with pytest.raises(ValueError, match="size_key"):
        causal_mask(3, 2.5)


def test_padding_mask_from_lengths():
    m = padding_mask([3, 1, 0], max_len=4)
    assert m.shape == (3, 1, 1, 4) and m.dtype == np.bool_
    np.testing.assert_array_equal(m.numpy()[:, 0, 0], [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]])


def test_padding_mask_default_length_is_the_longest():
    m = padding_mask(Tensor([2, 5]))
    assert m.shape == (2, 1, 1, 5)
    assert m.numpy()[1].all() and m.numpy()[0].sum() == 2


def test_padding_mask_errors():
    with pytest.raises(ValueError, match=">= 0"):
        padding_mask([2, -1])
    with pytest.raises(ValueError, match="max_len=3"):
        padding_mask([5], max_len=3)
    with pytest.raises(ValueError, match="1-D"):
        padding_mask([[1, 2]])
    with pytest.raises(ValueError, match="ints"):
        padding_mask([1.5, 2.0])


def test_combine_bool_masks_is_logical_and():
    c = combine_masks(causal_mask(4), padding_mask([2, 4]))
    assert c.shape == (2, 1, 4, 4) and c.dtype == np.bool_
    expected = np.tril(np.ones((4, 4), bool))[None, None] & (np.arange(4) < np.array([2, 4])[:, None])[:, None, None, :]
    np.testing.assert_array_equal(c.numpy(), expected)


def test_combine_with_a_float_mask_is_additive():
    bias = np.array([[0.5, -1.0], [2.0, 0.0]], dtype=np.float32)
    c = combine_masks(causal_mask(2), bias, None)
    assert c.dtype == np.float32
    np.testing.assert_array_equal(c.numpy(), [[0.5, -np.inf], [2.0, 0.0]])


def test_combine_skips_none():
    assert combine_masks(None, None) is None
    only = combine_masks(None, causal_mask(3))
    np.testing.assert_array_equal(only.numpy(), causal_mask(3).numpy())


def test_combine_names_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 1, 1, 4\)"):
        combine_masks(causal_mask(3), padding_mask([1, 4]))


def test_integer_masks_are_refused():
    with pytest.raises(TypeError, match="astype\\(bool\\)"):
        combine_masks(np.ones((2, 2), dtype=np.int64))
