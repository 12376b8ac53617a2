"""The engine: order of the backward pass, accumulation, freeing the graph, error messages,
ownership of ``.grad``, ``retain_grad``, ``detach`` and the ``grad()`` helper.

Exercise names: ``toposort`` (topological_order) and ``backprop`` (backpropagate). The
backprop tests run on ops defined here as ``Function``s (mul, add, total, exp), whose
derivatives are written below, so they need the engine only — not the derivative rules of
``derivatives/``, which come after it in the lesson.
"""

import numpy as np
import pytest

from tinytorch.core.autograd import Function, backward, grad, topological_order
from tinytorch.core.tensor import Tensor


class CountingIdentity(Function):
    """y = x, counting how often its backward runs."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        CountingIdentity.calls += 1
        return (g,)


class _Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved
        return (g * b, g * a)


class _Scale(Function):
    @staticmethod
    def forward(ctx, a, c):
        ctx.save(c)
        return a * np.asarray(c, dtype=a.dtype)

    @staticmethod
    def backward(ctx, g):
        (c,) = ctx.saved
        return (g * np.asarray(c, dtype=g.dtype),)


class _Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return (g, g)  # the same array for both inputs, as the built-in add's rule may do


class _Total(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save(a.shape)
        return np.asarray(a.sum())

    @staticmethod
    def backward(ctx, g):
        (shape,) = ctx.saved
        return (np.broadcast_to(g, shape),)  # a read-only view, as the built-in sum's rule gives


class _Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved
        return (g * out,)


def mul(a, b):
    """a * b for two tensors of one shape, or a tensor and a number."""
    return _Mul.apply(a, b) if isinstance(b, Tensor) else _Scale.apply(a, b)


def add(a, b):
    """a + b for two tensors of one shape."""
    return _Add.apply(a, b)


def total(a):
    """The sum of all elements (a 0-d tensor)."""
    return _Total.apply(a)


def exp(a):
    return _Exp.apply(a)


# ---------------------------------------------------------------- order
def test_toposort_puts_each_node_before_its_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = a + x
    c = b * a
    order = topological_order(c)
    assert [id(t) for t in order] == [id(c), id(b), id(a)]  # leaves are not in the order


def test_toposort_lists_each_tensor_once_and_skips_constants():
    x = Tensor([1.0], requires_grad=True)
    c = Tensor([2.0]) * 3  # computed from constants only: no node, not in the order
    y = x * 2
    z = (y * y + y * c) * y  # y is used four times
    order = topological_order(z)
    assert len(order) == len({id(t) for t in order}) == 5
    assert order[0] is z and order[-1] is y
    assert all(t._node is not None and t.requires_grad for t in order)


def test_toposort_of_a_ten_thousand_op_chain_needs_no_recursion():
    x = Tensor([2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    order = topological_order(y)
    assert len(order) == 10_000 and order[0] is y


def test_backprop_diamond_runs_each_derivative_once_and_sums_the_paths():
    CountingIdentity.calls = 0
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = CountingIdentity.apply(x)
    z = add(add(mul(y, y), mul(y, 3.0)), y)  # three paths from z back to y
    total(z).backward()
    assert CountingIdentity.calls == 1  # y's gradient was complete before y was visited
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 4)


def test_backprop_stacked_diamonds_take_linear_time():
    # 60 diamonds in a row have 2**60 paths: only a topological order gets through.
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(60):
        y = add(mul(y, 0.5), mul(y, 0.5))
    total(y).backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 1.0])


def test_backprop_a_chain_of_ten_thousand_ops_needs_no_recursion():
    x = Tensor([2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = mul(y, 1.0001)
    assert len(topological_order(y)) == 10_000
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0001 ** 10_000], rtol=1e-3)


def test_backprop_ignores_branches_that_do_not_reach_the_output():
    x = Tensor([1.0], requires_grad=True)
    unused = mul(x, 100.0)  # noqa: F841 - built, but not part of the loss
    total(mul(x, 3.0)).backward()
    np.testing.assert_array_equal(x.grad.data, [3.0])


def test_backprop_gives_constants_in_the_graph_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([5.0, 7.0])
    total(mul(x, c)).backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])


# ---------------------------------------------------------------- accumulation / retain_graph
def test_backprop_gradients_accumulate_across_backward_calls_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    total(mul(x, x)).backward()
    total(mul(x, 3.0)).backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    x.zero_grad()
    assert x.grad is None
    total(mul(x, x)).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_backprop_second_backward_through_a_freed_graph_is_a_clear_error():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = total(mul(x, x))
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_backprop_retain_graph_allows_a_second_backward_that_doubles_the_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = total(mul(exp(x), x))
    loss.backward(retain_graph=True)
    first = x.grad.data.copy()
    np.testing.assert_allclose(first, np.exp(x.data) * (x.data + 1), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()


def test_backprop_freeing_drops_what_the_nodes_saved():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = exp(x)
    loss = total(y)
    assert y.grad_fn.saved is not None
    loss.backward()
    assert y.grad_fn.saved is None and y.grad_fn.freed


# ---------------------------------------------------------------- starting the pass
def test_backprop_from_a_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = mul(x, 2.0)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*grad"):
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 20.0])


def test_gradient_of_the_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0]) * 2).sum().backward()


def test_backprop_on_a_leaf_and_on_a_one_element_tensor_of_any_shape():
    x = Tensor([[3.0]], requires_grad=True)
    x.backward()
    np.testing.assert_array_equal(x.grad.data, [[1.0]])
    y = Tensor([[2.0]], requires_grad=True)
    mul(y, y).backward()  # one element: the seed is 1 whatever the shape
    np.testing.assert_array_equal(y.grad.data, [[4.0]])


def test_backprop_accepts_a_tensor_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    backward(mul(x, 3.0), Tensor([1.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, -3.0])


def test_backprop_refuses_a_derivative_of_the_wrong_shape_and_names_the_op():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g.sum(),)

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"BadShape.*shape \(\).*shape \(2,\)"):
        total(BadShape.apply(x)).backward()


# ---------------------------------------------------------------- .grad itself
def test_backprop_grads_are_owned_writable_arrays_of_the_leafs_dtype():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((2, 3)), requires_grad=True)
    c = Tensor(np.ones(3), requires_grad=True)
    # add hands one array to both inputs; total a read-only broadcast view
    add(total(add(a, b)), total(mul(c, 2.0))).backward()
    for t in (a, b, c):
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape
        assert t.grad.data.flags.writeable and t.grad.data.flags.owndata
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data *= 0.0  # an optimizer may update one in place...
    np.testing.assert_array_equal(b.grad.data, np.ones((2, 3)))  # ...without touching another


def test_backprop_accumulation_adds_into_the_existing_grad_array():
    x = Tensor([1.0, 2.0], requires_grad=True)
    total(mul(x, 2.0)).backward()
    held = x.grad.data
    total(mul(x, 3.0)).backward()
    assert x.grad.data is held  # PyTorch semantics: the .grad tensor is updated in place
    np.testing.assert_array_equal(held, [5.0, 5.0])


def test_backprop_float64_leaves_get_float64_grads():
    x = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    total(mul(x, x)).backward()
    assert x.grad.dtype == np.float64


def test_backprop_retain_grad_keeps_the_gradient_of_an_intermediate():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = mul(x, 3.0)
    h.retain_grad()
    other = mul(x, 2.0)
    total(add(mul(h, h), other)).backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    assert other.grad is None  # intermediates keep no gradient unless asked
    assert not h.is_leaf and x.is_leaf


def test_backprop_stops_at_detach_which_shares_the_data():
    x = Tensor([1.0, 2.0], requires_grad=True)
    d = mul(x, 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = total(mul(x, d))  # d is a constant here
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    e = x.detach()
    assert np.shares_memory(e.data, x.data)


# ---------------------------------------------------------------- grad()
def test_backprop_grad_returns_gradients_and_touches_no_grad_attribute():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    loss = total(mul(x, w))
    (gx,) = grad(loss, [x])
    np.testing.assert_array_equal(gx.data, [3.0, 4.0])
    assert x.grad is None and w.grad is None


def test_backprop_grad_of_intermediates_and_unused_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = mul(x, 3.0)
    unused = Tensor([0.0], requires_grad=True)
    gy, gx, gu = grad(total(mul(y, y)), [y, x, unused])
    np.testing.assert_array_equal(gy.data, [6.0, 12.0])
    np.testing.assert_array_equal(gx.data, [18.0, 36.0])
    assert gu is None


def test_backprop_grad_leaves_existing_grads_and_retains_the_graph_when_asked():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad = Tensor([100.0, 100.0])
    loss = total(mul(x, x))
    (g1,) = grad(loss, [x], retain_graph=True)
    (g2,) = grad(loss, [x])
    np.testing.assert_array_equal(g1.data, g2.data)
    np.testing.assert_array_equal(x.grad.data, [100.0, 100.0])


def test_grad_refuses_inputs_that_do_not_require_grad():
    x = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1"):
        grad((x * 2).sum(), [x, Tensor([1.0])])


def test_operators_and_engine_together_on_a_diamond():
    """The same graph as the diamond test, built from the Tensor operators: the rules of
    ``derivatives/`` and the engine together (so it needs the ``arith`` and ``reduce`` rules as well)."""
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x + x * 3.0 + x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 4)


# ---------------------------------------------------------------- issue 21 part 5: gaps found by mutants
def test_backprop_accumulates_into_a_read_only_grad_without_writing_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    frozen = np.array([10.0, 20.0], dtype=np.float32)
    frozen.flags.writeable = False
    x.grad = Tensor([0.0, 0.0])
    x.grad.data = frozen
    total(mul(x, 3.0)).backward()
    np.testing.assert_array_equal(x.grad.data, [13.0, 23.0])
    np.testing.assert_array_equal(frozen, [10.0, 20.0])  # the user's array is left alone
    assert x.grad.data is not frozen


def test_backprop_accumulates_into_a_grad_of_another_shape_by_broadcasting():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad = Tensor([10.0])  # shape (1,), not (2,): the sum broadcasts, as numpy's + does
    held = x.grad.data
    total(mul(x, 3.0)).backward()
    assert x.grad.shape == (2,)
    np.testing.assert_array_equal(x.grad.data, [13.0, 13.0])
    np.testing.assert_array_equal(held, [10.0])


def test_backprop_accumulates_into_a_writable_grad_in_place_exactly():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad = Tensor([0.5, -0.5])
    held = x.grad.data
    total(mul(x, 3.0)).backward()
    assert x.grad.data is held
    np.testing.assert_array_equal(held, [3.5, 2.5])


def test_backprop_engine_backward_frees_the_graph_by_default():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = total(mul(x, x))
    backward(loss)  # the engine's own default, not Tensor.backward's
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="retain_graph"):
        backward(loss)
    y = total(mul(x, x))
    backward(y, retain_graph=True)
    backward(y)
    np.testing.assert_array_equal(x.grad.data, [6.0, 12.0])


def test_backprop_grad_frees_the_graph_by_default():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = total(mul(x, x))
    (g,) = grad(loss, [x])
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="retain_graph"):
        grad(loss, [x])


def test_backprop_grad_sums_a_leaf_reached_by_several_paths():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = grad(total(mul(x, x)), [x])  # both inputs of mul are the leaf x
    np.testing.assert_array_equal(g.data, [2.0, 4.0])
    (g,) = grad(total(add(mul(x, 2.0), add(mul(x, 3.0), mul(x, -7.0)))), [x])
    np.testing.assert_array_equal(g.data, [-2.0, -2.0])
    assert x.grad is None


def test_backprop_grad_returns_owned_writable_arrays():
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = Tensor([3.0, 4.0], requires_grad=True)
    # total hands back a read-only broadcast view; add gives both inputs one array
    gx, ga = grad(add(total(x), total(add(a, a))), [x, a])
    for g in (gx, ga):
        assert g.data.flags.writeable and g.data.flags.owndata
        assert g.dtype == np.float32
    gx.data += 1.0
    np.testing.assert_array_equal(gx.data, [2.0, 2.0])
    np.testing.assert_array_equal(ga.data, [2.0, 2.0])
    (gd,) = grad(total(mul(x, 2.0)), [x])
    gd.data *= 0.0
    np.testing.assert_array_equal(x.data, [1.0, 2.0])


def test_backprop_grad_of_a_leaf_output_and_a_given_grad_output():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = grad(mul(x, 2.0), [x], grad_output=np.array([1.0, -1.0]))
    np.testing.assert_array_equal(g.data, [2.0, -2.0])


class _FirstOnly(Function):
    """a + b whose derivative declines to give b a gradient (None)."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return (g, None)


def test_backprop_a_none_gradient_for_an_input_that_requires_grad_is_skipped():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    total(mul(_FirstOnly.apply(x, y), 2.0)).backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    assert y.grad is None
    gx, gy = grad(total(_FirstOnly.apply(x, y)), [x, y])
    np.testing.assert_array_equal(gx.data, [1.0, 1.0])
    assert gy is None


def test_leaf_gradient_is_laid_out_like_the_leaf():
    # x @ w.T hands w's gradient back as the transpose of x.T @ g: column-major. The leaf's
    # .grad is row-major like w, so an optimizer's update never mixes the two layouts; a
    # column-major leaf keeps its layout too.
    x = Tensor(np.arange(12.0).reshape(4, 3))
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    (x @ w.T).sum().backward()
    assert w.grad.data.flags.c_contiguous
    np.testing.assert_array_equal(w.grad.data, np.tile(x.data.sum(axis=0), (2, 1)))
    wf = Tensor(np.asfortranarray(np.ones((3, 2))), requires_grad=True)
    assert wf.data.flags.f_contiguous
    (x @ wf).sum().backward()
    assert wf.grad.data.flags.f_contiguous
    np.testing.assert_array_equal(wf.grad.data, np.tile(x.data.sum(axis=0)[:, None], (1, 2)))
