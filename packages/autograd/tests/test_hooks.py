"""Tensor.register_hook: called with a tensor's complete gradient, may replace it, removable."""

import gc

import numpy as np
import pytest

from tinytorch.core.autograd import grad
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor import graph as _graph


def test_hook_on_a_leaf_sees_its_total_gradient_once_and_can_replace_it():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def double(g):
        seen.append(g.data.copy())
        return g * 2

    x.register_hook(double)
    (x * x + x * 3).sum().backward()  # two paths into x: the hook sees their sum once
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * x.data + 3)
    np.testing.assert_allclose(x.grad.data, 2 * (2 * x.data + 3))


def test_hook_on_an_intermediate_changes_what_flows_on():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * x
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()))  # returns None: observe only
    h.register_hook(lambda g: g * 0.5)
    h.retain_grad()
    (h * 4).sum().backward()
    np.testing.assert_allclose(seen[0], [4.0, 4.0, 4.0])
    np.testing.assert_allclose(h.grad.data, [2.0, 2.0, 2.0])  # the replaced gradient
    np.testing.assert_allclose(x.grad.data, 2 * x.data * 2.0)


def test_hooks_run_in_order_each_on_the_previous_result():
    x = Tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g + 1)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, [30.0])


def test_remove_unregisters_and_twice_is_harmless():
    x = Tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 2)
    handle.remove()
    handle.remove()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    assert id(x) not in _graph._HOOKS


def test_hooks_apply_to_grad_too_and_leave_dot_grad_alone():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: -g)
    (gx,) = grad((x * x).sum(), [x])
    np.testing.assert_allclose(gx.data, -2 * x.data)
    assert x.grad is None


def test_hook_with_create_graph_gets_a_tensor_in_the_graph():
    x = Tensor([0.5, 1.5], dtype=np.float64, requires_grad=True)
    x.register_hook(lambda g: g * x)  # replaced by g·x, itself differentiable
    (gx,) = grad((x * x).sum(), [x], create_graph=True)  # 2x · x
    np.testing.assert_allclose(gx.data, 2 * x.data ** 2)
    (hx,) = grad(gx.sum(), [x])  # the hook runs again on this pass: 4x · x
    np.testing.assert_allclose(hx.data, 4 * x.data * x.data)


def test_hook_on_a_tensor_without_grad_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)


def test_hook_returning_the_wrong_shape_is_named():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*shape \(\)"):
        (x * x).sum().backward()


def test_hooks_go_with_their_tensor():
    x = Tensor([1.0], requires_grad=True)
    x.register_hook(lambda g: g)
    key = id(x)
    assert key in _graph._HOOKS
    del x
    gc.collect()
    assert key not in _graph._HOOKS  # the engine is back on its hook-free walk
