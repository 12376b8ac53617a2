"""tinytorch.core.optimizers against torch.optim, step for step.

Both libraries start from the same float32 weights and receive the same random gradients for
20 steps; after every step the weights (and the learning rates a scheduler set) must agree
to float32 precision.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.core import optimizers as tt  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

pytestmark = pytest.mark.torch

SHAPES = [(3, 4), (4,), (2, 2, 3)]
STEPS = 20
RTOL, ATOL = 1e-5, 1e-6


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs


def gradients(seed=1, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def set_grads(ours, theirs, grads):
    for p, q, g in zip(ours, theirs, grads):
        p.grad = Tensor(g)
        q.grad = torch.tensor(g)


def assert_same(ours, theirs, step):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        assert p.dtype == np.float32
        q = q.detach().numpy()
        # float32 precision relative to the tensor's scale: an element that is the small
        # difference of large numbers carries their rounding error, in both libraries
        atol = ATOL * max(1.0, float(np.abs(q).max()))
        np.testing.assert_allclose(p.data, q, rtol=RTOL, atol=atol,
                                   err_msg=f"parameter {i} after step {step}")


def groups(params, split, extra):
    """Either the plain list, or two groups (the second with its own hyper-parameters)."""
    if not split:
        return params
    return [{"params": params[:2]}, {"params": params[2:], **extra}]


OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "sgd-momentum": ("SGD", dict(lr=0.1, momentum=0.9)),
    "sgd-dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd-nesterov": ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True)),
    "sgd-weight-decay": ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.1)),
    "adam": ("Adam", dict(lr=1e-2)),
    "adam-betas": ("Adam", dict(lr=3e-2, betas=(0.8, 0.95), eps=1e-6)),
    "adam-amsgrad": ("Adam", dict(lr=1e-2, amsgrad=True)),
    "adam-weight-decay": ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    "adamw": ("AdamW", dict(lr=1e-2)),
    "adamw-decay-amsgrad": ("AdamW", dict(lr=1e-2, weight_decay=0.2, amsgrad=True)),
    "rmsprop": ("RMSprop", dict()),
    "rmsprop-momentum": ("RMSprop", dict(lr=1e-3, momentum=0.9)),
    "rmsprop-centered": ("RMSprop", dict(lr=1e-3, centered=True, alpha=0.9)),
    "rmsprop-everything": ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5,
                                           weight_decay=0.1)),
    # maximize=: every optimizer climbs instead
    "sgd-maximize": ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    "adam-maximize": ("Adam", dict(lr=1e-2, amsgrad=True, maximize=True)),
    "adamw-maximize": ("AdamW", dict(lr=1e-2, maximize=True)),
    "rmsprop-maximize": ("RMSprop", dict(lr=1e-3, centered=True, momentum=0.5, maximize=True)),
    # beyond the lesson
    "adagrad": ("Adagrad", dict()),
    "adagrad-everything": ("Adagrad", dict(lr=0.05, lr_decay=0.01, weight_decay=0.1,
                                           initial_accumulator_value=0.5, eps=1e-6,
                                           maximize=True)),
    "nadam": ("NAdam", dict()),
    "nadam-decay": ("NAdam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1,
                                  momentum_decay=1e-2)),
    "nadam-decoupled": ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True,
                                      maximize=True)),
    "radam": ("RAdam", dict(lr=1e-2)),
    "radam-short-memory": ("RAdam", dict(lr=1e-2, betas=(0.9, 0.6), weight_decay=0.1)),
    "radam-decoupled": ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True,
                                      maximize=True)),
}
GROUP_EXTRA = {"SGD": {"lr": 0.01, "momentum": 0.3}, "Adam": {"lr": 0.1, "betas": (0.5, 0.9)},
               "AdamW": {"lr": 0.1, "weight_decay": 0.5}, "RMSprop": {"lr": 1e-2, "alpha": 0.5},
               "Adagrad": {"lr": 0.2, "lr_decay": 0.1}, "NAdam": {"lr": 0.05, "betas": (0.5, 0.9)},
               "RAdam": {"lr": 0.05, "betas": (0.5, 0.7)}}


@pytest.mark.parametrize("split", [False, True], ids=["one-group", "two-groups"])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch(name, split):
    cls, kwargs = OPTIMIZERS[name]
    ours, theirs = make_params()
    extra = GROUP_EXTRA[cls]
    opt = getattr(tt, cls)(groups(ours, split, extra), **kwargs)
    ref = getattr(torch.optim, cls)(groups(theirs, split, extra), **kwargs)
    for step, grads in enumerate(gradients()):
        set_grads(ours, theirs, grads)
        opt.step()
        ref.step()
        assert_same(ours, theirs, step)


@pytest.mark.parametrize("cls", ["SGD", "Adam", "RMSprop"])
def test_parameters_without_gradients_are_left_alone_as_in_torch(cls):
    ours, theirs = make_params()
    kwargs = {"lr": 0.1, "momentum": 0.9} if cls == "SGD" else {"lr": 0.01}
    opt = getattr(tt, cls)(ours, **kwargs)
    ref = getattr(torch.optim, cls)(theirs, **kwargs)
    for step, grads in enumerate(gradients(steps=6)):
        set_grads(ours, theirs, grads)
        if step % 2:
            ours[1].grad = None
            theirs[1].grad = None
        opt.step()
        ref.step()
        assert_same(ours, theirs, step)


def test_state_dict_round_trip_through_npz_continues_like_torch(tmp_path):
    ours, theirs = make_params()
    opt = tt.Adam(ours, lr=1e-2, amsgrad=True)
    sched = tt.CosineAnnealingLR(opt, T_max=STEPS)
    ref = torch.optim.Adam(theirs, lr=1e-2, amsgrad=True)
    ref_sched = torch.optim.lr_scheduler.CosineAnnealingLR(ref, T_max=STEPS)
    grads = gradients()
    for step in range(STEPS):
        if step == STEPS // 2:  # checkpoint, rebuild from scratch, resume
            np.savez(tmp_path / "opt.npz", **opt.state_dict())
            np.savez(tmp_path / "sched.npz", **sched.state_dict())
            ours = [Tensor(p.data.copy(), requires_grad=True) for p in ours]
            opt = tt.Adam(ours, lr=123.0)
            opt.load_state_dict(np.load(tmp_path / "opt.npz"))
            sched = tt.CosineAnnealingLR(opt, T_max=1)
            sched.load_state_dict(np.load(tmp_path / "sched.npz"))
        set_grads(ours, theirs, grads[step])
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()
        assert_same(ours, theirs, step)


# ---------------------------------------------------------------- schedulers
def _cosine(o, t):
    return o.CosineAnnealingLR(t, T_max=8, eta_min=1e-3)


SCHEDULERS = {
    "step": (lambda o, t: o.StepLR(t, step_size=3, gamma=0.5),) * 2,
    "step-default-gamma": (lambda o, t: o.StepLR(t, 4),) * 2,
    "cosine": (_cosine,) * 2,
    "cosine-no-floor": (lambda o, t: o.CosineAnnealingLR(t, T_max=20),) * 2,
    "warmup": (
        lambda o, t: o.LinearWarmup(t, warmup_steps=5, start_factor=0.25),
        lambda o, t: o.LinearLR(t, start_factor=0.25, end_factor=1.0, total_iters=5),
    ),
    "warmup-default": (
        lambda o, t: o.LinearWarmup(t, warmup_steps=4),
        lambda o, t: o.LinearLR(t, total_iters=4),
    ),
    "warmup-then-cosine": (
        lambda o, t: o.LinearWarmup(t, 5, start_factor=0.1, after=_cosine(o, t)),
        lambda o, t: o.SequentialLR(t, [o.LinearLR(t, start_factor=0.1, total_iters=5),
                                        _cosine(o, t)], milestones=[5]),
    ),
    "onecycle": (lambda o, t: o.OneCycleLR(t, max_lr=0.5, total_steps=STEPS),) * 2,
    "onecycle-linear": (
        lambda o, t: o.OneCycleLR(t, max_lr=[0.5, 0.2], epochs=4, steps_per_epoch=5,
                                  anneal_strategy="linear", pct_start=0.25),) * 2,
    "onecycle-three-phase": (
        lambda o, t: o.OneCycleLR(t, max_lr=0.3, total_steps=STEPS, three_phase=True,
                                  div_factor=10.0, final_div_factor=100.0),) * 2,
    "onecycle-no-momentum": (
        lambda o, t: o.OneCycleLR(t, max_lr=0.3, total_steps=STEPS, cycle_momentum=False),) * 2,
    "lambda": (lambda o, t: o.LambdaLR(t, lambda k: 0.9 ** k + 0.01 * (k % 3)),) * 2,
    "lambda-per-group": (lambda o, t: o.LambdaLR(t, [lambda k: 1 / (1 + k), lambda k: 0.5]),) * 2,
    "linear-decay": (lambda o, t: o.LinearLR(t, start_factor=1.0, end_factor=0.1,
                                             total_iters=12),) * 2,
    "sequential-three": (
        lambda o, t: o.SequentialLR(t, [o.LinearLR(t, start_factor=0.2, total_iters=4),
                                        o.StepLR(t, step_size=2, gamma=0.7),
                                        _cosine(o, t)], milestones=[4, 11]),) * 2,
}


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "RMSprop"])
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_scheduler_matches_torch(name, opt_name):
    make_ours, make_theirs = SCHEDULERS[name]
    ours, theirs = make_params()
    kwargs = {"lr": 0.1, "momentum": 0.9} if opt_name == "SGD" else {"lr": 0.01}
    opt = getattr(tt, opt_name)(groups(ours, True, {"lr": 0.05}), **kwargs)
    ref = getattr(torch.optim, opt_name)(groups(theirs, True, {"lr": 0.05}), **kwargs)
    sched = make_ours(tt, opt)
    ref_sched = make_theirs(torch.optim.lr_scheduler, ref)
    np.testing.assert_allclose(sched.get_last_lr(), ref_sched.get_last_lr(), rtol=1e-12)
    for step, grads in enumerate(gradients()):
        set_grads(ours, theirs, grads)
        opt.step()
        ref.step()
        sched.step()
        ref_sched.step()
        np.testing.assert_allclose(sched.get_last_lr(), ref_sched.get_last_lr(), rtol=1e-9,
                                   atol=1e-15, err_msg=f"lr after step {step}")
        for g, h in zip(opt.param_groups, ref.param_groups):
            for key in ("momentum", "betas"):
                if key in h:
                    np.testing.assert_allclose(g[key], h[key], rtol=1e-12, err_msg=key)
        assert_same(ours, theirs, step)


# ---------------------------------------------------------------- clipping
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    ours, theirs = make_params()
    set_grads(ours, theirs, gradients(steps=1)[0])
    total = tt.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(float(total), float(ref_total), rtol=1e-5)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- ReduceLROnPlateau
PLATEAU = {
    "defaults": dict(),
    "min-patience": dict(patience=2, factor=0.5),
    "max-abs-cooldown": dict(mode="max", patience=1, threshold=0.05, threshold_mode="abs",
                             cooldown=2, factor=0.3),
    "floor": dict(patience=0, factor=0.2, min_lr=[0.004, 0.02]),
}


@pytest.mark.parametrize("name", sorted(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(name, tmp_path):
    kwargs = PLATEAU[name]
    ours, theirs = make_params()
    opt = tt.SGD(groups(ours, True, {"lr": 0.05}), lr=0.1)
    ref = torch.optim.SGD(groups(theirs, True, {"lr": 0.05}), lr=0.1)
    sched = tt.ReduceLROnPlateau(opt, **kwargs)
    ref_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(ref, **kwargs)
    # a loss that improves, stalls, wobbles, improves a little, stalls again
    values = [1.0, 0.8, 0.8, 0.81, 0.79995, 0.8, 0.7, 0.7, 0.7, 0.71, 0.69, 0.7, 0.7, 0.7,
              0.7, 0.5, 0.5, 0.5, 0.6, 0.6]
    for step, (grads, value) in enumerate(zip(gradients(), values)):
        if kwargs.get("mode") == "max":
            value = -value
        if step == 10:  # checkpoint and resume in the middle
            np.savez(tmp_path / "plateau.npz", **sched.state_dict())
            sched = tt.ReduceLROnPlateau(opt, **kwargs)
            sched.load_state_dict(np.load(tmp_path / "plateau.npz"))
        set_grads(ours, theirs, grads)
        opt.step()
        ref.step()
        sched.step(value)
        ref_sched.step(value)
        np.testing.assert_allclose(sched.get_last_lr(), ref_sched.get_last_lr(), rtol=1e-12,
                                   err_msg=f"lr after step {step}")
        assert_same(ours, theirs, step)
