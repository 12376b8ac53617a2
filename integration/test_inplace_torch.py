"""In-place ops with version checks, and max(dim)/min(dim), against PyTorch 2.13: values,
versions, gradients (float32 and float64), and the errors both refuse with."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.core.autograd import gradcheck, no_grad  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((4,))
TOL = {np.float32: dict(rtol=1e-6, atol=1e-6), np.float64: dict(rtol=1e-12, atol=1e-12)}

INPLACE = {
    "add_": (lambda t, o: t.add_(o), lambda t, o: t.add_(o)),
    "add_-alpha": (lambda t, o: t.add_(o, alpha=-0.3), lambda t, o: t.add_(o, alpha=-0.3)),
    "sub_": (lambda t, o: t.sub_(o, alpha=2.0), lambda t, o: t.sub_(o, alpha=2.0)),
    "mul_": (lambda t, o: t.mul_(o), lambda t, o: t.mul_(o)),
    "div_": (lambda t, o: t.div_(o), lambda t, o: t.div_(o)),
    "mul_-number": (lambda t, o: t.mul_(2.5), lambda t, o: t.mul_(2.5)),
    "clamp_": (lambda t, o: t.clamp_(min=-0.5, max=0.7), lambda t, o: t.clamp_(min=-0.5, max=0.7)),
    "clamp_-min": (lambda t, o: t.clamp_(min=0.0), lambda t, o: t.clamp_(min=0.0)),
    "fill_": (lambda t, o: t.fill_(1.25), lambda t, o: t.fill_(1.25)),
    "zero_": (lambda t, o: t.zero_(), lambda t, o: t.zero_()),
    "copy_": (lambda t, o: t.copy_(o), lambda t, o: t.copy_(o)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_values_and_versions_match_pytorch(name, dtype):
    ours_fn, theirs_fn = INPLACE[name]
    ours, theirs = Tensor(A, dtype=dtype), torch.tensor(A.astype(dtype))
    out = ours_fn(ours, Tensor(B, dtype=dtype))
    ref = theirs_fn(theirs, torch.tensor(B.astype(dtype)))
    assert out is ours and ref is theirs
    assert ours.dtype == dtype
    np.testing.assert_allclose(ours.data, theirs.numpy(), **TOL[dtype])
    assert ours._version == theirs._version == 1


def test_a_saved_value_changed_in_place_fails_backward_in_both():
    w, tw = Tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    x, tx = Tensor(A), torch.tensor(A)
    loss, tloss = (x * w).sum(), (tx * tw).sum()
    x.mul_(2.0)
    tx.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()
    with pytest.raises(RuntimeError, match=r"op 'mul'.* at version 1, the op needs version 0"):
        loss.backward()


def test_an_input_add_does_not_read_may_change_in_both():
    w, tw = Tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    x, tx = Tensor(A), torch.tensor(A)
    loss, tloss = (x + w).sum(), (tx + tw).sum()
    x.add_(1.0)
    tx.add_(1.0)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy())


def test_a_saved_output_changed_under_no_grad_fails_backward_in_both():
    w, tw = Tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    y, ty = w.exp(), tw.exp()
    with no_grad():
        y.mul_(2.0)
    with torch.no_grad():
        ty.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()
    with pytest.raises(RuntimeError, match=r"op 'exp': its output"):
        y.sum().backward()


def test_a_leaf_that_requires_grad_refuses_in_place_in_both_but_not_under_no_grad():
    w, tw = Tensor(B, requires_grad=True), torch.tensor(B, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tw.add_(1.0)
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad"):
        w.add_(1.0)
    g = Tensor(A[0])
    with no_grad():
        w.add_(g, alpha=-0.1)
    with torch.no_grad():
        tw.add_(torch.tensor(A[0]), alpha=-0.1)
    np.testing.assert_allclose(w.data, tw.detach().numpy())
    assert w._version == tw._version == 1
    (w * w).sum().backward()  # the updated leaf still trains
    (tw * tw).sum().backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy())


def test_int_tensor_refuses_a_float_result_in_both():
    with pytest.raises(RuntimeError, match="can't be cast"):
        torch.tensor([1, 2]).div_(2)
    with pytest.raises(TypeError, match="cannot be stored in this int64"):
        Tensor([1, 2]).div_(2)


# ------------------------------------------------------------------ max(dim) / min(dim)
X = rng.standard_normal((3, 4, 5))
X[1, 2, :3] = X[1, 2].max()  # ties: both pick the first and send the gradient there only
X[0, :, 1] = X[0, :, 1].min()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim, keepdim", [(0, False), (2, False), (-1, True), (1, True)])
def test_max_min_along_dim_match_pytorch(name, dim, keepdim, dtype):
    a, b = Tensor(X, dtype=dtype, requires_grad=True), torch.tensor(X.astype(dtype),
                                                                     requires_grad=True)
    ours, theirs = getattr(a, name)(dim, keepdim), getattr(b, name)(dim, keepdim)
    np.testing.assert_array_equal(ours.values.data, theirs.values.detach().numpy())
    np.testing.assert_array_equal(ours.indices.data, theirs.indices.numpy())
    assert ours.indices.dtype == np.int64 and ours.values.dtype == dtype
    g = np.random.default_rng(1).standard_normal(tuple(theirs.values.shape)).astype(dtype)
    ours.values.backward(g)
    theirs.values.backward(torch.from_numpy(g))
    np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("name", ["max", "min"])
def test_full_max_min_and_elementwise_forms_match_pytorch(name):
    a, b = Tensor(X, requires_grad=True, dtype=np.float64), torch.tensor(X, requires_grad=True)
    getattr(a, name)().backward()
    getattr(b, name)().backward()  # the full reduction shares the gradient among ties
    np.testing.assert_allclose(a.grad.data, b.grad.numpy())
    other = rng.standard_normal(5)
    np.testing.assert_allclose(getattr(Tensor(X), name)(Tensor(other)).data,
                               getattr(torch.tensor(X), name)(torch.tensor(other)).numpy(),
                               rtol=1e-6)


def test_max_along_dim_edge_cases_match_pytorch():
    t = torch.tensor(3.0).max(0)
    ours = Tensor(3.0).max(0)
    assert ours.values.item() == t.values.item() and ours.indices.item() == t.indices.item()
    nan = np.array([[1.0, np.nan, 2.0], [0.0, 5.0, -1.0]])
    assert Tensor(nan).max(1).indices.tolist() == torch.tensor(nan).max(1).indices.tolist()
    with pytest.raises(IndexError):
        torch.zeros(0, 3).max(0)
    with pytest.raises(ValueError, match="is empty"):
        Tensor(np.zeros((0, 3))).max(0)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_gradient_matches_finite_differences(name):
    x = np.random.default_rng(2).standard_normal((3, 4))  # distinct values: differentiable
    assert gradcheck(lambda t: getattr(t, name)(1).values, [x])
    assert gradcheck(lambda t: getattr(t, name)(0, True).values * 2.0, [x])
