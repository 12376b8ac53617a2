"""Numerics against PyTorch (issue 21, part 6): edge-case gradients, 0-d reductions, float64
operands kept in float64, and the one dtype-promotion rule (``tinytorch.core.tensor.dtypes``).

Where TinyTorch deliberately differs from PyTorch, a test says so and checks the difference
stays what the docs promise (layers cast their input where PyTorch raises, ``mean`` of an int
tensor is float32 where PyTorch raises, a 0-d tensor promotes like any tensor).
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.core.layers import Dense  # noqa: E402
from tinytorch.core.spatial import BatchNorm2d, Conv2d  # noqa: E402
from tinytorch.core.tensor import Tensor, where  # noqa: E402
from tinytorch.core.training import binary_cross_entropy_with_logits, mse_loss  # noqa: E402

pytestmark = pytest.mark.torch

NP_OF = {torch.bool: np.bool_, torch.uint8: np.uint8, torch.int32: np.int32,
         torch.int64: np.int64, torch.float16: np.float16, torch.float32: np.float32,
         torch.float64: np.float64}
TORCH_OF = {np.dtype(v): k for k, v in NP_OF.items()}


def both(x: np.ndarray, requires_grad: bool = True):
    """The same float64 data as a TinyTorch tensor and a torch tensor."""
    return (Tensor(x, dtype=x.dtype, requires_grad=requires_grad),
            torch.tensor(x, requires_grad=requires_grad))


def close(ours, theirs, **kw):
    np.testing.assert_allclose(np.asarray(ours.data if isinstance(ours, Tensor) else ours),
                               theirs.detach().numpy(), equal_nan=True, **kw)


# ----------------------------------------------------------------------------- pow gradients
def test_pow_gradients_on_a_grid_of_bases_and_exponents():
    """Every (base, exponent) pair from {-2, 0, 0.5, 2} x {-1, 0, 0.5, 2}: values and both
    gradients, nan and inf included (x ** 0 at 0: slope 0; exponent at a negative base: nan)."""
    pairs = list(itertools.product([-2.0, 0.0, 0.5, 2.0], [-1.0, 0.0, 0.5, 2.0]))
    a_np = np.array([p[0] for p in pairs])
    e_np = np.array([p[1] for p in pairs])
    a, ta = both(a_np)
    e, te = both(e_np)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 and (-2) ** 0.5, forward
        out = a ** e
    tout = ta ** te
    close(out, tout)
    out.backward(np.ones(len(pairs)))
    tout.backward(torch.ones(len(pairs), dtype=torch.float64))
    close(a.grad, ta.grad)
    close(e.grad, te.grad)
    assert np.isnan(e.grad.data[pairs.index((-2.0, 2.0))])  # not a silent 0


def test_pow_with_a_zero_python_exponent_at_zero():
    x, tx = both(np.array([0.0, 1.5, -2.0]))
    (x ** 0.0).sum().backward()
    (tx ** 0.0).sum().backward()
    close(x.grad, tx.grad)
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- std
@pytest.mark.parametrize("unbiased", [False, True])
def test_std_of_a_constant_row_has_zero_gradient(unbiased):
    x_np = np.array([[3.0, 3.0, 3.0, 3.0], [1.0, -2.0, 0.5, 4.0]])
    x, tx = both(x_np)
    g = np.array([1.5, -0.5])
    x.std(axis=1, unbiased=unbiased).backward(g)
    tx.std(dim=1, unbiased=unbiased).backward(torch.from_numpy(g))
    close(x.grad, tx.grad, rtol=1e-12, atol=1e-12)
    assert not np.isnan(x.grad.data).any()


# ----------------------------------------------------------------------------- 0-d reductions
REDUCTIONS = [
    ("sum", lambda t, d: t.sum(axis=d), lambda t, d: t.sum(dim=d)),
    ("mean", lambda t, d: t.mean(dim=d, keepdim=True), lambda t, d: t.mean(dim=d, keepdim=True)),
    ("max", lambda t, d: t.max(axis=d), lambda t, d: t.amax(dim=d)),
    ("min", lambda t, d: t.min(axis=d), lambda t, d: t.amin(dim=d)),
    ("var", lambda t, d: t.var(axis=d), lambda t, d: t.var(dim=d, correction=0)),
    ("std", lambda t, d: t.std(axis=d), lambda t, d: t.std(dim=d, correction=0)),
    ("softmax", lambda t, d: t.softmax(d), lambda t, d: t.softmax(d)),
    ("log_softmax", lambda t, d: t.log_softmax(d), lambda t, d: t.log_softmax(d)),
]


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("name, ours, theirs", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reductions_of_a_0d_tensor_along_dim_0_and_minus_1(name, ours, theirs, dim):
    x, tx = both(np.array(1.75))
    y, ty = ours(x, dim), theirs(tx, dim)
    assert y.shape == tuple(ty.shape)
    close(y, ty)
    (y * 3.0).sum().backward()
    (ty * 3.0).sum().backward()
    close(x.grad, tx.grad)


@pytest.mark.parametrize("dim", [0, -1])
def test_argmax_argmin_of_a_0d_tensor(dim):
    x, tx = both(np.array(1.75), requires_grad=False)
    assert x.argmax(dim).item() == tx.argmax(dim=dim).item() == 0
    assert x.argmin(dim=dim).item() == tx.argmin(dim=dim).item() == 0


@pytest.mark.parametrize("dim", [1, -2])
def test_0d_reductions_refuse_other_dims_like_pytorch(dim):
    x, tx = both(np.array(1.75), requires_grad=False)
    with pytest.raises(IndexError):
        tx.sum(dim=dim)
    with pytest.raises(ValueError, match="out of range"):
        x.sum(dim=dim)


# ----------------------------------------------------------------------------- float64 arrays
ARR = np.array([0.1, 1 / 3, 1e8 + 0.3])  # none is exactly representable in float32
X64 = np.array([1.0, -2.5, 7.0])


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow], ids=lambda f: f.__name__)
def test_float64_array_operand_is_used_at_float64_precision(op):
    arr = np.array([0.1, 1 / 3, 1.3]) if op is operator.pow else ARR  # 7 ** 1e8 overflows
    x, tx = both(np.abs(X64) if op is operator.pow else X64)
    y, ty = op(x, arr), op(tx, torch.from_numpy(arr))
    assert y.dtype == np.float64 and ty.dtype == torch.float64
    close(y, ty, rtol=0, atol=0)  # bit for bit
    y.sum().backward()
    ty.sum().backward()
    close(x.grad, tx.grad, rtol=1e-15)


def test_float32_tensor_with_float64_array_gives_float64_like_pytorch():
    x = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    ours = Tensor(x) + ARR
    theirs = torch.from_numpy(x) + torch.from_numpy(ARR)  # PyTorch: the array is a tensor
    assert theirs.dtype == torch.float64 and ours.dtype == np.float64
    close(ours, theirs, rtol=0, atol=0)


def test_where_with_a_float64_array_operand():
    cond = np.array([True, False, True])
    x, tx = both(X64)
    y = where(cond, x, ARR)
    ty = torch.where(torch.from_numpy(cond), tx, torch.from_numpy(ARR))
    close(y, ty, rtol=0, atol=0)
    y.backward(np.ones(3))
    ty.backward(torch.ones(3, dtype=torch.float64))
    close(x.grad, tx.grad)


def test_comparison_with_a_float64_array_is_made_in_float64():
    x, tx = both(ARR.copy(), requires_grad=False)
    np.testing.assert_array_equal((x == ARR).numpy(), (tx == torch.from_numpy(ARR)).numpy())
    assert (x == ARR).numpy().all()


# mse_loss and BCE-with-logits (tinytorch-training) lift an ndarray target in its own dtype too.
def test_mse_loss_with_a_float64_array_target():
    pred, tpred = both(X64)
    ours = mse_loss(pred, ARR)
    theirs = torch.nn.functional.mse_loss(tpred, torch.from_numpy(ARR))
    close(ours, theirs, rtol=1e-15, atol=0)


def test_bce_with_logits_with_float64_array_target_and_pos_weight():
    logits, tlogits = both(np.array([0.3, -1.2, 2.0]))
    target = np.array([0.1, 0.7, 1 / 3])
    pos_weight = np.array([0.3, 1 / 7, 2.1])
    ours = binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight)
    theirs = torch.nn.functional.binary_cross_entropy_with_logits(
        tlogits, torch.from_numpy(target), pos_weight=torch.from_numpy(pos_weight))
    close(ours, theirs, rtol=1e-15, atol=0)


# ----------------------------------------------------------------------------- dtype promotion
DTYPES = [torch.bool, torch.uint8, torch.int32, torch.int64, torch.float16, torch.float32,
          torch.float64]


def _pair(da, db):
    a = torch.tensor([1, 2, 3]).to(da)
    b = torch.tensor([3, 1, 2]).to(db)
    return a, b, Tensor(a.numpy(), dtype=NP_OF[da]), Tensor(b.numpy(), dtype=NP_OF[db])


@pytest.mark.parametrize("da, db", list(itertools.product(DTYPES, DTYPES)),
                         ids=lambda d: str(d).replace("torch.", ""))
def test_binary_ops_promote_like_pytorch(da, db):
    a, b, ta, tb = _pair(da, db)
    ops = [operator.add, operator.mul, operator.truediv, operator.lt, operator.eq,
           operator.floordiv]
    if torch.bool not in (da, db):
        ops += [operator.sub, operator.mod]
    for op in ops:
        if op is operator.floordiv and torch.bool in (da, db):
            continue  # PyTorch's // refuses bool operands
        theirs, ours = op(a, b), op(ta, tb)
        assert ours.dtype == NP_OF[theirs.dtype], (op.__name__, ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=op.__name__)
    assert torch.maximum(a, b).dtype == TORCH_OF[ta.maximum(tb).dtype]
    assert torch.where(a > 1, a, b).dtype == TORCH_OF[where(ta > 1, ta, tb).dtype]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).replace("torch.", ""))
@pytest.mark.parametrize("number", [2, 0.5, True, np.float64(0.25), np.int64(3)],
                         ids=["int", "float", "bool", "np.float64", "np.int64"])
def test_python_numbers_are_weak_like_in_pytorch(dtype, number):
    t = torch.tensor([1, 2, 3]).to(dtype)
    ours = Tensor(t.numpy(), dtype=NP_OF[dtype])
    for op in (operator.add, operator.mul, operator.truediv):
        if dtype == torch.bool and number is True and op is not operator.mul:
            continue  # bool + True: PyTorch refuses (an int op on bools); numpy gives bool
        theirs = op(t, number)
        assert op(ours, number).dtype == NP_OF[theirs.dtype], (op.__name__, theirs.dtype)
        assert op(number, ours).dtype == NP_OF[op(number, t).dtype], op.__name__


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.int32, np.bool_])
def test_numpy_array_operands_promote_like_pytorch(dtype):
    arr = np.array([1.5, 2.0, 0.25])
    x = np.array([2, 0, 1]).astype(dtype)
    theirs = torch.from_numpy(x) * torch.from_numpy(arr)
    ours = Tensor(x, dtype=dtype) * arr
    assert ours.dtype == NP_OF[theirs.dtype]
    close(ours, theirs, rtol=0, atol=0)


@pytest.mark.parametrize("da, db", [(torch.float32, torch.int64), (torch.int64, torch.float32),
                                    (torch.float32, torch.float64), (torch.int32, torch.int64)],
                         ids=str)
def test_matmul_promotes_where_pytorch_refuses(da, db):
    a = torch.tensor([[1, 2], [3, 4]]).to(da)
    b = torch.tensor([[2, 0], [1, 3]]).to(db)
    with pytest.raises(RuntimeError, match="same dtype"):
        a @ b
    ours = Tensor(a.numpy(), dtype=NP_OF[da]) @ Tensor(b.numpy(), dtype=NP_OF[db])
    common = torch.promote_types(da, db)  # the rule of + - * /
    assert ours.dtype == NP_OF[common]
    np.testing.assert_array_equal(ours.numpy(), (a.to(common) @ b.to(common)).numpy())


def test_a_0d_tensor_promotes_like_any_tensor_unlike_pytorch():
    """The documented difference: PyTorch lets a 0-d tensor act as a weak number."""
    v = torch.ones(3)
    s = torch.tensor(0.1, dtype=torch.float64)
    assert (v * s).dtype == torch.float32
    ours = Tensor(np.ones(3, dtype=np.float32)) * Tensor(0.1, dtype=np.float64)
    assert ours.dtype == np.float64  # float32 vector, float64 0-d: the wider float


def test_mean_of_an_int_tensor_is_float32_where_pytorch_refuses():
    t = torch.tensor([[1, 2], [4, 4]])
    with pytest.raises(RuntimeError, match="mean"):
        t.mean()
    ours = Tensor(t.numpy()).mean(axis=1)
    assert ours.dtype == np.float32
    close(ours, t.float().mean(dim=1), rtol=0, atol=0)
    hits = Tensor(np.array([True, False, True, True]))
    assert hits.mean().item() == 0.75


def test_integer_to_negative_integer_power_is_refused_like_pytorch():
    with pytest.raises(RuntimeError, match="negative"):
        torch.tensor([2, 3]) ** -1
    with pytest.raises(ValueError, match="negative integer powers"):
        Tensor([2, 3]) ** -1


# ----------------------------------------------------------------------------- layers
@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_dense_casts_its_input_where_pytorch_refuses(dtype):
    ours = Dense(3, 2)
    theirs = torch.nn.Linear(3, 2)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    x_np = np.array([[1, -2, 3], [4, 0, -1]]).astype(dtype)
    with pytest.raises(RuntimeError, match="same dtype"):
        theirs(torch.from_numpy(x_np))
    y = ours(Tensor(x_np, dtype=dtype))
    ty = theirs(torch.from_numpy(x_np).float())  # what the layer does: compute in float32
    assert y.dtype == np.float32
    close(y, ty, rtol=1e-6, atol=1e-6)
    if dtype == np.float64:  # the input's gradient comes back in the input's dtype
        x, tx = both(x_np)
        ours(x).sum().backward()
        theirs(tx.float()).sum().backward()
        assert x.grad.dtype == np.float64 and tx.grad.dtype == torch.float64
        close(x.grad, tx.grad, rtol=1e-6)


def test_conv2d_and_batchnorm_cast_a_float64_input_where_pytorch_refuses():
    conv, bn = Conv2d(2, 3, 3, padding=1), BatchNorm2d(3)
    tconv, tbn = torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        tconv.weight.copy_(torch.from_numpy(conv.weight.data))
        tconv.bias.copy_(torch.from_numpy(conv.bias.data))
    x_np = np.random.default_rng(0).standard_normal((2, 2, 5, 5))
    with pytest.raises(RuntimeError):
        tconv(torch.from_numpy(x_np))
    x, tx = both(x_np)
    y = bn(conv(x))
    ty = tbn(tconv(tx.float()))
    assert y.dtype == np.float32
    close(y, ty, rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    assert x.grad.dtype == np.float64
    close(x.grad, tx.grad, rtol=1e-4, atol=1e-5)
