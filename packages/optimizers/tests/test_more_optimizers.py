"""Adagrad, NAdam, RAdam, maximize=, and LambdaLR / LinearLR / SequentialLR /
ReduceLROnPlateau: first steps computed by hand, state round trips, errors.
Step-for-step agreement with torch.optim: integration/test_optimizers_torch.py."""

import math

import numpy as np
import pytest

from tinytorch.core.optimizers import (SGD, Adagrad, Adam, LambdaLR, LinearLR, NAdam, RAdam,
                                       ReduceLROnPlateau, RMSprop, SequentialLR, StepLR)
from tinytorch.core.tensor import Tensor


def param(values, grad):
    p = Tensor(np.array(values, dtype=np.float64), dtype=np.float64, requires_grad=True)
    p.grad = Tensor(np.array(grad, dtype=np.float64), dtype=np.float64)
    return p


def test_adagrad_two_steps_by_hand():
    p = param([1.0, -2.0], [0.5, -1.0])
    opt = Adagrad([p], lr=0.1, lr_decay=0.5, initial_accumulator_value=0.25, eps=0.0)
    opt.step()
    s = 0.25 + np.array([0.25, 1.0])
    want = np.array([1.0, -2.0]) - 0.1 * np.array([0.5, -1.0]) / np.sqrt(s)
    np.testing.assert_allclose(p.data, want)
    opt.step()  # step 2: rate 0.1 / (1 + 0.5)
    s = s + np.array([0.25, 1.0])
    want = want - (0.1 / 1.5) * np.array([0.5, -1.0]) / np.sqrt(s)
    np.testing.assert_allclose(p.data, want)


def test_nadam_first_step_by_hand():
    g = np.array([0.3, -0.7])
    p = param([0.0, 1.0], g)
    NAdam([p], lr=0.01, betas=(0.9, 0.999), eps=0.0, momentum_decay=0.004).step()
    mu1 = 0.9 * (1 - 0.5 * 0.96 ** 0.004)
    mu2 = 0.9 * (1 - 0.5 * 0.96 ** 0.008)
    m, denom = 0.1 * g, np.abs(g)  # v / (1 - β₂) = g², so the denominator is |g|
    want = np.array([0.0, 1.0]) - 0.01 * (1 - mu1) / (1 - mu1) * g / denom \
        - 0.01 * mu2 / (1 - mu1 * mu2) * m / denom
    np.testing.assert_allclose(p.data, want, rtol=1e-12)


def test_radam_takes_plain_momentum_steps_until_its_variance_is_trusted():
    p = param([1.0], [2.0])
    opt = RAdam([p], lr=0.1)
    rho_inf = 2 / (1 - 0.999) - 1
    for step in range(1, 8):
        before = p.data.copy()
        p.grad = Tensor(np.array([2.0]), dtype=np.float64)
        opt.step()
        rho_t = rho_inf - 2 * step * 0.999 ** step / (1 - 0.999 ** step)
        if rho_t <= 5:  # m̂ = 2 exactly: a step of lr · 2
            np.testing.assert_allclose(before - p.data, [0.2], rtol=1e-12)
        else:  # the rectified adaptive step: r_t · lr · m̂ / √v̂, with √v̂ = 2 here
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            np.testing.assert_allclose(before - p.data, [0.1 * rect], rtol=1e-6)
            break
    else:
        pytest.fail("RAdam never switched to its adaptive step in 7 steps")


@pytest.mark.parametrize("cls, kwargs", [(SGD, dict(lr=0.1, momentum=0.9)), (Adam, dict(lr=0.01)),
                                         (RMSprop, dict(lr=0.01)), (Adagrad, dict(lr=0.1)),
                                         (NAdam, dict()), (RAdam, dict())])
def test_maximize_is_descent_on_the_negated_gradient(cls, kwargs):
    up, down = param([1.0, 2.0], [0.3, -0.4]), param([1.0, 2.0], [-0.3, 0.4])
    a, b = cls([up], maximize=True, **kwargs), cls([down], **kwargs)
    for _ in range(3):
        a.step()
        b.step()
    np.testing.assert_array_equal(up.data, down.data)
    assert a.state_dict()["param_groups.0.maximize"] in (True, 1)


def test_nadam_state_round_trips_through_npz(tmp_path):
    p, q = param([1.0, 2.0], [0.3, -0.4]), param([1.0, 2.0], [0.3, -0.4])
    a, b = NAdam([p], lr=0.05), NAdam([q], lr=0.05)
    a.step()
    b.step()
    np.savez(tmp_path / "o.npz", **a.state_dict())
    c = NAdam([p], lr=1.0)
    c.load_state_dict(np.load(tmp_path / "o.npz"))
    c.step()
    b.step()
    np.testing.assert_array_equal(p.data, q.data)


def test_closed_form_schedules():
    opt = SGD([param([1.0], [0.0])], lr=1.0)
    lin = LinearLR(opt, start_factor=0.5, end_factor=0.1, total_iters=4)
    rates = [lin.get_last_lr()[0]] + [(lin.step(), lin.get_last_lr()[0])[1] for _ in range(5)]
    np.testing.assert_allclose(rates, [0.5, 0.4, 0.3, 0.2, 0.1, 0.1])
    opt = SGD([param([1.0], [0.0])], lr=2.0)
    lam = LambdaLR(opt, lambda t: 1 / (t + 1))
    lam.step()
    lam.step()
    assert lam.get_last_lr() == [pytest.approx(2 / 3)]
    opt = SGD([param([1.0], [0.0])], lr=1.0)
    seq = SequentialLR(opt, [LinearLR(opt, 0.5, 1.0, 2), StepLR(opt, 1, 0.5)], milestones=[3])
    rates = [seq.get_last_lr()[0]] + [(seq.step(), seq.get_last_lr()[0])[1] for _ in range(5)]
    np.testing.assert_allclose(rates, [0.5, 0.75, 1.0, 1.0, 0.5, 0.25])
    assert opt.param_groups[0]["lr"] == 0.25


def test_reduce_lr_on_plateau_waits_patience_then_cools_down():
    opt = SGD([param([1.0], [0.0])], lr=1.0)
    sched = ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.2)
    lrs = []
    for loss in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        sched.step(loss)
        lrs.append(sched.get_last_lr()[0])
    # bad steps 1, 2, 3 -> halve at step 4; one cooldown step; bad again 3 more -> halve...
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.2]
    sched.step(0.1)  # an improvement resets the count
    assert sched.num_bad_epochs == 0 and sched.best == 0.1


def test_errors_say_what_to_do():
    opt = SGD([param([1.0], [0.0])], lr=1.0)
    with pytest.raises(TypeError, match=r"step\(\) needs the measured value"):
        ReduceLROnPlateau(opt).step()
    with pytest.raises(ValueError, match="factor must be in \\(0, 1\\)"):
        ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones"):
        SequentialLR(opt, [LinearLR(opt), StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="start_factor"):
        LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="one function or 1"):
        LambdaLR(opt, [lambda t: 1.0, lambda t: 2.0])
    with pytest.raises(ValueError, match="lr_decay"):
        Adagrad([param([1.0], [0.0])], lr_decay=-1)
    with pytest.raises(ValueError, match="beta2"):
        NAdam([param([1.0], [0.0])], betas=(0.9, 1.0))
