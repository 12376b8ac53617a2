"""Benchmark: training an MLP 784-128-10 at batch 128, TinyTorch against PyTorch CPU.

    python capstone/benchmarks/mlp_vs_torch.py [--batch 128] [--rounds 30] [--steps 5]

What it does, in order:
1. builds the MLP with TinyTorch's modules (tinytorch.core.dense.MLP: Dense-ReLU-Dense), and
   the same network from raw Tensors, and copies the weights into a PyTorch
   ``nn.Sequential(Linear, ReLU, Linear)``;
2. checks correctness before timing anything: the loss and every gradient of one batch agree
   with PyTorch's, and so do the weights after a few steps of SGD with momentum;
3. times whole training steps (forward, cross-entropy, backward, ``SGD.step``) of the three
   contenders, rotating their order every round (the machine drifts), and prints the
   median time per step, images/second, and TinyTorch's throughput relative to PyTorch
   (from the medians, and as the median of the ratios within each round — short rounds
   keep both contenders under the same machine state);
4. times one ``a + b`` on small tensors: numpy, TinyTorch without and with
   ``requires_grad`` (the latter records a graph node), PyTorch likewise — the fixed cost
   every op pays, which dominates at this model size.

PyTorch runs with ``torch.set_num_threads(2)`` (``--torch-threads``); numpy's BLAS uses its
default (set ``OPENBLAS_NUM_THREADS``). This is a benchmark, not a test: it asserts nothing
about speed. The load average is printed because other processes on a 2-core machine change
the numbers a lot — multi-threaded BLAS and PyTorch's thread pool both degrade badly when the
cores are oversubscribed; compare ratios, not times, and prefer runs on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import timeit

import numpy as np

import torch

from tinytorch.core.dense import MLP
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor, manual_seed

LR, MOMENTUM = 0.01, 0.9


# ---------------------------------------------------------------- the contenders
def cross_entropy(logits: Tensor, labels: np.ndarray) -> Tensor:
    """Mean negative log-likelihood of the labels under softmax(logits)."""
    return -logits.log_softmax(axis=-1).gather_rows(labels).mean()


class RawMLP:
    """The same network as plain Tensor ops, without any Module machinery."""

    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray) -> None:
        self.params = [Tensor(a, requires_grad=True) for a in (w1.T, b1, w2.T, b2)]

    def __call__(self, x: Tensor) -> Tensor:
        w1, b1, w2, b2 = self.params
        return ((x @ w1 + b1).relu()) @ w2 + b2


def tinytorch_step(model, opt: SGD, x: Tensor, y: np.ndarray) -> float:
    opt.zero_grad()
    loss = cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.data.item()


def torch_step(model, opt, loss_fn, x, y) -> float:
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def build(batch: int, n_batches: int = 8) -> dict:
    manual_seed(0)
    ours = MLP(784, [128], 10)
    layers = [m for m in ours if hasattr(m, "weight")]
    w1, b1 = layers[0].weight.data, layers[0].bias.data
    w2, b2 = layers[1].weight.data, layers[1].bias.data
    raw = RawMLP(w1, b1, w2, b2)
    ref = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    with torch.no_grad():
        for dst, src in zip(ref.parameters(), (w1, b1, w2, b2)):
            dst.copy_(torch.from_numpy(src.copy()))
    rng = np.random.default_rng(1)
    xs = [rng.random((batch, 784), dtype=np.float32) for _ in range(n_batches)]
    ys = [rng.integers(0, 10, batch) for _ in range(n_batches)]
    return {
        "ours": ours, "raw": raw, "ref": ref,
        "opt": SGD(list(ours.parameters()), lr=LR, momentum=MOMENTUM),
        "raw_opt": SGD(raw.params, lr=LR, momentum=MOMENTUM),
        "ref_opt": torch.optim.SGD(ref.parameters(), lr=LR, momentum=MOMENTUM),
        "loss_fn": torch.nn.CrossEntropyLoss(),
        "xs": [Tensor(x) for x in xs], "ys": ys,
        "txs": [torch.from_numpy(x) for x in xs], "tys": [torch.from_numpy(y) for y in ys],
    }


# ---------------------------------------------------------------- correctness first
def check(b: dict) -> None:
    ours, raw, ref = b["ours"], b["raw"], b["ref"]
    x, y, tx, ty = b["xs"][0], b["ys"][0], b["txs"][0], b["tys"][0]
    loss = cross_entropy(ours(x), y)
    loss.backward()
    raw_loss = cross_entropy(raw(x), y)
    raw_loss.backward()
    ref_loss = b["loss_fn"](ref(tx), ty)
    ref_loss.backward()
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=1e-5)
    np.testing.assert_allclose(raw_loss.item(), ref_loss.item(), rtol=1e-5)
    for p, r, q in zip(ours.parameters(), raw.params, ref.parameters()):
        g = q.grad.numpy()
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(r.grad.data, g.T if g.ndim == 2 else g, rtol=1e-4, atol=1e-6)
    for opt in (b["opt"], b["raw_opt"], b["ref_opt"]):
        opt.zero_grad()
    for k in range(5):
        tinytorch_step(ours, b["opt"], b["xs"][k], b["ys"][k])
        tinytorch_step(raw, b["raw_opt"], b["xs"][k], b["ys"][k])
        torch_step(ref, b["ref_opt"], b["loss_fn"], b["txs"][k], b["tys"][k])
    for p, r, q in zip(ours.parameters(), raw.params, ref.parameters()):
        w = q.detach().numpy()
        np.testing.assert_allclose(p.data, w, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(r.data, w.T if w.ndim == 2 else w, rtol=1e-4, atol=1e-5)
        assert p.dtype == np.float32
    print("correctness: loss, gradients and 5 SGD-momentum steps agree with PyTorch")


# ---------------------------------------------------------------- timing
def time_training(b: dict, rounds: int, steps: int) -> dict:
    n = len(b["xs"])
    runs = {
        "TinyTorch (MLP modules)": lambda k: tinytorch_step(b["ours"], b["opt"], b["xs"][k % n], b["ys"][k % n]),
        "TinyTorch (raw tensors)": lambda k: tinytorch_step(b["raw"], b["raw_opt"], b["xs"][k % n], b["ys"][k % n]),
        "PyTorch CPU": lambda k: torch_step(b["ref"], b["ref_opt"], b["loss_fn"], b["txs"][k % n], b["tys"][k % n]),
    }
    names = list(runs)
    per_step = {name: [] for name in names}
    for name in names:  # warm up
        for k in range(3):
            runs[name](k)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
        for name in order:
            run = runs[name]
            start = time.perf_counter()
            for k in range(steps):
                run(k)
            per_step[name].append((time.perf_counter() - start) / steps)
    medians = {name: statistics.median(ts) for name, ts in per_step.items()}
    # the ratio within each round (same machine state), then its median: robust to drift
    ref = per_step["PyTorch CPU"]
    ratios = {name: statistics.median(r / t for r, t in zip(ref, ts)) for name, ts in per_step.items()}
    return medians, ratios


def time_small_add(shape: tuple = (16,), number: int = 20000, repeat: int = 7) -> dict:
    a_np = np.ones(shape, dtype=np.float32)
    b_np = np.ones(shape, dtype=np.float32)
    a, b = Tensor(a_np), Tensor(b_np)
    ag, bg = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    ta, tb = torch.ones(shape), torch.ones(shape)
    tag, tbg = torch.ones(shape, requires_grad=True), torch.ones(shape, requires_grad=True)
    cases = {
        "numpy": lambda: a_np + b_np,
        "TinyTorch": lambda: a + b,
        "TinyTorch, requires_grad": lambda: ag + bg,
        "PyTorch": lambda: ta + tb,
        "PyTorch, requires_grad": lambda: tag + tbg,
    }
    out = {}
    for name, fn in cases.items():
        times = timeit.repeat(fn, number=number, repeat=repeat)
        out[name] = min(times) / number  # best of the repeats: the cost without interruptions
    return out


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=30, help="timing rounds (median taken)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    parser.add_argument("--torch-threads", type=int, default=2,
                        help="torch.set_num_threads (2 is the reference setting; 1, together with "
                             "OPENBLAS_NUM_THREADS=1, compares single cores on a busy machine)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.torch_threads)
    blas = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default"
    print(f"numpy {np.__version__} (BLAS threads: {blas}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    bench = build(args.batch)
    check(bench)

    medians, ratios = time_training(bench, args.rounds, args.steps)
    torch_s = medians["PyTorch CPU"]
    print(f"\nMLP 784-128-10, batch {args.batch}, SGD(lr={LR}, momentum={MOMENTUM}); "
          f"median of {args.rounds} rounds × {args.steps} steps")
    print(f"{'contender':28s} {'ms/step':>9s} {'images/s':>10s} {'vs PyTorch':>11s} "
          f"{'per-round ratio':>16s}")
    for name, s in medians.items():
        print(f"{name:28s} {s * 1e3:9.3f} {args.batch / s:10.0f} {torch_s / s:10.2f}× "
              f"{ratios[name]:15.2f}×")

    adds = time_small_add()
    print("\none `a + b` on float32 tensors of shape (16,), best of 7 × 20000")
    for name, s in adds.items():
        print(f"{name:28s} {s * 1e6:8.2f} µs")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
