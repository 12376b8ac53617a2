"""The one dtype-promotion rule (``dtypes.py``) in every op that combines two operands.

Exact values, not only dtypes: a float64 result computed from a float32 copy of an operand
has the right dtype and the wrong digits. Each test carries its lesson exercise's name
(``binary_op``, ``compare_op``, ``pow_op``, ``matmul``, ``where``, ``reduction``, ``softmax``)
so ``tito test tensor -k <exercise>`` runs it with the exercise it checks.
"""

import operator

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor, matmul, maximum, minimum, where
from tinytorch.core.tensor.dtypes import result_dtype, scalar_dtype

f16, f32, f64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
i32, i64, u8, b = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.uint8), np.dtype(bool)

# (a, b, result): PyTorch's torch.promote_types for these pairs
TABLE = [
    (f32, i64, f32), (i64, f32, f32), (f16, i64, f16), (f32, f64, f64), (f64, f32, f64),
    (f16, f32, f32), (i32, i64, i64), (u8, i32, i32), (b, i32, i32), (b, f16, f16),
    (b, b, b), (f32, f32, f32), (i64, f64, f64),
]


@pytest.mark.parametrize("a, b, expected", TABLE, ids=lambda d: str(d))
def test_result_dtype_floats_win_and_keep_their_width(a, b, expected):
    assert result_dtype(a, b) == expected


def test_scalar_dtype_is_weak_within_a_category():
    assert scalar_dtype(0.5, f64) == f64 and scalar_dtype(0.5, f16) == f16
    assert scalar_dtype(0.5, i32) == f32 and scalar_dtype(0.5, b) == f32
    assert scalar_dtype(2, i32) == i32 and scalar_dtype(2, f64) == f64 and scalar_dtype(2, b) == i64
    assert scalar_dtype(True, b) == b and scalar_dtype(np.float64(1.5), f32) == f32
    with pytest.raises(TypeError, match="complex"):
        scalar_dtype(1.0, np.complex64)


# ----------------------------------------------------------------------------- + - * /
@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("a, b, expected", [t for t in TABLE if b not in t[:2]],
                         ids=lambda d: str(d))
def test_binary_op_dtype_follows_the_promotion_rule(op, a, b, expected):
    x = np.array([1, 2, 3]).astype(a)
    y = np.array([4, 2, 1]).astype(b)
    out = op(Tensor(x, dtype=a), Tensor(y, dtype=b))
    want = expected if op is not operator.truediv or expected.kind == "f" else f32
    assert out.dtype == want
    # computed in that dtype: exactly what numpy gives on operands cast to it first
    np.testing.assert_array_equal(out.numpy(), op(x.astype(want), y.astype(want)).astype(want))


def test_binary_op_true_division_of_integers_is_float32():
    out = Tensor([1, 2, 3]) / Tensor(np.array([2, 2, 2], dtype=np.int32))
    assert out.dtype == f32 and out.tolist() == [0.5, 1.0, 1.5]
    assert (Tensor([True, False]) / 2).dtype == f32


def test_binary_op_python_numbers_are_weak():
    i = Tensor(np.array([1, 2, 3], dtype=np.int32))
    assert (i * 2).dtype == i32 and (2 * i).tolist() == [2, 4, 6]
    assert (i * 0.5).dtype == f32 and (i * 0.5).tolist() == [0.5, 1.0, 1.5]
    t = Tensor([True, False])
    assert (t + 1).dtype == i64 and (t + 1).tolist() == [2, 1]
    assert (t * 1.5).dtype == f32 and (t + True).dtype == b
    h = Tensor([1.0], dtype=np.float16)
    assert (h * 0.5).dtype == f16 and (h * np.float64(0.5)).dtype == f16
    d = Tensor([1.0], dtype=np.float64)
    assert (d + 0.1).numpy()[0] == 1.0 + 0.1  # the number is not rounded to float32 first
    assert (d + [0.1]).numpy()[0] == 1.0 + 0.1 and (d + [0.1]).dtype == f64  # nor a list
    assert (Tensor([1, 2]) + [0.5, 0.25]).dtype == f32


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv],
                         ids=lambda f: f.__name__)
def test_binary_op_float64_array_operand_keeps_float64_precision(op):
    x = np.array([1.0, 1e-3, 3.0])
    arr = np.array([0.1, 1e8 + 0.3, 1 / 3])  # none of these is a float32
    for t in (Tensor(x, dtype=np.float64), Tensor(x.astype(np.float32))):
        out, back = op(t, arr), op(arr, t)  # both sides: __op__ and __rop__
        assert isinstance(back, Tensor) and out.dtype == back.dtype == f64
        np.testing.assert_array_equal(out.numpy(), op(t.numpy().astype(np.float64), arr))
        np.testing.assert_array_equal(back.numpy(), op(arr, t.numpy().astype(np.float64)))


def test_binary_op_array_operand_is_copied():
    arr = np.array([1.0, 2.0])
    x = Tensor([1.0, 1.0], dtype=np.float64, requires_grad=True)
    y = x * arr
    arr[:] = 100.0  # changing the array afterwards changes neither the result nor the graph
    assert y.tolist() == [1.0, 2.0] and y.grad_fn.inputs[1].tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------- compare
def test_compare_op_float64_array_operand_is_compared_in_float64():
    x = Tensor([0.1, 0.2], dtype=np.float64)
    assert (x == np.array([0.1, 0.2])).tolist() == [True, True]  # a float32 copy would differ
    assert (x < np.array([0.1, 0.3])).tolist() == [False, True]
    assert (x >= [0.1, 0.2]).tolist() == [True, True]


def test_compare_op_floordiv_and_mod_follow_the_promotion_rule():
    f = Tensor([7.0, -7.0])
    i = Tensor([2, 2])
    assert (f // i).dtype == f32 and (f // i).tolist() == [3.0, -4.0]
    assert (i % Tensor([2.0, 3.0], dtype=np.float64)).dtype == f64
    assert (Tensor([7, 8], dtype=np.int32) // 2).dtype == i32


# ----------------------------------------------------------------------------- pow
def test_pow_op_dtype_follows_the_promotion_rule():
    assert (Tensor([2.0]) ** Tensor([3])).dtype == f32
    assert (Tensor([4]) ** 0.5).dtype == f32 and (Tensor([4]) ** 0.5).tolist() == [2.0]
    assert (Tensor([3]) ** 2).dtype == i64 and (Tensor([3]) ** 2).tolist() == [9]
    d = Tensor([2.0], dtype=np.float64)
    assert (d ** np.array([0.1])).numpy()[0] == 2.0 ** 0.1
    assert (np.array([0.1]) ** Tensor([2.0])).numpy()[0] == 0.1 ** 2.0


def test_pow_op_integer_to_a_negative_integer_power_is_refused_clearly():
    with pytest.raises(ValueError, match="negative integer powers"):
        Tensor([2, 3]) ** -1
    assert (Tensor([2, 4]) ** -1.0).tolist() == [0.5, 0.25]  # a float exponent is fine


# ----------------------------------------------------------------------------- matmul
def test_matmul_dtype_follows_the_promotion_rule():
    a = Tensor([[1.5, 2.0], [0.0, 1.0]])
    k = Tensor([[1, 2], [3, 4]])
    out = a @ k
    assert out.dtype == f32 and out.tolist() == [[7.5, 11.0], [3.0, 4.0]]
    assert (k @ a).dtype == f32 and (k @ k).dtype == i64
    assert (a @ Tensor(np.eye(2), dtype=np.float64)).dtype == f64
    assert matmul(np.eye(2), k).dtype == f64  # the function form keeps the array's dtype


def test_matmul_float64_array_operand_keeps_float64_precision():
    x = Tensor([[1.0, 1.0]], dtype=np.float64)
    w = np.array([[0.1], [0.2]])
    assert (x @ w).dtype == f64 and (x @ w).numpy()[0, 0] == 0.1 + 0.2
    col = Tensor([[1.0], [1.0]], dtype=np.float64)
    assert (w.reshape(1, 2) @ col).numpy()[0, 0] == 0.1 + 0.2  # the reflected form too


# ----------------------------------------------------------------------------- where, min/max
def test_where_follows_the_promotion_rule():
    c = np.array([True, False, True])
    x64 = Tensor([1.0, 2.0, 3.0], dtype=np.float64)
    arr = np.array([0.1, 0.2, 0.3])
    out = where(c, x64, arr)
    assert out.dtype == f64 and out.numpy().tolist() == [1.0, 0.2, 3.0]
    assert where(c, arr, 0.0).dtype == f64 and where(c, arr, 0.0).numpy()[0] == 0.1
    assert where(c, 0.0, arr).numpy()[1] == 0.2
    assert where(c, Tensor([1.0, 2.0, 3.0]), Tensor([1, 2, 3])).dtype == f32
    assert where(c, Tensor([1, 2, 3]), 1.5).dtype == f32
    assert where(c, Tensor([1, 2, 3], dtype=np.int32), 7).dtype == i32
    assert where(c, 1, 2.5).dtype == f32


def test_maximum_minimum_follow_the_promotion_rule():
    x = Tensor([0.1, 5.0], dtype=np.float64)
    assert x.maximum(np.array([0.2, 0.3])).numpy().tolist() == [0.2, 5.0]
    assert minimum(x, np.array([0.05, 9.0])).numpy().tolist() == [0.05, 5.0]
    assert maximum(Tensor([1.5, 0.0]), Tensor([1, 1])).dtype == f32
    assert maximum(np.array([0.1]), Tensor([0.0])).dtype == f64


# ----------------------------------------------------------------------------- reductions
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("keep", [False, True])
def test_reduction_of_a_0d_tensor_accepts_axis_0_and_minus_1(axis, keep):
    x = Tensor(3.0)
    for name, want in (("sum", 3.0), ("mean", 3.0), ("max", 3.0), ("min", 3.0), ("var", 0.0),
                       ("std", 0.0)):
        out = getattr(x, name)(axis=axis, keepdims=keep)
        assert out.shape == () and out.item() == want, name
    assert x.sum(dim=axis, keepdim=keep).item() == 3.0
    assert Tensor(3).sum(axis=axis).dtype == i64
    if not isinstance(axis, tuple):
        assert x.argmax(axis).item() == 0 and x.argmin(dim=axis).item() == 0
        assert x.argmax(axis).dtype == i64
    assert Tensor(2.0).any(axis).item() is True and Tensor(0.0).all(axis).item() is False


@pytest.mark.parametrize("axis", [1, -2, (0, 1)])
def test_reduction_of_a_0d_tensor_refuses_other_axes(axis):
    for name in ("sum", "mean", "max", "var", "std", "argmax", "any"):
        with pytest.raises(ValueError, match=rf"{name}: .*(out of range|repeated)"):
            getattr(Tensor(3.0), name)(axis)


def test_reduction_mean_of_bool_and_int_tensors_is_a_float32_true_division():
    hits = Tensor([True, False, True, True])
    assert hits.mean().dtype == f32 and hits.mean().item() == 0.75
    assert Tensor([[1, 2], [4, 4]]).mean(axis=1).tolist() == [1.5, 4.0]
    assert Tensor([1, 2, 3, 4]).var().dtype == f32


def test_reduction_std_is_its_own_op_and_matches_numpy():
    x = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]], dtype=np.float32)
    for ddof in (0, 1):
        out = Tensor(x).std(axis=1, ddof=ddof)
        np.testing.assert_allclose(out.numpy(), np.std(x, axis=1, ddof=ddof), rtol=1e-6)
        assert out.dtype == f32
    assert Tensor(x, requires_grad=True).std().grad_fn.op == "std"


def test_softmax_of_a_0d_tensor_along_axis_0_or_minus_1():
    for axis in (0, -1):
        assert Tensor(3.0).softmax(axis).item() == 1.0
        assert Tensor(3.0).log_softmax(axis=axis).item() == 0.0
    with pytest.raises(ValueError, match="softmax: axis 1 is out of range"):
        Tensor(3.0).softmax(1)


def test_shape_op_swapaxes_and_squeeze_of_a_0d_tensor():
    x = Tensor(3.0)
    assert x.transpose(0, -1).shape == () and x.swapaxes(-1, 0).item() == 3.0
    assert x.squeeze(0).shape == ()
    with pytest.raises(ValueError, match="out of range"):
        x.swapaxes(0, 1)
