"""``Sequential`` runs ``[ReLU(), MaxPool2d]`` as ``[MaxPool2d, ReLU()]``: prove it changes nothing.

``MaxPool2d.relu_commutes`` (with the fused kernels on) promises that ``pool(relu(x))`` and ``relu(pool(x))`` give the
same outputs (bit for bit) and the same gradients (equal values; an exact zero may differ in
its sign, which no later op can see: ``-0.0 == 0.0`` and ``p - lr·(-0.0) == p``), and
``Sequential`` relies on it to do 4× less ReLU work. Each case runs the two orders explicitly
on inputs built to hit the edge cases — ties among equal maxima, all-negative windows, zeros
of both signs, padding, overlapping windows — with the fused kernels and with the composite
path; then a whole CNN in a Sequential is compared with the same layers run one by one in the
written order.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (the engine)
from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Module, Parameter
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d, fused_kernels
from tinytorch.core.tensor import Tensor, manual_seed

FUSED = pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])

POOLS = [  # MaxPool2d arguments: kernel, stride, padding, dilation
    (2, None, 0, 1),
    (3, 2, 1, 1),   # overlapping windows, -inf padding
    (2, 1, 0, 2),   # dilated
    ((2, 3), (2, 1), (1, 0), 1),
]


def _edge_case_input(shape, seed):
    """Small integers (many exact ties), whole blocks of negatives, and signed zeros."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 3, size=shape).astype(np.float64)
    x[:, :, : shape[2] // 2, : shape[3] // 2] = -rng.integers(1, 3, size=x[:, :, : shape[2] // 2, : shape[3] // 2].shape)
    x[rng.random(shape) < 0.1] = -0.0
    x[rng.random(shape) < 0.05] = 0.0
    return x


def _both_orders(x_data, pool, weights):
    """Output and input gradient of pool(relu(x)) and of relu(pool(x))."""
    results = []
    for relu_first in (True, False):
        x = Tensor(x_data, dtype=x_data.dtype, requires_grad=True)
        y = pool(x.relu()) if relu_first else pool(x).relu()
        (y * Tensor(weights, dtype=weights.dtype)).sum().backward()
        results.append((y.data.copy(), x.grad.data.copy()))
    return results


@FUSED
@pytest.mark.parametrize("args", POOLS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_commutes_with_max_pool_outputs_and_gradients(fused, args, dtype):
    pool = MaxPool2d(*args)
    with fused_kernels(fused):
        # the promise is made for the fused kernels only (the composite path stays literal),
        # but the math holds on both paths
        assert pool.relu_commutes == fused
    for seed in range(4):
        x = _edge_case_input((2, 3, 8, 9), seed).astype(dtype)
        with fused_kernels(fused):
            out_shape = pool(Tensor(x, dtype=dtype)).shape
            w = np.random.default_rng(100 + seed).standard_normal(out_shape).astype(dtype)
            (y1, g1), (y2, g2) = _both_orders(x, pool, w)
        assert y1.tobytes() == y2.tobytes()  # the same bits, zeros' signs included
        np.testing.assert_array_equal(g1, g2)  # the same values (-0.0 == 0.0)


def test_a_subclass_that_overrides_forward_makes_no_promise():
    class Other(MaxPool2d):
        def forward(self, x):
            return super().forward(x) * 2.0

    assert not Other(2).relu_commutes


def _cnn():
    manual_seed(0)
    return Sequential(
        Conv2d(3, 8, 3, padding=1), ReLU(), MaxPool2d(2),
        Conv2d(8, 16, 3, padding=1), ReLU(), MaxPool2d(2),
        Flatten(), Dense(16 * 2 * 2, 10), ReLU(), Dense(10, 3),
    )


@FUSED
def test_a_sequential_cnn_trains_exactly_as_written(fused):
    # fused: reordered, and every parameter gradient has the same bits as the written order;
    # composite: not reordered at all
    model = _cnn()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    x[0] = -np.abs(x[0])  # conv outputs with many non-positive windows
    text, keys = repr(model), list(model.state_dict())
    grads = []
    for run_in_order in (False, True):
        model.zero_grad()
        with fused_kernels(fused):
            h = Tensor(x)
            if run_in_order:  # what the model says, layer by layer
                for layer in model:
                    h = layer(h)
            else:
                h = model(h)
            (h * h).sum().backward()
        grads.append((h.data.copy(), {n: p.grad.data.copy() for n, p in model.named_parameters()}))
    (out_a, grads_a), (out_b, grads_b) = grads
    assert out_a.tobytes() == out_b.tobytes()
    for name in grads_a:
        assert grads_a[name].tobytes() == grads_b[name].tobytes(), name
    assert repr(model) == text and list(model.state_dict()) == keys  # the model is untouched
    assert [type(m).__name__ for m in model][:3] == ["Conv2d", "ReLU", "MaxPool2d"]


class Affine(Module):
    """A per-channel scale and shift whose output keeps its input's (N, C, H, W)-contiguous
    layout, and whose shift's gradient is a sum of the incoming gradient in its memory order:
    sensitive to that order, which is why the pool hands its gradient back in its input's
    layout."""

    def __init__(self, channels):
        super().__init__()
        self.scale = Parameter(np.linspace(0.5, 1.5, channels).reshape(1, channels, 1, 1))
        self.shift = Parameter(np.linspace(-0.2, 0.2, channels).reshape(1, channels, 1, 1))

    def forward(self, x):
        return x * self.scale + self.shift


def test_the_reordering_is_exact_after_a_layer_with_another_memory_layout():
    model = Sequential(Affine(3), ReLU(), MaxPool2d(2), Flatten(), Dense(3 * 16 * 16, 2))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((16, 3, 32, 32)).astype(np.float32)
    results = []
    for run_in_order in (False, True):
        model.zero_grad()
        h = Tensor(x)
        for layer in (model if run_in_order else [model]):
            h = layer(h)
        h.sum().backward()
        results.append({n: p.grad.data.tobytes() for n, p in model.named_parameters()})
    assert results[0] == results[1]


def test_the_reordered_relu_really_runs_after_the_pool():
    model = _cnn()
    seen = []
    pool = model[2]
    original = pool.forward

    def spy(x):
        seen.append(bool((x.data < 0).any()))  # a pool after ReLU would see no negatives
        return original(x)

    pool.forward = spy
    rng = np.random.default_rng(1)
    model(Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32)))
    assert seen == [True]


def test_a_forward_hook_on_the_pool_keeps_the_written_order():
    model = _cnn()
    inputs = []
    model[2].register_forward_hook(lambda m, args, out: inputs.append(args[0].data.min()))
    rng = np.random.default_rng(2)
    model(Tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32)))
    assert inputs and inputs[0] >= 0  # the hook sees the ReLU's output, as written
