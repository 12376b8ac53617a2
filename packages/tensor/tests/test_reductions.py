"""Reductions against numpy: axis as None / int / negative int / tuple, keepdims, dim=/keepdim=."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.testing import axes_for, float_arrays, int_arrays, shapes

PROPS = settings(max_examples=40, deadline=None)


@st.composite
def array_and_axes(draw, min_dims=0, elements=None):
    a = draw(float_arrays(shapes(min_dims=min_dims)) if elements is None else elements)
    return a, draw(axes_for(a.ndim)), draw(st.booleans())


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@PROPS
@given(aak=array_and_axes())
def test_reductions_match_numpy(name, aak):
    a, axis, keep = aak
    ref = getattr(np, name)(a, axis=axis, keepdims=keep)
    out = getattr(Tensor(a), name)(axis=axis, keepdims=keep)
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5, atol=1e-5)
    # PyTorch's spelling gives the same answer
    torch_style = getattr(Tensor(a), name)(dim=axis, keepdim=keep)
    if name in ("max", "min") and isinstance(axis, int):
        # one int dim, PyTorch's spelling: (values, indices), as torch.max(x, dim)
        torch_style, indices = torch_style
        arg = getattr(np, "arg" + name)(a, axis=axis, keepdims=keep) if a.ndim else np.zeros(())
        np.testing.assert_array_equal(indices.numpy(), arg)
        assert indices.dtype == np.int64
    np.testing.assert_array_equal(torch_style.numpy(), out.numpy())


@pytest.mark.parametrize("name", ["sum", "max", "min"])
@PROPS
@given(aak=array_and_axes(elements=int_arrays()))
def test_integer_reductions_stay_integer(name, aak):
    a, axis, keep = aak
    out = getattr(Tensor(a), name)(axis=axis, keepdims=keep)
    np.testing.assert_array_equal(out.numpy(), getattr(np, name)(a, axis=axis, keepdims=keep))
    assert out.dtype == np.int64


def test_reduction_mean_of_ints_is_float32():
    t = Tensor([[1, 2], [3, 5]])
    assert t.mean().dtype == np.float32 and t.mean().item() == 2.75
    assert t.mean(axis=0).tolist() == [2.0, 3.5]


def test_reduction_examples():
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.sum().item() == 21.0 and x.sum().shape == ()
    assert x.sum(axis=0).tolist() == [5.0, 7.0, 9.0]
    assert x.sum(dim=1, keepdim=True).tolist() == [[6.0], [15.0]]
    assert x.mean(-1).tolist() == [2.0, 5.0]
    assert x.max(axis=(0, 1)).item() == 6.0
    assert x.min(axis=0).tolist() == [1.0, 2.0, 3.0]
    assert x.sum(axis=(-1, 0), keepdims=True).shape == (1, 1)


@pytest.mark.parametrize("ddof", [0, 1])
@PROPS
@given(aak=array_and_axes(min_dims=1))
def test_reduction_var_std_match_numpy(ddof, aak):
    a, axis, keep = aak
    n = a.size if axis is None else int(np.prod([a.shape[i] for i in np.atleast_1d(axis)]))
    if n <= ddof:
        return  # numpy would divide by zero
    ref = np.var(a, axis=axis, keepdims=keep, ddof=ddof)
    out = Tensor(a).var(axis=axis, keepdims=keep, ddof=ddof)
    assert out.dtype == np.float32 and out.shape == np.shape(ref)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(Tensor(a).std(axis, keep, ddof).numpy(), np.sqrt(ref),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(
        Tensor(a).var(dim=axis, keepdim=keep, unbiased=bool(ddof)).numpy(), out.numpy()
    )


def test_reduction_var_examples():
    x = Tensor([1.0, 2.0, 3.0, 4.0])
    assert x.var().item() == pytest.approx(1.25)
    assert x.var(ddof=1).item() == pytest.approx(5.0 / 3.0)
    assert x.var(unbiased=True).item() == pytest.approx(5.0 / 3.0)
    assert x.var(unbiased=False).item() == pytest.approx(1.25)
    assert x.std().item() == pytest.approx(1.25 ** 0.5)
    assert Tensor([[1, 3]]).var(axis=1).tolist() == [1.0]


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@PROPS
@given(data=st.data())
def test_reduction_argmax_argmin_match_numpy(name, data):
    a = np.round(data.draw(float_arrays(shapes(min_dims=1))))  # ties: the first index wins
    axis = data.draw(st.none() | st.integers(-a.ndim, a.ndim - 1))
    keep = data.draw(st.booleans())
    ref = getattr(np, name)(a, axis=axis, keepdims=keep)
    out = getattr(Tensor(a), name)(axis=axis, keepdims=keep)
    assert out.dtype == np.int64 and out.shape == np.shape(ref)
    np.testing.assert_array_equal(out.numpy(), ref)
    np.testing.assert_array_equal(getattr(Tensor(a), name)(dim=axis, keepdim=keep).numpy(), ref)


def test_reduction_argmax_examples():
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 2.0]])
    assert x.argmax().item() == 3
    assert x.argmax(axis=1).tolist() == [1, 0]
    assert x.argmax(dim=0, keepdim=True).tolist() == [[1, 0, 0]]
    assert x.argmin(-1).tolist() == [0, 1]


@PROPS
@given(a=int_arrays(low=0, high=2).map(lambda a: a.astype(bool)), axis=st.none() | st.just(0))
def test_reduction_any_all(a, axis):
    if axis is not None and a.ndim == 0:
        return
    np.testing.assert_array_equal(Tensor(a).any(axis).numpy(), np.any(a, axis=axis))
    np.testing.assert_array_equal(Tensor(a).all(axis).numpy(), np.all(a, axis=axis))


# ----------------------------------------------------------------------------- bad axes
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std"])
@pytest.mark.parametrize("axis", [2, -3, 5, (0, 2)])
def test_reduction_out_of_range_axis_names_axis_and_ndim(name, axis):
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=rf"{name}: axis -?\d+ is out of range for a tensor with 2 dimensions"):
        getattr(x, name)(axis=axis)


@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction_repeated_axes_and_both_spellings_refused(name):
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="repeated axis"):
        getattr(x, name)(axis=(1, -1))
    with pytest.raises(TypeError, match="axis= or dim="):
        getattr(x, name)(axis=0, dim=0)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_reduction_argmax_bad_axis(name):
    with pytest.raises(ValueError, match="axis 2"):
        getattr(Tensor(np.ones((2, 3))), name)(axis=2)


def test_reduction_max_of_empty_refused():
    for name in ("max", "min"):
        with pytest.raises(ValueError, match="empty"):
            getattr(Tensor(np.zeros((0, 3))), name)()


# ----------------------------------------------------------------------------- defaults, dim=
# (issue 21 part 5: mutants that flipped these defaults or ignored dim= survived)
def test_reduction_std_var_defaults_match_numpy_and_drop_the_axis():
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 9.0]], dtype=np.float32)
    x = Tensor(a)
    for name in ("var", "std"):
        ref = getattr(np, name)(a, axis=1)  # ddof 0, keepdims False
        out = getattr(x, name)(1)
        assert out.shape == (2,)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
        full = getattr(x, name)()
        assert full.shape == ()
        np.testing.assert_allclose(full.numpy(), getattr(np, name)(a), rtol=1e-6)


@pytest.mark.parametrize("name", ["var", "std"])
def test_reduction_std_var_dim_and_keepdim_spellings(name):
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 9.0]], dtype=np.float32)
    x = Tensor(a)
    ref0 = getattr(np, name)(a, axis=0)
    np.testing.assert_allclose(getattr(x, name)(dim=0).numpy(), ref0, rtol=1e-6)
    assert getattr(x, name)(dim=0).shape == (3,)
    kept = getattr(x, name)(dim=-1, keepdim=True)
    assert kept.shape == (2, 1)
    np.testing.assert_allclose(kept.numpy(), getattr(np, name)(a, axis=-1, keepdims=True),
                               rtol=1e-6)
    # PyTorch's unbiased spelling and numpy's ddof agree, also with dim=
    np.testing.assert_allclose(getattr(x, name)(dim=1, unbiased=True).numpy(),
                               getattr(np, name)(a, axis=1, ddof=1), rtol=1e-6)
    np.testing.assert_allclose(getattr(x, name)(dim=1, unbiased=False).numpy(),
                               getattr(np, name)(a, axis=1, ddof=0), rtol=1e-6)


def test_reduction_std_of_ints_is_float32():
    out = Tensor([[1, 3], [2, 2]]).std(dim=1)
    assert out.dtype == np.float32
    assert out.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("name", ["any", "all"])
def test_reduction_any_all_axis_dim_keepdims(name):
    a = np.array([[True, False, True], [True, True, True]])
    x = Tensor(a)
    f = getattr(np, name)
    for axis in (0, 1, -1):
        assert getattr(x, name)(axis=axis).tolist() == f(a, axis=axis).tolist()
        assert getattr(x, name)(dim=axis).tolist() == f(a, axis=axis).tolist()
        kept = getattr(x, name)(axis=axis, keepdims=True)
        assert kept.shape == f(a, axis=axis, keepdims=True).shape
        assert getattr(x, name)(dim=axis, keepdim=True).tolist() == kept.tolist()
    assert getattr(x, name)().shape == ()
    assert getattr(x, name)().item() == bool(f(a))
    assert Tensor(a).all(axis=1).tolist() == [False, True]
    assert Tensor(a).any(axis=0).tolist() == [True, True, True]
    assert Tensor(~a).any(axis=1).tolist() == [True, False]
    assert getattr(x, name)().requires_grad is False


def test_reduction_defaults_keep_no_dims():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    for name in ("sum", "mean", "max", "min", "var", "std", "any", "all"):
        assert getattr(x, name)(axis=0).shape == (3,), name
    for name in ("sum", "mean", "var", "std", "any", "all"):
        assert getattr(x, name)(0).shape == (3,), name
        assert getattr(x, name)(dim=1).shape == (2,), name
    for name in ("max", "min"):  # PyTorch's spelling: (values, indices), each without the dim
        assert [t.shape for t in getattr(x, name)(0)] == [(3,), (3,)], name
        assert [t.shape for t in getattr(x, name)(dim=1)] == [(2,), (2,)], name
    for name in ("argmax", "argmin"):
        assert getattr(x, name)(0).shape == (3,), name
        assert getattr(x, name)(dim=1).shape == (2,), name


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_reduction_argmax_of_several_axes_names_them(name):
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=rf"{name} takes a single axis, got \(0, 1\)"):
        getattr(x, name)(axis=(0, 1))
    with pytest.raises(TypeError, match=rf"{name} takes a single axis, got \(1, 0\)"):
        getattr(x, name)(dim=(1, 0))


@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_reduction_float64_stays_float64_and_ints_give_float32(name):
    a = np.array([[1.0, 1.0 + 2.0 ** -40], [3.0, 5.0]])  # a difference float32 cannot hold
    out = getattr(Tensor(a, dtype=np.float64), name)(axis=1)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy(), getattr(np, name)(a, axis=1))
    assert getattr(np, name)(a.astype(np.float32), axis=1)[0] != out.numpy()[0]  # float32 loses it
    assert getattr(Tensor([[1, 2], [3, 5]]), name)(axis=1).dtype == np.float32


def test_var_and_std_take_pytorchs_correction_and_unbiased():
    # the default is numpy's population variance (ddof=0); PyTorch's default is correction=1
    x = np.random.default_rng(0).standard_normal((3, 5))
    t = Tensor(x, dtype=np.float64)
    np.testing.assert_allclose(t.var(dim=1).numpy(), x.var(axis=1), rtol=1e-14)
    np.testing.assert_allclose(t.var(dim=1, correction=1).numpy(), x.var(axis=1, ddof=1), rtol=1e-14)
    np.testing.assert_allclose(t.std(unbiased=True).numpy(), x.std(ddof=1), rtol=1e-14)
    np.testing.assert_allclose(t.std(correction=2, dim=0).numpy(), x.std(axis=0, ddof=2), rtol=1e-14)
    assert t.var(correction=1).grad_fn is None  # no graph without requires_grad
    with pytest.raises(ValueError, match="unbiased= or correction=, not both"):
        t.var(unbiased=True, correction=1)
    with pytest.raises(ValueError, match="correction must be an int >= 0"):
        t.std(correction=-1)


# ----------------------------------------------------------------- max(dim) / min(dim)
def test_max_and_min_along_a_dim_return_values_and_indices_as_a_named_tuple():
    x = Tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 0.0]])
    best = x.max(1)
    assert best.values.tolist() == [5.0, 7.0] and best.indices.tolist() == [1, 0]  # first tie
    assert best.indices.dtype == np.int64 and not best.indices.requires_grad
    values, indices = x.min(dim=0, keepdim=True)
    assert values.tolist() == [[1.0, 2.0, 0.0]] and indices.tolist() == [[0, 1, 1]]
    assert type(best).__name__ == "ValuesIndices" and best._fields == ("values", "indices")
    assert x.max(-1).indices.tolist() == [1, 0]


def test_max_forms_scalar_numpy_keywords_and_elementwise():
    x = Tensor([[1.0, 5.0], [7.0, 2.0]])
    assert x.max().item() == 7.0 and x.min().shape == ()
    assert x.max(axis=1).tolist() == [5.0, 7.0]  # numpy's keyword: the values only
    assert x.min(axis=(0, 1), keepdims=True).tolist() == [[1.0]]
    assert x.max(0, keepdims=True).tolist() == [[7.0, 5.0]]  # a numpy keyword: values only
    assert x.max(Tensor([3.0, 3.0])).tolist() == [[3.0, 5.0], [7.0, 3.0]]
    assert x.min(Tensor([3.0, 3.0])).tolist() == [[1.0, 3.0], [3.0, 2.0]]


def test_max_along_a_dim_edge_cases():
    values, indices = Tensor(3.0).max(0)  # 0-d: dim 0 or -1, as in PyTorch
    assert values.item() == 3.0 and indices.item() == 0 and values.shape == ()
    nan = Tensor([[1.0, np.nan, 2.0]])
    assert nan.max(1).indices.tolist() == [1] and np.isnan(nan.max(1).values.item())
    assert Tensor([[4, 9, 2]]).max(1).values.dtype == np.int64
    assert [t.shape for t in Tensor(np.zeros((0, 3))).max(1)] == [(0,), (0,)]
    with pytest.raises(ValueError, match=r"max: dim 0 of shape \(0, 3\) is empty"):
        Tensor(np.zeros((0, 3))).max(0)
    with pytest.raises(ValueError, match=r"min: dim 2 is out of range .* shape \(2, 2\)"):
        Tensor(np.ones((2, 2))).min(2)
