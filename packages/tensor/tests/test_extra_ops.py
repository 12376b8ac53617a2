"""flip, roll, tril/triu, masked_fill, logsumexp, amax/amin, split/chunk/unbind, repeat/tile:
values against numpy, the graph recorded, errors. Values and gradients against PyTorch:
integration/test_extra_ops_torch.py."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

X = np.arange(60, dtype=np.float64).reshape(3, 4, 5) * 0.5 - 7


def t(requires_grad=False):
    return Tensor(X, dtype=np.float64, requires_grad=requires_grad)


def test_rearranging_ops_match_numpy():
    np.testing.assert_array_equal(t().flip((0, 2)).numpy(), np.flip(X, (0, 2)))
    np.testing.assert_array_equal(t().roll((2, -1), (1, 2)).numpy(), np.roll(X, (2, -1), (1, 2)))
    np.testing.assert_array_equal(t().roll(7).numpy(), np.roll(X, 7))
    np.testing.assert_array_equal(t().tril(1).numpy(), np.tril(X, 1))
    np.testing.assert_array_equal(t().triu(-1).numpy(), np.triu(X, -1))
    inf = Tensor(np.full((2, 2), np.inf))
    assert inf.tril().numpy().tolist() == [[np.inf, 0.0], [np.inf, np.inf]]  # zeros, not nan
    mask = X[0] > 0
    np.testing.assert_array_equal(t().masked_fill(mask, -1.0).numpy(), np.where(mask, -1.0, X))
    np.testing.assert_array_equal(t().repeat(2, 1, 3, 2).numpy(), np.tile(X, (2, 1, 3, 2)))
    np.testing.assert_array_equal(Tensor([1, 2]).repeat(3).numpy(), [1, 2, 1, 2, 1, 2])
    np.testing.assert_array_equal(t().tile((2,)).numpy(), np.tile(X, (1, 1, 2)))


def test_reductions_match_numpy():
    want = np.log(np.exp(X).sum(axis=1))
    np.testing.assert_allclose(t().logsumexp(1).numpy(), want, rtol=1e-13)
    big = Tensor(np.array([[1000.0, 1000.0], [-1000.0, -1001.0]]), dtype=np.float64)
    np.testing.assert_allclose(big.logsumexp(1).numpy(),
                               [1000 + np.log(2), -1000 + np.log1p(np.exp(-1))], rtol=1e-13)
    assert t().logsumexp((0, 2), keepdim=True).shape == (1, 4, 1)
    np.testing.assert_array_equal(t().amax(1).numpy(), X.max(1))
    np.testing.assert_array_equal(t().amin((0, 2), keepdim=True).numpy(), X.min((0, 2), keepdims=True))


def test_pieces():
    parts = t().split(3, 2)
    assert [p.shape for p in parts] == [(3, 4, 3), (3, 4, 2)]
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in parts], 2), X)
    assert [p.shape[1] for p in t().split([1, 0, 3], 1)] == [1, 0, 3]
    assert [p.shape[2] for p in t().chunk(3, 2)] == [2, 2, 1]
    assert [p.shape[0] for p in Tensor(np.zeros(5)).chunk(4)] == [2, 2, 1]  # fewer than asked
    rows = t().unbind(1)
    assert len(rows) == 4 and rows[2].shape == (3, 5)
    np.testing.assert_array_equal(rows[2].numpy(), X[:, 2])


@pytest.mark.parametrize("op", [lambda x: x.flip(0), lambda x: x.roll(1, 2), lambda x: x.tril(),
                                lambda x: x.masked_fill(X[0] > 0, 0.0), lambda x: x.logsumexp(1),
                                lambda x: x.repeat(1, 2, 1), lambda x: x.split(2, 1)[1],
                                lambda x: x.unbind(0)[0], lambda x: x.amax(2)])
def test_every_op_records_its_graph(op):
    out = op(t(requires_grad=True))
    assert out.requires_grad and out.grad_fn is not None


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="dim 3 is out of range"):
        t().flip(3)
    with pytest.raises(ValueError, match="repeat an axis"):
        t().flip((0, -3))
    with pytest.raises(ValueError, match="2 shifts for 1 dims"):
        t().roll((1, 2), 0)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        Tensor([1.0, 2.0]).tril()
    with pytest.raises(TypeError, match="mask must be boolean"):
        t().masked_fill(np.ones((4, 5)), 0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        t().masked_fill(np.ones((2, 5), bool), 0.0)
    with pytest.raises(ValueError, match=r"sizes \[1, 1\] do not add up to 4"):
        t().split([1, 1], 1)
    with pytest.raises(ValueError, match="chunks must be a positive int"):
        t().chunk(0)
    with pytest.raises(ValueError, match="2 sizes for a tensor with 3 dimensions"):
        t().repeat(2, 2)


def test_rounding_cumsum_prod_sort_match_numpy():
    z = np.array([[-1.5, -0.5, 0.5, 1.5, 2.5, 2.7], [0.0, 3.0, -2.2, 0.0, 1.1, 4.0]])
    x = Tensor(z, dtype=np.float64)
    np.testing.assert_array_equal(x.floor().numpy(), np.floor(z))
    np.testing.assert_array_equal(x.ceil().numpy(), np.ceil(z))
    np.testing.assert_array_equal(x.round().numpy(), [[-2, -0, 0, 2, 2, 3], [0, 3, -2, 0, 1, 4]])
    np.testing.assert_array_equal(x.trunc().numpy(), np.trunc(z))
    assert Tensor([1, 2]).floor().dtype == np.int64  # integers pass through
    np.testing.assert_array_equal(x.cumsum(1).numpy(), np.cumsum(z, 1))
    np.testing.assert_array_equal(x.prod(1).numpy(), np.prod(z, 1))
    assert x.prod().item() == np.prod(z) and x.prod(0, keepdim=True).shape == (1, 6)
    values, indices = x.sort(1)
    np.testing.assert_array_equal(values.numpy(), np.sort(z, 1))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(z, 1, kind="stable"))
    top, where = x.topk(2, 1)
    np.testing.assert_array_equal(top.numpy(), [[2.7, 2.5], [4.0, 3.0]])
    np.testing.assert_array_equal(where.numpy(), [[5, 4], [5, 1]])
    ties = Tensor([3.0, 1.0, 3.0, 2.0])
    assert ties.sort(descending=True)[1].tolist() == [0, 2, 3, 1]  # ties keep their order
    assert ties.argsort().tolist() == [1, 3, 0, 2]


def test_ops_of_their_own_record_the_graph_and_name_bad_arguments():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    for out in (x.floor(), x.cumsum(0), x.prod(1), x.sort()[0], x.topk(1)[0]):
        assert out.requires_grad and out.grad_fn is not None
    assert x.sort()[1].requires_grad is False
    with pytest.raises(ValueError, match="cumsum: dim 2 is out of range"):
        x.cumsum(2)
    with pytest.raises(ValueError, match="prod: dim -3"):
        x.prod(-3)
    with pytest.raises(ValueError, match="k must be an int from 0 to 3"):
        x.topk(4)


@pytest.mark.parametrize("op", [lambda t: t.cumsum(1), lambda t: t.cumsum(0),
                                lambda t: t.prod(1), lambda t: t.prod(0, keepdim=True),
                                lambda t: t.prod(), lambda t: t.sort(1)[0],
                                lambda t: t.sort(0, descending=True)[0],
                                lambda t: t.round()],
                         ids=["cumsum1", "cumsum0", "prod1", "prod0-keep", "prod-all", "sort",
                              "sort-desc", "round"])
def test_registered_derivatives_match_finite_differences(op):
    from tinytorch.core.tensor import get_derivative
    from tinytorch.core.tensor.testing import numerical_grad
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4)) + 0.05  # distinct values, away from the rounding steps
    x[1, 2] = 0.0  # a zero in a product
    out = op(Tensor(x, dtype=np.float64, requires_grad=True))
    g = rng.standard_normal(out.shape)
    # the op's own derivative (registered in more_ops.py; module 09's engine is not needed)
    (grads,) = get_derivative(out.grad_fn.op)(g, out.grad_fn)
    (want,) = numerical_grad(lambda a: float(np.sum(g * op(Tensor(a, dtype=np.float64)).numpy())), [x])
    np.testing.assert_allclose(grads, want, rtol=1e-6, atol=1e-8)


def test_norm_index_select_gather_match_numpy():
    z = X.copy()
    z[0, 0, :] = 0.0
    x = Tensor(z, dtype=np.float64)
    np.testing.assert_allclose(x.norm(dim=2).numpy(), np.linalg.norm(z, axis=2), rtol=1e-13)
    np.testing.assert_allclose(x.norm(3, dim=1).numpy(), (np.abs(z) ** 3).sum(1) ** (1 / 3), rtol=1e-13)
    assert x.norm(float("inf")).item() == np.abs(z).max() and x.norm(1).item() == np.abs(z).sum()
    assert x.norm(dim=2).numpy()[0, 0] == 0.0
    np.testing.assert_array_equal(x.index_select(2, [4, 0, 4]).numpy(), z[:, :, [4, 0, 4]])
    idx = np.array([[[0, 3], [1, 1]], [[2, 2], [0, 1]], [[3, 0], [1, 2]]])
    np.testing.assert_array_equal(Tensor(z[:, :2, :2]).gather(2, idx[:, :, :2] % 2).numpy(),
                                  np.take_along_axis(z[:, :2, :2], idx[:, :, :2] % 2, 2))
    with pytest.raises(ValueError, match="p must be > 0"):
        x.norm(0)
    with pytest.raises(ValueError, match="1-D integer array"):
        x.index_select(0, [[0]])
    with pytest.raises(IndexError, match="index 9 is out of range for dim 1 of size 4"):
        x.gather(1, np.full((3, 1, 5), 9))


EINSUMS = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
           ("ij->ji", [(3, 4)]), ("ij->", [(3, 4)]), ("ij,j->i", [(3, 4), (4,)]),
           ("i,j->ij", [(3,), (4,)]), ("ij,kl->ik", [(3, 4), (2, 5)])]


@pytest.mark.parametrize("equation, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_values_and_its_derivative_against_finite_differences(equation, shapes):
    from tinytorch.core.tensor import einsum, get_derivative
    from tinytorch.core.tensor.testing import numerical_grad
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in shapes]
    out = einsum(equation, *[Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays])
    np.testing.assert_allclose(out.numpy(), np.einsum(equation, *arrays), rtol=1e-13)
    g = rng.standard_normal(out.shape)
    grads = get_derivative("einsum")(g, out.grad_fn)
    want = numerical_grad(lambda *xs: float(np.sum(g * np.einsum(equation, *xs))), arrays)
    for got, w in zip(grads, want):
        np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-8)


def test_einsum_refuses_what_it_does_not_support():
    from tinytorch.core.tensor import einsum
    a = Tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match="explicit equation"):
        einsum("ij,jk", a, a)
    with pytest.raises(ValueError, match="explicit equation"):
        einsum("...i->i", a)
    with pytest.raises(ValueError, match="do not fit an operand of shape"):
        einsum("ii->i", a)
    with pytest.raises(ValueError, match="names 2 operands, got 1"):
        einsum("ij,jk->ik", a)


SCATTER_INDEX = np.array([[2, 0, 1, 3], [3, 3, 0, 1]])  # (2, 4): row 1 writes position 3 twice


def test_scatter_and_scatter_add_write_where_the_index_says():
    x = Tensor(np.zeros((2, 5)))
    src = Tensor(np.arange(1.0, 9.0).reshape(2, 4))
    added = x.scatter_add(1, SCATTER_INDEX, src)
    np.testing.assert_array_equal(added.numpy(), [[2, 3, 1, 4, 0], [7, 8, 0, 11, 0]])
    unique = np.array([[2, 0, 1, 3], [4, 3, 0, 1]])
    np.testing.assert_array_equal(x.scatter(1, unique, src).numpy(),
                                  [[2, 3, 1, 4, 0], [7, 8, 0, 6, 5]])
    np.testing.assert_array_equal(x.scatter(0, [[1, 0, 1]], value=-1.0).numpy(),
                                  [[0, -1, 0, 0, 0], [-1, 0, -1, 0, 0]])
    assert x.numpy().sum() == 0  # the input is not changed


def test_scatter_names_bad_arguments():
    x = Tensor(np.zeros((2, 5)))
    with pytest.raises(IndexError, match="scatter_add: index 5 is out of range for dim 1 of size 5"):
        x.scatter_add(1, [[5]], Tensor(np.ones((1, 1))))
    with pytest.raises(ValueError, match="index must be an integer array with 2 dimensions"):
        x.scatter(1, [0, 1], value=1.0)
    with pytest.raises(ValueError, match=r"src of shape \(1, 1\) must have"):
        x.scatter(1, [[0, 1]], Tensor(np.ones((1, 1))))
    with pytest.raises(TypeError, match="exactly one of src"):
        x.scatter(1, [[0]])


@pytest.mark.parametrize("name", ["scatter", "scatter_add"])
def test_scatter_derivatives_match_finite_differences(name):
    from tinytorch.core.tensor import get_derivative
    from tinytorch.core.tensor.testing import numerical_grad
    rng = np.random.default_rng(8)
    x0, s0 = rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
    index = np.array([[4, 0, 1, 2], [0, 1, 2, 3], [3, 2, 1, 0]])  # distinct within each row
    if name == "scatter_add":
        index[1] = [3, 3, 0, 3]  # repeats add up

    def run(x, s):
        return getattr(Tensor(x, dtype=np.float64, requires_grad=True), name)(
            1, index, Tensor(s, dtype=np.float64, requires_grad=True))

    out = run(x0, s0)
    g = rng.standard_normal(out.shape)
    got = get_derivative(name)(g, out.grad_fn)
    want = numerical_grad(lambda x, s: float(np.sum(g * run(x, s).numpy())), [x0, s0])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
