"""no_grad / enable_grad / set_grad_enabled as context managers and decorators."""

import pytest

from tinytorch.core.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor import is_grad_enabled as tensor_is_grad_enabled


@pytest.fixture(autouse=True)
def grad_mode_on():
    assert is_grad_enabled()
    yield
    assert is_grad_enabled(), "a test left grad mode off"


def test_no_grad_records_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        assert not is_grad_enabled() and not tensor_is_grad_enabled()
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    z = x * 2
    assert z.requires_grad and z.grad_fn is not None


def test_nesting_restores_each_outer_mode():
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            with no_grad():
                assert not is_grad_enabled()
            assert is_grad_enabled()
        assert not is_grad_enabled()
        with set_grad_enabled(True):
            assert is_grad_enabled()
        assert not is_grad_enabled()
    assert is_grad_enabled()


def test_enable_grad_inside_no_grad_records_again():
    x = Tensor([1.0], requires_grad=True)
    with no_grad():
        with enable_grad():
            y = x * 3
    y.sum().backward()
    assert x.grad.item() == 3.0


@pytest.mark.parametrize("make", [no_grad, lambda: set_grad_enabled(False)])
def test_mode_is_restored_after_an_exception(make):
    with pytest.raises(ValueError):
        with make():
            raise ValueError("boom")
    assert is_grad_enabled()


def test_decorators_with_and_without_parentheses():
    @no_grad()
    def a():
        return is_grad_enabled()

    @no_grad
    def b():
        return is_grad_enabled()

    @set_grad_enabled(False)
    def c():
        return is_grad_enabled()

    assert is_grad_enabled()  # decorating does not switch the mode
    assert a() is False and b() is False and c() is False
    assert is_grad_enabled()

    with no_grad():
        @enable_grad()
        def d():
            return is_grad_enabled()

        @enable_grad
        def e():
            return is_grad_enabled()

        assert d() is True and e() is True
        assert not is_grad_enabled()


def test_decorated_function_restores_the_mode_when_it_raises():
    @no_grad()
    def fails():
        raise KeyError("x")

    with pytest.raises(KeyError):
        fails()
    assert is_grad_enabled()


def test_decorator_keeps_the_functions_name_and_doc():
    @no_grad()
    def predict(x):
        """Doc."""
        return x

    assert predict.__name__ == "predict" and predict.__doc__ == "Doc."


def test_set_grad_enabled_as_a_plain_call_takes_effect_at_once():
    set_grad_enabled(False)
    try:
        assert not is_grad_enabled()
        y = Tensor([1.0], requires_grad=True) * 2
        assert not y.requires_grad
    finally:
        set_grad_enabled(True)
    assert is_grad_enabled()
