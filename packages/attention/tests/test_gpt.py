"""TinyGPT, cross_entropy and sampling: shapes, causality, loss values, generation determinism,
greedy decoding, top-k and temperature."""

import numpy as np
import pytest

from tinytorch.core.attention import TinyGPT, cross_entropy, sample_next_token
from tinytorch.core.tensor import Tensor, is_grad_enabled


def _model(seed=0, **kw):
    cfg = dict(vocab_size=11, block_size=8, embed_dim=16, num_heads=2, num_layers=2)
    cfg.update(kw)
    return TinyGPT(**cfg, generator=np.random.default_rng(seed))


def _ref_cross_entropy(logits, targets, ignore=-100):
    z = np.asarray(logits, np.float64).reshape(-1, logits.shape[-1])
    t = np.asarray(targets).reshape(-1)
    keep = t != ignore
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    return -logp[np.arange(len(t))[keep], t[keep]].mean()


# ----------------------------------------------------------------------------- the model
def test_logits_shape_and_dtype():
    model = _model()
    logits = model(Tensor(np.array([[1, 2, 3, 4], [0, 0, 10, 5]])))
    assert logits.shape == (2, 4, 11) and logits.dtype == np.float32


def test_loss_is_cross_entropy_of_the_logits(rng):
    model = _model()
    idx = rng.integers(0, 11, (3, 8))
    targets = rng.integers(0, 11, (3, 8))
    logits, loss = model(idx, targets)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), _ref_cross_entropy(logits.numpy(), targets), rtol=1e-5)
    # small initial weights: the first prediction is close to uniform
    assert abs(loss.item() - np.log(11)) < 0.2


def test_cross_entropy_skips_ignored_targets(rng):
    logits = rng.standard_normal((2, 5, 7)).astype(np.float32)
    targets = rng.integers(0, 7, (2, 5))
    targets[0, :3] = -100
    np.testing.assert_allclose(cross_entropy(Tensor(logits), targets).item(),
                               _ref_cross_entropy(logits, targets), rtol=1e-5)
    with pytest.raises(ValueError, match="ignore_index"):
        cross_entropy(Tensor(logits), np.full((2, 5), -100))
    with pytest.raises(ValueError, match="do not match"):
        cross_entropy(Tensor(logits), targets[:, :4])
    with pytest.raises(IndexError, match="0..6"):
        cross_entropy(Tensor(logits), np.full((2, 5), 7))


def test_predictions_do_not_depend_on_later_tokens(rng):
    model = _model()
    a = rng.integers(0, 11, (2, 8))
    b = a.copy()
    b[:, 5:] = (b[:, 5:] + 1) % 11
    la, lb = model(a).numpy(), model(b).numpy()
    np.testing.assert_allclose(la[:, :5], lb[:, :5], rtol=1e-5, atol=1e-6)
    assert not np.allclose(la[:, 5:], lb[:, 5:])


def test_parameters_and_init():
    model = _model(num_layers=3)
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["token_embedding.weight", "position_embedding.weight"]
    assert names[-3:] == ["ln_f.weight", "ln_f.bias", "head.weight"]
    assert sum(n.startswith("blocks.2.") for n in names) == 12
    params = dict(model.named_parameters())
    assert (params["blocks.0.attn.in_proj_bias"].numpy() == 0).all()
    assert (params["ln_f.weight"].numpy() == 1).all()
    assert params["head.weight"].numpy().std() < 0.03  # GPT-2's N(0, 0.02²)


def test_model_errors():
    model = _model()
    with pytest.raises(ValueError, match="longer than the block_size of 8"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(IndexError, match="index 11"):
        model(np.array([[1, 11]]))
    with pytest.raises(ValueError, match=r"\(batch, T\)"):
        model(np.array([1, 2]))


# ----------------------------------------------------------------------------- sampling
def test_sample_next_token_greedy_is_argmax():
    logits = np.array([[0.1, 3.0, -1.0], [5.0, 4.0, 4.5]], dtype=np.float32)
    np.testing.assert_array_equal(sample_next_token(logits, greedy=True), [1, 0])


def test_sample_next_token_follows_the_softmax():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    draws = sample_next_token(np.tile(logits, (20000, 1)), generator=np.random.default_rng(0))
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.15, 0.05], atol=0.015)


def test_sample_next_token_temperature_sharpens_and_flattens():
    logits = np.tile(np.log(np.array([0.6, 0.3, 0.1])), (20000, 1))
    cold = np.bincount(sample_next_token(logits, temperature=0.5, generator=np.random.default_rng(1)),
                       minlength=3) / 20000
    p = np.array([0.6, 0.3, 0.1]) ** 2
    np.testing.assert_allclose(cold, p / p.sum(), atol=0.015)
    hot = np.bincount(sample_next_token(logits, temperature=100.0, generator=np.random.default_rng(2)),
                      minlength=3) / 20000
    np.testing.assert_allclose(hot, 1 / 3, atol=0.02)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_sample_next_token_top_k_restricts_to_exactly_k_tokens(k):
    rng = np.random.default_rng(k)
    logits = rng.standard_normal(10) * 0.3  # nearly flat: without top-k every token shows up
    top = set(np.argsort(logits)[-k:].tolist())
    draws = sample_next_token(np.tile(logits, (5000, 1)), top_k=k, generator=rng)
    assert set(draws.tolist()) == top
    if k == 2:
        a, b = sorted(top, key=lambda i: logits[i])
        p_b = 1 / (1 + np.exp(logits[a] - logits[b]))  # renormalised over the two kept tokens
        assert abs((draws == b).mean() - p_b) < 0.03


def test_sample_next_token_top_k_larger_than_vocab_keeps_everything():
    draws = sample_next_token(np.zeros((3000, 4)), top_k=10, generator=np.random.default_rng(0))
    assert set(draws.tolist()) == {0, 1, 2, 3}


def test_sampling_errors():
    with pytest.raises(ValueError, match="temperature"):
        sample_next_token(np.zeros((1, 3)), temperature=0.0)
    with pytest.raises(ValueError, match="top_k"):
        sample_next_token(np.zeros((1, 3)), top_k=0)
    with pytest.raises(ValueError, match=r"\(batch, vocab\)"):
        sample_next_token(np.zeros(3))


# ----------------------------------------------------------------------------- generate
def test_generate_shape_and_prompt():
    model = _model()
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    out = model.generate(prompt, 7, generator=np.random.default_rng(0))
    assert out.shape == (2, 10) and out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy()[:, :3], prompt)
    assert ((out.numpy() >= 0) & (out.numpy() < 11)).all()
    single = model.generate([3, 4], 2, generator=np.random.default_rng(0))
    assert single.shape == (4,)


def test_generate_is_deterministic_with_a_seeded_generator():
    model = _model()
    for p in model.parameters():  # sharpen the predictions a little so samples are varied
        p.data *= 20
    a = model.generate([[1]], 12, generator=np.random.default_rng(42)).numpy()
    b = model.generate([[1]], 12, generator=np.random.default_rng(42)).numpy()
    c = model.generate([[1]], 12, generator=np.random.default_rng(43)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_greedy_generation_follows_the_argmax_and_top_k_1_agrees():
    model = _model(seed=3)
    for p in model.parameters():
        p.data *= 20
    out = model.generate([[2, 7]], 10, greedy=True).numpy()[0]  # longer than block_size: crops
    ids = [2, 7]
    for _ in range(10):
        logits = model(np.array([ids[-8:]])).numpy()[0, -1]
        ids.append(int(logits.argmax()))
    np.testing.assert_array_equal(out, ids)
    top1 = model.generate([[2, 7]], 10, top_k=1, generator=np.random.default_rng(0)).numpy()[0]
    np.testing.assert_array_equal(top1, ids)


def test_generate_restores_modes_and_records_no_graph():
    model = _model(dropout=0.1)
    model.train()
    model.generate([[1, 2]], 3, generator=np.random.default_rng(0))
    assert model.training and is_grad_enabled()
    model.eval()
    model.generate([[1, 2]], 1, generator=np.random.default_rng(0))
    assert not model.training


def test_generate_errors():
    model = _model()
    with pytest.raises(ValueError, match="max_new_tokens"):
        model.generate([[1]], -1)
    with pytest.raises(ValueError, match="temperature"):
        model.generate([[1]], 2, temperature=-1.0)
    with pytest.raises(IndexError, match="out of range"):
        model.generate([[12]], 2)
