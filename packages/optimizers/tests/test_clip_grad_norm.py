"""clip_grad_norm_: the total norm of all gradients together, scaled in place."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.optimizers import clip_grad_norm_
from tinytorch.core.tensor import Tensor


def with_grads(*grads):
    ps = []
    for g in grads:
        p = Tensor(np.zeros(np.shape(g)), requires_grad=True)
        p.grad = Tensor(g)
        ps.append(p)
    return ps


def test_clip_grad_returns_the_total_norm_and_scales_every_gradient_by_the_same_factor():
    ps = with_grads([3.0, 0.0], [[4.0]])  # total norm 5
    held = ps[0].grad.data
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert isinstance(total, Tensor) and float(total) == pytest.approx(5.0)
    assert ps[0].grad.data is held  # in place
    np.testing.assert_allclose(ps[0].grad.data, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(ps[1].grad.data, [[0.8]], rtol=1e-5)


def test_clip_grad_gradients_under_the_limit_are_untouched():
    ps = with_grads([0.3, 0.4])
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert total.item() == pytest.approx(0.5)
    np.testing.assert_array_equal(ps[0].grad.data, np.float32([0.3, 0.4]))


def test_clip_grad_other_norms_and_a_single_tensor():
    ps = with_grads([1.0, -2.0], [2.0])
    assert clip_grad_norm_(ps, 100.0, norm_type=1).item() == pytest.approx(5.0)
    assert clip_grad_norm_(ps, 100.0, norm_type=float("inf")).item() == pytest.approx(2.0)
    clip_grad_norm_(ps, 1.0, norm_type=float("inf"))
    np.testing.assert_allclose(ps[0].grad.data, [0.5, -1.0], rtol=1e-5)
    (p,) = with_grads([6.0, 8.0])
    assert clip_grad_norm_(p, 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(p.grad.data, [3.0, 4.0], rtol=1e-5)


def test_clip_grad_parameters_without_gradients_are_skipped():
    ps = with_grads([3.0, 4.0])
    ps.append(Tensor([1.0], requires_grad=True))
    assert clip_grad_norm_(ps, 1.0).item() == pytest.approx(5.0)
    assert ps[1].grad is None
    assert clip_grad_norm_([Tensor([1.0], requires_grad=True)], 1.0).item() == 0.0


@settings(deadline=None, max_examples=30)
@given(values=st.lists(st.floats(-100, 100, width=32), min_size=1, max_size=12),
       max_norm=st.floats(0.01, 50))
def test_clip_grad_after_clipping_the_norm_is_at_most_max_norm(values, max_norm):
    half = len(values) // 2
    ps = with_grads(values[:half] or [0.0], values[half:])
    total = clip_grad_norm_(ps, max_norm).item()
    np.testing.assert_allclose(total, np.linalg.norm(np.float32(values)), rtol=1e-5, atol=1e-6)
    after = np.sqrt(sum(float(np.sum(p.grad.data.astype(np.float64) ** 2)) for p in ps))
    assert after <= max_norm * (1 + 1e-5) + 1e-6
    if total > max_norm:
        assert after == pytest.approx(max_norm, rel=1e-4)


def test_clip_grad_bad_arguments_and_non_finite_norms():
    ps = with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(ps, 1.0)  # without the flag: the caller sees it in the result
    assert np.isinf(total.item()) and np.isnan(ps[0].grad.data[0])
    with pytest.raises(ValueError, match="max_norm=-1.0"):
        clip_grad_norm_(with_grads([1.0]), -1.0)
    with pytest.raises(ValueError, match="norm_type=0.0"):
        clip_grad_norm_(with_grads([1.0]), 1.0, norm_type=0)
