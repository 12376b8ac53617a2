"""Batch normalisation: the math (train and eval), running statistics, the fused derivative vs
central differences, fused vs composite, the layers' buffers, state_dict and errors."""

import numpy as np
import pytest

from tinytorch.core.spatial import (
    BATCH_NORM_OP,
    BatchNorm1d,
    BatchNorm2d,
    batch_norm,
    batch_norm_composite,
    batch_norm_fused,
    fused_kernels,
)
from tinytorch.core.tensor import Tensor, get_derivative
from tinytorch.core.tensor.testing import assert_close, numerical_grad

SHAPES = [(8, 3), (4, 3, 5), (4, 3, 5, 6)]
BY_NAME = lambda fn: fn.__name__  # noqa: E731  (test ids name the path: -k batch_norm_composite)


def _axes(ndim):
    return (0,) + tuple(range(2, ndim))


def _reference(x, mean, var, w, b, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) \
        + b.reshape(shape)


def _inputs(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 1).astype(dtype)
    w = rng.standard_normal(c).astype(dtype)
    b = rng.standard_normal(c).astype(dtype)
    rm = rng.standard_normal(c).astype(dtype)
    rv = (rng.random(c) + 0.5).astype(dtype)
    return x, w, b, rm, rv


# ----------------------------------------------------------------------------- the math
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn", [batch_norm_fused, batch_norm_composite], ids=BY_NAME)
def test_training_normalises_with_batch_statistics(shape, fn):
    x, w, b, rm, rv = _inputs(shape)
    axes = _axes(len(shape))
    expected = _reference(x.astype(np.float64), x.mean(axis=axes, dtype=np.float64),
                          x.var(axis=axes, dtype=np.float64), w, b, 1e-5)
    y = fn(Tensor(x), rm.copy(), rv.copy(), Tensor(w), Tensor(b), training=True)
    assert y.shape == shape and y.dtype == np.float32
    assert_close(y, expected, rtol=1e-4, atol=1e-4)
    # without γ, β: zero mean and unit variance per channel
    plain = fn(Tensor(x), None, None, training=True).numpy()
    np.testing.assert_allclose(plain.mean(axis=axes), 0, atol=1e-5)
    np.testing.assert_allclose(plain.var(axis=axes), 1, atol=1e-3)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("fn", [batch_norm_fused, batch_norm_composite], ids=BY_NAME)
def test_evaluation_normalises_with_running_statistics(shape, fn):
    x, w, b, rm, rv = _inputs(shape)
    rm0, rv0 = rm.copy(), rv.copy()
    y = fn(Tensor(x), rm, rv, Tensor(w), Tensor(b), training=False, eps=1e-3)
    assert_close(y, _reference(x, rm, rv, w, b, 1e-3), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(rm, rm0)  # evaluation never touches the running statistics
    np.testing.assert_array_equal(rv, rv0)


@pytest.mark.parametrize("fn", [batch_norm_fused, batch_norm_composite], ids=BY_NAME)
def test_training_updates_running_statistics_with_the_unbiased_variance(fn):
    x, w, b, rm, rv = _inputs((6, 3, 4, 4))
    rm0, rv0 = rm.copy(), rv.copy()
    fn(Tensor(x), rm, rv, Tensor(w), Tensor(b), training=True, momentum=0.25)
    axes = (0, 2, 3)
    n = 6 * 16
    np.testing.assert_allclose(rm, 0.75 * rm0 + 0.25 * x.mean(axis=axes), rtol=1e-5, atol=1e-6)
    unbiased = x.var(axis=axes, dtype=np.float64) * n / (n - 1)
    np.testing.assert_allclose(rv, 0.75 * rv0 + 0.25 * unbiased, rtol=1e-5)
    assert rm.dtype == np.float32 and rv.dtype == np.float32


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_composite_and_fused_agree(shape, training):
    x, w, b, rm, rv = _inputs(shape, seed=4)
    runs = []
    for fused in (True, False):
        m, v = rm.copy(), rv.copy()
        y = batch_norm(Tensor(x), m, v, Tensor(w), Tensor(b), training=training, fused=fused)
        runs.append((y.numpy(), m, v))
    for one, two in zip(*runs):
        np.testing.assert_allclose(one, two, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- the fused derivative
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_fused_derivative_matches_central_differences(shape, training):
    x, w, b, rm, rv = _inputs(shape, seed=5, dtype=np.float64)
    tensors = [Tensor(a, dtype=np.float64, requires_grad=True) for a in (x, w, b)]
    y = batch_norm_fused(tensors[0], rm.copy(), rv.copy(), tensors[1], tensors[2],
                         training=training)
    assert y.grad_fn.op == BATCH_NORM_OP
    v = np.random.default_rng(6).standard_normal(shape)
    grads = get_derivative(BATCH_NORM_OP)(v, y.grad_fn)

    def f(xa, wa, ba):
        out = batch_norm_fused(Tensor(xa, dtype=np.float64), rm.copy(), rv.copy(),
                               Tensor(wa, dtype=np.float64), Tensor(ba, dtype=np.float64),
                               training=training)
        return float(np.sum(v * out.numpy()))

    numeric = numerical_grad(f, [x, w, b])
    for i, (got, want) in enumerate(zip(grads, numeric)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"input {i}")


def test_fused_derivative_without_affine_parameters():
    x, _, _, _, _ = _inputs((5, 2, 3, 3), seed=7, dtype=np.float64)
    y = batch_norm_fused(Tensor(x, dtype=np.float64, requires_grad=True), None, None, training=True)
    v = np.random.default_rng(8).standard_normal(x.shape)
    (got,) = get_derivative(BATCH_NORM_OP)(v, y.grad_fn)
    (want,) = numerical_grad(
        lambda a: float(np.sum(v * batch_norm_fused(Tensor(a, dtype=np.float64), None, None,
                                                    training=True).numpy())), [x])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # the gradient of a normalised output is orthogonal to constants and to x̂ itself
    np.testing.assert_allclose(got.sum(axis=(0, 2, 3)), 0, atol=1e-9)


# ----------------------------------------------------------------------------- the layers
def test_batchnorm2d_state_like_torch():
    bn = BatchNorm2d(4)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    state = bn.state_dict()
    assert state["weight"].shape == state["bias"].shape == state["running_mean"].shape == (4,)
    assert state["num_batches_tracked"].shape == () and state["num_batches_tracked"].dtype == np.int64
    np.testing.assert_array_equal(state["weight"], 1)
    np.testing.assert_array_equal(state["bias"], 0)
    np.testing.assert_array_equal(state["running_mean"], 0)
    np.testing.assert_array_equal(state["running_var"], 1)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]


def test_layer_train_then_eval():
    bn = BatchNorm2d(3, momentum=0.5)
    x, _, _, _, _ = _inputs((4, 3, 5, 5), seed=9)
    y = bn(Tensor(x))
    assert int(bn.num_batches_tracked.numpy()) == 1
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    bn(Tensor(x))
    assert int(bn.num_batches_tracked.numpy()) == 2
    bn.eval()
    y_eval = bn(Tensor(x))
    assert int(bn.num_batches_tracked.numpy()) == 2
    assert_close(y_eval, _reference(x, bn.running_mean.numpy(), bn.running_var.numpy(),
                                    np.ones(3), np.zeros(3), 1e-5), rtol=1e-4, atol=1e-4)
    # in eval, one sample's output does not depend on the rest of the batch
    assert_close(bn(Tensor(x[:1])), y_eval.numpy()[:1], rtol=1e-5, atol=1e-5)


def test_momentum_none_keeps_a_cumulative_average():
    bn = BatchNorm1d(2, momentum=None)
    batches = [_inputs((10, 2), seed=s)[0] for s in range(3)]
    for xb in batches:
        bn(Tensor(xb))
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([b.mean(axis=0) for b in batches], axis=0),
                               rtol=1e-5, atol=1e-6)


def test_affine_false_and_no_running_stats():
    bn = BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(bn.parameters()) == [] and list(bn.state_dict()) == []
    x, _, _, _, _ = _inputs((6, 3, 4), seed=10)
    bn.eval()  # without running statistics even evaluation uses the batch's
    y = bn(Tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-5)


def test_layers_use_the_fused_op_unless_told_otherwise():
    x = Tensor(_inputs((4, 3, 2, 2))[0])
    bn = BatchNorm2d(3)
    assert bn(x).grad_fn.op == BATCH_NORM_OP
    with fused_kernels(False):
        assert bn(x).grad_fn.op != BATCH_NORM_OP
    bn.eval()
    assert bn(x).grad_fn.op == BATCH_NORM_OP


def test_batchnorm_errors_name_the_layer_and_the_shape():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(32\) expected 32 channels, got 16 in "
                                         r"input of shape \(8, 16, 4, 4\)"):
        BatchNorm2d(32)(Tensor(np.zeros((8, 16, 4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expected a 4-D \(N, C, H, W\) input, "
                                         r"got shape \(8, 3\)"):
        BatchNorm2d(3)(Tensor(np.zeros((8, 3), np.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\) expected a 2-D \(N, C\) or 3-D"):
        BatchNorm1d(3)(Tensor(np.zeros((2, 3, 4, 4), np.float32)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3)(Tensor(np.zeros((1, 3), np.float32)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        batch_norm(Tensor(np.zeros((1, 3), np.float32)), None, None, training=True, fused=False)


@pytest.mark.parametrize("dtype", [np.float64, np.int64])
def test_batchnorm_layer_computes_in_its_parameters_dtype(dtype):
    raw = np.random.default_rng(3).integers(-5, 6, (4, 3, 2, 2))
    ref = BatchNorm2d(3)
    want = ref(Tensor(raw.astype(np.float32)))
    bn = BatchNorm2d(3)
    y = bn(Tensor(raw.astype(dtype), dtype=dtype))
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    np.testing.assert_array_equal(y.numpy(), want.numpy())
    np.testing.assert_array_equal(bn.running_var.numpy(), ref.running_var.numpy())


# ----------------------------------------------------------------------------- learn_scale=False
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_learn_scale_false_freezes_gamma_and_learns_beta(fused):
    bn = BatchNorm2d(3, eps=1e-12, momentum=0.4, learn_scale=False)
    assert not bn.weight.requires_grad and bn.bias.requires_grad
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                      "num_batches_tracked"]
    assert "learn_scale=False" in repr(bn)
    x, _, b, _, _ = _inputs((5, 3, 4, 4), seed=11, dtype=np.float64)
    bn = bn.to(np.float64)
    bn.bias.data[...] = b
    xt = Tensor(x, dtype=np.float64, requires_grad=True)
    with fused_kernels(fused):
        y = bn(xt)
    want = _reference(x, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), np.ones(3), b, 1e-12)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-6, atol=1e-6)
    # running statistics move 40 % of the way to the batch's (unbiased variance)
    n = x.size // 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.4 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               0.6 + 0.4 * x.var(axis=(0, 2, 3)) * n / (n - 1), rtol=1e-5)
    if fused:  # the fused derivative returns no gradient for the frozen scale, β's is Σ g
        v = np.random.default_rng(12).standard_normal(x.shape)
        gx, gw, gb = get_derivative(BATCH_NORM_OP)(v, y.grad_fn)
        assert gw is None
        np.testing.assert_allclose(gb, v.sum(axis=(0, 2, 3)), rtol=1e-10)

        def f(xa):
            out = batch_norm_fused(Tensor(xa, dtype=np.float64), None, None,
                                   Tensor(np.ones(3)), Tensor(b), training=True, eps=1e-12)
            return float(np.sum(v * out.numpy()))

        (numeric,) = numerical_grad(f, [x])
        np.testing.assert_allclose(gx, numeric, rtol=1e-5, atol=1e-6)


def test_learn_scale_false_needs_affine():
    with pytest.raises(ValueError, match="learn_scale=False .* needs affine=True"):
        BatchNorm2d(4, affine=False, learn_scale=False)


# ----------------------------------------------------------------------------- split over threads
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fused_batch_norm_split_over_threads_equals_one_thread(channels_last, training, affine,
                                                               monkeypatch):
    """A big batch is cut into slices on the runtime's threads: the same output, running
    statistics and gradients as on one thread (the per-channel sums only change order)."""
    from tinytorch.core.spatial.fused import norm
    from tinytorch.core.tensor.runtime import threads

    shape = (16, 8, 48, 48)  # 294,912 values: above the size where the batch is split
    x, w, b, rm, rv = _inputs(shape, seed=11)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g = np.random.default_rng(12).standard_normal(shape).astype(np.float32)
    calls = []
    real = norm.parallel_for
    monkeypatch.setattr(norm, "parallel_for", lambda n, fn: calls.append(n) or real(n, fn))
    runs = []
    for n_threads in (1, 2):
        with threads(n_threads):
            m, v = rm.copy(), rv.copy()
            params = (Tensor(w, requires_grad=True), Tensor(b, requires_grad=True)) if affine \
                else (None, None)
            xt = Tensor(x, requires_grad=True)
            y = batch_norm_fused(xt, m, v, *params, training=training)
            grads = get_derivative(BATCH_NORM_OP)(g, y.grad_fn)
        runs.append((y.numpy(), m, v) + tuple(grads))
        assert y.numpy().strides == x.strides  # the input's memory layout is kept
        if n_threads == 1:
            assert calls == [], "one thread: no split"
    assert calls and set(calls) == {16}, "two threads: forward and backward split the batch"
    for one, two in zip(*runs):
        np.testing.assert_allclose(one, two, rtol=2e-6, atol=2e-6)
    expected = _reference(x.astype(np.float64),
                          x.mean(axis=(0, 2, 3), dtype=np.float64) if training else rm,
                          x.var(axis=(0, 2, 3), dtype=np.float64) if training else rv,
                          w if affine else np.ones(8), b if affine else np.zeros(8), 1e-5)
    np.testing.assert_allclose(runs[1][0], expected, rtol=1e-4, atol=1e-4)
