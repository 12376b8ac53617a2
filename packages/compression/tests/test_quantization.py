"""int8 post-training quantization: scales, exact integer arithmetic, error bounds, files."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.activations import ReLU, Sigmoid
from tinytorch.core.autograd import no_grad
from tinytorch.core.compression import (INT32_MAX, FLOAT32_EXACT, Observer, QParams,
                                        QuantizedConv2d, QuantizedLinear, QuantizedSequential,
                                        calibrate_qparams, dequantize_per_channel, exact_chunks,
                                        float_state_nbytes, fold_batchnorm, fold_batchnorms, fold_conv_bn,
                                        int_matmul, quantize_model, quantize_per_channel,
                                        quantize_tensor, requantize)
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d, conv2d_naive
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.runtime import threads


def _float(model, x):
    model.eval()
    with no_grad():
        return model(Tensor(x)).data


# ------------------------------------------------------------------ weights, per channel
@given(st.integers(1, 6), st.integers(1, 20), st.integers(0, 2 ** 31 - 1))
@settings(max_examples=40, deadline=None)
def test_per_channel_round_trip_within_half_a_step(channels, width, seed):
    rng = np.random.default_rng(seed)
    w = (rng.normal(size=(channels, width)) * rng.uniform(1e-3, 10, (channels, 1))).astype(np.float32)
    q, scale = quantize_per_channel(w, axis=0)
    assert q.dtype == np.int8 and q.shape == w.shape and scale.shape == (channels,)
    assert np.abs(q).max() <= 127
    err = np.abs(dequantize_per_channel(q, scale, axis=0) - w)
    assert np.all(err <= scale[:, None] / 2 * (1 + 1e-5) + 1e-12)
    # each channel uses its full range: its largest weight maps to ±127
    assert np.all(np.abs(q).max(axis=1) == 127)
    np.testing.assert_allclose(scale, np.abs(w).max(axis=1) / 127, rtol=1e-6)


def test_per_channel_beats_per_tensor_and_handles_zero_channels():
    w = np.array([[0.01, -0.018, 0.015], [5.0, -3.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    q, scale = quantize_per_channel(w)
    assert scale[2] == 1.0 and np.all(q[2] == 0)
    small_row = dequantize_per_channel(q, scale)[0]
    np.testing.assert_allclose(small_row, w[0], atol=0.018 / 254 + 1e-9)
    per_tensor = np.rint(w[0] / (5.0 / 127)) * (5.0 / 127)  # one scale: the row is wiped out
    assert np.all(per_tensor == 0)


def test_per_channel_axis_of_a_conv_weight():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 2, 2)).astype(np.float32) * np.array([1, 10, 0.1, 3])[:, None, None, None]
    q, scale = quantize_per_channel(w, axis=0)
    for c in range(4):
        assert np.abs(q[c]).max() == 127
        assert np.abs(q[c] * scale[c] - w[c]).max() <= scale[c] / 2 + 1e-7
    q1, s1 = quantize_per_channel(w, axis=1)
    assert s1.shape == (3,)
    np.testing.assert_allclose(dequantize_per_channel(q1, s1, axis=1), w, atol=s1.max() / 2 + 1e-6)


# ------------------------------------------------------------------ activations, per tensor
def test_calibrate_qparams_signed_and_unsigned():
    qp = calibrate_qparams(0.0, 5.1)
    assert not qp.signed and qp.dtype == np.uint8 and (qp.qmin, qp.qmax) == (0, 255)
    assert qp.scale == pytest.approx(5.1 / 255)
    qp = calibrate_qparams(-2.54, 1.0)
    assert qp.signed and qp.dtype == np.int8 and (qp.qmin, qp.qmax) == (-127, 127)
    assert qp.scale == pytest.approx(2.54 / 127)
    assert calibrate_qparams(-0.5, 3.81).scale == pytest.approx(3.81 / 127)
    assert calibrate_qparams(0.0, 0.0).scale == 1.0


def test_quantize_tensor_rounds_and_clips():
    qp = QParams(0.5, signed=False)
    q = quantize_tensor(np.array([-3.0, 0.2, 0.25, 0.75, 10.0, 500.0]), qp)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, [0, 0, 0, 2, 20, 255])  # ties to even: 0.5 -> 0, 1.5 -> 2
    qs = quantize_tensor(np.array([-500.0, -1.0, 1.0]), QParams(0.5, signed=True))
    np.testing.assert_array_equal(qs, [-127, -2, 2])


def test_observer_minmax_and_percentile():
    rng = np.random.default_rng(0)
    obs_mm, obs_p = Observer("minmax"), Observer("percentile", percentile=99.9)
    for _ in range(4):
        x = np.abs(rng.normal(size=20000)).astype(np.float32)
        x[0] = 1000.0  # one outlier per batch
        obs_mm.update(x)
        obs_p.update(x)
    assert obs_mm.range() == (pytest.approx(0.0, abs=1e-3), 1000.0)
    low, high = obs_p.range()
    assert low == obs_p.low >= 0 and 2.5 < high < 4.5   # the outlier is ignored
    assert not obs_p.qparams().signed
    with pytest.raises(RuntimeError, match="no data"):
        Observer().range()
    with pytest.raises(ValueError):
        Observer("mse")


# ------------------------------------------------------------------ batch-norm folding
def test_fold_batchnorm_formula():
    bn = BatchNorm2d(2, eps=0.0)
    bn.weight.data[...] = [2.0, -1.0]
    bn.bias.data[...] = [0.5, 1.0]
    bn.running_mean.data[...] = [1.0, -2.0]
    bn.running_var.data[...] = [4.0, 1.0]
    w = np.array([[3.0], [1.0]], np.float32)
    wf, bf = fold_batchnorm(w, np.array([1.0, 0.0], np.float32), bn)
    np.testing.assert_allclose(wf, [[3.0], [-1.0]])            # W·γ/σ
    np.testing.assert_allclose(bf, [(1 - 1) * 1 + 0.5, (0 + 2) * -1 + 1.0])  # (b-μ)γ/σ + β


def test_fold_conv_bn_is_exact_in_float(make_cnn):
    rng = np.random.default_rng(1)
    model = make_cnn(rng)
    for conv_i in (0, 4):
        conv, bn = model[conv_i], model[conv_i + 1]
        c_in = conv.in_channels
        x = rng.normal(size=(3, c_in, 6, 6)).astype(np.float32)
        with no_grad():
            reference = bn(conv(Tensor(x))).data
            folded = fold_conv_bn(conv, bn)(Tensor(x)).data
        np.testing.assert_allclose(folded, reference, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="channels"):
        fold_batchnorm(np.ones((3, 1), np.float32), None, BatchNorm2d(2))


def test_fold_batchnorms_of_a_whole_model(make_cnn):
    rng = np.random.default_rng(12)
    model = make_cnn(rng)
    folded = fold_batchnorms(model)
    assert [type(layer).__name__ for layer in folded].count("BatchNorm2d") == 0
    assert len(folded) == len(model) - 2 and folded[3].bias is not None
    x = rng.normal(size=(4, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(_float(folded, x), _float(model, x), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ exact integer matmul
def _exact_linear(x_q, w_q):
    """x (N, K) times w (out, K)ᵀ in Python integers (int64, no BLAS)."""
    return np.einsum("nk,ok->no", x_q.astype(np.int64), w_q.astype(np.int64))


def _exact_conv(x_q, w_q, stride, padding):
    """Integer convolution by explicit loops over the output: x NHWC, w (C_out, C_in, kh, kw)."""
    n, h, w, c = x_q.shape
    c_out, _, kh, kw = w_q.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = np.zeros((n, h + 2 * ph, w + 2 * pw, c), np.int64)
    xp[:, ph:ph + h, pw:pw + w] = x_q
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, ho, wo, c_out), np.int64)
    wt = w_q.astype(np.int64).transpose(2, 3, 1, 0)  # kh, kw, C_in, C_out
    for i in range(ho):
        for j in range(wo):
            window = xp[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j, :] = np.einsum("nabc,abco->no", window, wt)
    return out


def test_int_matmul_is_the_integer_product():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (5, 40)).astype(np.uint8)
    w = rng.integers(-127, 128, (40, 3)).astype(np.int8)
    got = int_matmul(x, w)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, x.astype(np.int64) @ w.astype(np.int64))


@pytest.mark.parametrize("backend", ["float32", "int32"])
@pytest.mark.parametrize("signed", [False, True])
def test_quantized_linear_equals_exact_integer_reference(backend, signed):
    rng = np.random.default_rng(1)
    w_q = rng.integers(-127, 128, (7, 300)).astype(np.int8)
    qin = QParams(0.02, signed)
    x_q = rng.integers(qin.qmin, qin.qmax + 1, (9, 300)).astype(qin.dtype)
    layer = QuantizedLinear(w_q, np.full(7, 0.01, np.float32), None, qin, backend=backend)
    acc = layer.accumulate(x_q)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, _exact_linear(x_q, w_q))


def _float_linear_case(seed=2, n=6, k=50, out=8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k)).astype(np.float32)
    w = rng.normal(size=(out, k)).astype(np.float32) * rng.uniform(0.1, 3, (out, 1)).astype(np.float32)
    b = rng.normal(size=out).astype(np.float32)
    return x, w, b


def test_quantized_linear_within_the_error_bound_of_float():
    x, w, b = _float_linear_case()
    qin = calibrate_qparams(float(x.min()), float(x.max()))
    w_q, w_s = quantize_per_channel(w)
    layer = QuantizedLinear(w_q, w_s, b, qin)
    y_q = layer(quantize_tensor(x, qin))
    assert y_q.dtype == np.float32
    y = x.astype(np.float64) @ w.T.astype(np.float64) + b
    # |x·w - x̂·ŵ| <= Σ|x - x̂|·|ŵ| + Σ|x|·|w - ŵ| <= s_x/2·Σ|ŵ| + s_w/2·Σ|x|
    w_hat = dequantize_per_channel(w_q, w_s).astype(np.float64)
    bound = qin.scale / 2 * np.abs(w_hat).sum(axis=1)[None, :] + \
        np.abs(x).astype(np.float64).sum(axis=1)[:, None] * w_s[None, :] / 2
    err = np.abs(y_q - y)
    assert np.all(err <= bound * (1 + 1e-4) + 1e-5)
    assert err.max() > 0  # it really is quantized


def test_requantize_to_the_next_layers_integers():
    acc = np.array([[100, -50, 0]], np.int32)
    out = QParams(0.25, signed=False)
    q = requantize(acc, 0.1, np.array([0.01, 0.02, 0.03], np.float32),
                   np.array([0.5, 0.0, -1.0], np.float32), out)
    # y = acc·s_in·s_w + b = [0.6, -0.1, -1.0] -> /0.25 -> [2.4, -0.4, -4] -> round, clip to [0, 255]
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, [[2, 0, 0]])
    y = requantize(acc, 0.1, np.array([0.01, 0.02, 0.03], np.float32), None, None)
    np.testing.assert_allclose(y, [[0.1, -0.1, 0.0]], atol=1e-7)
    signed = requantize(np.array([[5000]], np.int32), 1.0, np.array([1.0], np.float32), None,
                        QParams(1.0, signed=True))
    assert signed.dtype == np.int8 and signed[0, 0] == 127


@pytest.mark.parametrize("backend", ["float32", "int32"])
@pytest.mark.parametrize("stride,padding", [((1, 1), (1, 1)), ((2, 1), (0, 2))])
def test_quantized_conv_equals_exact_integer_reference(backend, stride, padding):
    rng = np.random.default_rng(3)
    w_q = rng.integers(-127, 128, (5, 4, 3, 3)).astype(np.int8)
    qin = QParams(0.05, signed=False)
    x_q = rng.integers(0, 256, (3, 7, 6, 4)).astype(np.uint8)
    layer = QuantizedConv2d(w_q, np.full(5, 0.01, np.float32), None, stride, padding, (1, 1),
                            qin, backend=backend)
    acc = layer.accumulate(x_q)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, _exact_conv(x_q, w_q, stride, padding))


def test_quantized_conv_within_the_error_bound_of_float():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 6, 6)).astype(np.float32)
    w = rng.normal(size=(4, 3, 3, 3)).astype(np.float32) * np.array([0.1, 1, 2, 5], np.float32)[:, None, None, None]
    b = rng.normal(size=4).astype(np.float32)
    qin = calibrate_qparams(float(x.min()), float(x.max()))
    w_q, w_s = quantize_per_channel(w)
    layer = QuantizedConv2d(w_q, w_s, b, (1, 1), (1, 1), (1, 1), qin)
    y_q = layer(quantize_tensor(x.transpose(0, 2, 3, 1), qin)).transpose(0, 3, 1, 2)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    y = conv2d_naive(x64, w64, b.astype(np.float64), padding=1)
    y = np.asarray(y.data if hasattr(y, "data") else y)
    w_hat = dequantize_per_channel(w_q, w_s).astype(np.float64)
    # per output: s_x/2·Σ|ŵ| (over the window) + s_w/2·Σ_window |x|
    window_abs_x = np.asarray(conv2d_naive(np.abs(x64), np.ones((1, 3, 3, 3)), padding=1).data)
    bound = qin.scale / 2 * np.abs(w_hat).reshape(4, -1).sum(axis=1)[None, :, None, None] + \
        window_abs_x * w_s[None, :, None, None] / 2
    err = np.abs(y_q - y)
    assert np.all(err <= bound * (1 + 1e-4) + 1e-5)


def test_quantized_conv_batch_split_across_threads_is_identical():
    rng = np.random.default_rng(5)
    w_q = rng.integers(-127, 128, (6, 3, 3, 3)).astype(np.int8)
    qin = QParams(0.1, signed=True)
    x_q = rng.integers(-127, 128, (5, 8, 8, 3)).astype(np.int8)
    layer = QuantizedConv2d(w_q, np.full(6, 0.01, np.float32), np.zeros(6, np.float32), (1, 1),
                            (1, 1), (1, 1), qin, QParams(0.05, signed=False))
    one = layer(x_q)
    with threads(2):
        two = layer(x_q)
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(layer.accumulate(x_q), _exact_conv(x_q, w_q, (1, 1), (1, 1)))


# ------------------------------------------------------------------ int32 overflow
@pytest.mark.parametrize("backend", ["float32", "int32"])
def test_worst_case_accumulation_of_a_big_conv_is_exact(backend):
    # 3×3 conv over 512 channels: K = 4608, every input 255 and every weight ±127:
    # |acc| = 4608·255·127 = 149,230,080 — far above float32's 2**24, far below int32's limit
    w_q = np.full((2, 512, 3, 3), 127, np.int8)
    w_q[1] = -127
    qin = QParams(0.1, signed=False)
    layer = QuantizedConv2d(w_q, np.ones(2, np.float32), None, (1, 1), (0, 0), (1, 1), qin,
                            backend=backend)
    x_q = np.full((1, 3, 3, 512), 255, np.uint8)
    acc = layer.accumulate(x_q)
    assert acc.shape == (1, 1, 1, 2)
    np.testing.assert_array_equal(acc.ravel(), [4608 * 255 * 127, -4608 * 255 * 127])
    assert layer.gemm.bound == 4608 * 255 * 127 < INT32_MAX
    if backend == "float32":
        assert len(layer.gemm.chunks) > 1  # split so that every partial sum stays exact


def test_random_big_products_match_the_integer_reference():
    rng = np.random.default_rng(6)
    w_q = rng.integers(-127, 128, (16, 4096)).astype(np.int8)
    x_q = rng.integers(200, 256, (8, 4096)).astype(np.uint8)
    layer = QuantizedLinear(w_q, np.ones(16, np.float32), None, QParams(1.0, signed=False))
    np.testing.assert_array_equal(layer.accumulate(x_q), _exact_linear(x_q, w_q))


def test_overflowing_layer_is_refused():
    k = 70_000  # 70,000·255·127 > 2**31
    w_q = np.full((1, k), 127, np.int8)
    with pytest.raises(OverflowError, match="int32"):
        QuantizedLinear(w_q, np.ones(1, np.float32), None, QParams(1.0, signed=False))
    # a signed input (|x| <= 128) of the same size still fits: 70,000·128·127 < 2**31
    QuantizedLinear(w_q, np.ones(1, np.float32), None, QParams(1.0, signed=True))


def test_exact_chunks_bound_every_partial_sum():
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, (3000, 5)).astype(np.int8)
    chunks = exact_chunks(w, 255)
    assert chunks[0][0] == 0 and chunks[-1][1] == 3000
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    for k0, k1 in chunks:
        assert 255 * np.abs(w[k0:k1].astype(np.int64)).sum(axis=0).max() <= FLOAT32_EXACT
    assert len(chunks) >= 255 * np.abs(w.astype(np.int64)).sum(axis=0).max() // FLOAT32_EXACT


def test_quantized_layers_check_their_inputs():
    layer = QuantizedLinear(np.ones((2, 3), np.int8), np.ones(2, np.float32), None,
                            QParams(1.0, signed=False))
    with pytest.raises(ValueError, match="uint8"):
        layer(np.ones((4, 3), np.int8))
    with pytest.raises(TypeError, match="int8"):
        QuantizedLinear(np.ones((2, 3), np.float32), np.ones(2), None, QParams(1.0, False))


# ------------------------------------------------------------------ whole models
def _loader(x, batch=8):
    return [(x[i:i + batch], None) for i in range(0, len(x), batch)]


def test_quantize_cnn_close_to_float_and_backends_agree(make_cnn, tmp_path):
    rng = np.random.default_rng(8)
    model = make_cnn(rng)
    x = rng.normal(size=(32, 3, 8, 8)).astype(np.float32)
    qmodel = quantize_model(model, _loader(x), num_batches=4)
    kinds = [type(s).__name__ for s in qmodel.stages]
    assert kinds.count("QuantizedConv2d") == 2 and kinds.count("QuantizedLinear") == 1
    assert all(layer.weight_q.dtype == np.int8 for layer in qmodel.weight_layers())
    reference = _float(model, x)
    out = qmodel(x).data
    assert out.shape == reference.shape and out.dtype == np.float32
    assert np.abs(out - reference).max() < 0.05 * np.abs(reference).max()
    assert not np.array_equal(out, reference)
    assert np.array_equal(qmodel.set_backend("int32")(x).data, out)
    assert model[1].training is False and model[0].weight.data.dtype == np.float32  # untouched

    path = qmodel.set_backend("float32").save(tmp_path / "cnn_int8")
    assert path.endswith(".npz")
    with np.load(path, allow_pickle=False) as data:
        weights = [k for k in data.files if k.endswith("weight_q")]
        assert len(weights) == 3 and all(data[k].dtype == np.int8 for k in weights)
    loaded = QuantizedSequential.load(path)
    np.testing.assert_array_equal(loaded(x).data, out)
    assert qmodel.nbytes() < float_state_nbytes(model)


def test_int8_file_is_about_a_quarter_of_the_float_file(tmp_path):
    rng = np.random.default_rng(11)
    model = Sequential([Dense(256, 128), ReLU(), Dense(128, 64), ReLU(), Dense(64, 10)])
    x = rng.normal(size=(16, 256)).astype(np.float32)
    qmodel = quantize_model(model, _loader(x))
    np.savez(tmp_path / "float.npz", **model.state_dict())
    ratio = os.path.getsize(qmodel.save(tmp_path / "int8.npz")) / os.path.getsize(tmp_path / "float.npz")
    # int8 weights (1/4) plus float32 biases and per-channel scales and the zip's headers
    assert 0.25 < ratio < 0.30


def test_quantize_mlp_with_flatten_first():
    rng = np.random.default_rng(9)
    model = Sequential([Flatten(), Dense(2 * 3 * 3, 10), ReLU(), Dense(10, 4)])
    x = rng.normal(size=(16, 2, 3, 3)).astype(np.float32)
    qmodel = quantize_model(model, _loader(x), num_batches=2, method="percentile", percentile=99.9)
    reference = _float(model, x)
    assert np.abs(qmodel(x).data - reference).max() < 0.05 * np.abs(reference).max()


def test_quantize_ends_with_conv_and_float_tail():
    rng = np.random.default_rng(10)
    model = Sequential([Conv2d(2, 3, 3, padding=1), ReLU(), Conv2d(3, 2, 1), ReLU(), Flatten()])
    x = rng.normal(size=(4, 2, 5, 5)).astype(np.float32)
    qmodel = quantize_model(model, _loader(x, 2))
    reference = _float(model, x)
    assert np.abs(qmodel(x).data - reference).max() < 0.05 * np.abs(reference).max() + 1e-6


def test_quantize_model_refuses_what_it_cannot_convert(make_cnn):
    x = np.zeros((4, 3, 8, 8), np.float32)
    with pytest.raises(TypeError, match="Sigmoid"):
        quantize_model(Sequential([Conv2d(3, 2, 1), Sigmoid()]), _loader(x))
    with pytest.raises(ValueError, match="BatchNorm2d"):
        quantize_model(Sequential([Conv2d(3, 2, 1), MaxPool2d(2), BatchNorm2d(2)]), _loader(x))
    with pytest.raises(TypeError, match="Sequential"):
        quantize_model(Dense(3, 3), _loader(x))
    with pytest.raises(RuntimeError, match="no data"):
        quantize_model(make_cnn(), [])


def test_loading_something_else_fails(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a TinyTorch quantized model"):
        QuantizedSequential.load(path)
