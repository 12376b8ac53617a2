"""create_graph=True: the first gradient is a Tensor in a graph, and differentiating it again
matches central differences of that first gradient.

For an op f and random projections v, w: L(x) = Σ v·f(x), S(x) = Σ w·∂L/∂x. With
create_graph=True, grad(S, x) is a second backward through the recorded first one; the
reference is numerical_grad of S, where S's first gradient comes from the ordinary
(array-rule) backward. So each test checks an op's Tensor-op rule twice: its value (S
against the array rule) and its own derivative.
"""

import numpy as np
import pytest

from tinytorch.core.autograd import grad
from tinytorch.core.tensor import Tensor, cat, maximum, minimum, stack, where
from tinytorch.core.tensor.fused import linear, relu
from tinytorch.core.tensor.graph import graph_derivative_ops
from tinytorch.core.tensor.numerical import numerical_grad


def _leaves(arrays):
    return [Tensor(np.array(a, dtype=np.float64), dtype=np.float64, requires_grad=True)
            for a in arrays]


def _projections(f, arrays, seed):
    rng = np.random.default_rng(seed)
    y = f(*_leaves(arrays))
    v = rng.standard_normal(y.shape)
    ws = [rng.standard_normal(np.shape(a)) for a in arrays]
    return v, ws


def _first_grads(f, xs, v, create_graph):
    loss = (f(*xs) * Tensor(v, dtype=np.float64)).sum()
    return grad(loss, xs, create_graph=create_graph)


def _s(gs, ws):
    total = None
    for g, w in zip(gs, ws):
        if g is not None:
            term = (g * Tensor(w, dtype=np.float64)).sum()
            total = term if total is None else total + term
    return total


def check_second_order(f, arrays, seed=0, atol=1e-5, rtol=1e-4):
    """grad of Σ w·∂(Σ v·f)/∂x through create_graph=True == central differences of it."""
    v, ws = _projections(f, arrays, seed)
    xs = _leaves(arrays)
    gs = _first_grads(f, xs, v, create_graph=True)
    # the recorded first gradient has the ordinary backward's values
    plain = _first_grads(f, _leaves(arrays), v, create_graph=False)
    for g, p in zip(gs, plain):
        assert (g is None) == (p is None)
        if g is not None:
            np.testing.assert_allclose(g.data, p.data, rtol=1e-12, atol=1e-12)
    s = _s(gs, ws)
    if s is None or not s.requires_grad:  # f is linear in x: the first gradient is constant
        analytic = [np.zeros(np.shape(a)) for a in arrays]
    else:
        analytic = [np.zeros(np.shape(a)) if h is None else h.data
                    for a, h in zip(arrays, grad(s, xs))]

    def s_value(*arrs):
        total = _s(_first_grads(f, _leaves(arrs), v, create_graph=False), ws)
        return 0.0 if total is None else total.item()

    numeric = numerical_grad(s_value, arrays)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        np.testing.assert_allclose(a, n, atol=atol, rtol=rtol, err_msg=f"input {i}")
    return analytic


rng = np.random.default_rng(7)


def r(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape)


def away(x, point=0.0, gap=0.1):
    return np.where(np.abs(x - point) < gap, point + 2 * gap, x)


POS = dict(low=0.5, high=2.0)

CASES = {
    "add broadcast": (lambda a, b: (a + b) * (a + b), [r(3, 2), r(2)]),
    "sub broadcast": (lambda a, b: (a - b) * a, [r(2, 3), r(1, 3)]),
    "mul broadcast": (lambda a, b: a * b * a, [r(2, 3), r(3)]),
    "div": (lambda a, b: a / b, [r(2, 3), r(2, 3, **POS)]),
    "neg": (lambda a: -(a * a), [r(4)]),
    "pow scalar": (lambda a: a ** 3, [r(4)]),
    "pow tensor": (lambda a, e: a ** e, [r(3, **POS), r(3)]),
    "exp": (lambda a: a.exp(), [r(2, 2)]),
    "log": (lambda a: a.log(), [r(4, **POS)]),
    "log1p": (lambda a: a.log1p(), [r(4, **POS)]),
    "sqrt": (lambda a: a.sqrt(), [r(4, **POS)]),
    "abs": (lambda a: a.abs() * a, [away(r(4))]),
    "tanh": (lambda a: a.tanh(), [r(2, 3)]),
    "sin cos": (lambda a: a.sin() * a.cos(), [r(4)]),
    "erf": (lambda a: a.erf(), [r(4)]),
    "relu": (lambda a: a.relu() * a, [away(r(2, 3))]),
    "relu.fused": (lambda a: relu(a) * a, [away(r(2, 3))]),
    "maximum minimum": (lambda a, b: maximum(a, b) * minimum(a, b), [r(5), r(5) + 0.3]),
    "clip": (lambda a: a.clip(-1.0, 1.0) * a, [away(away(r(6), 1.0), -1.0)]),
    "cast": (lambda a: a.astype(np.float64) * a, [r(3)]),  # f32 rounding would swamp the differences
    "clone": (lambda a: a.clone() * a, [r(3)]),
    "where": (lambda a, b: where(a.data > 0, a * b, b * b), [away(r(2, 3)), r(3)]),
    "sum axes": (lambda a: a.sum(axis=1) * a.sum(axis=(0, 2), keepdims=True).sum(), [r(2, 3, 2)]),
    "sum all": (lambda a: a.sum() * a, [r(2, 2)]),
    "mean": (lambda a: a.mean(axis=0) * a.mean(), [r(3, 2)]),
    "var": (lambda a: a.var(axis=1), [r(2, 4)]),
    "std": (lambda a: a.std(axis=0, ddof=1) * a.std(), [r(3, 2)]),
    "max min reductions": (lambda a: a.max(axis=1, keepdims=True) * a.min(axis=0).sum() * a,
                           [r(3, 4)]),
    "sliding_window": (lambda a: (a.sliding_window((2, 2), stride=(1, 2)) ** 2).tanh(),
                       [r(1, 4, 5)]),
    "log_softmax": (lambda a: a.log_softmax(axis=-1), [r(2, 4)]),
    "softmax axis 0": (lambda a: a.softmax(axis=0), [r(3, 2)]),
    "matmul 2-D": (lambda a, b: (a @ b).tanh(), [r(2, 3), r(3, 2)]),
    "matmul 1-D": (lambda a, b: (a @ b) * (a @ b), [r(3), r(3)]),
    "matmul vec-mat": (lambda a, b: (a @ b).tanh(), [r(3), r(3, 2)]),
    "matmul batched broadcast": (lambda a, b: (a @ b).tanh(), [r(2, 2, 3), r(3, 2)]),
    "linear.fused": (lambda x, w, b: linear(x, w, b).tanh(), [r(2, 3), r(2, 3), r(2)]),
    "reshape permute transpose": (
        lambda a: (a.reshape(3, 2).T * a.permute(1, 0).reshape(2, 3).T.T).exp(), [r(2, 3)]),
    "broadcast_to": (lambda a: a.broadcast_to((2, 3)) * a, [r(3)]),
    "pad": (lambda a: a.pad(((1, 0), (0, 2))).tanh(), [r(2, 2)]),
    "cat stack": (lambda a, b: cat([a, b * a], axis=1) * stack([a, b], axis=0).sum(),
                  [r(2, 2), r(2, 2)]),
    "getitem slice": (lambda a: a[1:, ::2] * a[:1, :2], [r(3, 4)]),
    "getitem repeated rows": (lambda a: a[np.array([0, 2, 0])].tanh(), [r(3, 2)]),
    "mse": (lambda p, t: ((p - t) * (p - t)).mean(), [r(4, 2), r(4, 2)]),
    "cross-entropy": (
        lambda z: -z.log_softmax(axis=1)[np.arange(3), np.array([1, 0, 1])].mean(), [r(3, 2)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_second_order_matches_central_differences(name):
    f, arrays = CASES[name]
    check_second_order(f, arrays)


def test_third_order():
    """The recorded backward pass records its own backward again: d³(x⁴)/dx³ = 24x."""
    x = Tensor([0.5, -1.5], dtype=np.float64, requires_grad=True)
    (g1,) = grad((x ** 4).sum(), [x], create_graph=True)
    (g2,) = grad(g1.sum(), [x], create_graph=True)
    (g3,) = grad(g2.sum(), [x])
    np.testing.assert_allclose(g3.data, 24 * x.data)


def test_backward_create_graph_fills_grad_with_a_graph():
    w = Tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    (w * w * w).sum().backward(create_graph=True)
    assert w.grad.requires_grad and w.grad.grad_fn is not None
    np.testing.assert_allclose(w.grad.data, 3 * w.data ** 2)
    g = w.grad
    w.grad = None
    g.sum().backward()  # d/dw Σ 3w² = 6w
    np.testing.assert_allclose(w.grad.data, 6 * w.data)


def test_create_graph_accumulates_out_of_place():
    w = Tensor([2.0], dtype=np.float64, requires_grad=True)
    (w * w).sum().backward(create_graph=True)
    first = w.grad
    (w * w * w).sum().backward(create_graph=True)
    np.testing.assert_allclose(first.data, [4.0])  # not modified in place
    np.testing.assert_allclose(w.grad.data, [4.0 + 12.0])
    total = w.grad
    w.grad = None
    total.backward()  # d/dw (2w + 3w²) = 2 + 6w
    np.testing.assert_allclose(w.grad.data, [14.0])


def test_create_graph_retains_the_graph_like_pytorch():
    x = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = (x.exp() * x).sum()
    grad(y, [x], create_graph=True)
    (again,) = grad(y, [x])  # the graph was retained: a second pass works
    np.testing.assert_allclose(again.data, np.exp(x.data) * (1 + x.data))
    with pytest.raises(RuntimeError, match="already freed"):
        grad(y, [x])  # that pass did not retain it


def test_retain_graph_false_with_create_graph_frees_the_forward_graph():
    x = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = (x.tanh() * x).sum()
    grad(y, [x], create_graph=True, retain_graph=False)
    with pytest.raises(RuntimeError, match="already freed"):
        y.backward()


def test_an_op_without_a_tensor_rule_is_named_in_one_clear_error():
    x = Tensor([[1.0, 3.0], [2.0, 0.5]], dtype=np.float64, requires_grad=True)
    y = x.sort(dim=1)[0].sum()  # sort has no Tensor-op rule
    with pytest.raises(RuntimeError) as err:
        grad(y, [x], create_graph=True)
    message = str(err.value)
    assert "'sort'" in message and "create_graph" in message and "matmul" in message
    assert "sort" not in graph_derivative_ops()
    (plain,) = grad(y, [x])  # the first-order path is unaffected
    np.testing.assert_allclose(plain.data, np.ones((2, 2)))


def test_grad_output_that_is_in_a_graph_is_kept():
    """A seed that depends on a leaf carries that dependency into the gradient."""
    x = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    c = Tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    y = x * x
    (gx,) = grad(y, [x], grad_output=c * 1.0, create_graph=True)  # 2x·c
    (gc,) = grad(gx.sum(), [c])
    np.testing.assert_allclose(gc.data, 2 * x.data)


def test_float32_second_order():
    x = Tensor(r(3), requires_grad=True)  # float32
    (g,) = grad((x.tanh() * x).sum(), [x], create_graph=True)
    assert g.dtype == np.float32
    (h,) = grad(g.sum(), [x])
    t = np.tanh(x.data.astype(np.float64))
    expected = 2 * (1 - t ** 2) - 2 * x.data * t * (1 - t ** 2)
    np.testing.assert_allclose(h.data, expected, rtol=1e-5, atol=1e-6)
    assert h.dtype == np.float32


def test_grad_of_an_intermediate_with_create_graph():
    x = Tensor([0.5, -1.0], dtype=np.float64, requires_grad=True)
    h = x * x
    (gh,) = grad((h.tanh()).sum(), [h], create_graph=True)  # 1 - tanh²(x²), a graph in x
    np.testing.assert_allclose(gh.data, 1 - np.tanh(x.data ** 2) ** 2)
    (gx,) = grad(gh.sum(), [x])  # d/dx (1 - tanh²(x²)) = -2 tanh(x²)(1 - tanh²(x²)) · 2x
    t = np.tanh(x.data ** 2)
    np.testing.assert_allclose(gx.data, -2 * t * (1 - t ** 2) * 2 * x.data)


def test_std_of_a_constant_slice_has_finite_second_derivatives():
    x = Tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 3.0]], dtype=np.float64, requires_grad=True)
    (g,) = grad((x.std(axis=1) * Tensor([2.0, 3.0], dtype=np.float64)).sum(), [x],
                create_graph=True)
    np.testing.assert_allclose(g.data[0], 0.0)
    (h,) = grad((g * g).sum(), [x])
    assert np.isfinite(h.data).all()
    np.testing.assert_allclose(h.data[0], 0.0)
