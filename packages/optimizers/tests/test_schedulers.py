"""Learning-rate schedules: their sequences against hand-computed values, state dicts, errors."""

import math

import numpy as np
import pytest

from tinytorch.core.optimizers import (
    SGD, Adam, CosineAnnealingLR, LinearWarmup, OneCycleLR, Optimizer, StepLR,
)
from tinytorch.core.tensor import Tensor


def sgd(lr=1.0, momentum=0.0, groups=1):
    ps = [Tensor([1.0], requires_grad=True) for _ in range(groups)]
    if groups == 1:
        return SGD(ps, lr=lr, momentum=momentum)
    return SGD([{"params": [p], "lr": lr * (k + 1)} for k, p in enumerate(ps)], lr=lr,
               momentum=momentum)


def lrs(sched, steps, group=0):
    """The lr after construction, then after each of ``steps`` steps."""
    out = [sched.optimizer.param_groups[group]["lr"]]
    for _ in range(steps):
        sched.step()
        out.append(sched.optimizer.param_groups[group]["lr"])
    return out


def test_step_lr():
    sched = StepLR(sgd(1.0), step_size=3, gamma=0.5)
    np.testing.assert_allclose(lrs(sched, 7), [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])
    assert sched.get_last_lr() == [0.25]


def test_step_lr_default_gamma_and_several_groups():
    sched = StepLR(sgd(0.1, groups=2), step_size=2)
    np.testing.assert_allclose(lrs(sched, 4, group=1), [0.2, 0.2, 0.02, 0.02, 0.002])
    np.testing.assert_allclose(sched.get_last_lr(), [0.001, 0.002])


def test_cosine_annealing():
    c = (1 + math.cos(math.pi / 4)) / 2  # 0.8536
    sched = CosineAnnealingLR(sgd(1.0), T_max=4)
    np.testing.assert_allclose(lrs(sched, 6), [1, c, 0.5, 1 - c, 0, 1 - c, 0.5], atol=1e-12)


def test_cosine_annealing_with_a_floor():
    sched = CosineAnnealingLR(sgd(2.0), T_max=2, eta_min=0.5)
    np.testing.assert_allclose(lrs(sched, 2), [2.0, 1.25, 0.5])


def test_linear_warmup_then_constant():
    sched = LinearWarmup(sgd(1.0), warmup_steps=4, start_factor=0.25)
    np.testing.assert_allclose(lrs(sched, 6), [0.25, 0.4375, 0.625, 0.8125, 1, 1, 1])


def test_linear_warmup_hands_over_to_the_next_schedule():
    opt = sgd(1.0)
    after = StepLR(opt, step_size=2, gamma=0.1)
    sched = LinearWarmup(opt, warmup_steps=2, start_factor=0.5, after=after)
    np.testing.assert_allclose(lrs(sched, 6), [0.5, 0.75, 1, 1, 0.1, 0.1, 0.01])
    assert after.last_epoch == 4 and sched.last_epoch == 6


def test_one_cycle_after_a_linear_warm_up_also_cycles_the_momentum():
    opt = sgd(momentum=0.9)
    cycle = OneCycleLR(opt, max_lr=1.0, total_steps=10, div_factor=10.0)
    sched = LinearWarmup(opt, warmup_steps=2, start_factor=0.5, after=cycle)
    group = opt.param_groups[0]
    np.testing.assert_allclose(lrs(sched, 2), [0.05, 0.075, 0.1])  # from OneCycle's start
    assert group["momentum"] == 0.95
    sched.step()
    sched.step()  # the cycle's step 2: the peak, with the lowest momentum
    assert group["lr"] == pytest.approx(1.0) and group["momentum"] == pytest.approx(0.85)
    assert cycle.last_epoch == 2 and sched.get_last_lr() == cycle.get_last_lr()


def test_one_cycle_lr_and_momentum_by_hand():
    opt = sgd(momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10, div_factor=10, final_div_factor=100)
    group = opt.param_groups[0]
    assert group["initial_lr"] == 0.1 and group["min_lr"] == 0.001
    seen, momenta = [group["lr"]], [group["momentum"]]
    for _ in range(10):
        sched.step()
        seen.append(group["lr"])
        momenta.append(group["momentum"])
    # warm-up over steps 0..2 (30% of 10, minus one); annealing over 2..9
    np.testing.assert_allclose(seen[:3], [0.1, 0.55, 1.0])
    anneal = [0.001 + (1 - 0.001) / 2 * (math.cos(math.pi * k / 7) + 1) for k in range(8)]
    np.testing.assert_allclose(seen[2:10], anneal)
    np.testing.assert_allclose(momenta[:3], [0.95, 0.9, 0.85])
    np.testing.assert_allclose(momenta[9], 0.95)
    with pytest.raises(ValueError, match="total_steps=10"):
        sched.step()


def test_one_cycle_linear_anneal_per_group_peaks_and_epochs():
    opt = sgd(groups=2, momentum=0.9)
    sched = OneCycleLR(opt, max_lr=[1.0, 2.0], epochs=2, steps_per_epoch=5,
                       anneal_strategy="linear", div_factor=10.0)
    np.testing.assert_allclose(lrs(sched, 5, group=1)[:3], [0.2, 1.1, 2.0])
    # step 5 is 3/7 of the way from 2.0 down to 0.2 / 1e4
    np.testing.assert_allclose(opt.param_groups[1]["lr"], 2.0 + (2e-5 - 2.0) * 3 / 7)


def test_one_cycle_three_phases():
    opt = sgd(momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.3, three_phase=True,
                       div_factor=10.0, final_div_factor=10.0, anneal_strategy="linear")
    seen = lrs(sched, 10)
    # up over 0..2, back down over 2..4, then to 0.1/10 by step 9
    np.testing.assert_allclose(seen[:5], [0.1, 0.55, 1.0, 0.55, 0.1])
    np.testing.assert_allclose(seen[9], 0.01)


def test_one_cycle_cycles_the_first_beta_of_an_adaptive_optimizer():
    p = Tensor([1.0], requires_grad=True)
    opt = Adam([p], betas=(0.9, 0.99))
    OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)


def test_the_optimizer_uses_the_scheduled_rate():
    p = Tensor([0.0], requires_grad=True)
    opt = SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = Tensor([1.0])
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.data, [-(1 + 0.5 + 0.25)])


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("make", [
    lambda o: StepLR(o, 3, gamma=0.5),
    lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    lambda o: LinearWarmup(o, 4, after=CosineAnnealingLR(o, T_max=6)),
    lambda o: OneCycleLR(o, max_lr=2.0, total_steps=12, three_phase=True),
])
def test_scheduler_state_dict_round_trip_through_npz(make, tmp_path):
    ref = make(sgd(0.5, momentum=0.9))
    expected = lrs(ref, 10)

    opt = sgd(0.5, momentum=0.9)
    sched = make(opt)
    first = lrs(sched, 4)
    np.savez(tmp_path / "opt.npz", **opt.state_dict())
    np.savez(tmp_path / "sched.npz", **sched.state_dict())
    for value in sched.state_dict().values():
        assert isinstance(value, (int, float, bool, str, np.ndarray))

    opt2 = sgd(99.0, momentum=0.9)
    sched2 = make(opt2)  # built afresh (this resets the rate), then both restored
    opt2.load_state_dict(np.load(tmp_path / "opt.npz"))
    sched2.load_state_dict(np.load(tmp_path / "sched.npz"))
    rest = lrs(sched2, 6)
    np.testing.assert_allclose(first + rest[1:], expected)


def test_loading_the_scheduler_before_the_optimizer_state_also_works(tmp_path):
    opt = sgd(1.0)
    sched = StepLR(opt, 2)
    lrs(sched, 3)
    opt2 = sgd(1.0)
    sched2 = StepLR(opt2, 5)
    sched2.load_state_dict(sched.state_dict())
    assert sched2.step_size == 2 and opt2.param_groups[0]["lr"] == pytest.approx(0.1)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("make, words", [
    (lambda o: StepLR(o, step_size=0), ["StepLR", "step_size", "0"]),
    (lambda o: StepLR(o, step_size=2, gamma=0.0), ["StepLR", "gamma=0.0"]),
    (lambda o: CosineAnnealingLR(o, T_max=-3), ["CosineAnnealingLR", "T_max", "-3"]),
    (lambda o: CosineAnnealingLR(o, T_max=3, eta_min=-1.0), ["eta_min=-1.0"]),
    (lambda o: LinearWarmup(o, warmup_steps=0), ["LinearWarmup", "warmup_steps"]),
    (lambda o: LinearWarmup(o, 3, start_factor=0.0), ["start_factor=0.0"]),
    (lambda o: LinearWarmup(o, 3, after=StepLR(sgd(), 2)), ["same optimizer"]),
    (lambda o: OneCycleLR(o, max_lr=1.0), ["total_steps"]),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5), ["pct_start=1.5"]),
    (lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"), ["'exp'"]),
    (lambda o: OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10), ["max_lr has 2 values"]),
])
def test_bad_schedule_settings_are_refused_by_name(make, words):
    with pytest.raises(ValueError) as info:
        make(sgd())
    for word in words:
        assert word in str(info.value)


def test_one_cycle_momentum_needs_an_optimizer_with_momentum():
    class Plain(Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

        def _step_group(self, group):
            pass

    opt = Plain([Tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum=False"):
        OneCycleLR(opt, max_lr=1.0, total_steps=5)
    OneCycleLR(opt, max_lr=1.0, total_steps=5, cycle_momentum=False)
    with pytest.raises(TypeError, match="Optimizer"):
        StepLR([Tensor([1.0])], 2)
