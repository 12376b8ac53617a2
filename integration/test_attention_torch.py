"""Module 07 against PyTorch: the same weights and inputs give the same outputs and gradients.

* scaled_dot_product_attention vs ``torch.nn.functional.scaled_dot_product_attention`` — no mask,
  causal, boolean (True = attend, the same convention), additive float masks, fully masked rows,
  fewer queries than keys; gradients of q, k, v (and of a learned additive mask).
* MultiHeadAttention vs ``torch.nn.MultiheadAttention(batch_first=True)`` — the torch module's
  ``state_dict()`` loads as it is (same names and layout); self- and cross-attention, masks
  (both read a boolean attn_mask as True = *blocked*, so both get the same array), returned
  weights, and the gradients of the inputs and of all four projections. Every other argument
  (key_padding_mask, kdim/vdim, batch_first=False, need_weights, average_attn_weights,
  float64) is in ``test_multihead_attention_torch.py``.
* LayerNorm vs ``torch.nn.LayerNorm`` — forward and the gradients of input, weight and bias.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

import torch.nn.functional as F  # noqa: E402

import tinytorch.core.autograd  # noqa: E402,F401  (the engine: backward() works)
from tinytorch.core.attention import (  # noqa: E402
    LayerNorm,
    MultiHeadAttention,
    causal_mask,
    gelu,
    padding_mask,
    scaled_dot_product_attention,
)
from tinytorch.core.tensor import Tensor  # noqa: E402

RTOL, ATOL = 1e-4, 1e-5


def _close(ours, theirs, what, rtol=RTOL, atol=ATOL):
    a = ours.numpy() if isinstance(ours, Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == tuple(b.shape), f"{what}: shape {a.shape} vs torch {tuple(b.shape)}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def _pair(array):
    """The same float32 values as a TinyTorch leaf and a torch leaf, both requiring grad."""
    return Tensor(array, requires_grad=True), torch.tensor(array, requires_grad=True)


# ----------------------------------------------------------------------------- SDPA
def _masks(rng, lq, lk):
    bool_mask = rng.random((lq, lk)) > 0.4
    bool_mask[:, 0] = True
    dead = np.ones((lq, lk), dtype=bool)
    dead[1] = False
    additive = rng.standard_normal((2, 1, lq, lk)).astype(np.float32)
    additive[0, 0, 2, :3] = -np.inf
    return {
        "none": (None, False),
        "causal": (None, True),
        "bool": (bool_mask, False),
        "additive": (additive, False),
        "dead row": (dead, False),
        "padding": (padding_mask([lk - 2, lk]).numpy(), False),
        "causal as mask": (causal_mask(lq, lk).numpy(), False),
    }


@pytest.mark.parametrize("kind", ["none", "causal", "bool", "additive", "dead row", "padding",
                                  "causal as mask"])
@pytest.mark.parametrize("lq, lk", [(6, 6), (4, 7)])
def test_sdpa_forward_and_gradients_match_torch(kind, lq, lk):
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, lq, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, lk, 8)).astype(np.float32)
    v = rng.standard_normal((2, 3, lk, 5)).astype(np.float32)
    mask, causal = _masks(rng, lq, lk)[kind]
    (tq, pq), (tk, pk), (tv, pv) = _pair(q), _pair(k), _pair(v)
    ours = scaled_dot_product_attention(tq, tk, tv, mask=mask, is_causal=causal)
    theirs = F.scaled_dot_product_attention(
        pq, pk, pv, attn_mask=None if mask is None else torch.from_numpy(mask), is_causal=causal)
    _close(ours, theirs, f"{kind}: output")
    g = rng.standard_normal(ours.shape).astype(np.float32)
    ours.backward(g)
    theirs.backward(torch.from_numpy(g))
    for name, a, b in (("q", tq, pq), ("k", tk, pk), ("v", tv, pv)):
        _close(a.grad, b.grad, f"{kind}: d{name}")


def test_sdpa_mask_combined_with_is_causal_equals_torch_with_both_in_one_mask():
    # torch refuses attn_mask together with is_causal=True when it needs gradients; TinyTorch
    # combines them, which equals torch given the combined boolean mask
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal((2, 5, 4)).astype(np.float32) for _ in range(3))
    mask = rng.random((5, 5)) > 0.3
    mask[:, 0] = True
    ours = scaled_dot_product_attention(q, k, v, mask=mask, is_causal=True)
    both = torch.from_numpy(mask & np.tril(np.ones((5, 5), dtype=bool)))
    theirs = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), attn_mask=both)
    _close(ours, theirs, "mask + is_causal")


def test_sdpa_gradient_of_a_learned_additive_mask_matches_torch():
    rng = np.random.default_rng(2)
    q, k, v = (rng.standard_normal((2, 4, 6)).astype(np.float32) for _ in range(3))
    bias = rng.standard_normal((4, 4)).astype(np.float32)
    tb, pb = _pair(bias)
    ours = scaled_dot_product_attention(q, k, v, mask=tb)
    theirs = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), attn_mask=pb)
    _close(ours, theirs, "output")
    ours.sum().backward()
    theirs.sum().backward()
    _close(tb.grad, pb.grad, "d mask")


def test_sdpa_custom_scale_and_large_logits_match_torch():
    rng = np.random.default_rng(3)
    q, k, v = ((rng.standard_normal((1, 64, 16)) * 30).astype(np.float32) for _ in range(3))
    ours = scaled_dot_product_attention(q, k, v, scale=0.3)
    theirs = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (q, k, v)), scale=0.3)
    _close(ours, theirs, "scale 0.3, logits ~ 1e4", rtol=1e-3, atol=1e-3)


def test_gelu_matches_torch():
    x = np.linspace(-8, 8, 101, dtype=np.float32)
    for approximate in ("tanh", "none"):
        t, p = _pair(x)
        ours, theirs = gelu(t, approximate), F.gelu(p, approximate=approximate)
        _close(ours, theirs, f"gelu {approximate}")
        ours.sum().backward()
        theirs.sum().backward()
        _close(t.grad, p.grad, f"gelu {approximate} derivative")


# ----------------------------------------------------------------------------- MultiHeadAttention
def _mha_pair(embed, heads, bias=True, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(embed, heads, bias=bias, batch_first=True)
    if bias:  # torch starts the biases at zero; make them matter
        with torch.no_grad():
            theirs.in_proj_bias.normal_()
            theirs.out_proj.bias.normal_()
    ours = MultiHeadAttention(embed, heads, bias=bias, batch_first=True)
    ours.load_state_dict(theirs.state_dict())  # same names, same layout
    return ours, theirs


def _compare_mha(ours, theirs, query, key, value, mask=None, is_causal=False):
    tq, pq = _pair(query)
    tk, pk = (tq, pq) if key is query else _pair(key)
    tv, pv = (tk, pk) if value is key else _pair(value)
    """``mask`` is the module convention both share: bool True = blocked, or additive."""
    out, w = ours(tq, tk, tv, attn_mask=mask, is_causal=is_causal, need_weights=True)
    tmask = None if mask is None else torch.from_numpy(np.ascontiguousarray(mask))
    if is_causal:  # torch's module takes is_causal only as a hint beside the mask itself
        blocked = ~torch.ones(query.shape[1], key.shape[1], dtype=torch.bool).tril()
        tmask = blocked if tmask is None else (tmask | blocked)
    ref_out, ref_w = theirs(pq, pk, pv, attn_mask=tmask, need_weights=True)
    _close(out, ref_out, "output")
    _close(w, ref_w, "attention weights (averaged over heads)")
    g = np.random.default_rng(5).standard_normal(out.shape).astype(np.float32)
    out.backward(g)
    ref_out.backward(torch.from_numpy(g))
    for name, a, b in (("query", tq, pq), ("key", tk, pk), ("value", tv, pv)):
        if a is not None and (name == "query" or a is not tq):
            _close(a.grad, b.grad, f"d {name}")
    ours_p = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        _close(ours_p[name].grad, p.grad, f"d {name}")


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool 2d", "bool 3d", "additive"])
def test_mha_self_attention_matches_torch(mask_kind):
    rng = np.random.default_rng(4)
    ours, theirs = _mha_pair(16, 4)
    x = rng.standard_normal((3, 6, 16)).astype(np.float32)
    mask, causal = None, False
    if mask_kind == "causal":
        causal = True
    elif mask_kind == "bool 2d":
        mask = rng.random((6, 6)) < 0.3  # True = blocked
        mask[:, 0] = False
    elif mask_kind == "bool 3d":  # torch's (batch · heads, L_q, L_k)
        mask = rng.random((12, 6, 6)) < 0.3
        mask[..., 2] = False
    elif mask_kind == "additive":
        mask = rng.standard_normal((6, 6)).astype(np.float32)
    _compare_mha(ours, theirs, x, x, x, mask=mask, is_causal=causal)


@pytest.mark.parametrize("bias", [True, False])
def test_mha_cross_attention_matches_torch(bias):
    rng = np.random.default_rng(6)
    ours, theirs = _mha_pair(12, 3, bias=bias, seed=1)
    q = rng.standard_normal((2, 4, 12)).astype(np.float32)
    k = rng.standard_normal((2, 7, 12)).astype(np.float32)
    v = rng.standard_normal((2, 7, 12)).astype(np.float32)
    mask = rng.random((4, 7)) < 0.3
    mask[:, -1] = False
    _compare_mha(ours, theirs, q, k, v, mask=mask)


def test_mha_state_dict_goes_back_to_torch():
    rng = np.random.default_rng(7)
    ours = MultiHeadAttention(8, 2, batch_first=True, generator=rng)
    ours.in_proj_bias.data[...] = rng.standard_normal(24)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    t = torch.from_numpy(x)
    _close(ours(x, x, x, need_weights=False)[0], theirs(t, t, t, need_weights=False)[0],
           "torch with TinyTorch's weights")


# ----------------------------------------------------------------------------- LayerNorm
@pytest.mark.parametrize("shape, normalized", [((4, 7, 16), 16), ((3, 5, 6), (5, 6))])
def test_layer_norm_matches_torch(shape, normalized):
    rng = np.random.default_rng(8)
    theirs = torch.nn.LayerNorm(normalized)
    with torch.no_grad():
        theirs.weight.normal_()
        theirs.bias.normal_()
    ours = LayerNorm(normalized)
    ours.load_state_dict(theirs.state_dict())
    x = (rng.standard_normal(shape) * 4 + 2).astype(np.float32)
    tx, px = _pair(x)
    out, ref = ours(tx), theirs(px)
    _close(out, ref, "output")
    g = rng.standard_normal(shape).astype(np.float32)
    out.backward(g)
    ref.backward(torch.from_numpy(g))
    _close(tx.grad, px.grad, "d input")
    _close(ours.weight.grad, theirs.weight.grad, "d weight")
    _close(ours.bias.grad, theirs.bias.grad, "d bias")
