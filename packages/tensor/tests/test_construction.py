"""Building tensors: dtypes, copies vs sharing, conversions, printing, and refused inputs."""

import numpy as np
import pytest
from hypothesis import given, settings

from tinytorch.core.tensor import Tensor, as_tensor, from_numpy, tensor, where
from tinytorch.core.tensor.testing import float_arrays, int_arrays, shapes

PROPS = settings(max_examples=30, deadline=None)


# ----------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(
    "data, dtype",
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([1, 2.5], np.float32),
        ([[1.0], [2.0]], np.float32),
        ((1.0, 2.0), np.float32),
        (np.array([1.0, 2.0]), np.float32),  # float64 arrays become float32
        (np.float64(2.0), np.float32),
        (7, np.int64),
        ([[1, 2], [3, 4]], np.int64),
        (True, np.bool_),
        ([True, False], np.bool_),
        (np.array([1, 2], dtype=np.int32), np.int32),
        (np.array([1.0], dtype=np.float16), np.float16),
        (np.array([1.0], dtype=np.float32), np.float32),
        ([], np.float32),
    ],
)
def test_default_dtypes(data, dtype):
    assert Tensor(data).dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, "float64", np.float16, np.int32, "int64", bool])
def test_explicit_dtype_is_honoured(dtype):
    t = Tensor([1.0, 0.0, 3.0], dtype=dtype)
    assert t.dtype == np.dtype(dtype)
    assert t.tolist() == np.array([1.0, 0.0, 3.0], dtype=dtype).tolist()


def test_explicit_float64_keeps_float64_array():
    a = np.array([0.1, 0.2])
    t = Tensor(a, dtype=np.float64)
    assert t.dtype == np.float64
    assert t.numpy()[0] == 0.1


@pytest.mark.parametrize("dtype", [str, object, np.complex64, "U3"])
def test_non_numeric_dtype_refused(dtype):
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1.0], dtype=dtype)


@PROPS
@given(float_arrays())
def test_values_survive_construction(a):
    t = Tensor(a)
    assert t.shape == a.shape
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy(), a)


@PROPS
@given(int_arrays())
def test_int_arrays_stay_int(a):
    t = Tensor(a)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.numpy(), a)


# ----------------------------------------------------------------------------- copy vs share
def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t = Tensor(a)
    a[0] = 99.0
    assert t.tolist() == [1.0, 2.0, 3.0]
    t.data[1] = -1.0
    assert a[1] == 2.0


def test_tensor_of_tensor_copies():
    t = Tensor([1.0, 2.0])
    u = Tensor(t)
    u.data[0] = 5.0
    assert t.tolist() == [1.0, 2.0]
    assert tensor(t).tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory_and_keeps_dtype():
    a = np.array([1.0, 2.0, 3.0])  # float64
    t = from_numpy(a)
    assert t.dtype == np.float64
    assert t.numpy() is a
    a[0] = 10.0
    assert t.tolist()[0] == 10.0
    t.data[2] = -3.0
    assert a[2] == -3.0
    assert not t.requires_grad and t.grad_fn is None


@pytest.mark.parametrize("bad, err", [([1.0, 2.0], TypeError), (np.array(["a"]), TypeError)])
def test_from_numpy_refuses_non_arrays(bad, err):
    with pytest.raises(err, match="from_numpy"):
        from_numpy(bad)


def test_as_tensor_returns_same_object_when_possible():
    t = Tensor([1.0, 2.0])
    assert as_tensor(t) is t
    assert as_tensor(t, dtype=np.float32) is t
    u = as_tensor(t, dtype=np.float64)
    assert u is not t and u.dtype == np.float64
    assert as_tensor([1, 2]).dtype == np.int64


def test_numpy_shares_the_array():
    t = Tensor([1.0, 2.0])
    t.numpy()[0] = 7.0
    assert t.tolist() == [7.0, 2.0]
    assert np.asarray(t) is t.data
    assert np.array(t).dtype == np.float32
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


# ----------------------------------------------------------------------------- scalars don't promote
@pytest.mark.parametrize(
    "op",
    [
        lambda x: x * 0.5,
        lambda x: 0.5 * x,
        lambda x: x + 1,
        lambda x: 1.5 + x,
        lambda x: x - 2.0,
        lambda x: 2.0 - x,
        lambda x: x / 3.0,
        lambda x: 3.0 / x,
        lambda x: x ** 2,
        lambda x: x ** 0.5,
        lambda x: 2.0 ** x,
        lambda x: x * np.float64(0.5),
        lambda x: np.float64(0.5) * x,
        lambda x: x + np.float64(1.0),
        lambda x: np.float64(1.0) - x,
        lambda x: x / np.float64(4.0),
        lambda x: x * np.int64(3),
        lambda x: x.maximum(0.5),
        lambda x: x.minimum(np.float64(0.5)),
        lambda x: x.clip(0.0, 1.0),
        lambda x: where(x > 1.5, x, 0.0),
        lambda x: x @ np.ones((3, 2), dtype=np.float32),
        lambda x: np.ones((2, 2), dtype=np.float32) @ x,
        lambda x: x + np.ones(3, dtype=np.float32),
        lambda x: x + [1.0, 2.0, 3.0],
        lambda x: x * np.arange(3),
        lambda x: x.mean(),
    ],
)
def test_python_and_numpy_scalars_keep_float32(op):
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = op(x)
    assert isinstance(out, Tensor)
    assert out.dtype == np.float32


def test_scalars_keep_float64_too():
    x = Tensor([1.0, 2.0], dtype=np.float64)
    assert (x * 0.5).dtype == np.float64
    assert (np.float32(2.0) * x).dtype == np.float64


def test_int_tensor_promotion():
    i = Tensor([1, 2, 3])
    assert (i + 1).dtype == np.int64
    assert (i * 2).tolist() == [2, 4, 6]
    assert (i * 0.5).dtype == np.float32
    assert (i * 0.5).tolist() == [0.5, 1.0, 1.5]
    assert (i / 2).dtype == np.float32
    assert (i / 2).tolist() == [0.5, 1.0, 1.5]
    assert (i * Tensor([0.5, 0.5, 0.5])).dtype == np.float32
    assert (Tensor([0.5, 0.5, 0.5]) - i).dtype == np.float32
    assert (i * Tensor([1.0], dtype=np.float64)).dtype == np.float64
    assert i.mean().dtype == np.float32


@PROPS
@given(float_arrays(), float_arrays(shape=()))
def test_ndarray_with_tensor_returns_tensor(a, s):
    t = Tensor(a)
    for out, ref in [
        (a + t, a + a),
        (a - t, a - a),
        (a * t, a * a),
        (s + t, s + a),
        (s * t, s * a),
    ]:
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    # an array is a tensor in its own dtype (PyTorch's rule): float64 wins over float32
    wide = a.astype(np.float64) + t
    assert wide.dtype == np.float64
    np.testing.assert_array_equal(wide.numpy(), a.astype(np.float64) + a.astype(np.float64))


# ----------------------------------------------------------------------------- sizes and conversion
def test_size_is_an_int_and_callable():
    t = Tensor(np.zeros((2, 3, 4)))
    assert t.size == 24
    assert isinstance(t.size, int)
    assert t.size + 1 == 25
    assert t.size() == (2, 3, 4)
    assert t.size(0) == 2 and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24 and t.dim() == 3 and t.ndim == 3
    assert t.shape == (2, 3, 4) and len(t) == 2
    assert Tensor(5.0).size == 1 and Tensor(5.0).size() == ()


@PROPS
@given(shapes())
def test_size_matches_numpy(shape):
    t = Tensor(np.zeros(shape))
    assert t.size == int(np.prod(shape)) and t.size() == shape and t.ndim == len(shape)
    for d in range(len(shape)):
        assert t.size(d) == shape[d]


def test_item():
    assert Tensor([[3.5]]).item() == 3.5
    assert isinstance(Tensor([[3.5]]).item(), float)
    assert Tensor(4).item() == 4 and isinstance(Tensor(4).item(), int)
    assert isinstance(Tensor(True).item(), bool)
    with pytest.raises(ValueError, match=r"one element.*\(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_tolist_float_int_bool():
    assert Tensor([[1.0, 2.5]]).tolist() == [[1.0, 2.5]]
    assert Tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert Tensor(2.0).tolist() == 2.0
    assert float(Tensor([2.5])) == 2.5 and int(Tensor([7])) == 7
    assert bool(Tensor([1.0])) and not bool(Tensor(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_len_and_iteration():
    t = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, Tensor) for r in rows)
    assert [r.tolist() for r in rows] == t.tolist()
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    with pytest.raises(TypeError):
        iter(Tensor(1.0))


def test_astype_and_named_casts():
    t = Tensor([1.7, -2.2])
    d = t.astype(np.float64)
    assert d.dtype == np.float64 and d is not t
    d.data[0] = 0.0
    assert t.tolist()[0] == pytest.approx(1.7)  # a copy
    assert t.astype("int32").dtype == np.int32
    assert t.astype(np.int64).tolist() == [1, -2]
    assert t.to(np.float16).dtype == np.float16
    assert t.double().dtype == np.float64
    assert Tensor([1, 2]).float().dtype == np.float32
    assert t.long().dtype == np.int64 and t.long().tolist() == [1, -2]


def test_repr():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor([1, 2])) == "Tensor([1, 2])"
    assert repr(Tensor([1.0], dtype=np.float64)) == "Tensor([1.], dtype=float64)"
    assert repr(Tensor([1.0], requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    assert repr(Tensor([1.0], requires_grad=True) * 2) == "Tensor([2.], grad_fn=<mul>)"
    assert str(Tensor(3.0)) == "Tensor(3.)"
    assert "\n" in repr(Tensor([[1.0, 2.0], [3.0, 4.0]]))


def test_tensor_factory_function():
    t = tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad


# ----------------------------------------------------------------------------- refused inputs
@pytest.mark.parametrize(
    "data, match",
    [
        ([[1, 2], [3]], r"ragged.*\[1\].*length 1.*\[0\].*length 2"),
        ([[1, 2], [3, 4, 5]], r"ragged.*\[1\]"),
        ([1, [2, 3]], r"ragged.*\[1\]"),
        ([[[1, 2], [3, 4]], [[1, 2], [3]]], r"ragged.*\[1\]\[1\]"),
    ],
)
def test_ragged_lists_refused(data, match):
    with pytest.raises(ValueError, match=match):
        Tensor(data)
    with pytest.raises(ValueError, match="ragged"):
        Tensor(data, dtype=np.float32)


@pytest.mark.parametrize(
    "data, match",
    [
        ("abc", "str"),
        (b"abc", "bytes"),
        (None, "NoneType"),
        ({1: 2}, "dict"),
        (object(), "object"),
        ([1.0, "a"], r"\[1\].*str"),
        ([[1.0], [object()]], r"\[1\]\[0\].*object"),
        ([1 + 2j], "complex"),
        (np.array(["a", "b"]), "numeric"),
        (np.array([1, None], dtype=object), "numeric"),
    ],
)
def test_non_numbers_refused_with_a_message(data, match):
    with pytest.raises(TypeError, match=match) as info:
        Tensor(data)
    assert str(info.value).startswith("Tensor()")


def test_requires_grad_on_integers_refused():
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        Tensor([True], requires_grad=True)
    assert Tensor([1.0], requires_grad=True).requires_grad
