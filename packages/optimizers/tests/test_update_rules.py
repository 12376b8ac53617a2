"""Each update rule, one or two steps at a time, against numbers worked out by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.optimizers import SGD, Adam, AdamW, RMSprop
from tinytorch.core.tensor import Tensor


def param(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), dtype=dtype, requires_grad=True)


def step(opt, p, grad):
    p.grad = Tensor(np.array(grad, dtype=p.dtype), dtype=p.dtype)
    opt.step()
    return p.data.copy()


# ---------------------------------------------------------------- SGD
def test_sgd_plain_step():
    p = param([1.0, -2.0])
    opt = SGD([p], lr=0.1)
    np.testing.assert_allclose(step(opt, p, [0.5, -1.0]), [0.95, -1.9])


def test_sgd_momentum_first_step_is_plain_then_the_buffer_builds_up():
    p = param([0.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(step(opt, p, [1.0]), [-0.1])       # b = 1
    np.testing.assert_allclose(step(opt, p, [1.0]), [-0.29])      # b = 0.9 + 1 = 1.9
    np.testing.assert_allclose(step(opt, p, [0.0]), [-0.461])     # b = 1.71
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.71])


def test_sgd_dampening_scales_new_gradients_after_the_first():
    p = param([0.0])
    opt = SGD([p], lr=1.0, momentum=0.5, dampening=0.5)
    np.testing.assert_allclose(step(opt, p, [2.0]), [-2.0])       # b = 2 (no dampening yet)
    np.testing.assert_allclose(step(opt, p, [2.0]), [-4.0])       # b = 0.5·2 + 0.5·2 = 2


def test_sgd_nesterov_looks_ahead():
    p = param([0.0])
    opt = SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(step(opt, p, [1.0]), [-0.19])      # d = 1 + 0.9·1
    np.testing.assert_allclose(step(opt, p, [1.0]), [-0.19 - 0.271])  # b = 1.9; d = 1 + 1.71


def test_sgd_weight_decay_adds_an_l2_term_to_the_gradient():
    p = param([2.0])
    opt = SGD([p], lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(step(opt, p, [0.0]), [1.9])        # g = 0 + 0.5·2
    assert p.grad.data[0] == 0.0  # the gradient itself is not modified


@settings(deadline=None, max_examples=30)
@given(x=hnp.arrays(np.float32, hnp.array_shapes(max_dims=3, max_side=4),
                    elements=st.floats(-10, 10, width=32)),
       lr=st.floats(0.0, 1.0))
def test_sgd_step_is_p_minus_lr_g_and_keeps_float32(x, lr):
    p = Tensor(x, requires_grad=True)
    g = np.flip(x).copy() if x.ndim else x.copy()
    p.grad = Tensor(g)
    held = p.data
    SGD([p], lr=lr).step()
    assert p.data is held and p.dtype == np.float32
    np.testing.assert_allclose(p.data, x - np.float32(lr) * g, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- Adam / AdamW
def test_adam_first_step_moves_each_weight_by_lr_against_its_gradient_sign():
    p = param([1.0, 1.0, 1.0])
    opt = Adam([p], lr=0.01, eps=0.0)
    # m̂ = g and v̂ = g² after one step, so the update is lr · g/|g|
    np.testing.assert_allclose(step(opt, p, [3.0, -0.001, 50.0]), [0.99, 1.01, 0.99])


def test_adam_two_steps_by_hand():
    p = param([0.0])
    opt = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0)
    step(opt, p, [1.0])  # m = .5, v = .25; m̂ = 1, v̂ = 1 → p = -0.1
    after = step(opt, p, [3.0])
    m, v = 0.5 * 0.5 + 0.5 * 3, 0.75 * 0.25 + 0.25 * 9   # 1.75, 2.4375
    m_hat, v_hat = m / (1 - 0.25), v / (1 - 0.5625)        # 2.333.., 5.571..
    np.testing.assert_allclose(after, [-0.1 - 0.1 * m_hat / math.sqrt(v_hat)])
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["exp_avg"], [m])
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], [v])


def test_adam_weight_decay_goes_through_the_gradient():
    p = param([2.0])
    opt = Adam([p], lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(step(opt, p, [0.0]), [1.9])  # g = 1 → one lr-sized step


def test_adamw_decays_the_weights_directly():
    p = param([2.0, -4.0])
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    # zero gradient: Adam's part is 0/(0 + eps) = 0; the decay still shrinks by 1 - 0.05
    np.testing.assert_allclose(step(opt, p, [0.0, 0.0]), [1.9, -3.8])
    q = param([2.0])
    opt = AdamW([q], lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(step(opt, q, [5.0]), [2.0 * 0.95 - 0.1])


def test_adamw_default_weight_decay_is_pytorchs():
    p = param([1.0])
    assert AdamW([p]).param_groups[0]["weight_decay"] == 0.01
    assert Adam([p]).param_groups[0]["weight_decay"] == 0.0


def test_amsgrad_divides_by_the_largest_second_moment_seen():
    def second_step(amsgrad):
        p = param([0.0])
        opt = Adam([p], lr=0.1, betas=(0.0, 0.5), eps=0.0, amsgrad=amsgrad)
        first = step(opt, p, [10.0])  # v = 50
        return step(opt, p, [1.0]) - first, opt.state[p]  # v = 25.5; the max stays 50

    plain, state = second_step(False)
    ams, ams_state = second_step(True)
    np.testing.assert_allclose(state["exp_avg_sq"], [25.5])
    np.testing.assert_allclose(ams_state["max_exp_avg_sq"], [50.0])
    # β₁ = 0: m = g = 1; bias correction of v after two steps: 1 - 0.5² = 0.75
    np.testing.assert_allclose(plain, [-0.1 / math.sqrt(25.5 / 0.75)])
    np.testing.assert_allclose(ams, [-0.1 / math.sqrt(50.0 / 0.75)])


# ---------------------------------------------------------------- RMSprop
def test_rmsprop_first_step_by_hand():
    p = param([1.0])
    opt = RMSprop([p], lr=0.01, alpha=0.9, eps=0.0)
    # s = 0.1 · 4 = 0.4 → p = 1 - 0.01 · 2/√0.4
    np.testing.assert_allclose(step(opt, p, [2.0]), [1 - 0.01 * 2 / math.sqrt(0.4)])
    np.testing.assert_allclose(opt.state[p]["square_avg"], [0.4])


def test_rmsprop_centered_subtracts_the_squared_mean():
    p = param([0.0])
    opt = RMSprop([p], lr=0.01, alpha=0.5, eps=0.0, centered=True)
    step(opt, p, [2.0])  # s = 2, a = 1 → denominator √(2 - 1) = 1
    np.testing.assert_allclose(p.data, [-0.02])
    step(opt, p, [4.0])  # s = 1 + 8 = 9, a = 0.5 + 2 = 2.5 → √(9 - 6.25)
    np.testing.assert_allclose(p.data, [-0.02 - 0.01 * 4 / math.sqrt(2.75)])


def test_rmsprop_momentum_and_weight_decay():
    p = param([1.0])
    opt = RMSprop([p], lr=0.1, alpha=0.0, eps=0.0, momentum=0.5, weight_decay=1.0)
    step(opt, p, [1.0])  # g = 2, s = 4, b = 1 → p = 0.9
    np.testing.assert_allclose(p.data, [0.9])
    step(opt, p, [-0.4])  # g = 0.5, s = 0.25, g/√s = 1 → b = 0.5 + 1 → p = 0.75
    np.testing.assert_allclose(p.data, [0.75])


# ---------------------------------------------------------------- dtype discipline
@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=np.float64(0.1), momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda ps: Adam(ps, lr=np.float64(1e-3), weight_decay=0.1, amsgrad=True),
    lambda ps: AdamW(ps, lr=1e-3),
    lambda ps: RMSprop(ps, centered=True, momentum=0.9, weight_decay=0.1),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_updates_stay_in_the_parameters_dtype_and_array(make, dtype):
    p = param(np.linspace(-1, 1, 6).reshape(2, 3), dtype=dtype)
    held = p.data
    opt = make([p])
    for _ in range(3):
        p.grad = Tensor(np.ones((2, 3)), dtype=dtype)
        opt.step()
    assert p.data is held and p.dtype == dtype
    for value in opt.state[p].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == dtype
    assert not np.allclose(p.data, np.linspace(-1, 1, 6).reshape(2, 3))


# ---------------------------------------------------------------- issue 21 part 5: gaps found by mutants
def test_sgd_defaults_are_pytorchs():
    p = param([1.0, -2.0])
    group = SGD([p]).param_groups[0]
    assert group["lr"] == 1e-3 and group["momentum"] == 0.0 and group["dampening"] == 0.0
    assert group["weight_decay"] == 0.0 and group["nesterov"] is False
    opt = SGD([p])
    # momentum 0 by default: two equal gradients give two equal lr-sized steps
    np.testing.assert_allclose(step(opt, p, [1.0, -4.0]), [0.999, -1.996], rtol=0, atol=1e-15)
    np.testing.assert_allclose(step(opt, p, [1.0, -4.0]), [0.998, -1.992], rtol=0, atol=1e-15)
    assert "momentum_buffer" not in opt.state.get(p, {})


def test_sgd_momentum_zero_ignores_dampening():
    # PyTorch: with momentum 0 there is no buffer, so dampening has nothing to damp
    p = param([0.0, 1.0])
    opt = SGD([p], lr=0.5, momentum=0.0, dampening=0.5)
    np.testing.assert_allclose(step(opt, p, [1.0, 2.0]), [-0.5, 0.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(step(opt, p, [1.0, 2.0]), [-1.0, -1.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(step(opt, p, [-3.0, 0.0]), [0.5, -1.0], rtol=0, atol=1e-15)


def test_sgd_dampening_one_keeps_only_the_decayed_buffer():
    p = param([0.0])
    opt = SGD([p], lr=1.0, momentum=0.5, dampening=1.0)
    np.testing.assert_allclose(step(opt, p, [2.0]), [-2.0], rtol=0, atol=1e-15)   # b = 2
    np.testing.assert_allclose(step(opt, p, [8.0]), [-3.0], rtol=0, atol=1e-15)   # b = 1 + 0·8
    np.testing.assert_allclose(step(opt, p, [8.0]), [-3.5], rtol=0, atol=1e-15)   # b = 0.5
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [0.5], rtol=0, atol=1e-15)


def test_sgd_dampening_by_hand_with_uneven_gradients():
    p = param([0.0])
    opt = SGD([p], lr=1.0, momentum=0.5, dampening=0.25)
    step(opt, p, [4.0])                                                       # b = 4
    np.testing.assert_allclose(step(opt, p, [8.0]), [-12.0], rtol=0, atol=1e-12)  # b = 2 + 6


def test_sgd_weight_decay_one_and_negative_weights():
    p = param([2.0, -0.5])
    opt = SGD([p], lr=0.1, weight_decay=1.0)
    # d = g + 1·p = [3, 0.5]
    np.testing.assert_allclose(step(opt, p, [1.0, 1.0]), [1.7, -0.55], rtol=0, atol=1e-12)
    q = param([4.0])
    opt = SGD([q], lr=0.1, momentum=0.5, weight_decay=0.25)
    np.testing.assert_allclose(step(opt, q, [1.0]), [3.8], rtol=0, atol=1e-12)   # d = b = 2
    # d = 1 + 0.25·3.8 = 1.95; b = 0.5·2 + 1.95 = 2.95
    np.testing.assert_allclose(step(opt, q, [1.0]), [3.8 - 0.295], rtol=0, atol=1e-12)


def test_sgd_momentum_buffer_is_not_the_gradient_array():
    # zero_grad(set_to_none=False) zeroes .grad in place; the buffer must not be wiped with it
    def run(zero_in_place):
        p = param([1.0, -1.0])
        opt = SGD([p], lr=0.1, momentum=0.9)
        p.grad = Tensor(np.array([1.0, 2.0]), dtype=np.float64)
        opt.step()
        assert not np.shares_memory(opt.state[p]["momentum_buffer"], p.grad.data)
        np.testing.assert_array_equal(p.grad.data, [1.0, 2.0])  # step leaves .grad alone
        if zero_in_place:
            opt.zero_grad(set_to_none=False)
            np.testing.assert_array_equal(p.grad.data, [0.0, 0.0])
            p.grad.data += np.array([3.0, -1.0])  # the next backward accumulates in place
        else:
            opt.zero_grad()
            p.grad = Tensor(np.array([3.0, -1.0]), dtype=np.float64)
        opt.step()
        np.testing.assert_array_equal(p.grad.data, [3.0, -1.0])
        return p.data.copy(), opt.state[p]["momentum_buffer"].copy()

    for zero_in_place in (True, False):
        p, buf = run(zero_in_place)
        # b = 0.9·[1, 2] + [3, -1] = [3.9, 0.8]
        np.testing.assert_allclose(buf, [3.9, 0.8], rtol=0, atol=1e-12)
        np.testing.assert_allclose(p, [1.0 - 0.1 - 0.39, -1.0 - 0.2 - 0.08], rtol=0, atol=1e-12)


def test_sgd_nesterov_buffer_is_not_the_gradient_array():
    p = param([0.0])
    opt = SGD([p], lr=0.1, momentum=0.5, nesterov=True)
    step(opt, p, [1.0])
    opt.zero_grad(set_to_none=False)
    p.grad.data += 1.0
    opt.step()  # b = 0.5 + 1 = 1.5; d = 1 + 0.75
    np.testing.assert_allclose(p.data, [-0.15 - 0.175], rtol=0, atol=1e-12)


def test_adam_defaults_are_pytorchs():
    p = param([1.0])
    group = Adam([p]).param_groups[0]
    assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    assert group["weight_decay"] == 0.0 and group["amsgrad"] is False
    group = AdamW([p]).param_groups[0]
    assert group["lr"] == 1e-3 and group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
    assert group["amsgrad"] is False


def test_adam_default_step_by_hand_in_float64():
    # one step with the defaults: m̂ = g, v̂ = g², so p -= 1e-3 · g / (|g| + 1e-8)
    p = param([1.0, 1.0, 1.0, 1.0])
    g = np.array([3e-8, -1e-8, 2.0, -5e-9])
    after = step(Adam([p]), p, g)
    np.testing.assert_allclose(after, 1.0 - 1e-3 * g / (np.abs(g) + 1e-8), rtol=0, atol=1e-15)
    np.testing.assert_allclose(after[:2], [1.0 - 7.5e-4, 1.0 + 5e-4], rtol=0, atol=1e-15)


def test_adam_eps_is_added_to_the_denominator():
    # eps larger than √v̂: the sign of "+ eps" decides the size of the step
    p = param([0.0, 0.0])
    after = step(Adam([p], lr=1.0, eps=0.5), p, [1.0, -0.25])
    np.testing.assert_allclose(after, [-1.0 / 1.5, 0.25 / 0.75], rtol=0, atol=1e-12)
    # float32 too (0.25 and 0.5 are exact in float32)
    q32 = Tensor(np.zeros(1, dtype=np.float32), requires_grad=True)
    step(Adam([q32], lr=1.0, eps=0.5), q32, [0.25])
    np.testing.assert_allclose(q32.data, [-1.0 / 3.0], rtol=1e-6)


def test_adam_default_is_not_amsgrad():
    def run(**kw):
        p = param([0.0])
        opt = Adam([p], lr=0.1, betas=(0.0, 0.5), eps=0.0, **kw)
        step(opt, p, [10.0])
        return step(opt, p, [1.0])

    np.testing.assert_array_equal(run(), run(amsgrad=False))
    assert not np.allclose(run(), run(amsgrad=True))


def test_adam_weight_decay_one_by_hand():
    p = param([2.0, -0.5])
    # g' = g + 1·p = [3, 0.5]: the first step is lr against its sign
    after = step(Adam([p], lr=0.1, weight_decay=1.0, eps=0.0), p, [1.0, 1.0])
    np.testing.assert_allclose(after, [1.9, -0.6], rtol=0, atol=1e-12)
    q = param([2.0, -0.5])
    opt = AdamW([q], lr=0.1, weight_decay=1.0, eps=0.0)
    # decoupled: p·(1 - 0.1) first, then lr against the sign of g
    np.testing.assert_allclose(step(opt, q, [1.0, 1.0]), [1.7, -0.55], rtol=0, atol=1e-12)


def test_adam_step_leaves_the_gradient_alone():
    for opt_cls, kw in ((Adam, {}), (Adam, dict(weight_decay=0.5, amsgrad=True)), (AdamW, {})):
        p = param([1.0, -2.0])
        opt = opt_cls([p], lr=0.1, **kw)
        g = np.array([0.5, -3.0])
        p.grad = Tensor(g.copy(), dtype=np.float64)
        opt.step()
        opt.step()
        np.testing.assert_array_equal(p.grad.data, g)
        st = opt.state[p]
        assert not np.shares_memory(st["exp_avg"], p.grad.data)
        assert not np.shares_memory(st["exp_avg_sq"], p.grad.data)
