"""tinytorch.core.tensor.fused.linear's forward (its derivative is checked in module 09's tests):
the same values split across threads, and no deadlock when it is called from inside one of
the runtime's own threads (kernels' map_batch runs a model there)."""

import threading

import numpy as np

from tinytorch.core.tensor import Tensor
from tinytorch.core.tensor.fused import LINEAR_FUSED, linear
from tinytorch.core.tensor.runtime import run_in_threads, threads


def _operands(rows=512):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 256)).astype(np.float32)
    w = rng.standard_normal((128, 256)).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    return x, w, b


def _split_everything(monkeypatch):
    """Lower the split threshold (tuned to the machine) so that two threads really split."""
    import tinytorch.core.tensor.fused as fused

    monkeypatch.setattr(fused, "_SPLIT_GEMM", 0)
    monkeypatch.setattr(fused, "_SPLIT_WORK", 0)


def test_linear_fused_forward_is_x_w_transposed_plus_b_at_one_and_two_threads(monkeypatch):
    _split_everything(monkeypatch)
    x, w, b = _operands()
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + b
    for n in (1, 2):
        with threads(n):
            y = linear(Tensor(x), Tensor(w, requires_grad=True), Tensor(b))
        assert y._node.op == LINEAR_FUSED and y.dtype == np.float32
        np.testing.assert_allclose(y.data, expected, rtol=1e-4, atol=1e-4)


def test_linear_fused_inside_the_runtimes_threads_does_not_deadlock(monkeypatch):
    _split_everything(monkeypatch)
    x, w, b = _operands()
    results: list = []

    def nested() -> None:
        with threads(2):  # two outer tasks, each splitting its own product
            results.extend(run_in_threads([lambda: linear(Tensor(x), Tensor(w), Tensor(b)).data] * 2))

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "linear() inside the runtime's threads deadlocked"
    np.testing.assert_allclose(results[0], x @ w.T + b, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-4)  # split or not


def test_linear_fused_outputs_from_the_pool_are_never_shared():
    # The output comes from the runtime's buffer pool: a buffer is handed out again only once
    # nothing refers to it, so outputs kept by the caller keep their values.
    from tinytorch.core.tensor.runtime import WORKSPACE

    x, w, b = _operands(rows=64)
    previous, WORKSPACE.min_bytes = WORKSPACE.min_bytes, 0  # pool these small arrays too
    try:
        kept = [linear(Tensor(x * k), Tensor(w), Tensor(b)) for k in (1.0, 2.0, 3.0)]
        dropped = linear(Tensor(x), Tensor(w), Tensor(b)).data.sum()  # its buffer may be reused
        again = linear(Tensor(x * 4.0), Tensor(w), Tensor(b))
    finally:
        WORKSPACE.min_bytes = previous
    assert len({id(t.data) for t in kept + [again]}) == 4
    for k, t in zip((1.0, 2.0, 3.0, 4.0), kept + [again]):
        np.testing.assert_allclose(t.data, (x * k) @ w.T + b, rtol=1e-4, atol=1e-3)
    assert np.isfinite(dropped)
