"""Elementwise math, erf, maximum/minimum/where/clip and the stable softmaxes."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.tensor import Tensor, erf_array, maximum, minimum, where
from tinytorch.core.tensor.testing import (
    assert_close,
    broadcastable_arrays,
    float_arrays,
    shapes,
)

PROPS = settings(max_examples=40, deadline=None)

# name, reference, (low, high) of the inputs it is tested on
UNARY = [
    ("exp", np.exp, (-10, 10)),
    ("log", np.log, (0.01, 100)),
    ("log1p", np.log1p, (-0.9, 100)),
    ("sqrt", np.sqrt, (0, 100)),
    ("abs", np.abs, (-10, 10)),
    ("tanh", np.tanh, (-10, 10)),
    ("sin", np.sin, (-10, 10)),
    ("cos", np.cos, (-10, 10)),
    ("relu", lambda a: np.maximum(a, 0), (-10, 10)),
    ("sign", np.sign, (-10, 10)),
]


@pytest.mark.parametrize("name, ref, bounds", UNARY, ids=[u[0] for u in UNARY])
@PROPS
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_unary_math_matches_numpy(name, ref, bounds, data, dtype):
    a = data.draw(float_arrays(dtype=dtype, low=bounds[0], high=bounds[1]))
    out = getattr(Tensor(a, dtype=dtype), name)()
    assert out.dtype == dtype and out.shape == a.shape
    np.testing.assert_allclose(out.numpy(), ref(a), rtol=1e-6, atol=1e-7)


def test_unary_math_on_integer_tensors_gives_float32():
    i = Tensor([0, 1, 4])
    for name in ("exp", "sqrt", "tanh", "log1p", "erf"):
        assert getattr(i, name)().dtype == np.float32, name
    assert i.sqrt().tolist() == [0.0, 1.0, 2.0]
    assert i.abs().dtype == np.int64 and i.relu().dtype == np.int64


def test_unary_math_log_of_zero_and_specific_values():
    assert Tensor([1.0]).log().item() == 0.0
    assert Tensor([1.0]).exp().item() == pytest.approx(math.e)
    assert Tensor([-2.0, 0.0, 3.0]).relu().tolist() == [0.0, 0.0, 3.0]
    assert Tensor([-2.0, 0.0, 3.0]).abs().tolist() == [2.0, 0.0, 3.0]


# ----------------------------------------------------------------------------- erf
@settings(max_examples=60, deadline=None)
@given(a=float_arrays(low=-6, high=6), dtype=st.sampled_from([np.float32, np.float64]))
def test_erf_matches_math_erf_within_2e_7(a, dtype):
    a = a.astype(dtype)
    out = Tensor(a, dtype=dtype).erf()
    assert out.dtype == dtype
    ref = np.array([math.erf(float(v)) for v in a.reshape(-1)]).reshape(a.shape)
    np.testing.assert_allclose(out.numpy().astype(np.float64), ref, rtol=0, atol=2e-7)


def test_erf_dense_grid_and_symmetry():
    x = np.linspace(-5, 5, 20001, dtype=np.float32)
    got = erf_array(x)
    ref = np.array([math.erf(float(v)) for v in x])
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() < 2e-7
    np.testing.assert_array_equal(erf_array(-x), -got)
    assert erf_array(np.array([0.0]))[0] == 0.0
    assert Tensor([40.0, -40.0]).erf().tolist() == [1.0, -1.0]


# ----------------------------------------------------------------------------- maximum / minimum
@PROPS
@given(pair=broadcastable_arrays(low=-3, high=3))
def test_maximum_minimum_match_numpy(pair):
    a, b = np.round(pair[0]), np.round(pair[1])  # ties included
    for ours, ref in ((maximum, np.maximum), (minimum, np.minimum)):
        np.testing.assert_array_equal(ours(Tensor(a), Tensor(b)).numpy(), ref(a, b))
        np.testing.assert_array_equal(ours(a, Tensor(b)).numpy(), ref(a, b))
    np.testing.assert_array_equal(Tensor(a).maximum(b).numpy(), np.maximum(a, b))
    np.testing.assert_array_equal(Tensor(a).minimum(b).numpy(), np.minimum(a, b))


@PROPS
@given(a=float_arrays(), s=st.floats(-5, 5))
def test_maximum_minimum_with_scalars(a, s):
    np.testing.assert_array_equal(Tensor(a).maximum(s).numpy(), np.maximum(a, np.float32(s)))
    np.testing.assert_array_equal(Tensor(a).minimum(s).numpy(), np.minimum(a, np.float32(s)))
    assert Tensor(a).maximum(s).dtype == np.float32


def test_maximum_minimum_broadcast_errors():
    for f in (maximum, minimum):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 3\)"):
            f(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))))


# ----------------------------------------------------------------------------- where
@PROPS
@given(data=st.data())
def test_where_matches_numpy(data):
    shape_c, shape_x, shape_y = data.draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4)
    ).input_shapes
    cond = data.draw(hnp.arrays(np.bool_, shape_c))
    x = data.draw(float_arrays(shape_x))
    y = data.draw(float_arrays(shape_y))
    ref = np.where(cond, x, y)
    for c in (cond, Tensor(cond)):
        out = where(c, Tensor(x), Tensor(y))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(where(Tensor(cond), x, Tensor(y)).numpy(), ref)
    np.testing.assert_array_equal(where(cond, Tensor(x), 0.5).numpy(),
                                  np.where(cond, x, np.float32(0.5)))
    np.testing.assert_array_equal(where(cond, -1.0, Tensor(y)).numpy(),
                                  np.where(cond, np.float32(-1.0), y))


def test_where_examples_and_errors():
    x = Tensor([-1.0, 2.0, -3.0])
    assert where(x > 0, x, 0.0).tolist() == [0.0, 2.0, 0.0]
    assert where([1, 0, 1], x, Tensor([9.0])).tolist() == [-1.0, 9.0, -3.0]  # non-bool condition
    assert where(x > 0, 1.0, 2.0).tolist() == [2.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=r"where.*\(3,\).*\(2,\)"):
        where(x > 0, x, Tensor([1.0, 2.0]))


# ----------------------------------------------------------------------------- clip
@PROPS
@given(a=float_arrays(), lo=st.floats(-5, 0) | st.none(), hi=st.floats(0, 5) | st.none())
def test_unary_math_clip_matches_numpy(a, lo, hi):
    if lo is None and hi is None:
        with pytest.raises(ValueError, match="min"):
            Tensor(a).clip(lo, hi)
        return
    lo32 = None if lo is None else np.float32(lo)
    hi32 = None if hi is None else np.float32(hi)
    ref = np.clip(a, lo32, hi32)
    out = Tensor(a).clip(lo, hi)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(Tensor(a).clamp(min=lo, max=hi).numpy(), ref)


def test_unary_math_clip_examples():
    x = Tensor([-2.0, 0.5, 3.0])
    assert x.clip(-1, 1).tolist() == [-1.0, 0.5, 1.0]
    assert x.clip(min=0).tolist() == [0.0, 0.5, 3.0]
    assert x.clamp(max=0).tolist() == [-2.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- softmax family
@st.composite
def array_and_axis(draw, low=-10.0, high=10.0):
    a = draw(float_arrays(shapes(min_dims=1, max_dims=3), low=low, high=high))
    return a, draw(st.integers(-a.ndim, a.ndim - 1))


def _ref_log_softmax(a, axis):
    a = a.astype(np.float64)
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


@PROPS
@given(aa=array_and_axis())
def test_softmax_sums_to_one_and_matches_reference(aa):
    a, axis = aa
    p = Tensor(a).softmax(axis=axis)
    assert p.dtype == np.float32 and p.shape == a.shape
    assert (p.numpy() >= 0).all()
    np.testing.assert_allclose(p.numpy().sum(axis=axis), 1.0, rtol=1e-5)
    np.testing.assert_allclose(p.numpy(), np.exp(_ref_log_softmax(a, axis)), rtol=1e-5, atol=1e-7)


@PROPS
@given(aa=array_and_axis())
def test_log_softmax_matches_reference(aa):
    a, axis = aa
    out = Tensor(a).log_softmax(axis=axis)
    assert out.dtype == np.float32 and out.shape == a.shape
    np.testing.assert_allclose(out.numpy(), _ref_log_softmax(a, axis), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(out.numpy()).sum(axis=axis), 1.0, rtol=1e-5)


@PROPS
@given(aa=array_and_axis(low=-1e4, high=1e4), big=st.sampled_from([1e4, -1e4]))
def test_softmax_finite_without_warnings_for_huge_inputs(aa, big):
    a, axis = aa
    a = a.copy()
    a.reshape(-1)[0] = big  # at least one extreme value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
            ls = Tensor(a).log_softmax(axis=axis).numpy()
            p = Tensor(a).softmax(axis=axis).numpy()
    assert np.isfinite(ls).all() and np.isfinite(p).all()
    assert (ls <= 0).all()
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-5)


@pytest.mark.parametrize("errstate", ["default", "raise"])
def test_softmax_extreme_rows(errstate):
    x = Tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 1e4]])
    ctx = (np.errstate(over="raise", invalid="raise", divide="raise") if errstate == "raise"
           else np.errstate())
    with ctx, warnings.catch_warnings():
        warnings.simplefilter("error")
        p = x.softmax()
        ls = x.log_softmax(axis=1)
    assert p.tolist()[0] == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(p.numpy()[1:], 1.0 / 3.0, rtol=1e-6)
    assert ls.tolist()[0] == [0.0, -20000.0, -10000.0]
    assert np.isfinite(ls.numpy()).all()


def test_softmax_default_axis_is_last_and_shift_invariant():
    x = Tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert_close(x.softmax(), x.softmax(axis=1))
    assert_close(x.softmax(axis=0).numpy().sum(axis=0), np.ones(3))
    assert_close((x + 100.0).softmax(), x.softmax())
    assert_close(Tensor([0.0, 0.0]).softmax(), [0.5, 0.5])
