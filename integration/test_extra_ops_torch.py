"""Tensor's flip, roll, tril/triu, masked_fill, logsumexp, amax/amin, split/chunk/unbind,
repeat/tile against PyTorch 2.13: values and gradients, float32 and float64."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.core.tensor import Tensor, cat  # noqa: E402

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4, 5))
X[1, 2, :2] = X[1, 2, 3]  # ties for amax / amin
MASK = rng.random((4, 5)) > 0.5


def leaves(x, dtype):
    """The same values as a TinyTorch leaf and a PyTorch leaf, both requiring grad."""
    return Tensor(x, dtype=dtype, requires_grad=True), torch.tensor(x, requires_grad=True)


def backward_and_compare(a, b, ya, yb, dtype, f32_rtol=1e-6):
    """Send the same upstream gradient into both outputs; the outputs and the inputs'
    gradients must agree (float32 to ``f32_rtol``, float64 to 1e-12)."""
    g = np.random.default_rng(1).standard_normal(tuple(yb.shape)).astype(dtype)
    ya.backward(g)
    yb.backward(torch.from_numpy(g))
    tol = dict(rtol=f32_rtol, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), **tol)
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **tol)


OPS = {
    "flip": (lambda t: t.flip((0, 2)),) * 2,
    "flip-neg": (lambda t: t.flip(-1),) * 2,
    "roll": (lambda t: t.roll((2, -1), (1, 2)),) * 2,
    "roll-flat": (lambda t: t.roll(7),) * 2,
    "tril": (lambda t: t.tril(1),) * 2,
    "triu": (lambda t: t.triu(-1),) * 2,
    "masked_fill": (lambda t: t.masked_fill(MASK, -3.0),
                    lambda t: t.masked_fill(torch.tensor(MASK), -3.0)),
    "logsumexp": (lambda t: t.logsumexp(1),) * 2,
    "logsumexp-dims-keep": (lambda t: t.logsumexp((0, 2), keepdim=True),) * 2,
    "amax": (lambda t: t.amax(2),) * 2,
    "amin-keep": (lambda t: t.amin((0, 2), keepdim=True),) * 2,
    "split": (lambda t: t.split(2, 1),) * 2,
    "split-sizes": (lambda t: t.split([1, 3, 1], 2),) * 2,
    "chunk": (lambda t: t.chunk(3, 2),) * 2,
    "unbind": (lambda t: t.unbind(1),) * 2,
    "repeat": (lambda t: t.repeat(2, 1, 3, 2),) * 2,
    "tile": (lambda t: t.tile((2,)),) * 2,
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_values_and_gradients_match_torch(name, dtype):
    ours, theirs = OPS[name]
    a, b = leaves(X.astype(dtype), dtype)
    ya, yb = ours(a), theirs(b)
    if isinstance(yb, tuple):
        assert [tuple(p.shape) for p in ya] == [tuple(p.shape) for p in yb]
        ya, yb = cat([p.reshape(-1) for p in ya]), torch.cat([p.reshape(-1) for p in yb])
    assert ya.shape == tuple(yb.shape) and ya.dtype == dtype
    backward_and_compare(a, b, ya, yb, dtype)


Z = X.copy() * 3
Z[0, 0, 0] = 0.0
Z[1, 1, :2] = 0.0  # two zeros in one slice: prod's gradient there is exactly 0
Z[2, 3, 1] = 2.5  # a half for round (half to even)
Z[2, 3, 2] = -1.5
D = np.random.default_rng(2).standard_normal((3, 4, 5))  # distinct values for sort / topk

OWN_OPS = {
    "floor": (lambda t: t.floor(), Z),
    "ceil": (lambda t: t.ceil(), Z),
    "round": (lambda t: t.round(), Z),
    "round-2": (lambda t: t.round(decimals=2) if isinstance(t, torch.Tensor) else t.round(2), Z),
    "trunc": (lambda t: t.trunc(), Z),
    "cumsum": (lambda t: t.cumsum(1), Z),
    "cumsum-last": (lambda t: t.cumsum(-1), Z),
    "prod": (lambda t: t.prod(2), Z),
    "prod-keep": (lambda t: t.prod(1, keepdim=True), Z),
    "prod-all": (lambda t: t.prod(), D),
    "sort": (lambda t: t.sort(1), D),
    "sort-descending": (lambda t: t.sort(-1, descending=True), D),
    "topk": (lambda t: t.topk(2, 1), D),
    "topk-smallest": (lambda t: t.topk(3, 2, largest=False), D),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OWN_OPS))
def test_ops_with_their_own_derivative_match_torch(name, dtype):
    fn, data = OWN_OPS[name]
    a, b = leaves(data.astype(dtype), dtype)
    ya, yb = fn(a), fn(b)
    if isinstance(ya, tuple):  # (values, indices)
        np.testing.assert_array_equal(ya[1].numpy(), yb[1].numpy())
        assert ya[1].dtype == np.int64
        ya, yb = ya[0], yb[0]
    backward_and_compare(a, b, ya, yb, dtype, f32_rtol=2e-6)


def test_argsort_matches_torch():
    np.testing.assert_array_equal(Tensor(D).argsort(0).numpy(), torch.tensor(D).argsort(0).numpy())
    np.testing.assert_array_equal(Tensor(D).argsort(descending=True).numpy(),
                                  torch.tensor(D).argsort(descending=True).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mod_matches_torch_values_and_gradients(dtype):
    rng = np.random.default_rng(5)
    a0 = (rng.uniform(-9, 9, (3, 4)) + 0.013).astype(dtype)
    b0 = np.array([2.3, -1.7, 3.1, 0.9], dtype)
    a, b = Tensor(a0, dtype=dtype, requires_grad=True), Tensor(b0, dtype=dtype, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    g = rng.standard_normal((3, 4)).astype(dtype)
    (a % b).backward(g)
    (ta % tb).backward(torch.from_numpy(g))
    np.testing.assert_allclose((a % b).data, (ta % tb).detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-6)


N = X.copy()
N[0, 0, :] = 0.0  # a slice of zeros: norm 0, gradient 0 (not NaN)
GATHER = np.random.default_rng(3).integers(0, 4, (3, 6, 5))
SELECT = np.array([3, 0, 0, 2])
NORMS = {
    "norm-2-dim": (lambda t: t.norm(dim=2), lambda t: torch.linalg.vector_norm(t, dim=2)),
    "norm-2-all": (lambda t: t.norm(), lambda t: torch.linalg.vector_norm(t)),
    "norm-fro": (lambda t: t.norm("fro", dim=(1, 2)), lambda t: torch.linalg.vector_norm(t, 2, dim=(1, 2))),
    "norm-1-keep": (lambda t: t.norm(1, dim=1, keepdim=True),
                    lambda t: torch.linalg.vector_norm(t, 1, dim=1, keepdim=True)),
    "norm-3": (lambda t: t.norm(3, dim=(0, 2)), lambda t: torch.linalg.vector_norm(t, 3, dim=(0, 2))),
    "norm-inf": (lambda t: t.norm(float("inf"), dim=2),
                 lambda t: torch.linalg.vector_norm(t, float("inf"), dim=2)),
    "index_select": (lambda t: t.index_select(1, SELECT),
                     lambda t: t.index_select(1, torch.tensor(SELECT))),
    "gather": (lambda t: t.gather(1, GATHER), lambda t: t.gather(1, torch.tensor(GATHER))),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_index_select_gather_match_torch(name, dtype):
    ours, theirs = NORMS[name]
    a, b = leaves(N.astype(dtype), dtype)
    backward_and_compare(a, b, ours(a), theirs(b), dtype, f32_rtol=2e-6)
    assert np.isfinite(a.grad.data).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]), ("ij->", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]), ("ij,kl->ik", [(3, 4), (2, 5)])])
def test_einsum_matches_torch(equation, shapes, dtype):
    from tinytorch.core.tensor import einsum
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours = [Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yb = einsum(equation, *ours), torch.einsum(equation, *theirs)
    g = rng.standard_normal(tuple(yb.shape)).astype(dtype)
    ya.backward(g)
    yb.backward(torch.from_numpy(g))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), **tol)
    for a, b in zip(ours, theirs):
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **tol)


SCATTER_INDEX = np.random.default_rng(9).permutation(5)[None, :4].repeat(3, 0)  # distinct per row
ADD_INDEX = np.array([[4, 4, 0, 1], [2, 2, 2, 2], [0, 1, 3, 3]])  # repeats add up


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["scatter", "scatter_add", "scatter-dim0", "scatter-value"])
def test_scatter_matches_torch(name, dtype):
    rng = np.random.default_rng(10)
    x0, s0 = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
    (a, b), (sa, sb) = leaves(x0, dtype), leaves(s0, dtype)
    if name == "scatter":
        ya, yb = a.scatter(1, SCATTER_INDEX, sa), b.scatter(1, torch.tensor(SCATTER_INDEX), sb)
    elif name == "scatter_add":
        ya, yb = a.scatter_add(1, ADD_INDEX, sa), b.scatter_add(1, torch.tensor(ADD_INDEX), sb)
    elif name == "scatter-dim0":
        idx = np.array([[2, 0, 1, 2], [1, 2, 0, 0], [0, 1, 2, 1]])  # distinct per column
        ya, yb = a.scatter(0, idx, sa), b.scatter(0, torch.tensor(idx), sb)
    else:
        ya, yb = a.scatter(1, SCATTER_INDEX, value=2.5), b.scatter(1, torch.tensor(SCATTER_INDEX), 2.5)
    backward_and_compare(a, b, ya, yb, dtype)
    if name != "scatter-value":
        np.testing.assert_allclose(sa.grad.data, sb.grad.numpy(), rtol=1e-6)
