"""Higher-order gradients (create_graph=True) and Tensor.register_hook against PyTorch 2.13.

* a Hessian-vector product of a small MLP (Dense + tanh / relu / sigmoid, MSE and
  cross-entropy losses from tinytorch.core.training), with respect to every parameter;
* a WGAN-GP gradient penalty (‖∂D/∂x‖ − 1)² backpropagated to the critic's weights;
* hooks that double a gradient, act on an intermediate tensor, and are removed.

The same weights in both frameworks; float64 to ~1e-10, float32 with a looser tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.core.activations import ReLU, Sigmoid, Tanh  # noqa: E402
from tinytorch.core.autograd import grad  # noqa: E402
from tinytorch.core.dense import Sequential  # noqa: E402
from tinytorch.core.layers import Dense  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402
from tinytorch.core.training import cross_entropy, mse_loss  # noqa: E402

pytestmark = pytest.mark.torch

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-3, atol=2e-4)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
ACT = {"tanh": (Tanh, torch.nn.Tanh), "relu": (ReLU, torch.nn.ReLU),
       "sigmoid": (Sigmoid, torch.nn.Sigmoid)}


def twins(sizes, act, dtype, seed=0):
    """The same MLP in TinyTorch and PyTorch: Dense/Linear layers with ``act`` between them."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.uniform(-0.8, 0.8, (n_out, n_in)).astype(dtype)
        b = rng.uniform(-0.3, 0.3, n_out).astype(dtype)
        layer = Dense(n_in, n_out, dtype=dtype)
        layer.weight.data[...] = w
        layer.bias.data[...] = b
        lin = torch.nn.Linear(n_in, n_out, dtype=TORCH_DTYPE[dtype])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        ours.append(layer)
        theirs.append(lin)
        if i < len(sizes) - 2:
            ours.append(ACT[act][0]())
            theirs.append(ACT[act][1]())
    return Sequential(*ours), torch.nn.Sequential(*theirs)


def close(ours, theirs, dtype):
    np.testing.assert_allclose(np.asarray(ours.data if isinstance(ours, Tensor) else ours),
                               theirs.detach().numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_hessian_vector_product_of_an_mlp(dtype, act, loss):
    model, tmodel = twins([3, 6, 5, 2], act, dtype)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(dtype)
    if loss == "mse":
        target = rng.standard_normal((4, 2)).astype(dtype)
        ours_loss = mse_loss(model(Tensor(x, dtype=dtype)), Tensor(target, dtype=dtype))
        theirs_loss = torch.nn.functional.mse_loss(tmodel(torch.from_numpy(x)),
                                                   torch.from_numpy(target))
    else:
        labels = np.array([0, 1, 1, 0])
        ours_loss = cross_entropy(model(Tensor(x, dtype=dtype)), labels)
        theirs_loss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                                        torch.from_numpy(labels))
    params, tparams = list(model.parameters()), list(tmodel.parameters())
    vs = [rng.standard_normal(p.shape).astype(dtype) for p in params]

    grads = grad(ours_loss, params, create_graph=True)
    gv = sum(((g * Tensor(v, dtype=dtype)).sum() for g, v in zip(grads, vs)), Tensor(0.0, dtype=dtype))
    hvp = grad(gv, params)

    tgrads = torch.autograd.grad(theirs_loss, tparams, create_graph=True)
    tgv = sum((g * torch.from_numpy(v)).sum() for g, v in zip(tgrads, vs))
    thvp = torch.autograd.grad(tgv, tparams)

    close(ours_loss, theirs_loss, dtype)
    for g, tg in zip(grads, tgrads):
        close(g, tg, dtype)
    for h, th in zip(hvp, thvp):
        assert h.dtype == dtype
        close(h, th, dtype)
    assert any(np.abs(h.data).max() > 1e-3 for h in hvp)  # a real second derivative


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_wgan_gp_gradient_penalty_reaches_the_critic_weights(dtype, act):
    critic, tcritic = twins([4, 8, 8, 1], act, dtype, seed=3)
    rng = np.random.default_rng(4)
    real = rng.standard_normal((5, 4)).astype(dtype)
    fake = rng.standard_normal((5, 4)).astype(dtype)
    eps = rng.uniform(size=(5, 1)).astype(dtype)
    x_hat = eps * real + (1 - eps) * fake

    x = Tensor(x_hat, dtype=dtype, requires_grad=True)
    (dx,) = grad(critic(x).sum(), [x], create_graph=True)
    norm = (dx * dx).sum(axis=1).sqrt()
    penalty = ((norm - 1) * (norm - 1)).mean()
    penalty.backward()

    tx = torch.from_numpy(x_hat).requires_grad_(True)
    (tdx,) = torch.autograd.grad(tcritic(tx).sum(), [tx], create_graph=True)
    tpenalty = ((tdx.norm(2, dim=1) - 1) ** 2).mean()
    tpenalty.backward()

    close(dx, tdx, dtype)
    close(penalty, tpenalty, dtype)
    reached = 0
    for p, tp in zip(critic.parameters(), tcritic.parameters()):
        if tp.grad is None:  # the last bias: ∂D/∂x does not depend on it
            assert p.grad is None
            continue
        if p.grad is None:  # through relu's constant mask: PyTorch's zeros, nothing here
            assert act == "relu" and not tp.grad.abs().max().item()
            continue
        assert p.grad.grad_fn is None  # a plain backward: no graph kept
        close(p.grad, tp.grad, dtype)
        reached += 1
    assert reached == (5 if act == "tanh" else 3)
    if act == "relu":  # piecewise linear: ∂D/∂x does not depend on x (PyTorch: zeros)
        assert x.grad is None and not tx.grad.abs().max().item()
    else:
        close(x.grad, tx.grad, dtype)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_create_graph_then_backward_of_the_grad(dtype):
    """``loss.backward(create_graph=True)`` then ``w.grad``'s norm backpropagated (PyTorch's
    double-backward idiom), accumulating into the same ``.grad``."""
    model, tmodel = twins([3, 4, 1], "tanh", dtype, seed=5)
    x = np.random.default_rng(6).standard_normal((6, 3)).astype(dtype)
    w, tw = model[0].weight, tmodel[0].weight
    model(Tensor(x, dtype=dtype)).mean().backward(create_graph=True)
    tmodel(torch.from_numpy(x)).mean().backward(create_graph=True)
    close(w.grad, tw.grad, dtype)
    (w.grad * w.grad).sum().backward()
    (tw.grad * tw.grad).sum().backward()
    close(w.grad, tw.grad, dtype)


# --------------------------------------------------------------------------- register_hook
def test_hook_that_doubles_a_leaf_gradient():
    a = np.array([0.5, -1.0, 2.0])
    x, tx = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.register_hook(lambda g: g * 2)
    tx.register_hook(lambda g: g * 2)
    (x.tanh() * x).sum().backward()
    (tx.tanh() * tx).sum().backward()
    close(x.grad, tx.grad, np.float64)


def test_hook_on_an_intermediate_and_its_removal():
    a = np.array([[0.5, -1.0], [2.0, 0.3]])
    x, tx = Tensor(a, dtype=np.float64, requires_grad=True), torch.tensor(a, requires_grad=True)
    h, th = x.exp(), tx.exp()
    seen, tseen = [], []
    handle = h.register_hook(lambda g: g * h)
    h.register_hook(lambda g: seen.append(g.data.copy()))
    thandle = th.register_hook(lambda g: g * th)
    th.register_hook(lambda g: tseen.append(g.detach().numpy().copy()))
    h.retain_grad()
    th.retain_grad()
    (h * 3).sum().backward(retain_graph=True)
    (th * 3).sum().backward(retain_graph=True)
    close(x.grad, tx.grad, np.float64)
    close(h.grad, th.grad, np.float64)
    np.testing.assert_allclose(seen[0], tseen[0])

    handle.remove()
    thandle.remove()
    x.grad, tx.grad = None, None
    (h * 3).sum().backward()
    (th * 3).sum().backward()
    close(x.grad, tx.grad, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_penalty_of_a_composite_conv_critic(dtype):
    """A conv critic on the composite path (sliding_window, pad, matmul, max pool)."""
    from tinytorch.core.spatial import functional as F

    rng = np.random.default_rng(8)
    x_np = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    arrays = [rng.uniform(-0.5, 0.5, s).astype(dtype) for s in ((3, 2, 3, 3), (3,), (27, 1))]
    ours = [Tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]

    x = Tensor(x_np, dtype=dtype, requires_grad=True)
    h = F.conv2d(x, ours[0], ours[1], padding=1, fused=False).tanh()
    h = F.max_pool2d(h, 2, fused=False).reshape(2, 27)
    (dx,) = grad((h @ ours[2]).sum(), [x], create_graph=True)
    norm = (dx * dx).sum(axis=(1, 2, 3)).sqrt()
    ((norm - 1) * (norm - 1)).mean().backward()

    tx = torch.tensor(x_np, requires_grad=True)
    th = torch.nn.functional.conv2d(tx, theirs[0], theirs[1], padding=1).tanh()
    th = torch.nn.functional.max_pool2d(th, 2).reshape(2, 27)
    (tdx,) = torch.autograd.grad((th @ theirs[2]).sum(), [tx], create_graph=True)
    ((tdx.flatten(1).norm(2, dim=1) - 1) ** 2).mean().backward()

    close(dx, tdx, dtype)
    for p, tp in zip(ours, theirs):
        close(p.grad, tp.grad, dtype)
    close(x.grad, tx.grad, dtype)
