"""LayerNorm, Embedding and the positional encodings."""

import numpy as np
import pytest
from hypothesis import given, settings

from tinytorch.core.attention import (
    Embedding,
    LayerNorm,
    layer_norm,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_table,
)
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.testing import assert_close, float_arrays, numerical_grad, shapes

PROPS = settings(max_examples=30, deadline=None)


# ----------------------------------------------------------------------------- LayerNorm
def test_layer_norm_matches_reference(rng, ref):
    ln = LayerNorm(6)
    ln.weight.data[...] = rng.standard_normal(6)
    ln.bias.data[...] = rng.standard_normal(6)
    x = rng.standard_normal((3, 4, 6)).astype(np.float32) * 3 + 1
    out = ln(Tensor(x))
    assert out.shape == x.shape and out.dtype == np.float32
    assert_close(out, ref.layer_norm(x, ln.weight.numpy(), ln.bias.numpy()), rtol=1e-5, atol=1e-5)


def test_layer_norm_output_has_zero_mean_unit_variance(rng):
    x = rng.standard_normal((5, 32)).astype(np.float32) * 7 - 3
    y = LayerNorm(32)(x).numpy()
    np.testing.assert_allclose(y.mean(-1), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(-1), 1.0, rtol=1e-3)


def test_layer_norm_over_several_dims(rng, ref):
    ln = LayerNorm((3, 4), eps=1e-3)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    assert ln.weight.shape == (3, 4)
    assert_close(ln(x), ref.layer_norm(x, eps=1e-3, dims=2), rtol=1e-5, atol=1e-5)


def test_layer_norm_without_affine_has_no_parameters(rng, ref):
    ln = LayerNorm(5, elementwise_affine=False)
    assert list(ln.parameters()) == []
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert_close(ln(x), ref.layer_norm(x), rtol=1e-5, atol=1e-5)


def test_layer_norm_parameter_names_match_torch():
    assert [n for n, _ in LayerNorm(4).named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in LayerNorm(4, bias=False).named_parameters()] == ["weight"]


def test_layer_norm_is_stable_for_a_large_offset_and_a_constant_row(ref):
    x = (np.arange(8, dtype=np.float32) + 1e4).reshape(1, 8)
    assert_close(LayerNorm(8)(x), ref.layer_norm(x), rtol=1e-3, atol=1e-3)
    y = LayerNorm(8)(np.full((2, 8), 3.0, np.float32)).numpy()
    assert np.isfinite(y).all() and (y == 0).all()


def test_layer_norm_without_parameters_keeps_its_input_dtype():
    plain = LayerNorm(3, elementwise_affine=False)  # nothing to compute in: the input decides
    assert plain(Tensor(np.ones((2, 3)), dtype=np.float64)).dtype == np.float64


def test_layer_norm_shape_errors():
    with pytest.raises(ValueError, match=r"\(6,\).*\(2, 5\)"):
        LayerNorm(6)(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="positive"):
        LayerNorm(0)
    with pytest.raises(ValueError, match="eps"):
        LayerNorm(3, eps=0)


@pytest.mark.parametrize("affine", ["weight and bias", "weight", "bias", "none"])
@pytest.mark.parametrize("dims", [1, 2])
def test_layer_norm_derivative_matches_central_differences(affine, dims):
    """The fused op's registered derivative, for the input, weight and bias (float64)."""
    r = np.random.default_rng(dims)
    x0 = r.standard_normal((3, 2, 4)) * 2 + 1
    shape = x0.shape[-dims:]
    w0 = r.standard_normal(shape) if "weight" in affine else None
    b0 = r.standard_normal(shape) if "bias" in affine else None
    leaves = [Tensor(a, dtype=np.float64, requires_grad=True) if a is not None else None
              for a in (x0, w0, b0)]
    y = layer_norm(leaves[0], dims, leaves[1], leaves[2], eps=1e-5)
    g = r.standard_normal(y.shape)
    grads = list(get_derivative(y.grad_fn.op)(g, y.grad_fn))
    given = [a for a in (x0, w0, b0) if a is not None]

    def f(*arrays):
        it = iter(arrays)
        x, w, b = (Tensor(next(it), dtype=np.float64) if a is not None else None for a in (x0, w0, b0))
        return float((layer_norm(x, dims, w, b, eps=1e-5).numpy() * g).sum())

    numeric = numerical_grad(f, given)
    assert len(grads) == len(numeric)
    for analytic, num in zip(grads, numeric):
        np.testing.assert_allclose(analytic, num, rtol=1e-5, atol=1e-6)


def test_layer_norm_records_one_op_with_its_parameters_as_inputs():
    ln = LayerNorm(4)
    y = ln(Tensor(np.ones((2, 4), dtype=np.float32), requires_grad=True))
    assert y.grad_fn.op == "attention.layer_norm"
    assert y.grad_fn.inputs[1] is ln.weight and y.grad_fn.inputs[2] is ln.bias


@PROPS
@given(x=float_arrays(shapes(min_dims=1, max_dims=3, min_side=2, max_side=6), low=-50, high=50))
def test_layer_norm_is_invariant_to_shift_and_scale(x):
    ln = LayerNorm(x.shape[-1], eps=1e-12)
    # rows that are (almost) constant are dominated by eps; skip them
    if (x.std(axis=-1) < 1e-2).any():
        return
    a = ln(x).numpy()
    b = ln(x * 3 + 5).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


# ----------------------------------------------------------------------------- Embedding
def test_embedding_lookup_gathers_rows(rng):
    emb = Embedding(10, 4, generator=rng)
    ids = np.array([[1, 9, 1], [0, 3, 3]])
    out = emb(Tensor(ids))
    assert out.shape == (2, 3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), emb.weight.numpy()[ids])


def test_embedding_lookup_records_the_gather_for_autograd():
    emb = Embedding(5, 2)
    out = emb([1, 1, 4])
    assert out.requires_grad and out.grad_fn is not None


def test_embedding_lookup_init_and_padding_idx():
    emb = Embedding(200, 50, padding_idx=3, generator=np.random.default_rng(0))
    w = emb.weight.numpy()
    assert (w[3] == 0).all()
    assert abs(w.std() - 1.0) < 0.05  # N(0, 1), like torch
    out = emb([3, 4])
    assert (out.numpy()[0] == 0).all()
    assert Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_errors():
    emb = Embedding(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        emb([0, 5])
    with pytest.raises(IndexError, match="index -1"):
        emb([-1])
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        Embedding(5, 2, padding_idx=7)


# ----------------------------------------------------------------------------- positions
def test_sinusoidal_table_formula():
    table = sinusoidal_table(50, 6)
    assert table.shape == (50, 6) and table.dtype == np.float32
    pos = np.arange(50)[:, None]
    for i in range(3):
        angle = pos[:, 0] / 10000 ** (2 * i / 6)
        np.testing.assert_allclose(table[:, 2 * i], np.sin(angle), atol=1e-6)
        np.testing.assert_allclose(table[:, 2 * i + 1], np.cos(angle), atol=1e-6)


def test_sinusoidal_table_odd_width():
    table = sinusoidal_table(4, 5)
    assert table.shape == (4, 5)
    np.testing.assert_allclose(table[:, 4], np.sin(np.arange(4) / 10000 ** (4 / 5)), atol=1e-6)


def test_sinusoidal_encoding_adds_the_table(rng):
    pe = SinusoidalPositionalEncoding(8, max_len=20)
    assert list(pe.parameters()) == [] and pe.state_dict() == {}
    x = rng.standard_normal((2, 7, 8)).astype(np.float32)
    np.testing.assert_allclose(pe(x).numpy(), x + sinusoidal_table(20, 8)[:7], rtol=1e-6)
    with pytest.raises(ValueError, match="longer than max_len=20"):
        pe(np.zeros((1, 21, 8), np.float32))


def test_learned_positional_embedding_adds_its_rows(rng):
    pe = LearnedPositionalEmbedding(10, 4, generator=rng)
    x = rng.standard_normal((3, 6, 4)).astype(np.float32)
    out = pe(Tensor(x))
    np.testing.assert_allclose(out.numpy(), x + pe.weight.numpy()[:6], rtol=1e-6)
    assert out.requires_grad
    assert [n for n, _ in pe.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match="longer than max_len=10"):
        pe(np.zeros((1, 11, 4), np.float32))
    with pytest.raises(ValueError, match="size 5"):
        pe(np.zeros((1, 3, 5), np.float32))


def test_layer_norm_computes_in_its_parameters_dtype():
    """A float64 (or integer) input into a float32 LayerNorm is cast, as Dense and Conv2d do."""
    ln = LayerNorm(3)
    x64 = Tensor(np.array([[1.0, 2.0, 4.0]]), dtype=np.float64, requires_grad=True)
    y = ln(x64)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), ln(Tensor(x64.numpy().astype(np.float32))).numpy())
    # The cast stays in the recorded graph, so a gradient will reach the float64 input (the
    # engine itself is module 09, which this package does not need: walk the graph instead).
    assert any(leaf is x64 for leaf in _graph_leaves(y))
    assert ln(Tensor(np.array([[1, 2, 4]]), dtype=np.int64)).dtype == np.float32


def _graph_nodes(t):
    """Every Node of the graph recorded behind ``t``."""
    nodes, stack, seen = [], [t], set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen or tensor.grad_fn is None:
            continue
        seen.add(id(tensor))
        nodes.append(tensor.grad_fn)
        stack.extend(tensor.grad_fn.inputs)
    return nodes


def _graph_leaves(t):
    """Every leaf tensor (no grad_fn) the recorded graph of ``t`` reaches."""
    return [x for node in _graph_nodes(t) for x in node.inputs if x.grad_fn is None]


def test_embedding_max_norm_scales_used_rows_down_in_place():
    emb = Embedding(5, 3, max_norm=1.0)
    emb.weight.data[...] = np.array([[3, 4, 0], [0.3, 0.4, 0], [0, 0, 2], [6, 8, 0], [1, 0, 0]],
                                    dtype=np.float32)
    out = emb(Tensor([[0, 1], [0, 2]]))
    np.testing.assert_allclose(emb.weight.data[[0, 1, 2]],
                               [[0.6, 0.8, 0], [0.3, 0.4, 0], [0, 0, 1]], rtol=1e-6)
    np.testing.assert_allclose(out.numpy()[1, 1], [0, 0, 1], rtol=1e-6)  # the lookup sees them
    np.testing.assert_array_equal(emb.weight.data[3], [6, 8, 0])  # an unused row is left alone
    assert "max_norm=1.0" in repr(emb)
    one = Embedding(2, 2, max_norm=1.0, norm_type=1.0)
    one.weight.data[...] = np.array([[1, 1], [0.2, 0.2]], dtype=np.float32)
    one(Tensor([0, 1]))
    np.testing.assert_allclose(one.weight.data, [[0.5, 0.5], [0.2, 0.2]], rtol=1e-6)
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        Embedding(2, 2, max_norm=0)
