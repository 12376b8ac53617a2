"""Custom ops with Function, and gradcheck itself (it must catch a wrong derivative)."""

import numpy as np
import pytest

from tinytorch.core.autograd import Function, GradcheckError, gradcheck
from tinytorch.core.tensor import Tensor


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (3 * x ** 2 * g,)


class ScaledAdd(Function):
    """alpha · a + b, with a Python number among the arguments."""

    @staticmethod
    def forward(ctx, a, alpha, b):
        ctx.save(alpha)
        ctx.seen_needs = ctx.needs_input_grad
        return alpha * a + b

    @staticmethod
    def backward(ctx, g):
        (alpha,) = ctx.saved
        return alpha * g, g


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (2 * x ** 2 * g,)


class TensorBackward(Function):
    """A backward written with Tensor ops returns Tensors: that works too."""

    @staticmethod
    def forward(ctx, x):
        ctx.save(Tensor(x))
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved
        return (x.cos() * Tensor(g),)


def test_function_round_trip():
    x = Tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = Cube.apply(x)
    assert isinstance(y, Tensor) and y.requires_grad
    np.testing.assert_allclose(y.data, x.data ** 3)
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data ** 2)
    assert gradcheck(lambda a: Cube.apply(a), [np.array([0.3, -1.2])])
    assert gradcheck(lambda a: TensorBackward.apply(a), [np.array([0.3, -1.2])])


def test_function_with_non_tensor_arguments_and_needs_input_grad():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([5.0, 5.0])
    out = ScaledAdd.apply(a, 3.0, b)
    np.testing.assert_array_equal(out.data, [8.0, 11.0])
    assert out.grad_fn.saved.seen_needs == (True, False)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.data, [3.0, 3.0])
    assert b.grad is None


def test_function_without_grad_builds_no_node():
    out = Cube.apply(Tensor([2.0]))
    assert out.grad_fn is None and not out.requires_grad


def test_function_returning_the_wrong_number_of_gradients():
    class TwoGrads(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="2 gradients for 1"):
        TwoGrads.apply(Tensor([1.0], requires_grad=True)).sum().backward()


def test_gradcheck_catches_a_wrong_derivative():
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(lambda a: WrongCube.apply(a), [x])
    assert gradcheck(lambda a: WrongCube.apply(a), [x], raise_exception=False) is False


def test_gradcheck_names_the_failing_input_of_several():
    def f(a, b):
        return a * 2.0 + WrongCube.apply(b)

    with pytest.raises(GradcheckError, match="input 1"):
        gradcheck(f, [np.ones(2), np.ones(3)[:2] * 0.7])


def test_gradcheck_works_in_float64_on_copies_of_its_inputs():
    x = np.array([1.0, 2.0], dtype=np.float32)
    seen = []

    def f(a):
        seen.append(a.dtype)
        return a * a

    assert gradcheck(f, [x])
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x, [1.0, 2.0])  # not modified


def test_gradcheck_requires_a_tensor_output():
    with pytest.raises(TypeError, match="Tensor"):
        gradcheck(lambda a: a.data, [np.ones(2)])


def test_gradcheck_counts_an_input_that_does_not_matter_as_zero_gradient():
    assert gradcheck(lambda a, b: a * 2.0, [np.ones(2), np.ones(3)])


def test_function_registers_its_derivative_once_when_defined(monkeypatch):
    import tinytorch.core.autograd.function as function_module
    from tinytorch.core.tensor.graph import get_derivative

    registered = []
    real = function_module.register_derivative
    monkeypatch.setattr(function_module, "register_derivative",
                        lambda op: registered.append(op) or real(op))

    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return (2 * g,)

    assert registered == [Twice.op_name()]
    assert get_derivative(Twice.op_name()) is not None  # before any apply
    x = Tensor([1.0, 3.0], requires_grad=True)
    for _ in range(3):
        Twice.apply(x).sum().backward()
    assert registered == [Twice.op_name()]  # apply registers nothing
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_function_defined_again_under_the_same_name_keeps_each_backward():
    def make(k):
        class Scale(Function):  # the same qualified name, hence the same op name, each time
            @staticmethod
            def forward(ctx, x):
                return k * x

            @staticmethod
            def backward(ctx, g):
                return (k * g,)
        return Scale

    first, second = make(2.0), make(3.0)
    assert first.op_name() == second.op_name()
    x = Tensor([1.0], requires_grad=True)
    (first.apply(x) + second.apply(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0])  # 2 + 3: each node ran its own class


def test_gradcheck_uses_the_shared_numerical_gradient(monkeypatch):
    import importlib

    from tinytorch.core.tensor.numerical import numerical_grad

    # the package exports the function gradcheck under the submodule's name
    gradcheck_module = importlib.import_module("tinytorch.core.autograd.gradcheck")

    assert gradcheck_module.numerical_grad is numerical_grad
    calls = []
    monkeypatch.setattr(gradcheck_module, "numerical_grad",
                        lambda f, arrays, eps: calls.append(eps) or [a * 0 for a in arrays])
    with pytest.raises(GradcheckError, match="central differences give 0"):
        gradcheck(lambda a: a * 3.0, [np.ones(2)], eps=1e-5)
    assert calls == [1e-5]
