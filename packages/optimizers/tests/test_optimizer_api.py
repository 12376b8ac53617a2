"""What every optimizer shares: parameter groups, zero_grad, step, state dicts, errors."""

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop
from tinytorch.core.tensor import Tensor

ALL = [SGD, Adam, AdamW, RMSprop]
CONFIGS = [
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
    (RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
]


def params(seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 2), (2,), (4, 1, 2)]]


def grads(step):
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s).astype(np.float32) for s in [(3, 2), (2,), (4, 1, 2)]]


def run(opt, ps, steps, start=0):
    for k in range(start, start + steps):
        for p, g in zip(ps, grads(k)):
            p.grad = Tensor(g)
        opt.step()


# ---------------------------------------------------------------- groups
def test_param_groups_take_the_defaults_they_do_not_override():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.0}], lr=0.1, momentum=0.9)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["momentum"] == 0.9 and g0["params"] == [a]
    assert g1["lr"] == 0.5 and g1["momentum"] == 0.0 and g1["params"][0] is b
    a.grad, b.grad = Tensor([1.0]), Tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])


def test_add_param_group_and_mutable_lr():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 1.0})
    opt.param_groups[0]["lr"] = 0.25  # what a scheduler does between steps
    a.grad, b.grad = Tensor([1.0]), Tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.75, 0.0])


def test_a_generator_of_parameters_is_accepted():
    ps = params()
    opt = Adam(p for p in ps)
    assert opt.param_groups[0]["params"] == ps


@pytest.mark.parametrize("cls", ALL)
def test_zero_grad_sets_none_or_zeros(cls):
    ps = params()
    opt = cls(ps)
    for p in ps:
        p.grad = Tensor(np.ones(p.shape))
    held = ps[0].grad.data
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad.data is held and not held.any()
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


@pytest.mark.parametrize("cls", ALL)
def test_parameters_without_a_gradient_are_skipped(cls):
    ps = params()
    before = [p.data.copy() for p in ps]
    opt = cls(ps)
    ps[0].grad = Tensor(np.ones(ps[0].shape))
    opt.step()
    assert not np.array_equal(ps[0].data, before[0])
    np.testing.assert_array_equal(ps[1].data, before[1])
    assert ps[1] not in opt.state


def test_step_with_a_closure_returns_its_loss_and_uses_its_gradients():
    w = Tensor([3.0], requires_grad=True)
    opt = SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [2.4])


def test_the_optimizer_trains_through_autograd():
    w = Tensor([1.0, -1.0], requires_grad=True)
    opt = SGD([w], lr=0.5)
    opt.zero_grad()
    ((w - Tensor([3.0, 3.0])) ** 2).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [3.0, 3.0])


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("make, words", [
    (lambda ps: SGD(ps, lr=-0.1), ["SGD", "lr=-0.1"]),
    (lambda ps: SGD(ps, momentum=-0.5), ["SGD", "momentum=-0.5"]),
    (lambda ps: SGD(ps, weight_decay=-1.0), ["SGD", "weight_decay=-1.0"]),
    (lambda ps: SGD(ps, nesterov=True), ["nesterov", "momentum=0.0"]),
    (lambda ps: SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), ["nesterov", "dampening=0.1"]),
    (lambda ps: Adam(ps, lr=-1.0), ["Adam", "lr=-1.0"]),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), ["Adam", "beta1", "1.0"]),
    (lambda ps: Adam(ps, betas=(0.9, -0.1)), ["Adam", "beta2", "-0.1"]),
    (lambda ps: Adam(ps, eps=-1e-8), ["Adam", "eps=-1e-08"]),
    (lambda ps: AdamW(ps, weight_decay=-0.01), ["AdamW", "weight_decay=-0.01"]),
    (lambda ps: RMSprop(ps, alpha=1.5), ["RMSprop", "alpha=1.5"]),
    (lambda ps: RMSprop(ps, momentum=-0.1), ["RMSprop", "momentum=-0.1"]),
    (lambda ps: RMSprop(ps, eps=-1.0), ["RMSprop", "eps=-1.0"]),
    (lambda ps: SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": -2.0}]), ["lr=-2.0"]),
])
def test_bad_hyper_parameters_are_refused_by_name(make, words):
    with pytest.raises(ValueError) as info:
        make(params())
    for word in words:
        assert word in str(info.value)


def test_bad_parameter_lists_are_refused():
    p = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="parameter 1.*ndarray"):
        SGD([p, np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="int64"):
        SGD([Tensor([1, 2])], lr=0.1)
    with pytest.raises(ValueError, match="'params'"):
        SGD([{"lr": 0.1}])


# ---------------------------------------------------------------- state dicts
@pytest.mark.parametrize("cls, kwargs", CONFIGS)
def test_state_dict_is_flat_numbers_and_arrays(cls, kwargs):
    ps = params()
    opt = cls([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}], **kwargs)
    run(opt, ps, 2)
    sd = opt.state_dict()
    assert all(isinstance(k, str) for k in sd)
    for key, value in sd.items():
        assert isinstance(value, (np.ndarray, int, float, bool)), (key, type(value))
    assert sd["param_groups.1.lr"] == 0.5
    np.testing.assert_array_equal(sd["param_groups.0.params"], [0, 1])
    np.testing.assert_array_equal(sd["param_groups.1.params"], [2])
    assert any(k.startswith("state.2.") for k in sd)
    # a copy: stepping on does not change what was saved
    snapshot = {k: np.copy(v) for k, v in sd.items()}
    run(opt, ps, 1, start=2)
    for key in sd:
        np.testing.assert_array_equal(sd[key], snapshot[key])


@pytest.mark.parametrize("cls, kwargs", CONFIGS)
def test_state_dict_round_trip_through_npz_continues_identically(cls, kwargs, tmp_path):
    ref_params = params()
    ref = cls(ref_params, **kwargs)
    run(ref, ref_params, 6)

    ps = params()
    opt = cls(ps, **kwargs)
    run(opt, ps, 3)
    np.savez(tmp_path / "ckpt.npz", **opt.state_dict())
    resumed_params = [Tensor(p.data.copy(), requires_grad=True) for p in ps]
    resumed = cls(resumed_params, lr=123.0)  # the checkpoint's hyper-parameters win
    with np.load(tmp_path / "ckpt.npz") as ckpt:
        resumed.load_state_dict(ckpt)
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    run(resumed, resumed_params, 3, start=3)
    for p, q in zip(resumed_params, ref_params):
        np.testing.assert_array_equal(p.data, q.data)


def test_loaded_state_is_copied_and_typed_like_the_original():
    ps = params()
    opt = Adam(ps, betas=(0.8, 0.9))
    run(opt, ps, 1)
    sd = opt.state_dict()
    other = Adam(params())
    other.load_state_dict(sd)
    assert other.param_groups[0]["betas"] == (0.8, 0.9)
    assert isinstance(other.param_groups[0]["amsgrad"], bool)
    key = "state.0.exp_avg"
    state = other.state[other.param_groups[0]["params"][0]]
    assert state["step"] == 1 and isinstance(state["step"], int)
    assert not np.shares_memory(state["exp_avg"], sd[key])


def test_load_state_dict_refuses_a_mismatched_optimizer():
    ps = params()
    opt = SGD(ps, lr=0.1, momentum=0.9)
    run(opt, ps, 1)
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="holds 3 parameters in the state but 2"):
        SGD(params()[:2], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameter groups.*2"):
        fresh = params()
        SGD([{"params": fresh[:1]}, {"params": fresh[1:]}], lr=0.1).load_state_dict(sd)
    wrong = [Tensor(np.ones((2, 3)), requires_grad=True), *params()[1:]]
    with pytest.raises(ValueError, match=r"state.0.momentum_buffer.*\(3, 2\).*\(2, 3\)"):
        SGD(wrong, lr=0.1).load_state_dict(sd)


def test_a_custom_optimizer_needs_only_its_update():
    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        def _step_group(self, group):
            for p in group["params"]:
                if p.grad is not None:
                    p.data -= p.dtype.type(group["lr"]) * np.sign(p.grad.data)

    w = Tensor([1.0, -1.0], requires_grad=True)
    opt = SignSGD([w])
    w.grad = Tensor([5.0, -0.1])
    opt.step()
    np.testing.assert_allclose(w.data, [0.9, -0.9])
    assert "SignSGD" in repr(opt) and "lr: 0.1" in repr(opt)
