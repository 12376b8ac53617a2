"""MultiheadAttention against ``torch.nn.MultiheadAttention``, argument by argument.

The torch module's weights are copied into TinyTorch's (``load_state_dict``: same names and
layout, ``q/k/v_proj_weight`` included when ``kdim``/``vdim`` differ), both get the same inputs,
and the outputs, the returned weights and the gradients of the inputs and of every parameter
must agree — in float32 and float64, with PyTorch's default ``batch_first=False``, and with
``key_padding_mask`` and ``attn_mask`` read the way PyTorch's module reads them (a boolean
True = masked out; a float mask is added).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import tinytorch.core.autograd  # noqa: E402,F401  (the engine: backward() works)
from tinytorch.core.attention import MultiheadAttention  # noqa: E402
from tinytorch.core.tensor import Tensor  # noqa: E402

TOL = {np.float32: (1e-4, 1e-5), np.float64: (1e-9, 1e-10)}


def _pair(array, dtype):
    array = np.asarray(array, dtype=dtype)
    return Tensor(array, requires_grad=True, dtype=dtype), torch.tensor(array, requires_grad=True)


def _close(ours, theirs, what, dtype):
    rtol, atol = TOL[dtype]
    a = ours.numpy() if isinstance(ours, Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == tuple(b.shape), f"{what}: shape {a.shape} vs torch {tuple(b.shape)}"
    assert a.dtype == b.dtype, f"{what}: dtype {a.dtype} vs torch {b.dtype}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _modules(dtype, seed=0, **kw):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(**kw)
    if kw.get("bias", True):  # torch starts the biases at zero; make them matter
        with torch.no_grad():
            theirs.in_proj_bias.normal_()
            theirs.out_proj.bias.normal_()
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = MultiheadAttention(**kw).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _compare(dtype, module_kw, shapes, call_kw=None, seed=1, self_attention=False):
    """Run both modules on the same inputs; compare output, weights and every gradient."""
    call_kw = dict(call_kw or {})
    ours, theirs = _modules(dtype, **module_kw)
    rng = np.random.default_rng(seed)
    tq, pq = _pair(rng.standard_normal(shapes[0]), dtype)
    if self_attention:
        (tk, pk), (tv, pv) = (tq, pq), (tq, pq)
    else:
        tk, pk = _pair(rng.standard_normal(shapes[1]), dtype)
        tv, pv = _pair(rng.standard_normal(shapes[2]), dtype)
    torch_kw = {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
                for k, v in call_kw.items()}
    out, w = ours(tq, tk, tv, **call_kw)
    ref_out, ref_w = theirs(pq, pk, pv, **torch_kw)
    _close(out, ref_out, "output", dtype)
    if ref_w is None:
        assert w is None
    else:
        _close(w, ref_w, "attention weights", dtype)
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(g)
    ref_out.backward(torch.from_numpy(g))
    grads = [("query", tq, pq)] if self_attention else [("query", tq, pq), ("key", tk, pk),
                                                         ("value", tv, pv)]
    for name, a, b in grads:
        _close(a.grad, b.grad, f"d {name}", dtype)
    ours_p = dict(ours.named_parameters())
    assert set(ours_p) == {n for n, _ in theirs.named_parameters()}
    for name, p in theirs.named_parameters():
        _close(ours_p[name].grad, p.grad, f"d {name}", dtype)


DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
def test_default_layout_is_length_first(dtype):
    """batch_first=False (PyTorch's default): (L, batch, E) in and out, weights (batch, L, S)."""
    _compare(dtype, dict(embed_dim=8, num_heads=2), [(5, 3, 8), (7, 3, 8), (7, 3, 8)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_self_attention_batch_first(dtype):
    _compare(dtype, dict(embed_dim=12, num_heads=3, batch_first=True), [(2, 6, 12)] * 3,
             self_attention=True)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_kdim_vdim(dtype, batch_first):
    shapes = [(4, 2, 8), (6, 2, 5), (6, 2, 3)]
    if batch_first:
        shapes = [(s[1], s[0], s[2]) for s in shapes]
    _compare(dtype, dict(embed_dim=8, num_heads=2, kdim=5, vdim=3, batch_first=batch_first),
             shapes)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_key_padding_mask(dtype, kind):
    if kind == "bool":  # True = this key is padding
        mask = np.array([[False] * 7, [False] * 4 + [True] * 3, [False] * 2 + [True] * 5])
    else:
        mask = np.random.default_rng(3).standard_normal((3, 7)).astype(dtype)
    _compare(dtype, dict(embed_dim=8, num_heads=2), [(5, 3, 8), (7, 3, 8), (7, 3, 8)],
             dict(key_padding_mask=mask))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["bool 2d", "bool 3d", "float 2d", "float 3d", "with padding"])
def test_attn_mask(dtype, kind):
    rng = np.random.default_rng(4)
    call = {}
    if kind == "bool 2d":  # True = not allowed to attend
        call["attn_mask"] = rng.random((5, 7)) < 0.4
        call["attn_mask"][:, 0] = False
    elif kind == "bool 3d":  # (batch · heads, L, S)
        call["attn_mask"] = rng.random((6, 5, 7)) < 0.4
        call["attn_mask"][..., 1] = False
    elif kind == "float 2d":
        call["attn_mask"] = rng.standard_normal((5, 7)).astype(dtype)
    elif kind == "float 3d":
        call["attn_mask"] = rng.standard_normal((6, 5, 7)).astype(dtype)
    else:
        call["attn_mask"] = ~np.tril(np.ones((5, 7), dtype=bool))
        call["key_padding_mask"] = np.array([[False] * 7, [False] * 6 + [True], [False] * 7])
    _compare(dtype, dict(embed_dim=8, num_heads=2), [(5, 3, 8), (7, 3, 8), (7, 3, 8)], call)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("need, average", [(True, True), (True, False), (False, True)])
def test_need_weights_and_average_attn_weights(dtype, need, average):
    _compare(dtype, dict(embed_dim=8, num_heads=2, batch_first=True),
             [(2, 4, 8), (2, 6, 8), (2, 6, 8)],
             dict(need_weights=need, average_attn_weights=average))


@pytest.mark.parametrize("dtype", DTYPES)
def test_is_causal_with_its_mask(dtype):
    """torch's module takes is_causal as a hint beside the causal attn_mask; TinyTorch gives the
    same result with either (or both)."""
    causal = ~np.tril(np.ones((5, 5), dtype=bool))
    _compare(dtype, dict(embed_dim=8, num_heads=2), [(5, 2, 8)] * 3,
             dict(attn_mask=causal, is_causal=True), self_attention=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_without_bias_and_unbatched(dtype):
    _compare(dtype, dict(embed_dim=8, num_heads=4, bias=False), [(5, 8), (6, 8), (6, 8)],
             dict(key_padding_mask=np.array([False] * 5 + [True])))


def test_dropout_is_off_in_eval_and_on_in_training():
    ours, _ = _modules(np.float32, embed_dim=8, num_heads=2, dropout=0.5)
    x = np.random.default_rng(5).standard_normal((4, 2, 8)).astype(np.float32)
    ours.eval()
    a = ours(x, x, x)[0].numpy()
    np.testing.assert_array_equal(a, ours(x, x, x)[0].numpy())
    ours.train()
    assert not np.allclose(ours(x, x, x)[0].numpy(), a)
