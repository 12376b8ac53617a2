"""Embedding's padding_idx and max_norm against torch.nn.Embedding 2.13: the renormalised
weight, the output and the weight's gradient, from the same initial table."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinytorch.core.autograd  # noqa: E402,F401  (the engine behind backward())
from tinytorch.core.attention import Embedding  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402


@pytest.mark.parametrize("kwargs", [dict(max_norm=1.5), dict(max_norm=2.0, norm_type=1.0),
                                    dict(padding_idx=0), dict(padding_idx=2, max_norm=1.0)])
def test_embedding_matches_torch(kwargs):
    table = (np.random.default_rng(0).standard_normal((6, 4)) * 2).astype(np.float32)
    ids = np.array([[1, 2, 2], [0, 5, 1]])
    ours = Embedding(6, 4, **kwargs)
    theirs = torch.nn.Embedding(6, 4, **kwargs)
    ours.weight.data[...] = table
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(table))
    y, ty = ours(Tensor(ids)), theirs(torch.from_numpy(ids))
    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-6)
