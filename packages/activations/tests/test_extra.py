"""SiLU, ELU, Softplus, Mish, Hardswish, LogSigmoid: values against their formulas in float64
(numpy's expm1 / log1p as the reference), at the kinks and far out; dtypes; layers.
Gradients against PyTorch are in integration/test_layers_torch.py."""

import numpy as np
import pytest

from tinytorch.core.activations import (ELU, Activation, Hardswish, LogSigmoid, Mish, SiLU,
                                        Softplus, elu, hardswish, logsigmoid, mish, silu,
                                        softplus)
from tinytorch.core.tensor import Tensor

X = np.array([0.0, -0.0, 1e-8, -1e-8, 1e-30, -1e-30, 0.5, -0.5, 2.9, -2.9, 3.0, -3.0, 3.1,
              -3.1, 19.9, 20.0, 20.1, -20.0, 30.0, -30.0, 88.0, -88.0, 1e4, -1e4])


def _softplus_ref(x, beta=1.0, threshold=20.0):
    with np.errstate(over="ignore"):
        smooth = np.log1p(np.exp(beta * x)) / beta
    return np.where(beta * x > threshold, x, smooth)


REFERENCES = {
    "silu": (silu, lambda x: x / (1 + np.exp(-x))),
    "elu": (elu, lambda x: np.where(x > 0, x, np.expm1(np.minimum(x, 0)))),
    "elu_alpha": (lambda t: elu(t, 0.3), lambda x: np.where(x > 0, x, 0.3 * np.expm1(np.minimum(x, 0)))),
    "softplus": (softplus, _softplus_ref),
    "softplus_beta": (lambda t: softplus(t, 2.0, 5.0), lambda x: _softplus_ref(x, 2.0, 5.0)),
    "mish": (mish, lambda x: x * np.tanh(_softplus_ref(x))),
    "hardswish": (hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6),
    "logsigmoid": (logsigmoid, lambda x: -_softplus_ref(-x)),
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_match_the_formula_everywhere(name):
    ours, ref = REFERENCES[name]
    with np.errstate(over="ignore"):
        want = ref(X)
    got = ours(Tensor(X, dtype=np.float64)).numpy()
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    assert np.isfinite(got).all()


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_float32_stays_float32_and_accurate_near_zero(name):
    ours, ref = REFERENCES[name]
    got = ours(Tensor(X.astype(np.float32))).numpy()
    assert got.dtype == np.float32 and np.isfinite(got).all()
    with np.errstate(over="ignore"):
        want = ref(X.astype(np.float32).astype(np.float64))
    # relative to each value: tiny outputs (elu(-1e-8) = -1e-8) must not round to 0
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-38)


def test_integers_become_float32():
    for fn in (silu, elu, softplus, mish, hardswish, logsigmoid):
        assert fn(Tensor([-2, 0, 5])).dtype == np.float32


@pytest.mark.parametrize("fn", [silu, elu, softplus, mish, hardswish, logsigmoid])
def test_the_computation_is_recorded_for_autograd(fn):
    x = Tensor(np.linspace(-4, 4, 9), requires_grad=True)
    out = fn(x)
    assert out.requires_grad and out.grad_fn is not None


def test_softplus_beta_zero_is_refused():
    with pytest.raises(ValueError, match="beta must be non-zero"):
        softplus(Tensor([1.0]), beta=0)
    with pytest.raises(ValueError, match="beta must be non-zero"):
        Softplus(beta=0)


def test_layers_call_their_function_and_print_like_pytorch():
    x = Tensor(np.linspace(-5, 5, 11))
    layers = [(SiLU(), silu(x)), (ELU(0.5), elu(x, 0.5)), (Softplus(2.0, 4.0), softplus(x, 2.0, 4.0)),
              (Mish(), mish(x)), (Hardswish(), hardswish(x)), (LogSigmoid(), logsigmoid(x))]
    for layer, want in layers:
        assert isinstance(layer, Activation) and list(layer.parameters()) == []
        np.testing.assert_array_equal(layer(x).numpy(), want.numpy())
    assert [repr(layer) for layer, _ in layers] == [
        "SiLU()", "ELU(alpha=0.5)", "Softplus(beta=2.0, threshold=4.0)", "Mish()", "Hardswish()",
        "LogSigmoid()"]
    assert repr(Softplus()) == "Softplus(beta=1.0, threshold=20.0)" and repr(ELU()) == "ELU(alpha=1.0)"
