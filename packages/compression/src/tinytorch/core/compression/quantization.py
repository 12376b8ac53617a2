"""Post-training int8 quantization, for real: int8 weights, integer arithmetic, int8 files.

A float32 weight costs 4 bytes; an int8 one costs 1. Quantization maps real numbers to
integers with a *scale*: ``x ≈ scale · q``. This module does it the way inference engines
do, not by rounding and immediately converting back to float ("fake quantization"):

* **Weights, per output channel, symmetric.** Channel c gets its own
  ``scale_c = max|W_c| / 127`` and ``q = round(W / scale_c)`` in [-127, 127], stored as int8.
  One scale per channel instead of one per tensor matters: after batch-norm folding the
  channels of a conv differ in size by 100× and more.
* **Activations, per tensor, calibrated.** A few batches run through the float model; an
  observer records each weight layer's input range (min/max, or a percentile to ignore rare
  outliers). Inputs that are never negative (after a ReLU) use all 256 codes of uint8,
  ``[0, 255]``; signed inputs use int8 ``[-127, 127]``. Both are symmetric around zero, so 0
  is exactly representable and zero padding stays exact.
* **Integer inference.** A Dense or Conv2d multiplies its integer input by its integer
  weights with exact int32 accumulation, then *requantizes*:
  ``q_out = round(acc · s_in·s_w / s_out + bias / s_out)``, clipped to the next layer's
  range — which also applies a following ReLU for free. ReLU, MaxPool2d and Flatten work
  on the integers directly (max commutes with a monotonic quantizer). Only the last layer
  returns floats (the logits).
* **BatchNorm is folded** into the conv before it (``W' = W·γ/σ``, ``b' = (b-μ)·γ/σ + β``),
  so it costs nothing at inference.

The integer matmul, honestly. numpy has no int8 GEMM: an ``int32 @ int32`` matmul runs
numpy's own loops, about 25× slower than float32 BLAS on these machines. But float32
represents every integer up to 2²⁴ exactly, so a float32 GEMM of integer-valued operands is
*exact* as long as no partial sum can exceed 2²⁴ in magnitude. For output j, any partial sum
is at most ``max|x| · Σ_k |w_kj|``; :func:`exact_chunks` splits the K dimension so that this
bound stays below 2²⁴ in every chunk (for a small CNN: one chunk per layer), each chunk is one
float32 BLAS call, and the chunks are summed in int32. The result is bit-identical to the
integer reference (``backend="int32"``: numpy's ``int32 @ int32``), which the tests check.
Before anything runs, the int32 accumulator is checked against overflow:
``max|x| · max_j Σ_k |w_kj| < 2³¹`` or the layer refuses to be built.

On disk a quantized model is an ``.npz`` of int8 weights, float32 scales and biases and a
JSON description — loaded with ``allow_pickle=False``. In memory, the float32 backend also
keeps a float32 copy of each weight matrix for BLAS (the disk and the arithmetic are
integer; the GEMM operand is not — that is the price of using BLAS from numpy).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten, Identity, Module
from tinytorch.core.spatial import BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.runtime import WORKSPACE, parallel_for

__all__ = ["QParams", "quantize_per_channel", "dequantize_per_channel", "quantize_tensor",
           "calibrate_qparams", "Observer", "fold_batchnorm", "fold_conv_bn", "fold_batchnorms",
           "exact_chunks",
           "int_matmul", "requantize", "QuantizedLinear", "QuantizedConv2d",
           "QuantizedSequential", "quantize_model", "float_state_nbytes", "BACKENDS", "INT32_MAX", "FLOAT32_EXACT"]

INT32_MAX = 2 ** 31 - 1
FLOAT32_EXACT = 2 ** 24  # every integer of magnitude <= 2**24 is a float32
BACKENDS = ("float32", "int32")
_FORMAT = 1


# --------------------------------------------------------------------------- scales
@dataclass(frozen=True)
class QParams:
    """How one activation tensor is quantized: ``x ≈ scale · q``, q in [qmin, qmax].

    Attributes:
        scale: the real value of one integer step.
        signed: int8 in [-127, 127] (True) or uint8 in [0, 255] (False).
    """

    scale: float
    signed: bool

    @property
    def qmin(self) -> int:
        """Smallest code."""
        return -127 if self.signed else 0

    @property
    def qmax(self) -> int:
        """Largest code."""
        return 127 if self.signed else 255

    @property
    def dtype(self) -> np.dtype:
        """int8 or uint8."""
        return np.dtype(np.int8 if self.signed else np.uint8)

    @property
    def max_abs(self) -> int:
        """Largest |q| an array of this dtype can hold (int8 can hold -128)."""
        return 128 if self.signed else 255

    def to_dict(self) -> dict:
        """JSON-able form."""
        return {"scale": float(self.scale), "signed": bool(self.signed)}


def quantize_per_channel(weight: Any, axis: int = 0) -> tuple:
    """Symmetric per-channel int8 quantization of a weight.

    Channel c (along ``axis``) gets ``scale_c = max|W_c| / 127`` and
    ``q = clip(round(W / scale_c), -127, 127)``; a channel that is all zeros gets scale 1.

    Args:
        weight: float array (or Tensor), e.g. (C_out, C_in, kh, kw) or (out, in).
        axis: the channel axis.

    Returns:
        ``(q, scale)``: q int8 of the weight's shape, scale float32 of shape (channels,).
    """
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=np.float32)
    moved = np.moveaxis(w, axis, 0)
    flat = moved.reshape(moved.shape[0], -1)
    ### BEGIN SOLUTION
    ### HINT: flat is (channels, everything else): one peak per row with np.abs(...).max(axis=1)
    ### HINT: an all-zero row would divide by zero; np.where(peak > 0, ..., 1.0) gives it scale 1
    ### HINT: np.rint, then np.clip to [-127, 127], then .astype(np.int8); scale[:, None] broadcasts
    peak = np.abs(flat).max(axis=1) if flat.shape[1] else np.zeros(flat.shape[0], np.float32)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(flat / scale[:, None]), -127, 127).astype(np.int8)
    ### END SOLUTION
    return np.moveaxis(q.reshape(moved.shape), 0, axis), scale


def dequantize_per_channel(q: np.ndarray, scale: np.ndarray, axis: int = 0) -> np.ndarray:
    """``q · scale`` with ``scale`` broadcast along ``axis`` (float32)."""
    shape = [1] * q.ndim
    shape[axis] = -1
    return q.astype(np.float32) * np.asarray(scale, np.float32).reshape(shape)


def calibrate_qparams(low: float, high: float) -> QParams:
    """The per-tensor QParams for values observed in [low, high].

    Never-negative values (``low >= 0``) get uint8 with ``scale = high / 255``; others get
    int8 with ``scale = max(|low|, |high|) / 127``. An all-zero range gets scale 1.

    Args:
        low: smallest value to represent (e.g. the observed minimum).
        high: largest value to represent.

    Returns:
        ``QParams(scale, signed)`` with ``scale`` rounded to float32 (the dtype it is used in).
    """
    ### BEGIN SOLUTION
    ### HINT: two cases: low >= 0 → 255 unsigned steps up to high; else 127 steps up to max(|low|, |high|)
    ### HINT: peak == 0 must not give scale 0 (quantizing would divide by zero)
    if low >= 0:
        peak, levels, signed = high, 255.0, False
    else:
        peak, levels, signed = max(abs(low), abs(high)), 127.0, True
    scale = peak / levels if peak > 0 else 1.0
    return QParams(float(np.float32(scale)), signed)
    ### END SOLUTION


def quantize_tensor(x: Any, qparams: QParams, out: np.ndarray | None = None) -> np.ndarray:
    """``clip(round(x / scale), qmin, qmax)`` as int8/uint8 (ties round to even)."""
    x = np.asarray(x.data if isinstance(x, Tensor) else x)
    if out is None:
        out = np.empty(x.shape, dtype=qparams.dtype)
    tmp = np.multiply(x, np.float32(1.0 / qparams.scale), dtype=np.float32)
    np.rint(tmp, out=tmp)
    np.clip(tmp, qparams.qmin, qparams.qmax, out=tmp)
    np.copyto(out, tmp, casting="unsafe")
    return out


class Observer:
    """Records the range of one activation tensor over calibration batches.

    Args:
        method: ``"minmax"`` (the extreme values seen) or ``"percentile"`` (the
            ``percentile``-th and ``100 - percentile``-th percentiles of a sample of values,
            which ignores rare outliers).
        percentile: for ``"percentile"``, e.g. 99.99.
        samples_per_batch: values sampled per batch for the percentile (with a fixed seed).
    """

    def __init__(self, method: str = "minmax", percentile: float = 99.99,
                 samples_per_batch: int = 1 << 16) -> None:
        if method not in ("minmax", "percentile"):
            raise ValueError(f"Observer: method must be 'minmax' or 'percentile', got {method!r}")
        if not 50.0 < percentile <= 100.0:
            raise ValueError(f"Observer: percentile must be in (50, 100], got {percentile}")
        self.method = method
        self.percentile = float(percentile)
        self.samples_per_batch = int(samples_per_batch)
        self.low = np.inf
        self.high = -np.inf
        self.batches = 0
        self._samples: list = []
        self._rng = np.random.default_rng(0)

    def update(self, x: Any) -> None:
        """Look at one batch of the tensor."""
        a = np.asarray(x.data if isinstance(x, Tensor) else x).ravel()
        if a.size == 0:
            return
        self.low = min(self.low, float(a.min()))
        self.high = max(self.high, float(a.max()))
        self.batches += 1
        if self.method == "percentile":
            if a.size > self.samples_per_batch:
                a = a[self._rng.integers(0, a.size, self.samples_per_batch)]
            self._samples.append(a.astype(np.float32))

    def range(self) -> tuple:
        """``(low, high)`` to quantize: observed extremes, or percentiles within them."""
        if self.batches == 0:
            raise RuntimeError("Observer: no data observed (was the calibration loader empty?)")
        low, high = self.low, self.high
        if self.method == "percentile":
            values = np.concatenate(self._samples)
            high = min(high, float(np.percentile(values, self.percentile)))
            if low < 0:  # never-negative tensors keep low = 0 exactly (and stay unsigned)
                low = max(low, float(np.percentile(values, 100.0 - self.percentile)))
        return low, max(high, 0.0)

    def qparams(self) -> QParams:
        """The QParams for the observed range."""
        return calibrate_qparams(*self.range())


# --------------------------------------------------------------------------- batch norm folding
def fold_batchnorm(weight: np.ndarray, bias: np.ndarray | None, bn: Any) -> tuple:
    """Fold an eval-mode BatchNorm into the conv (or Dense) before it.

    ``bn(conv(x)) = γ·(W*x + b - μ)/σ + β = (W·γ/σ)*x + ((b - μ)·γ/σ + β)`` with
    ``σ = √(running_var + ε)``, so the folded layer has ``W' = W·γ/σ`` (per output channel) and
    ``b' = (b - μ)·γ/σ + β``. Computed in float64, returned as float32.

    Args:
        weight: (C_out, ...) weight of the layer before the BatchNorm.
        bias: (C_out,) bias or None (zero).
        bn: the BatchNorm (its running statistics are used).
    """
    c = weight.shape[0]
    if bn.num_features != c:
        raise ValueError(f"fold_batchnorm: {bn._label} after a layer with {c} output channels")
    if bn.running_mean is None:
        raise ValueError(f"fold_batchnorm: {bn._label} has no running statistics to fold "
                         "(track_running_stats=False)")
    mean = bn.running_mean.data.astype(np.float64)
    var = bn.running_var.data.astype(np.float64)
    gamma = bn.weight.data.astype(np.float64) if bn.weight is not None else np.ones(c)
    beta = bn.bias.data.astype(np.float64) if bn.bias is not None else np.zeros(c)
    b = np.zeros(c) if bias is None else np.asarray(bias, np.float64)
    ### BEGIN SOLUTION
    ### HINT: factor = γ/√(var + ε) has shape (C,); reshape it to (C, 1, 1, 1) (or (C, 1)) to scale W
    ### HINT: name the results w_folded and b_folded (float64; the line after the block casts them)
    factor = gamma / np.sqrt(var + bn.eps)
    w_folded = weight.astype(np.float64) * factor.reshape((c,) + (1,) * (weight.ndim - 1))
    b_folded = (b - mean) * factor + beta
    ### END SOLUTION
    return w_folded.astype(np.float32), b_folded.astype(np.float32)


def fold_conv_bn(conv: Conv2d, bn: BatchNorm2d) -> Conv2d:
    """A new Conv2d (with bias) equal to ``bn(conv(x))`` in eval mode."""
    w, b = fold_batchnorm(conv.weight.data, None if conv.bias is None else conv.bias.data, bn)
    new = Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                 conv.dilation, conv.groups, bias=True)
    new.weight.data[...] = w
    new.bias.data[...] = b
    new.eval()
    return new


def fold_batchnorms(model: Sequential) -> Sequential:
    """A copy of ``model`` (eval mode) with every BatchNorm2d folded into the Conv2d before it.

    The float32 twin of what :func:`quantize_model` does first: same outputs (to float
    rounding), one pass less per conv.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"fold_batchnorms folds a Sequential, got {type(model).__name__}")
    layers: list = []
    conv_before = False  # the last layer kept is a Conv2d with no BatchNorm folded in yet
    for layer in model:
        if isinstance(layer, BatchNorm2d) and conv_before:
            layers[-1] = fold_conv_bn(layers[-1], layer)
            conv_before = False
        else:
            layers.append(copy.deepcopy(layer))
            conv_before = isinstance(layer, Conv2d)
    folded = Sequential(layers)
    folded.eval()
    return folded


# --------------------------------------------------------------------------- integer GEMM
def _accumulation_bound(w_int: np.ndarray, max_abs_x: int) -> int:
    """The largest |acc| any output can reach: max|x| · max_j Σ_k |w_kj| (w is (K, N))."""
    if w_int.size == 0:
        return 0
    return int(max_abs_x) * int(np.abs(w_int.astype(np.int64)).sum(axis=0).max())


def exact_chunks(w_int: np.ndarray, max_abs_x: int, limit: int = FLOAT32_EXACT) -> list:
    """Split K so that a float32 GEMM of each chunk is exact: ``[(k0, k1), ...]``.

    For integer x with |x| <= ``max_abs_x`` and the (K, N) integer weight matrix ``w_int``,
    every partial sum of output j over a chunk is at most ``max_abs_x · Σ_{k in chunk} |w_kj|``.
    Chunks are grown greedily while that bound stays <= ``limit`` (2²⁴ for float32), so every
    product and every partial sum — in whatever order BLAS adds them — is an exactly
    representable integer.

    Args:
        w_int: (K, N) integer weights.
        max_abs_x: the largest |x| the inputs can have (255 for uint8, 128 for int8).
        limit: the largest magnitude to allow in a partial sum.
    """
    k_total = w_int.shape[0]
    if k_total == 0:
        return []
    cap = limit // max(int(max_abs_x), 1)
    a = np.abs(w_int.astype(np.int64))
    if a.max(initial=0) > cap:
        raise OverflowError(f"exact_chunks: a single weight of magnitude {a.max()} times "
                            f"{max_abs_x} exceeds {limit}")
    csum = np.cumsum(a, axis=0)
    chunks, k0 = [], 0
    while k0 < k_total:
        base = csum[k0 - 1] if k0 else np.zeros(a.shape[1], np.int64)
        fits = (csum[k0:] - base).max(axis=1) <= cap  # True, ..., True, False, ... (monotone)
        n_fit = int(np.argmin(fits)) if not fits.all() else fits.size
        k1 = k0 + max(1, n_fit)
        chunks.append((k0, k1))
        k0 = k1
    return chunks


def int_matmul(x_int: np.ndarray, w_int: np.ndarray) -> np.ndarray:
    """The reference integer matmul: ``x @ w`` with int32 accumulation (numpy's own loops).

    Args:
        x_int: (M, K) integers.
        w_int: (K, N) integers.

    Returns:
        (M, N) int32: ``acc[m, n] = Σ_k x[m, k]·w[k, n]``, exact.
    """
    ### BEGIN SOLUTION
    ### HINT: int8 @ int8 accumulates in int8 and wraps around (100·100 does not fit); widen both first
    return np.matmul(x_int.astype(np.int32), w_int.astype(np.int32))
    ### END SOLUTION


class _IntGemm:
    """``x_int (M, K) @ w_int (K, N)`` exactly, with a guard against int32 overflow.

    backend "float32": chunked float32 BLAS (exact, see :func:`exact_chunks`);
    backend "int32": numpy's int32 matmul (exact, slow).
    """

    def __init__(self, w_int: np.ndarray, max_abs_x: int, backend: str, label: str) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"{label}: backend must be one of {BACKENDS}, got {backend!r}")
        bound = _accumulation_bound(w_int, max_abs_x)
        if bound > INT32_MAX:
            raise OverflowError(
                f"{label}: an output could reach |acc| = {bound:,} > 2**31 - 1 = {INT32_MAX:,} "
                f"(inputs up to {max_abs_x} times weights with column L1 norms up to "
                f"{bound // max(max_abs_x, 1):,}); int32 accumulation would overflow. Split the "
                "layer, or quantize its input to fewer levels"
            )
        self.bound = bound
        self.backend = backend
        self.k, self.n = w_int.shape
        if backend == "float32":
            self.chunks = exact_chunks(w_int, max_abs_x)
            self.w = np.ascontiguousarray(w_int, dtype=np.float32)
        else:
            self.chunks = [(0, self.k)]
            self.w = np.ascontiguousarray(w_int, dtype=np.int32)

    @property
    def operand_dtype(self) -> np.dtype:
        """The dtype the input matrix should be laid out in (float32 or int32)."""
        return self.w.dtype

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The exact product: float32 holding integers (one float chunk), else int32."""
        if self.backend == "int32":
            return int_matmul(x, self.w)
        if len(self.chunks) == 1:  # one BLAS call; its float32 result holds exact integers
            return np.matmul(x, self.w)
        acc = np.zeros((x.shape[0], self.n), np.int32)
        part = np.empty((x.shape[0], self.n), np.float32)
        for k0, k1 in self.chunks:
            np.matmul(x[:, k0:k1], self.w[k0:k1], out=part)
            np.add(acc, part, out=acc, casting="unsafe")  # exact: |part| < 2**24, |acc| < 2**31
        return acc


def requantize(acc: np.ndarray, in_scale: float, weight_scale: np.ndarray,
               bias: np.ndarray | None, out: QParams | None) -> np.ndarray:
    """From the int32 accumulator to the next layer's integers (or to floats).

    ``y = acc · (s_in · s_w[c]) + bias[c]`` is the float value of each output (channel c on the
    last axis). With ``out`` it becomes ``clip(round(y / s_out), qmin, qmax)`` in ``out``'s
    dtype; without, ``y`` is returned as float32.

    Args:
        acc: (..., C) accumulator (int32, or float32 holding exact integers).
        in_scale: the input's scale.
        weight_scale: (C,) per-channel weight scales.
        bias: (C,) float bias or None.
        out: the next tensor's QParams, or None to dequantize.
    """
    ### BEGIN SOLUTION
    ### HINT: fold s_in·s_w/s_out and bias/s_out into one multiplier and one offset per channel
    if out is None:
        mult = (np.float32(in_scale) * weight_scale).astype(np.float32)
        y = np.multiply(acc, mult, dtype=np.float32)
        if bias is not None:
            y += bias
        return y
    mult = (np.float32(in_scale) * weight_scale / np.float32(out.scale)).astype(np.float32)
    y = np.multiply(acc, mult, dtype=np.float32)
    if bias is not None:
        y += (bias / np.float32(out.scale)).astype(np.float32)
    np.rint(y, out=y)
    np.clip(y, out.qmin, out.qmax, out=y)
    return y.astype(out.dtype)
    ### END SOLUTION


# --------------------------------------------------------------------------- quantized layers
class QuantizedLinear:
    """An int8 Dense: integer inputs (N, in) times int8 weights, exact int32 accumulation.

    Args:
        weight_q: (out, in) int8.
        weight_scale: (out,) float32.
        bias: (out,) float32 or None.
        input_qparams: how the input is quantized.
        output_qparams: requantize to these (the next layer's input), or None for floats.
        backend: ``"float32"`` (exact chunked BLAS) or ``"int32"`` (numpy integer matmul).
    """

    kind = "linear"

    def __init__(self, weight_q: np.ndarray, weight_scale: np.ndarray, bias: np.ndarray | None,
                 input_qparams: QParams, output_qparams: QParams | None = None,
                 backend: str = "float32") -> None:
        if weight_q.dtype != np.int8 or weight_q.ndim != 2:
            raise TypeError(f"QuantizedLinear: weight_q must be a 2-D int8 array, got "
                            f"{weight_q.dtype} {weight_q.shape}")
        self.weight_q = weight_q
        self.weight_scale = np.asarray(weight_scale, np.float32)
        self.bias = None if bias is None else np.asarray(bias, np.float32)
        self.input_qparams = input_qparams
        self.output_qparams = output_qparams
        self.out_features, self.in_features = weight_q.shape
        self.set_backend(backend)

    @property
    def label(self) -> str:
        """How errors name this layer."""
        return f"QuantizedLinear({self.in_features}→{self.out_features})"

    def set_backend(self, backend: str) -> None:
        """Choose how the integer matmul runs (``"float32"`` or ``"int32"``)."""
        self.gemm = _IntGemm(self.weight_q.T, self.input_qparams.max_abs, backend, self.label)

    def _check(self, x: np.ndarray) -> None:
        if x.dtype != self.input_qparams.dtype or x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self.label} expects ({self.in_features} features) "
                             f"{self.input_qparams.dtype} input, got {x.dtype} {x.shape}")

    def accumulate(self, x_q: np.ndarray) -> np.ndarray:
        """The exact int32 accumulator ``x_q @ weight_qᵀ`` (N, out)."""
        self._check(x_q)
        return np.asarray(self.gemm(x_q.astype(self.gemm.operand_dtype)), dtype=np.int32)

    def __call__(self, x_q: np.ndarray) -> np.ndarray:
        self._check(x_q)
        acc = self.gemm(x_q.astype(self.gemm.operand_dtype))
        return requantize(acc, self.input_qparams.scale, self.weight_scale, self.bias,
                          self.output_qparams)

    def arrays(self) -> dict:
        """The arrays saved to disk."""
        out = {"weight_q": self.weight_q, "weight_scale": self.weight_scale}
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def config(self) -> dict:
        """The JSON-able settings saved to disk."""
        return {}

    def nbytes(self) -> int:
        """Bytes of the stored arrays (int8 weights, float32 scales and bias)."""
        return sum(a.nbytes for a in self.arrays().values())


class QuantizedConv2d:
    """An int8 Conv2d on channels-last integer inputs (N, H, W, C_in) -> (N, H_out, W_out, C_out).

    im2col lays the integer patches out as one (N·H_out·W_out, kh·kw·C_in) matrix (zero padding
    is exact: 0 is a code), then one exact integer GEMM per batch part, then requantization.

    Args:
        weight_q: (C_out, C_in, kh, kw) int8.
        weight_scale: (C_out,) float32.
        bias: (C_out,) float32 or None.
        stride: (h, w) step between windows.
        padding: (h, w) zeros added on each side (0 is a code, so this is exact).
        dilation: (h, w) spacing between kernel taps.
        input_qparams: how the input is quantized.
        output_qparams: requantize to these, or None for floats.
        backend: ``"float32"`` or ``"int32"``.
    """

    kind = "conv2d"

    def __init__(self, weight_q: np.ndarray, weight_scale: np.ndarray, bias: np.ndarray | None,
                 stride: tuple, padding: tuple, dilation: tuple, input_qparams: QParams,
                 output_qparams: QParams | None = None, backend: str = "float32") -> None:
        if weight_q.dtype != np.int8 or weight_q.ndim != 4:
            raise TypeError(f"QuantizedConv2d: weight_q must be a 4-D int8 array, got "
                            f"{weight_q.dtype} {weight_q.shape}")
        self.weight_q = weight_q
        self.weight_scale = np.asarray(weight_scale, np.float32)
        self.bias = None if bias is None else np.asarray(bias, np.float32)
        self.stride, self.padding, self.dilation = tuple(stride), tuple(padding), tuple(dilation)
        self.input_qparams = input_qparams
        self.output_qparams = output_qparams
        self.out_channels, self.in_channels, self.kh, self.kw = weight_q.shape
        self.set_backend(backend)

    @property
    def label(self) -> str:
        """How errors name this layer."""
        return f"QuantizedConv2d({self.in_channels}→{self.out_channels}, k={self.kh}x{self.kw})"

    def set_backend(self, backend: str) -> None:
        """Choose how the integer matmul runs (``"float32"`` or ``"int32"``)."""
        # patch columns are ordered (kh, kw, C_in): the weight matrix rows must match
        wmat = self.weight_q.transpose(2, 3, 1, 0).reshape(-1, self.out_channels)
        self.gemm = _IntGemm(wmat, self.input_qparams.max_abs, backend, self.label)

    def output_size(self, h: int, w: int) -> tuple:
        """(H_out, W_out) for an (H, W) input."""
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        return ((h + 2 * ph - dh * (self.kh - 1) - 1) // sh + 1,
                (w + 2 * pw - dw * (self.kw - 1) - 1) // sw + 1)

    def _check(self, x: np.ndarray) -> None:
        if x.dtype != self.input_qparams.dtype or x.ndim != 4 or x.shape[3] != self.in_channels:
            raise ValueError(f"{self.label} expects channels-last (N, H, W, {self.in_channels}) "
                             f"{self.input_qparams.dtype} input, got {x.dtype} {x.shape}")

    def _run(self, x: np.ndarray, finish: Any) -> np.ndarray:
        """im2col + GEMM over parts of the batch; ``finish(acc)`` turns each part's accumulator
        into that part's output."""
        self._check(x)
        n, h, w, c = x.shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        h_out, w_out = self.output_size(h, w)
        if h_out < 1 or w_out < 1:
            raise ValueError(f"{self.label}: input {h}x{w} is too small for the kernel")
        per_image = h_out * w_out
        k = self.kh * self.kw * c
        src = x
        if ph or pw:
            src = WORKSPACE.get("qconv.padded", (n, h + 2 * ph, w + 2 * pw, c), x.dtype, fill=0)
        cols = WORKSPACE.get("qconv.cols", (n * per_image, k), self.gemm.operand_dtype)
        results: list = [None]

        def work(n0: int, n1: int) -> np.ndarray:
            part = x[n0:n1]
            if ph or pw:
                src[n0:n1, ph:ph + h, pw:pw + w, :] = part  # the zero border is never written
                part = src[n0:n1]
            s_n, s_h, s_w, s_c = part.strides
            patches = as_strided(part, shape=(n1 - n0, h_out, w_out, self.kh, self.kw, c),
                                 strides=(s_n, sh * s_h, sw * s_w, dh * s_h, dw * s_w, s_c),
                                 writeable=False)
            rows = cols[n0 * per_image:n1 * per_image]
            np.copyto(rows.reshape(n1 - n0, h_out, w_out, self.kh, self.kw, c), patches,
                      casting="unsafe")  # int8 -> float32/int32: exact
            return finish(self.gemm(rows)).reshape(n1 - n0, h_out, w_out, self.out_channels)

        parts = parallel_for(n, work)
        results = parts
        return results[0] if len(results) == 1 else np.concatenate(results, axis=0)

    def accumulate(self, x_q: np.ndarray) -> np.ndarray:
        """The exact int32 accumulator (N, H_out, W_out, C_out)."""
        return self._run(x_q, lambda acc: np.asarray(acc, dtype=np.int32))

    def __call__(self, x_q: np.ndarray) -> np.ndarray:
        return self._run(x_q, lambda acc: requantize(acc, self.input_qparams.scale,
                                                     self.weight_scale, self.bias,
                                                     self.output_qparams))

    def arrays(self) -> dict:
        """The arrays saved to disk."""
        out = {"weight_q": self.weight_q, "weight_scale": self.weight_scale}
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def config(self) -> dict:
        """The JSON-able settings saved to disk."""
        return {"stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation)}

    def nbytes(self) -> int:
        """Bytes of the stored arrays (int8 weights, float32 scales and bias)."""
        return sum(a.nbytes for a in self.arrays().values())


class _IntMaxPool:
    """Max-pooling of channels-last integers (exact: max commutes with the quantizer)."""

    kind = "maxpool2d"

    def __init__(self, kernel_size: tuple, stride: tuple) -> None:
        self.kernel_size, self.stride = tuple(kernel_size), tuple(stride)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        n, h, w, c = x.shape
        h_out, w_out = (h - kh) // sh + 1, (w - kw) // sw + 1
        if (kh, kw) == (sh, sw) == (2, 2):  # two pairwise maxima: rows, then columns
            rows = np.maximum(x[:, 0:2 * h_out:2], x[:, 1:2 * h_out:2])
            return np.maximum(rows[:, :, 0:2 * w_out:2], rows[:, :, 1:2 * w_out:2])
        s_n, s_h, s_w, s_c = x.strides
        windows = as_strided(x, shape=(n, h_out, w_out, kh, kw, c),
                             strides=(s_n, sh * s_h, sw * s_w, s_h, s_w, s_c), writeable=False)
        return windows.max(axis=(3, 4))

    def config(self) -> dict:
        return {"kernel_size": list(self.kernel_size), "stride": list(self.stride)}


class _ReLU:
    """ReLU on integers (0 is a code) or, after the last layer, on floats."""

    kind = "relu"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "u":
            return x  # already >= 0
        return np.maximum(x, 0)

    def config(self) -> dict:
        return {}


class _Flatten:
    """(N, H, W, C) -> (N, H·W·C). The Dense after it reads its columns in (H, W, C) order."""

    kind = "flatten"

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.dtype.kind == "f" and x.ndim == 4:  # after the last layer: back to (C, H, W) order
            x = x.transpose(0, 3, 1, 2)
        return x.reshape(x.shape[0], -1)

    def config(self) -> dict:
        return {}


_SIMPLE = {"maxpool2d": lambda cfg: _IntMaxPool(cfg["kernel_size"], cfg["stride"]),
           "relu": lambda cfg: _ReLU(), "flatten": lambda cfg: _Flatten()}


# --------------------------------------------------------------------------- the model
class QuantizedSequential:
    """An int8 model: quantize the input once, run integer stages, return float logits.

    Built by :func:`quantize_model`; saved and loaded with :meth:`save` / :meth:`load`.

    Args:
        stages: the layers, in order (quantized Dense/Conv2d, integer ReLU/MaxPool/Flatten).
        input_qparams: how the model's input is quantized.
    """

    def __init__(self, stages: list, input_qparams: QParams) -> None:
        self.stages = list(stages)
        self.input_qparams = input_qparams

    def __call__(self, x: Any) -> Tensor:
        return self.forward(x)

    def forward(self, x: Any) -> Tensor:
        """Float input (N, C, H, W) or (N, F) -> float output, integers in between."""
        a = np.asarray(x.data if isinstance(x, Tensor) else x)
        if a.ndim == 4:
            a = a.transpose(0, 2, 3, 1)  # channels-last, like every integer tensor inside
        q = quantize_tensor(a, self.input_qparams)
        for stage in self.stages:
            q = stage(q)
        if q.ndim == 4:
            q = q.transpose(0, 3, 1, 2)
        return Tensor(np.ascontiguousarray(q, dtype=np.float32))

    def eval(self) -> "QuantizedSequential":
        """Inference only: returns self (for symmetry with Module)."""
        return self

    def set_backend(self, backend: str) -> "QuantizedSequential":
        """Run every integer matmul with ``backend`` ("float32" or "int32"); returns self."""
        for stage in self.stages:
            if hasattr(stage, "set_backend"):
                stage.set_backend(backend)
        return self

    def weight_layers(self) -> list:
        """The QuantizedLinear and QuantizedConv2d stages."""
        return [s for s in self.stages if hasattr(s, "weight_q")]

    def nbytes(self) -> int:
        """Bytes of the stored arrays (int8 weights, float32 scales and biases)."""
        return sum(s.nbytes() for s in self.weight_layers())

    def save(self, path: str | os.PathLike) -> str:
        """Write the model to an ``.npz``: int8 weights, float32 scales/biases, JSON layout."""
        path = os.fspath(path)
        if not path.endswith(".npz"):
            path += ".npz"
        arrays, spec = {}, []
        for i, stage in enumerate(self.stages):
            entry = {"kind": stage.kind, "config": stage.config()}
            if hasattr(stage, "weight_q"):
                entry["input"] = stage.input_qparams.to_dict()
                entry["output"] = None if stage.output_qparams is None else stage.output_qparams.to_dict()
                entry["arrays"] = {}
                for name, value in stage.arrays().items():
                    key = f"{i}.{name}"
                    arrays[key] = value
                    entry["arrays"][name] = key
            spec.append(entry)
        header = {"format": _FORMAT, "input": self.input_qparams.to_dict(), "stages": spec}
        np.savez(path, __spec__=np.array(json.dumps(header)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, backend: str = "float32") -> "QuantizedSequential":
        """Read a model written by :meth:`save` (``allow_pickle=False``: no code can run)."""
        with np.load(os.fspath(path), allow_pickle=False) as data:
            if "__spec__" not in data.files:
                raise ValueError(f"{path} is not a TinyTorch quantized model (no __spec__)")
            header = json.loads(str(data["__spec__"]))
            if header.get("format") != _FORMAT:
                raise ValueError(f"{path}: unsupported quantized-model format {header.get('format')}")
            arrays = {k: data[k] for k in data.files if k != "__spec__"}
        stages = []
        for entry in header["stages"]:
            kind, cfg = entry["kind"], entry["config"]
            if kind in _SIMPLE:
                stages.append(_SIMPLE[kind](cfg))
                continue
            a = {name: arrays[key] for name, key in entry["arrays"].items()}
            qin = QParams(**entry["input"])
            qout = None if entry["output"] is None else QParams(**entry["output"])
            if kind == "linear":
                stages.append(QuantizedLinear(a["weight_q"], a["weight_scale"], a.get("bias"),
                                              qin, qout, backend))
            elif kind == "conv2d":
                stages.append(QuantizedConv2d(a["weight_q"], a["weight_scale"], a.get("bias"),
                                              cfg["stride"], cfg["padding"], cfg["dilation"],
                                              qin, qout, backend))
            else:
                raise ValueError(f"{path}: unknown stage kind {kind!r}")
        return cls(stages, QParams(**header["input"]))

    def __repr__(self) -> str:
        lines = [f"QuantizedSequential(input: {'int8' if self.input_qparams.signed else 'uint8'} "
                 f"scale={self.input_qparams.scale:.4g}"]
        for i, s in enumerate(self.stages):
            name = getattr(s, "label", type(s).__name__.strip("_"))
            lines.append(f"  ({i}): {name}")
        return "\n".join(lines) + "\n)"


# --------------------------------------------------------------------------- conversion
_SKIPPED = (Dropout, Identity)


def _plan(model: Sequential) -> list:
    """The model as [(kind, layer, bn)], with BatchNorms attached to the conv before them."""
    if not isinstance(model, Sequential):
        raise TypeError(f"quantize_model converts a Sequential, got {type(model).__name__}")
    plan: list = []
    for i, layer in enumerate(model):
        if isinstance(layer, _SKIPPED):
            continue
        if isinstance(layer, BatchNorm2d):
            if not plan or plan[-1][0] != "conv2d" or plan[-1][2] is not None:
                raise ValueError(f"quantize_model: BatchNorm2d at position {i} must directly follow "
                                 "a Conv2d to be folded into it")
            plan[-1] = ("conv2d", plan[-1][1], layer)
        elif isinstance(layer, Conv2d):
            if layer.groups != 1:
                raise ValueError(f"quantize_model: grouped convolution at position {i} is not supported")
            plan.append(("conv2d", layer, None))
        elif isinstance(layer, Dense):
            plan.append(("linear", layer, None))
        elif isinstance(layer, ReLU):
            plan.append(("relu", layer, None))
        elif isinstance(layer, MaxPool2d):
            if layer.padding != (0, 0) or layer.dilation != (1, 1):
                raise ValueError(f"quantize_model: MaxPool2d at position {i} must have padding 0 "
                                 "and dilation 1")
            plan.append(("maxpool2d", layer, None))
        elif isinstance(layer, Flatten):
            if layer.start_dim != 1 or layer.end_dim != -1:
                raise ValueError(f"quantize_model: Flatten at position {i} must flatten all but the batch")
            plan.append(("flatten", layer, None))
        else:
            raise TypeError(f"quantize_model: cannot quantize layer {i} ({type(layer).__name__}); "
                            "supported: Dense, Conv2d, BatchNorm2d after a Conv2d, ReLU, "
                            "MaxPool2d, Flatten, Dropout, Identity")
    if not any(kind in ("linear", "conv2d") for kind, _, _ in plan):
        raise ValueError("quantize_model: the model has no Dense or Conv2d layer")
    return plan


def _batches(loader: Iterable, num_batches: int) -> Iterable:
    for i, batch in enumerate(loader):
        if i >= num_batches:
            return
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def quantize_model(model: Sequential, calibration_loader: Iterable, num_batches: int = 8,
                   method: str = "minmax", percentile: float = 99.99,
                   backend: str = "float32") -> QuantizedSequential:
    """Convert a trained float Sequential into an int8 :class:`QuantizedSequential`.

    1. BatchNorm2d layers are folded into the Conv2d before them.
    2. ``num_batches`` batches of ``calibration_loader`` run through the float model (eval
       mode, no graph); an :class:`Observer` records the input range of every Dense/Conv2d.
    3. Every weight is quantized per output channel to int8; every layer requantizes its
       output to the next weight layer's input scale; the last one returns floats.

    Args:
        model: Sequential of Dense, Conv2d, BatchNorm2d (after a Conv2d), ReLU, MaxPool2d,
            Flatten (Dropout/Identity are dropped). It is not modified.
        calibration_loader: iterable of ``(inputs, targets)`` batches (or inputs alone).
        num_batches: how many batches to calibrate on.
        method: ``"minmax"`` or ``"percentile"`` (see :class:`Observer`).
        percentile: for ``"percentile"``.
        backend: integer matmul backend, ``"float32"`` (exact chunked BLAS) or ``"int32"``.
    """
    plan = _plan(model)
    weight_steps = [k for k, (kind, _, _) in enumerate(plan) if kind in ("linear", "conv2d")]
    observers = {k: Observer(method, percentile) for k in weight_steps}
    flatten_shapes: dict = {}
    removers = []
    flags = [(m, m.training) for m in model.modules()]
    for k, (kind, layer, _) in enumerate(plan):
        if k in observers:
            removers.append(layer.register_forward_pre_hook(
                lambda mod, inputs, obs=observers[k]: obs.update(inputs[0])))
        elif kind == "flatten":
            removers.append(layer.register_forward_pre_hook(
                lambda mod, inputs, k=k: flatten_shapes.__setitem__(k, inputs[0].shape)))
    try:
        model.eval()
        with no_grad():
            for x in _batches(calibration_loader, num_batches):
                model(x if isinstance(x, Tensor) else Tensor(x))
    finally:
        for remove in removers:
            remove()
        for m, flag in flags:
            m.training = flag
    qparams = {k: obs.qparams() for k, obs in observers.items()}

    stages: list = []
    last_flatten: tuple | None = None
    for k, (kind, layer, bn) in enumerate(plan):
        if kind in ("linear", "conv2d"):
            later = [j for j in weight_steps if j > k]
            q_out = qparams[later[0]] if later else None
            weight = layer.weight.data
            bias = None if layer.bias is None else layer.bias.data
            if bn is not None:
                weight, bias = fold_batchnorm(weight, bias, bn)
            if kind == "linear" and last_flatten is not None and len(last_flatten) == 4:
                # the integer tensor was flattened channels-last: reorder columns (C,H,W)->(H,W,C)
                _, c, h, w = last_flatten
                weight = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
            w_q, w_scale = quantize_per_channel(weight, axis=0)
            if kind == "linear":
                stages.append(QuantizedLinear(w_q, w_scale, bias, qparams[k], q_out, backend))
            else:
                stages.append(QuantizedConv2d(w_q, w_scale, bias, layer.stride, layer.padding,
                                              layer.dilation, qparams[k], q_out, backend))
            last_flatten = None
        elif kind == "relu":
            stages.append(_ReLU())
        elif kind == "maxpool2d":
            stages.append(_IntMaxPool(layer.kernel_size, layer.stride))
        elif kind == "flatten":
            stages.append(_Flatten())
            last_flatten = flatten_shapes.get(k)
    # stages before the first weight layer (a Flatten, say) run on the quantized input
    return QuantizedSequential(stages, qparams[weight_steps[0]])


def float_state_nbytes(model: Module) -> int:
    """Bytes of a model's state dict arrays (what ``np.savez`` stores, before the zip overhead)."""
    return sum(v.nbytes for v in model.state_dict().values())
