"""Shape ops against numpy: reshape, transpose (three readings), permute, flatten, squeeze,
unsqueeze, broadcast_to, cat, stack, pad — and which of them are views."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor, cat, concatenate, pad, stack
from tinytorch.core.tensor.testing import float_arrays, shapes

PROPS = settings(max_examples=40, deadline=None)


def _same(out, ref):
    assert isinstance(out, Tensor)
    assert out.shape == ref.shape, (out.shape, ref.shape)
    np.testing.assert_array_equal(out.numpy(), ref)


# ----------------------------------------------------------------------------- reshape
@st.composite
def array_and_new_shape(draw):
    a = draw(float_arrays(shapes(min_dims=0, max_dims=4)))
    # a new shape with the same number of elements: regroup the prime factors of a.size
    factors, n = [], a.size
    for p in (2, 3, 5, 7):
        while n % p == 0:
            factors.append(p)
            n //= p
    factors = draw(st.permutations(factors))
    cuts = sorted(draw(st.lists(st.integers(0, len(factors)), max_size=3)))
    bounds = [0] + cuts + [len(factors)]
    new = tuple(int(np.prod(factors[i:j], dtype=np.int64)) for i, j in zip(bounds, bounds[1:]))
    if draw(st.booleans()) and new:
        i = draw(st.integers(0, len(new) - 1))
        new = new[:i] + (-1,) + new[i + 1:]
    return a, new


@PROPS
@given(an=array_and_new_shape())
def test_shape_op_reshape_matches_numpy(an):
    a, new = an
    ref = a.reshape(new)
    _same(Tensor(a).reshape(new), ref)
    _same(Tensor(a).reshape(*new), ref)
    _same(Tensor(a).view(new), ref)


def test_shape_op_reshape_error_names_shapes_and_count():
    with pytest.raises(ValueError, match=r"\(2, 3\) \(6 elements\).*\(4, 2\)"):
        Tensor(np.ones((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match="reshape"):
        Tensor(np.ones(6)).reshape(-1, -1)


# ----------------------------------------------------------------------------- transpose, permute
@PROPS
@given(data=st.data())
def test_shape_op_transpose_all_three_readings(data):
    a = data.draw(float_arrays(shapes(min_dims=0, max_dims=4)))
    t = Tensor(a)
    # 1. no arguments: reverse the dimensions (numpy, and .T)
    _same(t.transpose(), np.transpose(a))
    _same(t.T, a.T)
    if a.ndim >= 1:
        # 2. two ints: swap those two dimensions (PyTorch), negatives allowed, any ndim
        i = data.draw(st.integers(-a.ndim, a.ndim - 1))
        j = data.draw(st.integers(-a.ndim, a.ndim - 1))
        _same(t.transpose(i, j), np.swapaxes(a, i, j))
        _same(t.swapaxes(i, j), np.swapaxes(a, i, j))
        # 3. one tuple (or three and more ints): a full permutation (numpy)
        perm = tuple(data.draw(st.permutations(range(a.ndim))))
        _same(t.transpose(perm), np.transpose(a, perm))
        _same(t.transpose(list(perm)), np.transpose(a, perm))
        if a.ndim >= 3:
            _same(t.transpose(*perm), np.transpose(a, perm))


def test_shape_op_transpose_on_matrices():
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    swapped = [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    assert x.transpose(0, 1).tolist() == swapped  # PyTorch: swap dims 0 and 1
    assert x.transpose(1, 0).tolist() == swapped
    assert x.transpose(-2, -1).tolist() == swapped  # as attention code writes it
    assert x.transpose((1, 0)).tolist() == swapped  # numpy: a permutation
    assert x.transpose((0, 1)).tolist() == x.tolist()  # numpy: the identity permutation
    assert x.T.tolist() == swapped


def test_shape_op_transpose_last_two_of_a_batch():
    k = Tensor(np.arange(24.0).reshape(2, 3, 4))
    _same(k.transpose(-2, -1), np.swapaxes(np.arange(24.0).reshape(2, 3, 4), -2, -1))
    assert k.transpose(-2, -1).shape == (2, 4, 3)


@PROPS
@given(data=st.data())
def test_shape_op_permute_matches_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=1, max_dims=5, max_side=3)))
    perm = data.draw(st.permutations(range(a.ndim)))
    negative = tuple(p - a.ndim if data.draw(st.booleans()) else p for p in perm)
    ref = np.transpose(a, perm)
    _same(Tensor(a).permute(*negative), ref)
    _same(Tensor(a).permute(tuple(negative)), ref)


@pytest.mark.parametrize("bad", [(0, 0), (0,), (0, 1, 2), (0, 2), (0, -3), (1, 5)])
def test_shape_op_bad_permutations_refused(bad):
    with pytest.raises(ValueError, match=r"permute.*not a permutation.*\(2, 3\)"):
        Tensor(np.ones((2, 3))).permute(*bad)


@pytest.mark.parametrize("shape, bad", [((2, 3), (0, 2)), ((2, 3), (-3, 0)), ((2, 3), (0, 5)),
                                        ((2, 3, 4), (0, 3)), ((2, 3, 4), (-4, 1)), ((5,), (0, 1))])
def test_shape_op_transpose_out_of_range_refused(shape, bad):
    with pytest.raises(ValueError, match=rf"axis {bad[0] if bad[0] < 0 else bad[1]} is out of range"):
        Tensor(np.ones(shape)).transpose(*bad)


# ----------------------------------------------------------------------------- flatten, squeeze, unsqueeze
@PROPS
@given(data=st.data())
def test_shape_op_flatten_matches_reshape(data):
    a = data.draw(float_arrays(shapes(min_dims=1, max_dims=4)))
    start = data.draw(st.integers(-a.ndim, a.ndim - 1))
    end = data.draw(st.integers(-a.ndim, a.ndim - 1))
    s, e = start % a.ndim, end % a.ndim
    if s > e:
        with pytest.raises(ValueError, match="flatten"):
            Tensor(a).flatten(start, end)
        return
    ref = a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:])
    _same(Tensor(a).flatten(start, end), ref)
    _same(Tensor(a).flatten(), a.reshape(-1))


def test_shape_op_flatten_examples():
    x = Tensor(np.zeros((2, 3, 4, 5)))
    assert x.flatten().shape == (120,)
    assert x.flatten(1).shape == (2, 60)
    assert x.flatten(1, 2).shape == (2, 12, 5)
    assert Tensor(3.0).flatten().shape == (1,)
    assert Tensor(np.zeros((0, 3))).flatten(1).shape == (0, 3)


@PROPS
@given(data=st.data())
def test_shape_op_squeeze_unsqueeze_match_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=0, max_dims=4, max_side=2)))
    _same(Tensor(a).squeeze(), np.squeeze(a))
    if a.ndim:
        axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
        # PyTorch: squeezing a dimension that is not 1 leaves the tensor unchanged
        ref = np.squeeze(a, axis) if a.shape[axis] == 1 else a
        _same(Tensor(a).squeeze(axis), ref)
    axis = data.draw(st.integers(-a.ndim - 1, a.ndim))
    _same(Tensor(a).unsqueeze(axis), np.expand_dims(a, axis))
    _same(Tensor(a).expand_dims(axis), np.expand_dims(a, axis))


def test_shape_op_squeeze_unsqueeze_errors():
    with pytest.raises(ValueError, match="unsqueeze: axis 3"):
        Tensor(np.ones((2, 3))).unsqueeze(3)
    with pytest.raises(ValueError, match="squeeze: axis 2"):
        Tensor(np.ones((2, 1))).squeeze(2)
    assert Tensor(np.ones((2, 1, 1))).squeeze((1, 2)).shape == (2,)


# ----------------------------------------------------------------------------- broadcast_to / expand
@PROPS
@given(data=st.data())
def test_shape_op_broadcast_to_matches_numpy(data):
    shape_in = data.draw(shapes(max_dims=3, max_side=3))
    extra = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))  # new leading dims
    target = extra + tuple(data.draw(st.integers(1, 3)) if n == 1 else n for n in shape_in)
    a = data.draw(float_arrays(shape_in))
    ref = np.broadcast_to(a, target)
    _same(Tensor(a).broadcast_to(target), ref)
    _same(Tensor(a).broadcast_to(*target), ref)
    # expand: PyTorch's spelling, where -1 keeps a dimension as it is
    keep = extra + tuple(-1 if n != 1 else t for n, t in zip(shape_in, target[len(extra):]))
    _same(Tensor(a).expand(*keep), ref)


def test_shape_op_broadcast_to_error_names_shapes():
    with pytest.raises(ValueError, match=r"broadcast_to: shapes \(2, 3\) and \(4, 3\)"):
        Tensor(np.ones((2, 3))).broadcast_to(4, 3)


# ----------------------------------------------------------------------------- cat / stack
@st.composite
def cat_operands(draw):
    base = draw(shapes(min_dims=1, max_dims=4, max_side=3))
    axis = draw(st.integers(-len(base), len(base) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        shape = list(base)
        shape[axis] = draw(st.integers(0, 3))
        parts.append(draw(float_arrays(tuple(shape))))
    return parts, axis


@PROPS
@given(pa=cat_operands())
def test_cat_stack_cat_matches_numpy(pa):
    parts, axis = pa
    ref = np.concatenate(parts, axis=axis)
    _same(cat([Tensor(p) for p in parts], axis=axis), ref)
    _same(cat(tuple(Tensor(p) for p in parts), dim=axis), ref)
    _same(concatenate(parts, axis), ref)  # arrays are accepted too


@PROPS
@given(data=st.data())
def test_cat_stack_stack_matches_numpy(data):
    shape = data.draw(shapes(max_dims=3))
    parts = [data.draw(float_arrays(shape)) for _ in range(data.draw(st.integers(1, 4)))]
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    ref = np.stack(parts, axis=axis)
    _same(stack([Tensor(p) for p in parts], axis=axis), ref)
    _same(stack([Tensor(p) for p in parts], dim=axis), ref)


def test_cat_stack_errors():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"cat along axis 0: tensor 1 has shape \(2, 4\).*\(2, 3\)"):
        cat([a, b])
    assert cat([a, b], axis=1).shape == (2, 7)
    with pytest.raises(ValueError, match="cat: axis 2 is out of range"):
        cat([a, a], axis=2)
    with pytest.raises(ValueError, match="out of range"):
        cat([Tensor(1.0), Tensor(2.0)])
    with pytest.raises(ValueError, match=r"stack: tensor 1 has shape \(2, 4\).*\(2, 3\)"):
        stack([a, b])
    with pytest.raises(ValueError, match="stack: axis 3"):
        stack([a, a], axis=3)
    for f in (cat, stack):
        with pytest.raises(TypeError, match="non-empty list"):
            f([])
        with pytest.raises(TypeError, match="non-empty list"):
            f(a)


# ----------------------------------------------------------------------------- pad
@PROPS
@given(data=st.data())
def test_shape_op_pad_matches_numpy(data):
    a = data.draw(float_arrays(shapes(min_dims=1, max_dims=4, max_side=3)))
    widths = tuple(
        (data.draw(st.integers(0, 2)), data.draw(st.integers(0, 2))) for _ in range(a.ndim)
    )
    value = data.draw(st.sampled_from([0.0, -1.5, 3.0]))
    ref = np.pad(a, widths, constant_values=np.float32(value))
    out = Tensor(a).pad(widths, value)
    _same(out, ref)
    assert out.dtype == np.float32
    _same(pad(Tensor(a), widths, value=value), ref)
    k = data.draw(st.integers(0, 2))
    _same(Tensor(a).pad(k), np.pad(a, k))
    _same(Tensor(a).pad((k, 1)), np.pad(a, (k, 1)))


def test_shape_op_pad_nchw_example_and_errors():
    x = Tensor(np.ones((1, 1, 2, 2)))
    y = x.pad(((0, 0), (0, 0), (1, 1), (1, 1)))
    assert y.shape == (1, 1, 4, 4) and y.sum().item() == 4.0
    with pytest.raises(ValueError, match=">= 0"):
        x.pad(-1)


# ----------------------------------------------------------------------------- views vs copies
def test_shape_op_views_share_memory_copies_do_not():
    x = Tensor(np.arange(12.0).reshape(3, 4))
    views = [x.reshape(4, 3), x.T, x.transpose(0, 1), x.permute(1, 0), x.unsqueeze(0),
             x.flatten(), x.broadcast_to(2, 3, 4), x.detach()]
    for v in views:
        assert np.shares_memory(v.numpy(), x.numpy())
    copies = [Tensor(x), x.clone(), x + 0, x.pad(1), x.astype(np.float64), x.T.contiguous()]
    for c in copies:
        assert not np.shares_memory(c.numpy(), x.numpy())
    # a view sees later writes to its base
    v = x.reshape(12)
    x.data[0, 0] = -1.0
    assert v.tolist()[0] == -1.0


def test_shape_op_contiguous():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.contiguous() is x
    t = x.T.contiguous()
    assert t.numpy().flags.c_contiguous and t.tolist() == x.T.tolist()


def test_cat_stack_copies_its_inputs():
    x = Tensor(np.arange(12.0).reshape(3, 4))
    for c in (cat([x, x]), stack([x, x])):
        assert not np.shares_memory(c.numpy(), x.numpy())


@pytest.mark.parametrize("shape, bad", [((2, 3), (2, 1)), ((2, 3), (1, -3)), ((4,), (1,)),
                                        ((4,), (-2,)), ((2, 3, 4), (3, 1, 2)),
                                        ((2, 3, 4), (0, -4, 1))])
def test_shape_op_permute_axis_out_of_range_refused(shape, bad):
    # each of these is a permutation modulo ndim: only the range check can refuse it
    with pytest.raises(ValueError, match=r"permute.*not a permutation"):
        Tensor(np.ones(shape)).permute(*bad)


def test_shape_op_permute_extreme_negative_axes():
    a = np.arange(24.0).reshape(2, 3, 4)
    _same(Tensor(a).permute(-3, -1, -2), np.transpose(a, (0, 2, 1)))
    _same(Tensor(a).permute(2, -3, 1), np.transpose(a, (2, 0, 1)))
    _same(Tensor(np.arange(3.0)).permute(-1), np.arange(3.0))


def test_shape_op_unsqueeze_error_names_the_axis_and_the_tensors_ndim():
    with pytest.raises(ValueError, match=r"unsqueeze: axis 3 is out of range for 2 dimensions"):
        Tensor(np.ones((2, 3))).unsqueeze(3)
    with pytest.raises(ValueError, match=r"unsqueeze: axis -3 is out of range for 1 dimensions"):
        Tensor(np.ones(4)).unsqueeze(-3)
    assert Tensor(np.ones(4)).unsqueeze(-2).shape == (1, 4)
    assert Tensor(np.ones(4)).unsqueeze(1).shape == (4, 1)
