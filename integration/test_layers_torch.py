"""Modules 03–05 against PyTorch: same outputs, same gradients, same state_dict layout.

Weights travel through ``state_dict`` in both directions, so the key names and shapes of
Dense / Sequential / MLP must be exactly those of ``torch.nn.Linear`` / ``torch.nn.Sequential``.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tinytorch.core.activations import (  # noqa: E402
    ELU,
    Hardswish,
    LogSigmoid,
    Mish,
    SiLU,
    Softplus,
    elu,
    hardswish,
    logsigmoid,
    mish,
    silu,
    softplus,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from tinytorch.core.dense import MLP, Sequential  # noqa: E402
from tinytorch.core.layers import Dense, Dropout  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

pytestmark = pytest.mark.torch


def to_numpy_state(module) -> dict:
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def run_both(ours, theirs, x: np.ndarray, seed: int = 0):
    """Forward and backward (with the same random output gradient) in both frameworks."""
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    a = Tensor(x, dtype=x.dtype, requires_grad=True)
    ya = ours(a)
    b = torch.tensor(x, dtype=dtype, requires_grad=True)
    yb = theirs(b)
    g = np.random.default_rng(seed).standard_normal(yb.shape).astype(x.dtype)
    ya.backward(g)
    yb.backward(torch.from_numpy(g))
    return ya.data, yb.detach().numpy(), a.grad.data, b.grad.numpy()


# ----------------------------------------------------------------------------- activations
ACTIVATIONS = [
    ("relu", relu, torch.relu),
    ("leaky_relu", leaky_relu, F.leaky_relu),
    ("leaky_relu_0.2", lambda x: leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
    ("sigmoid", sigmoid, torch.sigmoid),
    ("tanh", tanh, torch.tanh),
    ("gelu", gelu, F.gelu),
    ("gelu_tanh", lambda x: gelu(x, approximate="tanh"), lambda x: F.gelu(x, approximate="tanh")),
    ("ReLU", ReLU(), torch.nn.ReLU()),
    ("LeakyReLU", LeakyReLU(0.05), torch.nn.LeakyReLU(0.05)),
    ("Sigmoid", Sigmoid(), torch.nn.Sigmoid()),
    ("Tanh", Tanh(), torch.nn.Tanh()),
    ("GELU", GELU(), torch.nn.GELU()),
    ("GELU_tanh", GELU("tanh"), torch.nn.GELU(approximate="tanh")),
    ("silu", silu, F.silu),
    ("elu", elu, F.elu),
    ("elu_0.3", lambda x: elu(x, 0.3), lambda x: F.elu(x, 0.3)),
    ("softplus", softplus, F.softplus),
    ("softplus_b2_t5", lambda x: softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    ("mish", mish, F.mish),
    ("hardswish", hardswish, F.hardswish),
    ("logsigmoid", logsigmoid, F.logsigmoid),
    ("SiLU", SiLU(), torch.nn.SiLU()),
    ("ELU", ELU(0.7), torch.nn.ELU(0.7)),
    ("Softplus", Softplus(0.5, 10.0), torch.nn.Softplus(0.5, 10.0)),
    ("Mish", Mish(), torch.nn.Mish()),
    ("Hardswish", Hardswish(), torch.nn.Hardswish()),
    ("LogSigmoid", LogSigmoid(), torch.nn.LogSigmoid()),
]
# float32 results of two libraries differ by rounding (and by the erf approximation for GELU)
TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-7, atol=1e-7)}


def activation_inputs(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 50)) * 4
    x[0, :12] = [0.0, -0.0, 1e-8, -1e-8, 1e4, -1e4, 100.0, -100.0, 30.0, -30.0, 88.0, -88.0]
    x[1, :8] = [3.0, -3.0, 20.0, -20.0, 10.0, 5.0, 2.5, 40.0]  # kinks and thresholds
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, ours, theirs", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_outputs_and_gradients_match(name, ours, theirs, dtype):
    ya, yb, ga, gb = run_both(ours, theirs, activation_inputs(dtype))
    assert ya.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-6) if name.lower().startswith("gelu") and dtype == np.float64 else TOL[dtype]
    np.testing.assert_allclose(ya, yb, **tol)
    np.testing.assert_allclose(ga, gb, **tol)


SOFTMAXES = [
    ("softmax", lambda d: (lambda x: softmax(x, dim=d)), lambda d: (lambda x: torch.softmax(x, d))),
    ("log_softmax", lambda d: (lambda x: log_softmax(x, dim=d)), lambda d: (lambda x: torch.log_softmax(x, d))),
    ("Softmax", lambda d: Softmax(dim=d), lambda d: torch.nn.Softmax(dim=d)),
    ("LogSoftmax", lambda d: LogSoftmax(dim=d), lambda d: torch.nn.LogSoftmax(dim=d)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("name, ours, theirs", SOFTMAXES, ids=[s[0] for s in SOFTMAXES])
def test_softmax_family_matches_along_every_dim(name, ours, theirs, dim, dtype):
    x = (np.random.default_rng(dim + 3).standard_normal((3, 4, 5)) * 5).astype(dtype)
    x[0, 0, :] = [1e4, -1e4, 0.0, 50.0, -50.0]
    ya, yb, ga, gb = run_both(ours(dim), theirs(dim), x)
    np.testing.assert_allclose(ya, yb, **TOL[dtype])
    np.testing.assert_allclose(ga, gb, **TOL[dtype])


def test_activation_reprs_match_pytorch():
    pairs = [(ReLU(), torch.nn.ReLU()), (Sigmoid(), torch.nn.Sigmoid()), (Tanh(), torch.nn.Tanh()),
             (LeakyReLU(), torch.nn.LeakyReLU()), (LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
             (GELU(), torch.nn.GELU()), (GELU("tanh"), torch.nn.GELU(approximate="tanh")),
             (Softmax(dim=1), torch.nn.Softmax(dim=1)), (LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# ----------------------------------------------------------------------------- Dense
@pytest.mark.parametrize("bias", [True, False])
def test_dense_matches_linear(bias):
    torch.manual_seed(0)
    theirs = torch.nn.Linear(7, 5, bias=bias)
    ours = Dense(7, 5, bias=bias)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(to_numpy_state(theirs))
    x = np.random.default_rng(1).standard_normal((6, 7)).astype(np.float32)
    ya, yb, ga, gb = run_both(ours, theirs, x)
    np.testing.assert_allclose(ya, yb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_dense_weights_go_back_into_torch():
    ours = Dense(4, 3)
    theirs = torch.nn.Linear(4, 3)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_dense_initialisation_has_pytorchs_range():
    ours, theirs = Dense(500, 400), torch.nn.Linear(500, 400)
    bound = 1 / np.sqrt(500)
    for name in ("weight", "bias"):
        a = getattr(ours, name).data
        b = getattr(theirs, name).detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(b).max() <= bound
        assert a.std() == pytest.approx(b.std(), rel=0.1)


# ----------------------------------------------------------------------------- Sequential / MLP
def torch_mlp(sizes, dropout=0.0, act=torch.nn.ReLU):
    layers = []
    for i in range(len(sizes) - 2):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), act()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    return torch.nn.Sequential(*layers)


def layout(state) -> list:
    return [(k, tuple(v.shape)) for k, v in state.items()]


def test_seed_model_has_torchs_state_dict_layout():
    ours = Sequential([Dense(784, 128), ReLU(), Dense(128, 10)])
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    assert layout(ours.state_dict()) == layout(theirs.state_dict())
    assert repr(ours).replace("Dense", "Linear") == repr(theirs)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_mlp_has_torchs_state_dict_layout(dropout):
    ours = MLP(784, [256, 128], 10, dropout=dropout)
    theirs = torch_mlp([784, 256, 128, 10], dropout)
    assert layout(ours.state_dict()) == layout(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


@pytest.mark.parametrize("act, torch_act", [(ReLU, torch.nn.ReLU), (Tanh, torch.nn.Tanh),
                                            (GELU, torch.nn.GELU)])
def test_mlp_outputs_and_gradients_match(act, torch_act):
    torch.manual_seed(1)
    theirs = torch_mlp([784, 64, 32, 10], act=torch_act)
    ours = MLP(784, [64, 32], 10, activation=act)
    result = ours.load_state_dict(to_numpy_state(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(3).random((16, 784)).astype(np.float32)
    ya, yb, ga, gb = run_both(ours, theirs, x)
    np.testing.assert_allclose(ya, yb, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ga, gb, rtol=1e-4, atol=1e-6)
    theirs_grads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_grads[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_mlp_loss_gradients_match_through_log_softmax():
    torch.manual_seed(2)
    theirs = torch_mlp([20, 16, 5])
    ours = MLP(20, [16], 5)
    ours.load_state_dict(to_numpy_state(theirs))
    x = np.random.default_rng(4).standard_normal((8, 20)).astype(np.float32)
    labels = np.random.default_rng(5).integers(0, 5, size=8)
    onehot = np.eye(5, dtype=np.float32)[labels]
    loss_ours = -(log_softmax(ours(Tensor(x)), dim=1) * Tensor(onehot)).sum() * (1 / 8)
    loss_ours.backward()
    loss_theirs = F.cross_entropy(theirs(torch.from_numpy(x)), torch.from_numpy(labels))
    loss_theirs.backward()
    assert loss_ours.item() == pytest.approx(loss_theirs.item(), rel=1e-5)
    for (n, p), (m, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert n == m
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=n)


def test_mlp_with_dropout_in_eval_matches_torch_and_weights_round_trip():
    torch.manual_seed(3)
    theirs = torch_mlp([30, 20, 10, 4], dropout=0.5).eval()
    ours = MLP(30, [20, 10], 4, dropout=0.5).eval()
    ours.load_state_dict(to_numpy_state(theirs))
    x = np.random.default_rng(6).standard_normal((5, 30)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    back = torch_mlp([30, 20, 10, 4], dropout=0.5).eval()
    back.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(back(torch.from_numpy(x)).detach().numpy(),
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=0, atol=0)


def test_load_state_dict_takes_torch_tensors_directly():
    theirs = torch_mlp([6, 5, 3])
    ours = MLP(6, [5], 3)
    ours.load_state_dict(theirs.state_dict())
    ours.load_state_dict(dict(theirs.named_parameters()))  # parameters that require grad, too
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[k], v.numpy())


def test_mismatched_torch_model_is_reported():
    theirs = torch_mlp([6, 5, 3])
    with pytest.raises(ValueError, match=r"'0.weight'.*\(5, 6\).*\(4, 6\)"):
        MLP(6, [4], 3).load_state_dict(to_numpy_state(theirs))
    with pytest.raises(KeyError, match="unexpected keys"):
        MLP(6, [5, 5], 3, dropout=0.1).load_state_dict(to_numpy_state(theirs))
    result = Sequential([Dense(6, 5)]).load_state_dict(to_numpy_state(theirs), strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["2.weight", "2.bias"]


def test_dropout_statistics_agree_with_torch():
    torch.manual_seed(4)
    x = np.ones((400, 500), dtype=np.float32)
    ours = Dropout(0.3, generator=np.random.default_rng(4))(Tensor(x)).data
    theirs = torch.nn.Dropout(0.3)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs), rtol=1e-6)  # {0, 1/(1-p)}
    assert (ours == 0).mean() == pytest.approx((theirs == 0).mean(), abs=0.01)


# ----------------------------------------------------------------------------- Module API (issue 22)
def twin_models():
    """The same tree in both libraries: nesting, a ModuleDict, a ModuleList holding an
    activation, a layer held under two names, persistent and non-persistent buffers."""
    from tinytorch.core.layers import Module, ModuleDict, ModuleList

    class Block(Module):
        def __init__(self):
            super().__init__()
            self.fc = Dense(3, 4)
            self.act = ReLU()
            self.register_buffer("running", Tensor(np.zeros(4, dtype=np.float32)))
            self.register_buffer("cache", Tensor(np.zeros(2, dtype=np.float32)), persistent=False)

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.enc = Block()
            self.heads = ModuleDict({"b": Dense(4, 1), "a": Dense(4, 2)})
            self.layers = ModuleList([Dense(2, 2), Tanh()])
            self.shared = self.enc.fc

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 4)
            self.act = torch.nn.ReLU()
            self.register_buffer("running", torch.zeros(4))
            self.register_buffer("cache", torch.zeros(2), persistent=False)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = TorchBlock()
            self.heads = torch.nn.ModuleDict({"b": torch.nn.Linear(4, 1), "a": torch.nn.Linear(4, 2)})
            self.layers = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Tanh()])
            self.shared = self.enc.fc

    return Net(), TorchNet()


def type_names(modules) -> list:
    return [type(m).__name__.replace("Dense", "Linear").replace("Torch", "") for m in modules]


def test_named_modules_match_torch_with_duplicates_and_prefix():
    ours, theirs = twin_models()
    for kwargs in ({}, {"remove_duplicate": False}, {"prefix": "model"}):
        a, b = list(ours.named_modules(**kwargs)), list(theirs.named_modules(**kwargs))
        assert [n for n, _ in a] == [n for n, _ in b], kwargs
        assert type_names(m for _, m in a) == type_names(m for _, m in b), kwargs
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]


def test_apply_visits_in_torchs_order():
    ours, theirs = twin_models()
    seen_ours, seen_theirs = [], []
    assert ours.apply(seen_ours.append) is ours
    theirs.apply(seen_theirs.append)
    assert type_names(seen_ours) == type_names(seen_theirs)
    names_ours = {id(m): n for n, m in ours.named_modules()}
    names_theirs = {id(m): n for n, m in theirs.named_modules()}
    assert [names_ours[id(m)] for m in seen_ours] == [names_theirs[id(m)] for m in seen_theirs]


def test_buffers_and_state_dict_keys_match_torch():
    ours, theirs = twin_models()
    assert list(ours.state_dict()) == list(theirs.state_dict())  # "cache" is not persistent
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    ours.load_state_dict(to_numpy_state(theirs))  # strict: every key lines up


def test_load_state_dict_non_strict_reports_keys_like_torch():
    ours, theirs = twin_models()
    state = to_numpy_state(theirs)
    del state["heads.a.bias"], state["enc.running"]
    state["heads.c.weight"] = np.zeros((1, 4), np.float32)
    state["extra"] = np.zeros(1, np.float32)
    before = ours.enc.fc.weight.data.copy()
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                      strict=False)
    assert result.missing_keys == expected.missing_keys
    assert result.unexpected_keys == expected.unexpected_keys
    assert result._fields == ("missing_keys", "unexpected_keys")  # a named tuple, like torch's
    np.testing.assert_array_equal(ours.enc.fc.weight.data, state["enc.fc.weight"])  # the rest loads
    assert not np.array_equal(before, ours.enc.fc.weight.data)


def test_module_dict_behaves_like_torchs():
    from tinytorch.core.layers import ModuleDict

    ours = ModuleDict({"b": Dense(4, 1), "a": ReLU()})
    theirs = torch.nn.ModuleDict({"b": torch.nn.Linear(4, 1), "a": torch.nn.ReLU()})
    for d in (ours, theirs):
        d["c"] = type(d["b"])(2, 2)
        d.update([("a", type(d["b"])(1, 1)), ("d", type(d["b"])(3, 3))])
        d.pop("b")
    assert list(ours.keys()) == list(theirs.keys()) and list(ours) == list(theirs)
    assert "a" in ours and "b" not in ours and len(ours) == len(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
