"""In-place ops (add_, sub_, mul_, div_, fill_, zero_, clamp_, copy_), the storage version
counter, and the check a backward pass makes (graph.check_versions, called here directly: the
engine is module 09's). Against PyTorch: integration/test_inplace_torch.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.tensor import Tensor, set_grad_enabled
from tinytorch.core.tensor.graph import check_versions
from tinytorch.core.tensor.testing import float_arrays, shapes

F32, F64 = np.float32, np.float64


@pytest.mark.parametrize("dtype", [F32, F64])
@pytest.mark.parametrize("name, fn", [("add_", np.add), ("sub_", np.subtract),
                                      ("mul_", np.multiply), ("div_", np.true_divide)])
def test_binary_inplace_ops_write_into_self_and_return_it(dtype, name, fn):
    a = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]], dtype=dtype)
    b = np.array([2.0, -0.5, 4.0], dtype=dtype)  # broadcasts over the rows
    x = Tensor(a, dtype=dtype)
    before = x.data
    out = getattr(x, name)(Tensor(b, dtype=dtype))
    assert out is x and x.data is before  # the same array, written in place
    np.testing.assert_allclose(x.numpy(), fn(a, b), rtol=1e-6)
    assert x.dtype == dtype and x._version == 1


def test_add_and_sub_take_alpha_and_numbers():
    x = Tensor([1.0, 2.0])
    x.add_(Tensor([2.0, 4.0]), alpha=0.5).sub_(1.0, alpha=2)
    assert x.tolist() == [0.0, 2.0]
    x.mul_(3).div_(2)
    assert x.tolist() == [0.0, 3.0] and x._version == 4


def test_fill_zero_clamp_copy():
    x = Tensor([[-2.0, 0.5], [3.0, 1.0]])
    assert x.clamp_(min=0.0, max=1.0) is x and x.tolist() == [[0.0, 0.5], [1.0, 1.0]]
    assert x.clamp_(max=0.75).tolist() == [[0.0, 0.5], [0.75, 0.75]]
    assert x.fill_(7).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert x.zero_().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert x.copy_(Tensor([1.0, 2.0])).tolist() == [[1.0, 2.0], [1.0, 2.0]]  # broadcast
    assert x.copy_(np.array([[1, 2], [3, 4]])).dtype == F32  # cast to x's dtype
    assert x._version == 6
    assert x.fill_(Tensor(2.5)).tolist() == [[2.5, 2.5], [2.5, 2.5]]


def test_views_share_the_version_of_their_storage():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    row = x[0]  # a numpy view of x's array
    flat = x.reshape(6)
    row.mul_(10)
    assert x.tolist()[0] == [0.0, 10.0, 20.0]
    assert x._version == row._version == flat._version == 1
    assert Tensor([1.0])._version == 0  # a fresh tensor is at version 0
    assert x.clone()._version == 0  # a copy has its own storage


def test_leaf_that_requires_grad_refuses_in_place_unless_grad_is_off():
    w = Tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1.0), lambda: w.mul_(2.0), lambda: w.zero_(),
               lambda: w.clamp_(min=0.0), lambda: w.copy_(Tensor([0.0, 0.0]))):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            op()
    assert w.tolist() == [1.0, 2.0] and w._version == 0  # nothing was written
    with set_grad_enabled(False):  # how an optimizer updates a parameter
        w.sub_(Tensor([0.5, 0.5]), alpha=2.0)
    assert w.tolist() == [0.0, 1.0] and w.requires_grad and w._version == 1


def test_in_place_on_a_graph_tensor_is_refused_with_the_out_of_place_form():
    w = Tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    with pytest.raises(RuntimeError, match=r"made by op 'mul'.*y = y \+ z instead of y\.add_"):
        y.add_(1.0)
    buf = Tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="other operand requires grad"):
        buf.add_(w)
    assert buf.tolist() == [0.0, 0.0] and y.tolist() == [2.0, 4.0]


def test_user_mistakes_get_one_clear_error():
    with pytest.raises(ValueError, match=r"shape \(2, 3\) cannot be broadcast.*shape \(3,\)"):
        Tensor([1.0, 2.0, 3.0]).add_(Tensor(np.ones((2, 3))))
    with pytest.raises(TypeError, match="float32, which cannot be stored in this int64"):
        Tensor([1, 2]).add_(0.5)
    with pytest.raises(TypeError, match="cannot be stored in this int64"):
        Tensor([1, 2]).div_(2)
    with pytest.raises(TypeError, match="alpha must be an integer"):
        Tensor([1, 2]).add_(1, alpha=0.5)
    assert Tensor([1, 2]).add_(3, alpha=2).tolist() == [7, 8]  # integers stay integers
    with pytest.raises(ValueError, match="read-only"):
        Tensor([1.0, 2.0]).expand(3, 2).add_(1.0)
    with pytest.raises(ValueError, match="clamp_ needs at least one"):
        Tensor([1.0]).clamp_()
    with pytest.raises(ValueError, match="fill_: value must be a number"):
        Tensor([1.0, 2.0]).fill_(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"copy_: a source of shape \(3,\)"):
        Tensor([1.0, 2.0]).copy_(Tensor([1.0, 2.0, 3.0]))


def test_check_versions_names_the_op_and_both_versions():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    y = w * x  # mul saves nothing but reads both inputs' values in backward
    check_versions(y)  # nothing changed: passes
    x.mul_(2).add_(1)
    with pytest.raises(RuntimeError, match=r"op 'mul': its input 1 .* at version 2, the op "
                                           r"needs version 0"):
        check_versions(y)


def test_check_versions_allows_what_the_derivative_does_not_read():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    y = w + x  # add's derivative needs no input value, as in PyTorch
    x.add_(1.0)
    check_versions(y)
    z = w * x  # recorded after the change: sees x at its current version
    check_versions(z)


def test_check_versions_watches_an_output_the_op_saved():
    w = Tensor([0.0, 1.0], requires_grad=True)
    y = w.exp()  # exp saves its output for the derivative
    with set_grad_enabled(False):
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"op 'exp': its output 0 .* version 1, the op needs "
                                           r"version 0"):
        check_versions(y)


def test_item_assignment_bumps_the_version_too():
    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    y = w * x
    x[0] = 10.0
    assert x._version == 1
    with pytest.raises(RuntimeError, match=r"op 'mul': its input 1 .* at version 1"):
        check_versions(y)


@settings(max_examples=40, deadline=None)
@given(a=float_arrays(shapes(min_dims=1), min_magnitude=0.1), trailing=st.integers(0, 2),
       name=st.sampled_from(["add_", "sub_", "mul_", "div_"]))
def test_an_in_place_op_gives_what_its_out_of_place_form_gives(a, trailing, name):
    # b has a's last `trailing` dims (0: a number-like 0-d array), so it broadcasts to a
    b = np.abs(np.asarray(a[(0,) * (a.ndim - min(trailing, a.ndim))])) + np.float32(0.5)
    want = {"add_": Tensor(a) + Tensor(b), "sub_": Tensor(a) - Tensor(b),
            "mul_": Tensor(a) * Tensor(b), "div_": Tensor(a) / Tensor(b)}[name]
    x = Tensor(a)
    getattr(x, name)(Tensor(b))
    np.testing.assert_array_equal(x.numpy(), want.numpy())
    assert x.dtype == want.dtype and x._version == 1


def test_the_record_of_a_storage_stays_small_however_many_writes():
    from tinytorch.core.tensor.graph import _RECENT, _STORAGES, _owner

    w = Tensor([1.0, 2.0], requires_grad=True)
    x = Tensor([3.0, 4.0])
    early = w * x
    x.add_(1.0)
    late = w * x
    for _ in range(3 * _RECENT):  # an optimizer's steps, say
        x.add_(1.0)
    record = _STORAGES[id(_owner(x.data))]
    assert x._version == 3 * _RECENT + 1 and len(record.ticks) == _RECENT
    for stale in (early, late):
        with pytest.raises(RuntimeError, match=rf"version {3 * _RECENT + 1}, the op needs "
                                               "version an earlier one"):
            check_versions(stale)
    recent = w * x
    x.add_(1.0)
    with pytest.raises(RuntimeError, match=rf"version {3 * _RECENT + 2}, the op needs "
                                           rf"version {3 * _RECENT + 1}"):
        check_versions(recent)
