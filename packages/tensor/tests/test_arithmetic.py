"""Operators against numpy: + - * / ** // %, reflected forms, comparisons, broadcasting, matmul."""

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.tensor import Tensor, matmul
from tinytorch.core.tensor.testing import broadcastable_arrays, float_arrays, int_arrays

PROPS = settings(max_examples=40, deadline=None)

ARITH = [operator.add, operator.sub, operator.mul, operator.truediv]
COMPARE = [operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge]


def _check(out, ref, rtol=1e-6):
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref)
    assert out.dtype == np.asarray(ref).dtype, (out.dtype, np.asarray(ref).dtype)
    np.testing.assert_allclose(out.numpy(), ref, rtol=rtol, atol=1e-6)


# ----------------------------------------------------------------------------- + - * /
@pytest.mark.parametrize("op", ARITH, ids=lambda f: f.__name__)
@PROPS
@given(pair=broadcastable_arrays(min_magnitude=0.5))
def test_binary_op_matches_numpy_with_broadcasting(op, pair):
    a, b = pair
    ref = op(a, b)
    _check(op(Tensor(a), Tensor(b)), ref)
    _check(op(Tensor(a), b), ref)  # the ndarray operand is lifted
    _check(op(a, Tensor(b)), ref)  # ndarray (op) Tensor: the reflected method answers


@pytest.mark.parametrize("op", ARITH, ids=lambda f: f.__name__)
@PROPS
@given(a=float_arrays(min_magnitude=0.5), s=st.floats(-4, 4).filter(lambda v: abs(v) > 0.25))
def test_binary_op_scalar_and_reflected_scalar(op, a, s):
    s32 = np.float32(s)
    _check(op(Tensor(a), s), op(a, s32))
    _check(op(s, Tensor(a)), op(s32, a))  # __radd__, __rsub__, __rmul__, __rtruediv__
    _check(op(Tensor(a), np.float64(s)), op(a, s32))
    _check(op(np.float64(s), Tensor(a)), op(s32, a))


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul], ids=lambda f: f.__name__)
@PROPS
@given(a=int_arrays(), k=st.integers(-5, 5))
def test_binary_op_int_tensors_stay_int(op, a, k):
    _check(op(Tensor(a), k), op(a, np.int64(k)))
    _check(op(k, Tensor(a)), op(np.int64(k), a))
    _check(op(Tensor(a), Tensor(a)), op(a, a))


def test_binary_op_sub_and_div_are_not_commutative():
    x = Tensor([4.0, 9.0])
    assert (x - 1).tolist() == [3.0, 8.0] and (1 - x).tolist() == [-3.0, -8.0]
    assert (x / 2).tolist() == [2.0, 4.5] and (36 / x).tolist() == [9.0, 4.0]


@PROPS
@given(pair=broadcastable_arrays(min_magnitude=0.5))
def test_compare_op_floordiv_and_mod_match_numpy(pair):
    a, b = pair
    _check(Tensor(a) // Tensor(b), a // b)
    _check(Tensor(a) % Tensor(b), a % b)
    _check(a // Tensor(b), a // b)
    _check(a % Tensor(b), a % b)
    _check(7 // Tensor([2, 3]), np.array([3, 2]))
    _check(7 % Tensor([2, 3]), np.array([1, 1]))


# ----------------------------------------------------------------------------- **
@PROPS
@given(pair=broadcastable_arrays(max_dims=3, low=0.1, high=4.0))
def test_pow_op_tensor_tensor_matches_numpy(pair):
    base, exponent = pair
    ref = np.power(base, exponent)
    _check(Tensor(base) ** Tensor(exponent), ref, rtol=1e-5)
    _check(base ** Tensor(exponent), ref, rtol=1e-5)  # ndarray ** Tensor -> __rpow__
    _check(Tensor(base) ** exponent, ref, rtol=1e-5)


@PROPS
@given(a=float_arrays(low=-5, high=5), k=st.sampled_from([0, 1, 2, 3, -1, -2]))
def test_pow_op_integer_exponent_any_sign_base(a, k):
    if k < 0:
        a = np.where(np.abs(a) < 0.5, np.float32(0.5), a)
    _check(Tensor(a) ** k, a ** np.float32(k), rtol=1e-5)
    _check(Tensor(a) ** np.int64(k), a ** np.float32(k), rtol=1e-5)


@PROPS
@given(a=float_arrays(low=-3, high=3), base=st.floats(0.5, 3.0))
def test_pow_op_rpow_scalar_base(a, base):
    _check(base ** Tensor(a), np.float32(base) ** a, rtol=1e-5)


def test_pow_op_fractional_exponent_and_reflected():
    x = Tensor([4.0, 9.0, 16.0])
    assert (x ** 0.5).tolist() == [2.0, 3.0, 4.0]
    assert (2 ** Tensor([1.0, 3.0])).tolist() == [2.0, 8.0]


# ----------------------------------------------------------------------------- unary operators
@PROPS
@given(a=float_arrays())
def test_unary_math_neg_pos_abs_operators(a):
    t = Tensor(a)
    _check(-t, -a)
    assert +t is t
    _check(abs(t), np.abs(a))
    _check(-Tensor(a.astype(np.int64)), -a.astype(np.int64))


def test_compare_op_bool_logic_operators():
    p, q = Tensor([True, True, False, False]), Tensor([True, False, True, False])
    assert (p & q).tolist() == [True, False, False, False]
    assert (p | q).tolist() == [True, True, True, False]
    assert (~p).tolist() == [False, False, True, True]
    assert (~Tensor([0, 5])).tolist() == [-1, -6]


# ----------------------------------------------------------------------------- comparisons
@pytest.mark.parametrize("op", COMPARE, ids=lambda f: f.__name__)
@PROPS
@given(pair=broadcastable_arrays(low=-3, high=3))
def test_compare_op_matches_numpy(op, pair):
    a, b = np.round(pair[0]), np.round(pair[1])  # rounding makes ties common
    ref = op(a, b)
    for out in (op(Tensor(a), Tensor(b)), op(Tensor(a), b), op(a, Tensor(b))):
        assert isinstance(out, Tensor) and out.dtype == np.bool_
        np.testing.assert_array_equal(out.numpy(), ref)


@pytest.mark.parametrize("op", COMPARE, ids=lambda f: f.__name__)
def test_compare_op_with_scalars_both_sides(op):
    a = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    for s in (0.0, 0.5, 2, np.float64(-1.0)):
        np.testing.assert_array_equal(op(Tensor(a), s).numpy(), op(a, s))
        np.testing.assert_array_equal(op(s, Tensor(a)).numpy(), op(s, a))


def test_compare_op_examples():
    x = Tensor([1.0, 2.0, 3.0])
    assert (x < 2).tolist() == [True, False, False]
    assert (x > 2).tolist() == [False, False, True]
    assert (x < Tensor([2.0, 2.0, 4.0])).tolist() == [True, False, True]
    assert (x > Tensor([[0.0], [2.0]])).tolist() == [[True, True, True], [False, False, True]]
    assert (x == 2).tolist() == [False, True, False]
    assert (x != 2).tolist() == [True, False, True]


# ----------------------------------------------------------------------------- broadcasting
@PROPS
@given(pair=broadcastable_arrays())
def test_binary_op_result_shape_is_the_broadcast_shape(pair):
    a, b = pair
    expected = np.broadcast_shapes(a.shape, b.shape)
    for out in (Tensor(a) + Tensor(b), Tensor(b) * Tensor(a)):
        assert out.shape == expected


@PROPS
@given(pair=broadcastable_arrays())
def test_compare_op_result_shape_is_the_broadcast_shape(pair):
    a, b = pair
    expected = np.broadcast_shapes(a.shape, b.shape)
    for out in (Tensor(a) < Tensor(b), Tensor(a).maximum(Tensor(b))):
        assert out.shape == expected


# the ids name the exercise each case checks, so `-k binary_op` selects the first four
BROADCAST_FAILURES = [("binary_op", operator.add, "add"), ("binary_op", operator.sub, "sub"),
                      ("binary_op", operator.mul, "mul"), ("binary_op", operator.truediv, "div"),
                      ("pow_op", operator.pow, "pow"), ("compare_op", operator.lt, "lt"),
                      ("compare_op", operator.gt, "gt"), ("compare_op", operator.eq, "eq")]


@pytest.mark.parametrize("op, name", [c[1:] for c in BROADCAST_FAILURES],
                         ids=[f"{c[0]}-{c[2]}" for c in BROADCAST_FAILURES])
def test_broadcast_failure_names_both_shapes(op, name):
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError) as info:
        op(a, b)
    msg = str(info.value)
    assert msg.startswith(name)
    assert "(2, 3)" in msg and "(4, 3)" in msg
    assert "dimension -2: 2 vs 4" in msg


def test_binary_op_broadcast_failure_from_numpy_side():
    # the operands are named in the order they were written
    with pytest.raises(ValueError, match=r"add: shapes \(4,\) and \(3,\)"):
        np.ones(4) + Tensor(np.ones(3))


# ----------------------------------------------------------------------------- matmul
@st.composite
def matmul_operands(draw):
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["2d", "vec-mat", "mat-vec", "vec-vec", "batch", "vec-batch",
                                 "batch-vec"]))
    batch_a, batch_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                              max_side=3)).input_shapes
    shape_a = {"2d": (n, k), "vec-mat": (k,), "mat-vec": (n, k), "vec-vec": (k,),
               "batch": batch_a + (n, k), "vec-batch": (k,), "batch-vec": batch_a + (n, k)}[kind]
    shape_b = {"2d": (k, m), "vec-mat": (k, m), "mat-vec": (k,), "vec-vec": (k,),
               "batch": batch_b + (k, m), "vec-batch": batch_b + (k, m), "batch-vec": (k,)}[kind]
    return draw(float_arrays(shape_a)), draw(float_arrays(shape_b))


@PROPS
@given(operands=matmul_operands())
def test_matmul_matches_numpy(operands):
    a, b = operands
    ref = np.matmul(a, b)
    _check(Tensor(a) @ Tensor(b), ref, rtol=1e-5)
    _check(Tensor(a).matmul(b), ref, rtol=1e-5)
    _check(matmul(a, Tensor(b)), ref, rtol=1e-5)
    _check(a @ Tensor(b), ref, rtol=1e-5)  # __rmatmul__


def test_matmul_small_example():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    assert (a @ a).tolist() == [[7.0, 10.0], [15.0, 22.0]]
    assert (a @ Tensor([1.0, 1.0])).tolist() == [3.0, 7.0]
    assert (Tensor([1.0, 1.0]) @ Tensor([2.0, 3.0])).item() == 5.0


def test_matmul_mismatch_names_shapes_and_dimension():
    with pytest.raises(ValueError) as info:
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    msg = str(info.value)
    assert "(2, 3)" in msg and "(4, 5)" in msg
    assert "dimension 1 of the first (3)" in msg and "dimension 0 of the second (4)" in msg


def test_matmul_vector_and_batch_mismatches():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4, 2\)"):
        Tensor(np.ones(3)) @ Tensor(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"\(2, 5, 3\).*\(4,\).*dimension 2 of the first \(3\)"):
        Tensor(np.ones((2, 5, 3))) @ Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"batch.*\(2,\).*\(3,\)"):
        Tensor(np.ones((2, 4, 3))) @ Tensor(np.ones((3, 3, 5)))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        Tensor(2.0) @ Tensor(np.ones(3))


def test_matmul_mismatch_dimension_numbers_exact():
    # PyTorch-style: the contracted dimension of each operand, counted from 0
    cases = [((2, 3), (4,), 1, 0), ((3,), (2, 4, 5), 0, 1), ((5, 2, 3), (5, 4, 2), 2, 1),
             ((3,), (4,), 0, 0), ((1, 2, 3, 4), (5, 6), 3, 0)]
    for sa, sb, da, db in cases:
        with pytest.raises(ValueError) as info:
            Tensor(np.ones(sa)) @ Tensor(np.ones(sb))
        msg = str(info.value)
        assert f"dimension {da} of the first ({sa[-1]})" in msg, msg
        kb = sb[0] if len(sb) == 1 else sb[-2]
        assert f"dimension {db} of the second ({kb})" in msg, msg


def test_pow_op_integer_tensors_to_the_power_zero_and_up():
    # only a negative integer exponent is refused: 0 is fine (x ** 0 == 1, 0 ** 0 == 1)
    x = Tensor(np.array([0, 2, -3], dtype=np.int64))
    assert (x ** 0).tolist() == [1, 1, 1] and (x ** 0).dtype == np.int64
    assert (x ** Tensor(np.array([0, 1, 2]))).tolist() == [1, 2, 9]
    with pytest.raises(ValueError, match="negative integer powers"):
        x ** Tensor(np.array([0, -1, 2]))
