"""Module 06 against PyTorch: same outputs, same gradients (input, weight, bias), same
running statistics and the same state_dict layout, on both the fused and the composite path.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import tinytorch.core.autograd  # noqa: E402,F401  (Tensor.backward)
from tinytorch.core.spatial import (  # noqa: E402
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
    fused_kernels,
)
from tinytorch.core.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.core.tensor.runtime import threads  # noqa: E402

pytestmark = pytest.mark.torch

FUSED = pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
TOL = dict(rtol=1e-4, atol=1e-5)


def _state_to_torch(ours, theirs) -> None:
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})


def _run_both(ours, theirs, x: np.ndarray, fused: bool, seed: int = 0):
    """Forward both on x, backward a random upstream gradient; return both sides' results."""
    tx = Tensor(x, requires_grad=True)
    with fused_kernels(fused):
        y = ours(tx)
    g = np.random.default_rng(seed).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ttx = torch.tensor(x, requires_grad=True)
    ty = theirs(ttx)
    ty.backward(torch.from_numpy(g))
    return (y, tx), (ty, ttx)


def _compare_params(ours, theirs) -> None:
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), err_msg=name, **TOL)


# ----------------------------------------------------------------------------- Conv2d
CONV = [
    dict(in_channels=3, out_channels=8, kernel_size=3),
    dict(in_channels=3, out_channels=8, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1)),
    dict(in_channels=6, out_channels=9, kernel_size=3, padding=1, groups=3),
    dict(in_channels=4, out_channels=4, kernel_size=5, padding=2, groups=4),
    dict(in_channels=3, out_channels=5, kernel_size=1, bias=False),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding="same", dilation=2),
]


@FUSED
@pytest.mark.parametrize("kw", CONV, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_conv2d_outputs_and_gradients(kw, fused):
    manual_seed(0)
    ours = Conv2d(**kw)
    theirs = torch.nn.Conv2d(**kw)
    _state_to_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal((3, kw["in_channels"], 11, 10)).astype(np.float32)
    (y, tx), (ty, ttx) = _run_both(ours, theirs, x, fused)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


def test_conv2d_with_two_threads_matches_torch():
    manual_seed(2)
    kw = dict(in_channels=4, out_channels=6, kernel_size=3, stride=1, padding=1, groups=2)
    ours, theirs = Conv2d(**kw), torch.nn.Conv2d(**kw)
    _state_to_torch(ours, theirs)
    x = np.random.default_rng(3).standard_normal((5, 4, 9, 9)).astype(np.float32)
    with threads(2):
        (y, tx), (ty, ttx) = _run_both(ours, theirs, x, True)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


@pytest.mark.parametrize("kw", CONV[:6], ids=str)
def test_conv2d_state_dict_matches_torch(kw):
    ours, theirs = Conv2d(**kw), torch.nn.Conv2d(**kw)
    ours_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(their_state)
    for k in ours_state:
        assert ours_state[k].shape == tuple(their_state[k].shape), k
    # and torch's weights load into ours
    ours.load_state_dict({k: v.numpy() for k, v in their_state.items()})
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())


def test_conv2d_init_has_torchs_distribution():
    manual_seed(3)
    torch.manual_seed(3)
    ours, theirs = Conv2d(32, 64, 3), torch.nn.Conv2d(32, 64, 3)
    bound = 1 / np.sqrt(32 * 9)  # both weight and bias are U(-1/√fan_in, 1/√fan_in)
    for name in ("weight", "bias"):
        a, b = getattr(ours, name).numpy(), getattr(theirs, name).detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(b).max() <= bound
    w_ours, w_theirs = ours.weight.numpy(), theirs.weight.detach().numpy()
    assert w_ours.std() == pytest.approx(w_theirs.std(), rel=0.05)  # 18,432 draws each


# ----------------------------------------------------------------------------- pooling
POOLS = [
    (MaxPool2d, torch.nn.MaxPool2d, dict(kernel_size=2)),
    (MaxPool2d, torch.nn.MaxPool2d, dict(kernel_size=3, stride=2, padding=1)),
    (MaxPool2d, torch.nn.MaxPool2d, dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1))),
    (AvgPool2d, torch.nn.AvgPool2d, dict(kernel_size=2)),
    (AvgPool2d, torch.nn.AvgPool2d, dict(kernel_size=3, stride=2, padding=1)),
    (AvgPool2d, torch.nn.AvgPool2d, dict(kernel_size=3, stride=1, padding=1, count_include_pad=False)),
    (AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, dict(output_size=1)),
    (AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, dict(output_size=(3, 4))),
    (AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d, dict(output_size=(5, None))),
]


@FUSED
@pytest.mark.parametrize("ours_cls,their_cls,kw", POOLS,
                         ids=[f"{o.__name__}-{i}" for i, (o, _, _) in enumerate(POOLS)])
def test_pooling_outputs_and_gradients(ours_cls, their_cls, kw, fused):
    rng = np.random.default_rng(4)
    # a permutation: no ties, so the composite max-pool (which shares ties) agrees too
    x = (rng.permutation(2 * 3 * 9 * 11).reshape(2, 3, 9, 11) / 10.0).astype(np.float32)
    (y, tx), (ty, ttx) = _run_both(ours_cls(**kw), their_cls(**kw), x, fused)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **TOL)


def test_fused_max_pool_breaks_ties_like_torch():
    # a ReLU output full of zeros: every all-zero window routes its gradient to one element
    x = np.maximum(np.random.default_rng(5).standard_normal((2, 4, 8, 8)), 0).astype(np.float32)
    x[0, 0, :2, :2] = 1.5  # a whole window of equal positive values
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        (y, tx), (ty, ttx) = _run_both(MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), x, True)
        np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------- batch norm
BN = [
    (BatchNorm1d, torch.nn.BatchNorm1d, (16, 5)),
    (BatchNorm1d, torch.nn.BatchNorm1d, (8, 5, 7)),
    (BatchNorm2d, torch.nn.BatchNorm2d, (6, 5, 4, 3)),
]


@FUSED
@pytest.mark.parametrize("ours_cls,their_cls,shape", BN, ids=["1d-NC", "1d-NCL", "2d"])
def test_batchnorm_train_eval_and_running_stats(ours_cls, their_cls, shape, fused):
    ours, theirs = ours_cls(shape[1], momentum=0.3), their_cls(shape[1], momentum=0.3)
    rng = np.random.default_rng(6)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.standard_normal(shape[1]).astype(np.float32)))
        theirs.bias.copy_(torch.from_numpy(rng.standard_normal(shape[1]).astype(np.float32)))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    for step in range(3):  # training steps: batch statistics, running averages updated
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        ours.zero_grad()
        theirs.zero_grad()
        (y, tx), (ty, ttx) = _run_both(ours, theirs, x, fused, seed=step)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
        np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **TOL)
        _compare_params(ours, theirs)
    their_state = theirs.state_dict()
    for k, v in ours.state_dict().items():
        np.testing.assert_allclose(v, their_state[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    assert int(ours.num_batches_tracked.numpy()) == 3
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    x = rng.standard_normal(shape).astype(np.float32)
    (y, tx), (ty, ttx) = _run_both(ours, theirs, x, fused, seed=9)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **TOL)
    np.testing.assert_allclose(tx.grad.numpy(), ttx.grad.numpy(), **TOL)
    _compare_params(ours, theirs)


@FUSED
def test_batchnorm_cumulative_average_and_no_affine(fused):
    ours = BatchNorm2d(3, momentum=None, affine=False)
    theirs = torch.nn.BatchNorm2d(3, momentum=None, affine=False)
    rng = np.random.default_rng(7)
    with fused_kernels(fused):
        for _ in range(4):
            x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * 3
            np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ours_cls,their_cls", [(BatchNorm1d, torch.nn.BatchNorm1d),
                                                (BatchNorm2d, torch.nn.BatchNorm2d)])
def test_batchnorm_state_dict_matches_torch(ours_cls, their_cls):
    for kw in (dict(), dict(affine=False), dict(track_running_stats=False)):
        ours, theirs = ours_cls(7, **kw), their_cls(7, **kw)
        ours_state, their_state = ours.state_dict(), theirs.state_dict()
        assert list(ours_state) == list(their_state), kw
        for k in ours_state:
            assert ours_state[k].shape == tuple(their_state[k].shape), k
            assert ours_state[k].dtype == their_state[k].numpy().dtype, k
