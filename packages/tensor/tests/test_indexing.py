"""Indexing exactly as numpy: basic slices, integer arrays, boolean masks; and __setitem__."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.tensor import Tensor, set_grad_enabled
from tinytorch.core.tensor.testing import float_arrays, shapes

PROPS = settings(max_examples=50, deadline=None)


def _same(out, ref):
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref)
    np.testing.assert_array_equal(out.numpy(), ref)


@PROPS
@given(data=st.data())
def test_basic_indexing_matches_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=0, max_dims=4)))
    key = data.draw(hnp.basic_indices(a.shape, allow_newaxis=True, allow_ellipsis=True))
    _same(Tensor(a)[key], a[key])


@PROPS
@given(data=st.data())
def test_integer_array_indexing_matches_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=1, max_dims=3)))
    n = a.shape[0]
    idx = data.draw(hnp.arrays(np.int64, shapes(min_dims=1, max_dims=2, max_side=4),
                               elements=st.integers(-n, n - 1)))
    _same(Tensor(a)[idx], a[idx])
    _same(Tensor(a)[Tensor(idx)], a[idx])  # a Tensor as index
    _same(Tensor(a)[idx.tolist()], a[idx])  # a list as index
    if a.ndim >= 2:
        m = a.shape[1]
        cols = data.draw(hnp.arrays(np.int64, idx.shape, elements=st.integers(-m, m - 1)))
        _same(Tensor(a)[idx, cols], a[idx, cols])
        _same(Tensor(a)[:, cols[..., 0]], a[:, cols[..., 0]])


@PROPS
@given(data=st.data())
def test_boolean_indexing_matches_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=1, max_dims=3)))
    k = data.draw(st.integers(1, a.ndim))
    mask = data.draw(hnp.arrays(np.bool_, a.shape[:k]))
    _same(Tensor(a)[mask], a[mask])
    _same(Tensor(a)[Tensor(mask)], a[mask])
    _same(Tensor(a)[Tensor(a) > 0], a[a > 0])


def test_indexing_slices_are_views_arrays_and_masks_copy():
    x = Tensor(np.arange(12.0).reshape(3, 4))
    for v in (x[1], x[:, 1:3], x[..., ::2]):
        assert np.shares_memory(v.numpy(), x.numpy())
    for c in (x[[0, 2]], x[x > 3]):
        assert not np.shares_memory(c.numpy(), x.numpy())


def test_indexing_examples():
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x[0].tolist() == [1.0, 2.0, 3.0]
    assert x[1, 2].item() == 6.0 and x[1, 2].shape == ()
    assert x[:, 1:].tolist() == [[2.0, 3.0], [5.0, 6.0]]
    assert x[[1, 1, 0]].shape == (3, 3)
    assert x[x > 2.5].tolist() == [3.0, 4.0, 5.0, 6.0]
    assert x[..., -1].tolist() == [3.0, 6.0]
    assert x[None].shape == (1, 2, 3)


def test_indexing_gather_rows_picks_one_column_per_row():
    logits = Tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    labels = Tensor([1, 0, 0])
    np.testing.assert_array_equal(logits.gather_rows(labels).numpy(),
                                  np.array([0.9, 0.8, 0.3], dtype=np.float32))
    with pytest.raises(ValueError, match=r"gather_rows.*\(3, 2\).*\(2,\)"):
        logits.gather_rows([0, 1])


def test_indexing_bad_indices_refused_with_a_message():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="integer or bool, got float32"):
        x[Tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[5]
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[[0, 2]]


def test_indexing_setitem_writes_in_place():
    x = Tensor(np.zeros((2, 3)))
    x[0] = 1.0
    x[1, Tensor([0, 2])] = Tensor([5.0, 6.0])
    x[x > 5.5] = -1.0
    assert x.tolist() == [[1.0, 1.0, 1.0], [5.0, 0.0, -1.0]]


def test_indexing_setitem_refused_on_graph_tensors_unless_grad_disabled():
    w = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 1.0
    with pytest.raises(RuntimeError, match="in-place"):
        (w * 2)[0] = 1.0
    set_grad_enabled(False)
    w[0] = 1.0  # e.g. an optimizer step, inside no_grad()
    set_grad_enabled(True)
    assert w.tolist() == [1.0, 0.0, 0.0]
