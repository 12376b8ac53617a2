"""Module 06 trains once autograd (09) is installed: gradcheck through the full engine.

Every spatial op exists as a fused kernel (its derivative registered by tinytorch-spatial) and
as a composite of Tensor ops (differentiated op by op by module 09's rules). Both are checked
here with ``tinytorch.core.autograd.gradcheck`` — float64 central differences — with respect
to the input and to every parameter, and the two are checked against each other through
``Tensor.backward`` on a small CNN.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import gradcheck
from tinytorch.core.layers import Dense, Module
from tinytorch.core.spatial import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    MaxPool2d,
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    conv2d,
    fused_kernels,
    max_pool2d,
)
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.tensor.runtime import threads

FUSED = pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])

CONV_CASES = [
    # (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups)
    (2, 3, 5, 6, 4, 3, 1, 1, 1, 1),
    (1, 4, 7, 6, 4, 3, 2, 2, 2, 2),
    (2, 2, 5, 5, 3, (2, 3), (1, 2), (1, 0), 1, 1),
    (1, 3, 6, 6, 3, 3, 1, 1, 1, 3),
]


def _distinct(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.permutation(int(np.prod(shape))).reshape(shape) / 5.0 - 2.0


@FUSED
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_gradcheck(case, fused):
    n, c, h, w, co, k, s, p, d, g = case
    kh, kw = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((co, c // g, kh, kw))
    b = rng.standard_normal(co)
    assert gradcheck(lambda x_, w_, b_: conv2d(x_, w_, b_, s, p, d, g, fused=fused), [x, wt, b])
    assert gradcheck(lambda x_, w_: conv2d(x_, w_, None, s, p, d, g, fused=fused), [x, wt])


@FUSED
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(2, 3), stride=1, dilation=(2, 1))])
def test_max_pool2d_gradcheck(kw, fused):
    x = _distinct((2, 2, 6, 7))  # values 0.2 apart: a nudge never changes a window's winner
    assert gradcheck(lambda t: max_pool2d(t, fused=fused, **kw), [x])


@FUSED
@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)])
def test_avg_pool2d_gradcheck(kw, fused):
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 7))
    assert gradcheck(lambda t: avg_pool2d(t, fused=fused, **kw), [x])


@pytest.mark.parametrize("size", [1, (2, 3), (4, 4)])
def test_adaptive_avg_pool2d_gradcheck(size):
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 7))
    assert gradcheck(lambda t: adaptive_avg_pool2d(t, size), [x])


@FUSED
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training, fused):
    rng = np.random.default_rng(3)
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    stats = (None, None) if training else (rm, rv)

    def fn(x_, w_, b_):
        return batch_norm(x_, *stats, w_, b_, training=training, fused=fused)

    assert gradcheck(fn, [x, w, b], atol=1e-5, rtol=1e-3)


class TinyCNN(Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = Conv2d(3, 6, 3, padding=1)
        self.bn = BatchNorm2d(6)
        self.pool = MaxPool2d(2)
        self.conv2 = Conv2d(6, 8, 3, stride=2, padding=1, groups=2)
        self.gap = AdaptiveAvgPool2d(1)
        self.flat = Flatten()
        self.fc = Dense(8, 5)

    def forward(self, x):
        x = self.pool(self.bn(self.conv1(x)).relu())
        x = self.conv2(x).relu()
        return self.fc(self.flat(self.gap(x)))


def _grads(model, x, y, fused, n_threads=1):
    model.zero_grad()
    inp = Tensor(x, dtype=np.float64, requires_grad=True)
    with fused_kernels(fused), threads(n_threads):
        logits = model(inp)
        loss = -logits.log_softmax(axis=-1).gather_rows(y).mean()
        loss.backward()
    out = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    out["input"] = inp.grad.numpy().copy()
    out["running_var"] = model.bn.running_var.numpy().copy()
    return loss.item(), out


def test_a_cnn_backpropagates_identically_on_both_paths():
    manual_seed(0)
    model = TinyCNN()
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 8, 8))
    y = rng.integers(0, 5, 4)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    results = []
    for fused, n_threads in ((True, 1), (False, 1), (True, 2)):
        model.load_state_dict(state)
        results.append(_grads(model, x, y, fused, n_threads))
    (loss0, g0) = results[0]
    for loss, g in results[1:]:
        assert loss == pytest.approx(loss0, rel=1e-12)
        for name in g0:
            np.testing.assert_allclose(g[name], g0[name], rtol=1e-9, atol=1e-12, err_msg=name)
    assert all(np.abs(v).max() > 0 for k, v in g0.items() if k != "running_var")


@FUSED
def test_layers_gradcheck_with_respect_to_their_input(fused):
    manual_seed(1)
    conv, bn = Conv2d(2, 3, 3, stride=2, padding=1), BatchNorm2d(3)
    for p in list(conv.parameters()) + list(bn.parameters()):
        p.data = p.data.astype(np.float64)
    bn.weight.data[...] = [0.5, -1.0, 2.0]
    x = np.random.default_rng(5).standard_normal((3, 2, 5, 5))
    with fused_kernels(fused):
        assert gradcheck(lambda t: bn(conv(t)), [x], atol=1e-5)
        assert gradcheck(lambda t: MaxPool2d(2, 1)(conv(t)), [x])
