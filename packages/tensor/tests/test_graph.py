"""The graph record module 09 differentiates: which ops record a Node, with which inputs and what
saved; grad mode; detach; the derivative registry and the backward-engine hook."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch.core.tensor.graph as graph
from tinytorch.core.tensor import (
    Node,
    Tensor,
    cat,
    get_derivative,
    get_engine,
    is_grad_enabled,
    make_result,
    maximum,
    minimum,
    register_derivative,
    register_engine,
    set_grad_enabled,
    stack,
    sum_to_shape,
    where,
)
from tinytorch.core.tensor.testing import (
    assert_close,
    broadcastable_pair,
    float_arrays,
    numerical_grad,
    shapes,
)


def _x():
    return Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)


# (id, function of a requires-grad (2, 3) tensor x, recorded op name). An id starts with the
# name of the lesson's exercise that writes the op (``-k binary_op`` selects add, radd, ...);
# matmul, softmax, where and sliding_window are exercises of their own name.
RECORDING = [
    ("binary_op-add", lambda x: x + 1.0, "add"),
    ("binary_op-radd", lambda x: 1.0 + x, "add"),
    ("binary_op-sub", lambda x: x - x, "sub"),
    ("binary_op-rsub", lambda x: 1.0 - x, "sub"),
    ("binary_op-mul", lambda x: x * 2.0, "mul"),
    ("binary_op-rmul", lambda x: np.ones(3) * x, "mul"),
    ("binary_op-div", lambda x: x / 2.0, "div"),
    ("binary_op-rdiv", lambda x: 2.0 / x, "div"),
    ("pow_op-pow", lambda x: x ** 2, "pow"),
    ("pow_op-rpow", lambda x: 2.0 ** x, "pow"),
    ("unary_math-neg", lambda x: -x, "neg"),
    ("matmul", lambda x: x @ np.ones((3, 2)), "matmul"),
    ("rmatmul", lambda x: np.ones((2, 2)) @ x, "matmul"),
    ("unary_math-exp", lambda x: x.exp(), "exp"),
    ("unary_math-log", lambda x: x.log(), "log"),
    ("unary_math-log1p", lambda x: x.log1p(), "log1p"),
    ("unary_math-sqrt", lambda x: x.sqrt(), "sqrt"),
    ("unary_math-abs", lambda x: abs(x), "abs"),
    ("unary_math-tanh", lambda x: x.tanh(), "tanh"),
    ("unary_math-sin", lambda x: x.sin(), "sin"),
    ("unary_math-cos", lambda x: x.cos(), "cos"),
    ("unary_math-erf", lambda x: x.erf(), "erf"),
    ("unary_math-relu", lambda x: x.relu(), "relu"),
    ("maximum", lambda x: maximum(x, 2.0), "maximum"),
    ("minimum", lambda x: minimum(x, 2.0), "minimum"),
    ("unary_math-clip", lambda x: x.clip(2.0, 5.0), "clip"),
    ("softmax", lambda x: x.softmax(), "softmax"),
    ("log_softmax", lambda x: x.log_softmax(axis=0), "log_softmax"),
    ("reduction-sum", lambda x: x.sum(), "sum"),
    ("reduction-mean", lambda x: x.mean(1), "mean"),
    ("reduction-max", lambda x: x.max(axis=0), "max"),
    ("reduction-min", lambda x: x.min(), "min"),
    ("reduction-var", lambda x: x.var(), "var"),
    ("reduction-std", lambda x: x.std(), "std"),
    ("shape_op-reshape", lambda x: x.reshape(3, 2), "reshape"),
    ("shape_op-view", lambda x: x.view(-1), "reshape"),
    ("shape_op-flatten", lambda x: x.flatten(), "reshape"),
    ("shape_op-unsqueeze", lambda x: x.unsqueeze(0), "reshape"),
    ("shape_op-squeeze", lambda x: x.reshape(1, 2, 3).squeeze(), "reshape"),
    ("shape_op-permute", lambda x: x.permute(1, 0), "permute"),
    ("shape_op-transpose", lambda x: x.transpose(0, 1), "permute"),
    ("shape_op-T", lambda x: x.T, "permute"),
    ("shape_op-broadcast_to", lambda x: x.broadcast_to(4, 2, 3), "broadcast_to"),
    ("shape_op-pad", lambda x: x.pad(1), "pad"),
    ("indexing-getitem", lambda x: x[0, 1:], "getitem"),
    ("indexing-gather_rows", lambda x: x.gather_rows([0, 2]), "getitem"),
    ("sliding_window", lambda x: x.sliding_window(2), "sliding_window"),
    ("cat_stack-cat", lambda x: cat([x, x], axis=1), "cat"),
    ("cat_stack-stack", lambda x: stack([x, x]), "stack"),
    ("where", lambda x: where(x > 2.0, x, 0.0), "where"),
    ("cast", lambda x: x.astype(np.float64), "cast"),
    ("clone", lambda x: x.clone(), "clone"),
]


@pytest.mark.parametrize("fn, op", [r[1:] for r in RECORDING], ids=[r[0] for r in RECORDING])
def test_ops_on_requires_grad_tensors_record_a_node(fn, op):
    x = _x()
    out = fn(x)
    assert out.requires_grad and not out.is_leaf
    node = out.grad_fn
    assert isinstance(node, Node) and node.op == op
    assert all(isinstance(t, Tensor) for t in node.inputs)
    assert any(t is x for t in node.inputs) or any(
        any(u is x for u in t.grad_fn.inputs) for t in node.inputs if t.grad_fn is not None
    )
    assert repr(node).startswith(f"<Node {op}(")


@pytest.mark.parametrize("fn, op", [r[1:] for r in RECORDING], ids=[r[0] for r in RECORDING])
def test_ops_on_plain_tensors_record_nothing(fn, op):
    x = _x().detach()
    out = fn(x)
    assert out.grad_fn is None and not out.requires_grad and out.is_leaf


@pytest.mark.parametrize("fn, op", [r[1:] for r in RECORDING], ids=[r[0] for r in RECORDING])
def test_grad_mode_off_records_nothing(fn, op):
    x = _x()
    previous = set_grad_enabled(False)
    try:
        assert bool(previous) is True and not is_grad_enabled()
        out = fn(x)
    finally:
        set_grad_enabled(True)
    assert out.grad_fn is None and not out.requires_grad
    assert is_grad_enabled()


def test_binary_op_records_both_inputs_in_order():
    a, b = _x(), Tensor([10.0, 20.0, 30.0])
    for out in (a + b, a - b, a * b, a / b):
        assert out.grad_fn.inputs[0] is a and out.grad_fn.inputs[1] is b
    r = 2.0 - a  # reflected: the lifted scalar comes first
    assert r.grad_fn.inputs[1] is a and r.grad_fn.inputs[0].shape == ()
    assert r.grad_fn.inputs[0].dtype == np.float32


def test_pow_op_records_both_inputs_in_order():
    a, b = _x(), Tensor([10.0, 20.0, 30.0])
    out = a ** b
    assert out.grad_fn.inputs[0] is a and out.grad_fn.inputs[1] is b


def test_maximum_minimum_record_both_inputs_in_order():
    a, b = _x(), Tensor([10.0, 20.0, 30.0])
    for out in (a.maximum(b), a.minimum(b)):
        assert out.grad_fn.inputs[0] is a and out.grad_fn.inputs[1] is b


def test_matmul_records_both_inputs_in_order():
    a = _x()
    m = a @ Tensor(np.ones(3))
    assert m.grad_fn.inputs[0] is a and m.grad_fn.inputs[1].shape == (3,)


def test_cat_stack_records_every_input_in_order():
    a, b = _x(), Tensor([10.0, 20.0, 30.0])
    c = cat([a, b.reshape(1, 3)])
    assert c.grad_fn.inputs[0] is a and len(c.grad_fn.inputs) == 2


def test_binary_op_only_one_input_needs_grad():
    w, x = _x(), Tensor(np.ones((2, 3)))
    out = x * w
    assert out.requires_grad and out.grad_fn.inputs == (x, w)


def test_chains_record_a_graph():
    x = _x()
    loss = ((x * 2.0).exp().sum(axis=1) - 1.0).mean()
    ops, node = [], loss.grad_fn
    while node is not None:
        ops.append(node.op)
        nxt = [t for t in node.inputs if t.grad_fn is not None]
        node = nxt[0].grad_fn if nxt else None
    assert ops == ["mean", "sub", "sum", "exp", "mul"]


# ----------------------------------------------------------------------------- what each op saves
# Module 09's derivatives read node.saved in exactly these layouts; one test per exercise.
def saved(t):
    return t.grad_fn.saved


def test_unary_math_saves_what_module_09_needs():
    x = _x()
    for out in (x.exp(), x.sqrt(), x.tanh()):
        np.testing.assert_array_equal(saved(out), out.numpy())  # the forward's output
    assert saved(x.log()) is None
    lo, hi = saved(x.clip(2.0))
    assert lo == 2.0 and lo.dtype == np.float32 and hi is None


def test_pow_op_saves_its_output():
    x = _x()
    out = x ** 2.0
    np.testing.assert_array_equal(saved(out), out.numpy())


def test_binary_op_saves_nothing():
    assert saved(_x() + 1.0) is None


def test_matmul_saves_nothing():
    assert saved(_x() @ np.ones((3, 2))) is None


def test_reduction_saves_axes_and_keepdims():
    x = _x()
    assert saved(x.sum()) == (None, False)
    assert saved(x.sum(axis=-1, keepdims=True)) == ((1,), True)
    assert saved(x.mean(dim=(1, 0))) == ((0, 1), False)
    axes, keep, mx = saved(x.max(axis=0))
    assert (axes, keep) == ((0,), False)
    np.testing.assert_array_equal(mx, [4.0, 5.0, 6.0])
    assert saved(x.min(axis=1, keepdims=True))[:2] == ((1,), True)
    assert saved(x.var(axis=1, ddof=1)) == ((1,), False, 1)


def test_softmax_saves_output_and_axis():
    x = _x()
    for name, axis in (("softmax", -1), ("log_softmax", 0)):
        out = getattr(x, name)(axis=axis)
        s_out, s_axis = saved(out)
        np.testing.assert_array_equal(s_out, out.numpy())
        assert s_axis == axis


def test_shape_op_saves_axes_and_widths():
    x = _x()
    assert saved(x.permute(1, 0)) == (1, 0)
    assert saved(x.transpose(-1, -2)) == (1, 0)
    assert saved(x.pad(((1, 0), (0, 2)))) == ((1, 0), (0, 2))
    assert saved(x.pad(1)) == ((1, 1), (1, 1))


def test_indexing_saves_the_key():
    x = _x()
    assert saved(x[0, 1:]) == (0, slice(1, None, None))
    key = saved(x[Tensor([1, 0])])
    assert isinstance(key, np.ndarray) and key.tolist() == [1, 0]


def test_sliding_window_saves_its_arguments():
    x = _x()
    assert saved(x.sliding_window(2, stride=1, dilation=(1,))) == ((2,), (1,), (1,))
    assert saved(x.sliding_window((2, 2), 1, 1)) == ((2, 2), (1, 1), (1, 1))


def test_cat_stack_saves_axis_and_sizes():
    x = _x()
    assert saved(cat([x, x, x[:, :1]], dim=-1)) == (1, [3, 3, 1])
    assert saved(stack([x, x], axis=-1)) == 2


def test_where_saves_the_condition():
    x = _x()
    cond = saved(where(x > 2.0, x, 0.0))
    assert cond.dtype == np.bool_ and cond.tolist() == [[False, False, True], [True] * 3]


# ----------------------------------------------------------------------------- never recorded
NEVER_RECORDED = [
    ("compare_op-lt", lambda x: x < 2.0), ("compare_op-le", lambda x: x <= 2.0),
    ("compare_op-gt", lambda x: x > 2.0), ("compare_op-ge", lambda x: x >= 2.0),
    ("compare_op-eq", lambda x: x == 2.0), ("compare_op-ne", lambda x: x != 2.0),
    ("compare_op-gt_self", lambda x: x > x),
    ("reduction-argmax", lambda x: x.argmax()), ("reduction-argmax_axis", lambda x: x.argmax(axis=1)),
    ("argmin", lambda x: x.argmin(dim=0)), ("sign", lambda x: x.sign()),
    ("compare_op-floordiv", lambda x: x // 2.0),
    ("any", lambda x: (x > 2.0).any()), ("all", lambda x: (x > 0.0).all()),
    ("invert", lambda x: ~(x > 2.0)),
    ("long", lambda x: x.long()), ("astype_int", lambda x: x.astype(np.int32)),
    ("detach", lambda x: x.detach()),
]


@pytest.mark.parametrize("fn", [c[1] for c in NEVER_RECORDED], ids=[c[0] for c in NEVER_RECORDED])
def test_non_differentiable_ops_never_record(fn):
    out = fn(_x())
    assert out.grad_fn is None and not out.requires_grad


def test_float_mod_is_recorded_with_both_inputs_like_pytorch():
    # a % b = a - b·floor(a / b): differentiable in a and b (module 09 has its derivative)
    x = _x()
    out = x % 2.0
    assert out.requires_grad and out.grad_fn.op == "mod"
    assert out.grad_fn.inputs[0] is x and out.grad_fn.inputs[1].tolist() == 2.0
    np.testing.assert_array_equal(out.numpy(), np.remainder(x.numpy(), 2.0))
    assert (Tensor([5, -7]) % 3).grad_fn is None  # integers: outside the graph


def test_detach_cuts_the_graph_and_shares_data():
    x = _x()
    y = x * 2.0
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.numpy())
    assert (d + 1.0).grad_fn is None
    assert (d * x).grad_fn.inputs[0] is d  # usable again alongside tensors that need grad


def test_requires_grad_flags():
    x = Tensor([1.0, 2.0])
    assert not x.requires_grad and x.is_leaf and x.grad is None
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    y = _x() * 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2]).requires_grad_(True)
    z = _x()
    z.grad = Tensor(np.ones((2, 3)))
    z.zero_grad()
    assert z.grad is None
    assert y.retain_grad() is y


def test_make_result_directly():
    a = Tensor([1.0], requires_grad=True)
    out = make_result(np.array([5.0]), "custom", (a,), {"k": 1})
    assert out.grad_fn.op == "custom" and out.grad_fn.inputs == (a,)
    assert out.grad_fn.saved == {"k": 1} and not out.grad_fn.freed
    assert make_result(np.array([5.0]), "custom", (a.detach(),)).grad_fn is None
    assert make_result(np.array([5.0]), "custom", ()).grad_fn is None


# ----------------------------------------------------------------------------- registry and engine
@pytest.fixture
def empty_registries(monkeypatch):
    """The registries as they are before tinytorch-autograd is installed (whether it is or not)."""
    monkeypatch.setattr(graph, "_ENGINE", [None])
    monkeypatch.setattr(graph, "_DERIVATIVES", {})
    entry_points = []
    monkeypatch.setattr(graph, "entry_points", lambda group: list(entry_points)
                        if group == "tinytorch.autograd" else [])
    return entry_points


def test_backward_without_autograd_names_the_package(empty_registries):
    x = _x()
    loss = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="tinytorch-autograd") as info:
        loss.backward()
    assert "the autograd engine, tinytorch-autograd" in str(info.value)  # named, not numbered
    with pytest.raises(RuntimeError, match="pip install tinytorch-autograd"):
        get_engine()


def test_missing_derivative_names_the_package(empty_registries):
    with pytest.raises(RuntimeError, match=r"'mul'.*tinytorch-autograd"):
        get_derivative("mul")


def test_register_derivative_round_trip(empty_registries):
    @register_derivative("my_fused_op")
    def rule(grad, node):
        return (grad * 2,)

    assert get_derivative("my_fused_op") is rule
    assert rule(np.ones(2), None)[0].tolist() == [2.0, 2.0]

    @register_derivative("my_fused_op")  # registering again replaces (students' versions)
    def rule2(grad, node):
        return (grad,)

    assert get_derivative("my_fused_op") is rule2


def test_backward_calls_the_registered_engine(empty_registries):
    calls = []
    register_engine(lambda t, grad, retain: calls.append((t, grad, retain)))
    x = _x()
    loss = (x * x).sum()
    loss.backward()
    g = np.ones((2, 3))
    y = x * 3.0
    y.backward(g, retain_graph=True)
    assert calls[0] == (loss, None, False)
    assert calls[1][0] is y and calls[1][1] is g and calls[1][2] is True


def test_engine_is_found_through_the_entry_point(empty_registries):
    calls = []

    class FakeEntryPoint:
        loads = 0

        def load(self):
            FakeEntryPoint.loads += 1
            register_engine(lambda t, grad, retain: calls.append(t))
            register_derivative("mul")(lambda grad, node: (grad, grad))

    empty_registries.append(FakeEntryPoint())
    x = _x()
    (x * 2.0).sum().backward()
    (x * 2.0).sum().backward()
    assert len(calls) == 2 and FakeEntryPoint.loads == 1  # loaded once, then cached
    assert get_derivative("mul") is not None


def test_derivative_lookup_loads_the_engine_package(empty_registries):
    class FakeEntryPoint:
        def load(self):
            register_engine(lambda t, grad, retain: None)
            register_derivative("exp")(lambda grad, node: (grad * node.saved,))

    empty_registries.append(FakeEntryPoint())
    assert get_derivative("exp")(np.ones(1), Node("exp", (), np.array([3.0])))[0].tolist() == [3.0]


# ----------------------------------------------------------------------------- sum_to_shape
def _loop_sum_to_shape(grad, shape):
    out = np.zeros(shape)
    lead = grad.ndim - len(shape)
    for idx in np.ndindex(grad.shape):
        tail = idx[lead:]
        out[tuple(0 if n == 1 else i for i, n in zip(tail, shape))] += grad[idx]
    return out


@settings(max_examples=50, deadline=None)
@given(pair=broadcastable_pair(), data=st.data())
def test_sum_to_shape_undoes_broadcasting(pair, data):
    shape_a, shape_b = pair
    full = np.broadcast_shapes(shape_a, shape_b)
    grad = data.draw(float_arrays(full, dtype=np.float64))
    for shape in (shape_a, shape_b):
        out = sum_to_shape(grad, shape)
        assert out.shape == shape
        np.testing.assert_allclose(out, _loop_sum_to_shape(grad, shape), rtol=1e-12, atol=1e-9)


# ----------------------------------------------------------------------------- testing helpers
@settings(max_examples=20, deadline=None)
@given(a=float_arrays(shapes(min_dims=1, max_dims=2, max_side=3), dtype=np.float64, low=-2,
                      high=2))
def test_numerical_grad_of_known_functions(a):
    (g,) = numerical_grad(lambda v: float((v ** 3).sum()), [a])
    np.testing.assert_allclose(g, 3 * a ** 2, rtol=1e-5, atol=1e-6)
    ga, gb = numerical_grad(lambda u, v: float((u * v).sum()), [a, 2 * a])
    np.testing.assert_allclose(ga, 2 * a, atol=1e-6)
    np.testing.assert_allclose(gb, a, atol=1e-6)


def test_assert_close_fails_on_mismatch():
    assert_close(Tensor([1.0, 2.0]), [1.0, 2.0 + 1e-7])
    with pytest.raises(AssertionError, match="shape"):
        assert_close(Tensor([1.0, 2.0]), [1.0, 2.0, 3.0])
    with pytest.raises(AssertionError):
        assert_close(Tensor([1.0, 2.0]), [1.0, 2.1])
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(Tensor([1.0]), np.array([1.0]), check_dtype=True)
