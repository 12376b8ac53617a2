"""GELU (fused tanh form and its registered derivative), FeedForward and TransformerBlock."""

import math

import numpy as np
import pytest

from tinytorch.core.attention import GELU, FeedForward, TransformerBlock, gelu
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.testing import assert_close, numerical_grad


def ref_gelu_tanh(x):
    x = np.asarray(x, np.float64)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def ref_gelu_exact(x):
    return np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in np.ravel(x)]).reshape(np.shape(x))


def test_gelu_tanh_matches_formula(rng):
    x = (rng.standard_normal((4, 50)) * 4).astype(np.float32)
    y = gelu(Tensor(x))
    assert y.dtype == np.float32
    assert_close(y, ref_gelu_tanh(x), rtol=1e-5, atol=1e-6)


def test_gelu_exact_matches_erf(rng):
    x = (rng.standard_normal((3, 20)) * 3).astype(np.float32)
    assert_close(gelu(Tensor(x), approximate="none"), ref_gelu_exact(x), rtol=1e-5, atol=1e-6)
    assert np.abs(ref_gelu_tanh(x) - ref_gelu_exact(x)).max() < 1e-3  # the two forms are close


def test_gelu_limits():
    y = gelu(Tensor([-30.0, 0.0, 30.0])).numpy()
    np.testing.assert_allclose(y, [0.0, 0.0, 30.0], atol=1e-6)


def test_gelu_tanh_derivative_matches_central_differences():
    x0 = np.linspace(-5, 5, 23).reshape(23)
    x = Tensor(x0, dtype=np.float64, requires_grad=True)
    y = gelu(x)
    g = np.random.default_rng(0).standard_normal(y.shape)
    (dx,) = get_derivative(y.grad_fn.op)(g, y.grad_fn)
    (num,) = numerical_grad(lambda a: float((ref_gelu_tanh(a) * g).sum()), [x0])
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-8)


def ref_gelu_tanh_grad(x):
    x = np.asarray(x, np.float64)
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (x + 0.044715 * x ** 3))
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_gelu_tanh_in_blocks_and_threads_matches_formula(rng, n_threads):
    # 700 rows of 300: several cache-sized blocks, split across two runtime threads when asked;
    # the extremes overflow exp(-2u) (s = 0 exactly) without a warning or a NaN.
    import warnings

    from tinytorch.core.tensor.runtime import threads

    x = (rng.standard_normal((700, 300)) * 4).astype(np.float32)
    x[0, :4] = [-1e4, -90.0, 90.0, 1e4]
    g = rng.standard_normal(x.shape).astype(np.float32)
    with threads(n_threads), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = gelu(Tensor(x, requires_grad=True))
        (dx,) = get_derivative(y.grad_fn.op)(g, y.grad_fn)
    assert y.dtype == dx.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), ref_gelu_tanh(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, g * ref_gelu_tanh_grad(x), rtol=1e-5, atol=1e-5)
    assert y.numpy()[0, :4].tolist() == [0.0, 0.0, 90.0, 1e4]


def test_gelu_errors():
    with pytest.raises(ValueError, match="approximate"):
        gelu(Tensor([1.0]), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        GELU("erf")


def test_feed_forward_matches_reference(rng):
    ff = FeedForward(6, 10, generator=rng)
    x = rng.standard_normal((2, 3, 6)).astype(np.float32)
    h = ref_gelu_tanh(x @ ff.fc1.weight.numpy().T + ff.fc1.bias.numpy())
    expected = h @ ff.fc2.weight.numpy().T + ff.fc2.bias.numpy()
    out = ff(Tensor(x))
    assert out.shape == (2, 3, 6)
    assert_close(out, expected, rtol=1e-4, atol=1e-5)


def _block_reference(block, x, ref, causal):
    ln1 = block.ln1
    a_in = ref.layer_norm(x, ln1.weight.numpy(), ln1.bias.numpy())
    x = x + ref.mha(block.attn, a_in, a_in, a_in, causal=causal)[0]
    m_in = ref.layer_norm(x, block.ln2.weight.numpy(), block.ln2.bias.numpy())
    ff = block.mlp
    h = ref_gelu_tanh(m_in @ ff.fc1.weight.numpy().T + ff.fc1.bias.numpy())
    return x + h @ ff.fc2.weight.numpy().T + ff.fc2.bias.numpy()


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_matches_reference(rng, ref, causal):
    block = TransformerBlock(8, 2, mlp_ratio=2, generator=rng)
    for p in block.parameters():  # non-trivial LayerNorm affines and biases too
        p.data[...] += 0.1 * rng.standard_normal(p.shape)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    out = block(Tensor(x), is_causal=causal)
    assert out.shape == x.shape
    assert_close(out, _block_reference(block, x, ref, causal), rtol=1e-4, atol=1e-4)


def test_transformer_block_is_the_identity_when_its_sublayers_write_nothing(rng):
    block = TransformerBlock(8, 4, generator=rng)
    for p in (block.attn.out_proj.weight, block.attn.out_proj.bias, block.mlp.fc2.weight,
              block.mlp.fc2.bias):
        p.data[...] = 0.0
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    np.testing.assert_allclose(block(x).numpy(), x, rtol=1e-6)


def test_transformer_block_causal_ignores_the_future(rng):
    block = TransformerBlock(8, 2, generator=rng)
    x = rng.standard_normal((1, 6, 8)).astype(np.float32)
    y = x.copy()
    y[:, 4:] = 9.0
    np.testing.assert_allclose(block(x, is_causal=True).numpy()[:, :4],
                               block(y, is_causal=True).numpy()[:, :4], rtol=1e-5, atol=1e-5)


def test_transformer_block_masks_use_pytorchs_module_convention(rng):
    """attn_mask / key_padding_mask: a boolean True = masked out, as torch.nn.MultiheadAttention."""
    block = TransformerBlock(8, 2, generator=rng)
    x = rng.standard_normal((2, 5, 8)).astype(np.float32)
    causal = block(x, is_causal=True).numpy()
    blocked = ~np.tril(np.ones((5, 5), dtype=bool))
    np.testing.assert_allclose(block(x, attn_mask=blocked).numpy(), causal, rtol=1e-5, atol=1e-6)
    # padding the last two keys of sequence 0 changes only sequence 0, and it equals running
    # sequence 0's first three tokens alone for those positions
    pad = np.array([[False] * 3 + [True] * 2, [False] * 5])
    padded = block(x, key_padding_mask=pad).numpy()
    np.testing.assert_allclose(padded[1], block(x).numpy()[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(padded[0, :3], block(x[:1, :3]).numpy()[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"attn_mask=~mask"):
        block(x, mask=np.ones((5, 5), dtype=bool))


def test_transformer_block_parameters():
    block = TransformerBlock(16, 4, mlp_ratio=4)
    names = dict(block.named_parameters())
    assert names["mlp.fc1.weight"].shape == (64, 16) and names["mlp.fc2.weight"].shape == (16, 64)
    assert {"ln1.weight", "ln2.bias", "attn.in_proj_weight", "attn.out_proj.bias"} <= set(names)
    assert block.num_parameters() == 2 * 32 + (48 * 16 + 48 + 16 * 16 + 16) + (64 * 16 + 64 + 16 * 64 + 16)


def test_transformer_block_errors():
    with pytest.raises(ValueError, match="divisible"):
        TransformerBlock(10, 3)
    with pytest.raises(ValueError, match="mlp_ratio"):
        TransformerBlock(8, 2, mlp_ratio=0)
