"""GroupNorm (module 06) against ``torch.nn.GroupNorm`` and by central differences.

It is written in Tensor ops, so its gradients are module 09's rules composed: checked here with
``gradcheck`` (float64) and against PyTorch (outputs and the gradients of the input, γ and β),
float32 and float64, for 2-D to 5-D inputs, G = 1 (layer norm) and G = C (instance norm).
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.spatial import GroupNorm, group_norm
from tinytorch.core.tensor import Tensor

TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-9, 1e-10)}


@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_gradients_by_finite_differences(affine):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 4, 3, 3)) * 2 + 1, dtype=np.float64, requires_grad=True)
    if not affine:
        assert gradcheck(lambda a: group_norm(a, 2), (x,))
        return
    w = Tensor(rng.standard_normal(4), dtype=np.float64, requires_grad=True)
    b = Tensor(rng.standard_normal(4), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda a, c, d: group_norm(a, 2, c, d), (x, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("groups, shape", [(2, (3, 4)), (2, (2, 6, 5)), (3, (2, 6, 4, 4)),
                                           (1, (2, 6, 3, 3)), (6, (2, 6, 3, 3)),
                                           (2, (1, 4, 2, 3, 2))])
def test_group_norm_matches_torch(dtype, groups, shape):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    c = shape[1]
    theirs = torch.nn.GroupNorm(groups, c, eps=1e-4)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = GroupNorm(groups, c, eps=1e-4).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    tx, px = Tensor(x, dtype=dtype, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(tx), theirs(px)
    rtol, atol = TOL[dtype]
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=rtol, atol=atol)
    g = rng.standard_normal(shape).astype(dtype)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    for name, a, b in (("input", tx, px), ("weight", ours.weight, theirs.weight),
                       ("bias", ours.bias, theirs.bias)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol * 10, atol=atol * 10,
                                   err_msg=f"d {name}")


def test_group_norm_without_affine_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 4, 5)).astype(np.float32)
    ref = torch.nn.GroupNorm(2, 4, affine=False)(torch.from_numpy(x)).numpy()
    ours = GroupNorm(2, 4, affine=False)
    assert not list(ours.parameters())
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), ref, rtol=1e-4, atol=1e-5)
    assert set(ours.state_dict()) == set(torch.nn.GroupNorm(2, 4, affine=False).state_dict())
