"""TinyTorch against PyTorch, op by op and model by model, with the benchmarking module's tools.

Every comparison is tinytorch-benchmarking's A/B method
(:func:`tinytorch.core.benchmarking.ab_compare`): the two contenders timed in alternated rounds, the
per-round time ratio TinyTorch/PyTorch, a confidence interval of it and a verdict. Before timing,
each op's outputs are checked to agree (same inputs in both frameworks), so a fast wrong op cannot
win.

Ops (forward, or forward + backward where it says so): matmul, conv2d, conv2d + backward,
max-pool, ReLU, softmax, log-softmax, batch norm (training), a Dense layer + backward,
cross-entropy + backward. Models: tinytorch-benchmarking's models (MLP, the reference CNN, the
CIFAR-10 recipe's CNN with batch norm) through :func:`~tinytorch.core.benchmarking.compare_with_torch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.benchmarking import (MODELS, ab_compare, compare_with_torch, import_torch)
from tinytorch.core.layers import Dense
from tinytorch.core.spatial import BatchNorm2d, conv2d, max_pool2d
from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.training import cross_entropy

__all__ = ["OpCase", "op_cases", "check_case", "compare_ops", "compare_models", "time_ratio"]


@dataclass
class OpCase:
    """One op in both frameworks on the same data.

    Attributes:
        name: what is timed, e.g. "conv2d 3x3 fwd+bwd (32, 32, 16, 16) -> 64".
        tinytorch: zero-argument callable; returns an array to check (or None).
        torch: the same in PyTorch; returns an array to check (or None).
        work: items per call (for a rate), e.g. the batch size.
        tolerance: relative tolerance of the agreement check.
    """

    name: str
    tinytorch: Callable[[], Any]
    torch: Callable[[], Any]
    work: int | None = None
    tolerance: float = 1e-4


def time_ratio(result: Any) -> float:
    """TinyTorch's median time over PyTorch's, from an A/B result (A = PyTorch)."""
    return float(result.change.ratio)


def _np(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x)


def op_cases(torch: Any, scale: float = 1.0, seed: int = 0) -> list:
    """The op cases, with inputs drawn once (sizes multiplied by ``scale``, at least 1)."""
    rng = np.random.default_rng(seed)
    F = torch.nn.functional
    s = lambda n: max(1, int(round(n * scale)))  # noqa: E731
    cases = []

    a, b = (rng.standard_normal((s(256), 512), dtype=np.float32),
            rng.standard_normal((512, 256), dtype=np.float32))
    ta, tb = from_numpy(a), from_numpy(b)
    qa, qb = torch.from_numpy(a), torch.from_numpy(b)
    cases.append(OpCase(f"matmul ({a.shape[0]}, 512) @ (512, 256)", lambda: ta @ tb, lambda: qa @ qb,
                        a.shape[0]))

    x = rng.standard_normal((s(32), 32, 16, 16), dtype=np.float32)
    w = rng.standard_normal((64, 32, 3, 3), dtype=np.float32) * 0.1
    tx, tw = from_numpy(x), from_numpy(w)
    qx, qw = torch.from_numpy(x), torch.from_numpy(w)

    def tt_conv() -> Any:
        with no_grad():
            return conv2d(tx, tw, padding=1)

    def th_conv() -> Any:
        with torch.no_grad():
            return F.conv2d(qx, qw, padding=1)
    cases.append(OpCase(f"conv2d 3x3 fwd {x.shape} -> 64", tt_conv, th_conv, x.shape[0], 1e-3))

    txg, twg = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    qxg, qwg = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(w.copy()).requires_grad_()

    def tt_conv_bwd() -> Any:
        txg.grad = twg.grad = None
        conv2d(txg, twg, padding=1).sum().backward()
        return twg.grad

    def th_conv_bwd() -> Any:
        qxg.grad = qwg.grad = None
        F.conv2d(qxg, qwg, padding=1).sum().backward()
        return qwg.grad
    cases.append(OpCase(f"conv2d 3x3 fwd+bwd {x.shape} -> 64", tt_conv_bwd, th_conv_bwd,
                        x.shape[0], 1e-3))

    p = rng.standard_normal((s(64), 32, 32, 32), dtype=np.float32)
    tp, qp = from_numpy(p), torch.from_numpy(p)

    def tt_pool() -> Any:
        with no_grad():
            return max_pool2d(tp, 2)

    def th_pool() -> Any:
        with torch.no_grad():
            return F.max_pool2d(qp, 2)
    cases.append(OpCase(f"max_pool2d 2x2 {p.shape}", tt_pool, th_pool, p.shape[0]))

    relu = ReLU()

    def tt_relu() -> Any:
        with no_grad():
            return relu(tp)

    def th_relu() -> Any:
        with torch.no_grad():
            return torch.relu(qp)
    cases.append(OpCase(f"relu {p.shape}", tt_relu, th_relu, p.shape[0]))

    z = rng.standard_normal((s(256), 1000), dtype=np.float32)
    tz, qz = from_numpy(z), torch.from_numpy(z)

    def tt_softmax() -> Any:
        with no_grad():
            return tz.softmax(axis=-1)

    def th_softmax() -> Any:
        with torch.no_grad():
            return torch.softmax(qz, dim=-1)

    def tt_logsm() -> Any:
        with no_grad():
            return tz.log_softmax(axis=-1)

    def th_logsm() -> Any:
        with torch.no_grad():
            return torch.log_softmax(qz, dim=-1)
    cases.append(OpCase(f"softmax {z.shape}", tt_softmax, th_softmax, z.shape[0]))
    cases.append(OpCase(f"log_softmax {z.shape}", tt_logsm, th_logsm, z.shape[0]))

    bn = BatchNorm2d(32)
    qbn = torch.nn.BatchNorm2d(32)

    def tt_bn() -> Any:
        with no_grad():
            return bn(tx)

    def th_bn() -> Any:
        with torch.no_grad():
            return qbn(qx)
    cases.append(OpCase(f"batch_norm2d train fwd {x.shape}", tt_bn, th_bn, x.shape[0], 1e-3))

    d_in = rng.standard_normal((s(128), 784), dtype=np.float32)
    dense = Dense(784, 256)
    qdense = torch.nn.Linear(784, 256)
    with torch.no_grad():
        qdense.weight.copy_(torch.from_numpy(dense.weight.data))
        qdense.bias.copy_(torch.from_numpy(dense.bias.data))
    td, qd = from_numpy(d_in), torch.from_numpy(d_in)

    def tt_dense() -> Any:
        dense.weight.grad = dense.bias.grad = None
        dense(td).sum().backward()
        return dense.weight.grad

    def th_dense() -> Any:
        qdense.zero_grad(set_to_none=True)
        qdense(qd).sum().backward()
        return qdense.weight.grad
    cases.append(OpCase(f"Dense 784->256 fwd+bwd, batch {d_in.shape[0]}", tt_dense, th_dense,
                        d_in.shape[0], 1e-3))

    logits = rng.standard_normal((s(256), 10), dtype=np.float32)
    labels = rng.integers(0, 10, size=logits.shape[0])
    tl, ql = Tensor(logits, requires_grad=True), torch.from_numpy(logits.copy()).requires_grad_()
    qlab = torch.from_numpy(labels)

    def tt_ce() -> Any:
        tl.grad = None
        cross_entropy(tl, labels).backward()
        return tl.grad

    def th_ce() -> Any:
        ql.grad = None
        F.cross_entropy(ql, qlab).backward()
        return ql.grad
    cases.append(OpCase(f"cross_entropy fwd+bwd {logits.shape}", tt_ce, th_ce, logits.shape[0]))
    return cases


def check_case(case: OpCase) -> float:
    """The largest relative difference of the two outputs; ValueError beyond the tolerance."""
    a, b = _np(case.tinytorch()), _np(case.torch())
    if a.shape != b.shape:
        raise ValueError(f"{case.name}: shapes differ: TinyTorch {a.shape}, PyTorch {b.shape}")
    rel = float(np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-12)) if a.size else 0.0
    if rel > case.tolerance:
        raise ValueError(f"{case.name}: TinyTorch and PyTorch differ by {rel:.2e} (relative), "
                         f"more than {case.tolerance:g}")
    return rel


def compare_ops(rounds: int = 7, min_time: float = 0.05, scale: float = 1.0,
                threads: int | None = None, progress: bool = True) -> list:
    """Each op case checked, then timed A/B (A = PyTorch, B = TinyTorch).

    Returns ``[{"name", "difference", "result": ABResult}]``.
    """
    torch = import_torch()
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    out = []
    try:
        for case in op_cases(torch, scale):
            diff = check_case(case)
            res = ab_compare({"PyTorch": case.torch, "TinyTorch": case.tinytorch}, title=case.name,
                             rounds=rounds, min_time=min_time, work=case.work)
            out.append({"name": case.name, "difference": diff, "result": res})
            if progress:
                print(f"  {case.name}: TinyTorch/PyTorch time {time_ratio(res):.2f}x "
                      f"({res.change.verdict})", flush=True)
    finally:
        torch.set_num_threads(previous)
    return out


def compare_models(names: Sequence[str] = ("mlp", "cnn", "cnn-bn"), batch: int = 64,
                   modes: tuple = ("throughput", "train"), rounds: int = 7, min_time: float = 0.05,
                   threads: int | None = None, progress: bool = True,
                   failures: dict | None = None) -> list:
    """The benchmarking module's :func:`compare_with_torch` on each named model.

    A model whose twins disagree is not timed (tinytorch-benchmarking refuses to); its error message
    is collected in ``failures`` (name -> message) when a dict is given, else raised.
    """
    out = []
    for name in names:
        try:
            cmp = compare_with_torch(MODELS[name], batch=batch, modes=modes, rounds=rounds,
                                     min_time=min_time, threads=threads)
        except RuntimeError as exc:
            if failures is None:
                raise
            failures[name] = str(exc)
            if progress:
                print(f"  model {name}: not timed — {exc}", flush=True)
            continue
        out.append(cmp)
        if progress:
            ratios = ", ".join(f"{m} {time_ratio(r):.2f}x" for m, r in cmp.results.items())
            print(f"  model {name}: TinyTorch/PyTorch time {ratios}", flush=True)
    return out

