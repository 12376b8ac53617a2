"""GroupNorm: the math against a per-sample, per-group loop (any rank, with and without γ/β),
per-sample statistics (a sample normalises the same alone or in a batch; eval = train), the
module's parameters, dtype and errors. Its gradients come from module 09 (it is written in Tensor
ops): finite differences and PyTorch in integration/test_groupnorm_torch.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.spatial import GroupNorm, group_norm
from tinytorch.core.tensor import Tensor


def reference_group_norm(x, groups, w=None, b=None, eps=1e-5):
    """One sample and one group at a time, in float64."""
    n, c = x.shape[:2]
    out = np.empty(x.shape, dtype=np.float64)
    size = c // groups
    for i in range(n):
        for j in range(groups):
            part = x[i, j * size:(j + 1) * size].astype(np.float64)
            out[i, j * size:(j + 1) * size] = (part - part.mean()) / np.sqrt(part.var() + eps)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if w is not None:
        out = out * w.reshape(shape)
    if b is not None:
        out = out + b.reshape(shape)
    return out


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), groups=st.sampled_from([1, 2, 4]), per=st.integers(1, 3),
       spatial=st.sampled_from([(), (3,), (2, 3), (2, 2, 2)]), affine=st.booleans(),
       seed=st.integers(0, 1000))
def test_group_norm_matches_a_loop(n, groups, per, spatial, affine, seed):
    rng = np.random.default_rng(seed)
    c = groups * per
    x = (rng.standard_normal((n, c) + spatial) * 3 + 1).astype(np.float32)
    w = rng.standard_normal(c).astype(np.float32) if affine else None
    b = rng.standard_normal(c).astype(np.float32) if affine else None
    got = group_norm(Tensor(x), groups, None if w is None else Tensor(w),
                     None if b is None else Tensor(b))
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), reference_group_norm(x, groups, w, b),
                               rtol=1e-4, atol=1e-4)


def test_group_norm_in_float64_and_with_eps():
    x = np.random.default_rng(1).standard_normal((2, 6, 3, 3))
    got = group_norm(Tensor(x, dtype=np.float64), 3, eps=0.5)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got.numpy(), reference_group_norm(x, 3, eps=0.5), rtol=1e-12)


def test_group_norm_module_is_per_sample_and_mode_free():
    gn = GroupNorm(2, 4)
    gn.weight.data[...] = [1.0, 2.0, 3.0, 4.0]
    gn.bias.data[...] = [0.0, -1.0, 1.0, 0.5]
    x = np.random.default_rng(2).standard_normal((5, 4, 3, 3)).astype(np.float32)
    whole = gn(Tensor(x)).numpy()
    np.testing.assert_allclose(whole, reference_group_norm(x, 2, gn.weight.numpy(),
                                                           gn.bias.numpy()), rtol=1e-4, atol=1e-5)
    alone = gn(Tensor(x[:1])).numpy()  # one sample normalises the same alone or in a batch
    np.testing.assert_allclose(whole[:1], alone, rtol=1e-5, atol=1e-6)
    gn.eval()
    np.testing.assert_allclose(gn(Tensor(x)).numpy(), whole)  # no running statistics
    assert sorted(dict(gn.named_parameters())) == ["bias", "weight"]
    assert not list(gn.buffers())
    assert GroupNorm(2, 4, affine=False).weight is None


def test_group_norm_module_computes_in_its_parameters_dtype():
    gn = GroupNorm(1, 3).double()
    y = gn(np.ones((2, 3, 4), dtype=np.float32))
    assert y.dtype == np.float64
    assert GroupNorm(1, 3)(np.ones((2, 3), dtype=np.float64)).dtype == np.float32


def test_group_norm_errors():
    with pytest.raises(ValueError, match="4 channels cannot be split into 3 groups"):
        GroupNorm(3, 4)
    with pytest.raises(ValueError, match="num_groups must be a positive int, got 0"):
        GroupNorm(0, 4)
    gn = GroupNorm(2, 4)
    with pytest.raises(ValueError, match=r"expected \(N, 4, \.\.\.\) input, got shape \(2, 3, 2\)"):
        gn(Tensor(np.zeros((2, 3, 2), np.float32)))
    with pytest.raises(ValueError, match="cannot be split into 3 groups"):
        group_norm(Tensor(np.zeros((2, 4, 2), np.float32)), 3)
    with pytest.raises(ValueError, match=r"expected \(N, C, \.\.\.\) input"):
        group_norm(Tensor(np.zeros(4, np.float32)), 1)
