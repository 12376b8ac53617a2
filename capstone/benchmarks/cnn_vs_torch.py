"""Benchmark: TinyTorch's small CNN against PyTorch CPU, same machine, same process.

    python capstone/benchmarks/cnn_vs_torch.py [--batch 128] [--rounds 7] [--steps 5]

The network (PERFORMANCE.md's reference CNN, 12.3 MFLOP per 32×32×3 image forward):

    conv(3→32, 3×3, pad 1)-ReLU-maxpool2 → conv(32→64, 3×3, pad 1)-ReLU-maxpool2
    → linear(4096→128)-ReLU → linear(128→10), cross-entropy

What it does, in order:
1. builds the model in TinyTorch as a ``Sequential`` (tinytorch.core.spatial layers +
   tinytorch.core.layers.Dense) and copies its weights into the same ``nn.Sequential`` in
   PyTorch;
2. checks correctness before timing anything: loss and every parameter gradient of one batch,
   TinyTorch fused kernels vs TinyTorch composite path vs PyTorch, and the Sequential (which
   runs each ReLU after the max-pool that follows it) against its layers called one by one in
   the written order — the same bits;
3. measures numpy's float32 GEMM throughput (1024³) — the ceiling for any numpy framework;
4. times training steps (forward + backward + SGD update) and inference (forward only, no
   graph) of both, alternating the contenders round by round (the machine drifts), and
   reports medians, img/s and the ratio — for TinyTorch also with the layers called in the
   written order ("as written": every ReLU on the full-size conv output, as PyTorch runs it);
5. times the two conv layers' fused forward + backward kernels alone (in the same rounds) and
   reports their GFLOP/s as a fraction of the GEMM ceiling.

PyTorch uses ``torch.set_num_threads(--threads)``; numpy's BLAS uses its default (all cores);
TinyTorch is timed with its fused kernels on one thread and split across ``--threads``
threads. This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
import statistics
import time

import numpy as np

import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)
from tinytorch.core.autograd import no_grad
from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense
from tinytorch.core.spatial import (
    Conv2d,
    Flatten,
    MaxPool2d,
    conv2d_fused_backward,
    fused_kernels,
)
from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads, threads

try:  # module 10, if it has landed
    from tinytorch.core.optimizers import SGD  # type: ignore
except ImportError:  # pragma: no cover - depends on what is installed
    SGD = None


class SmallCNN(Sequential):
    """conv-ReLU-pool ×2 → dense-ReLU → dense, built exactly like its PyTorch twin.

    A ``Sequential`` in the same order as the ``nn.Sequential`` it is compared with, so the
    state_dict keys are the same ("0.weight", "3.weight", "7.weight", "9.weight"). Note what
    that means for speed: TinyTorch's ``Sequential`` runs each ``[ReLU(), MaxPool2d(2)]`` pair
    as pool-then-ReLU (identical outputs and gradients, proved in
    integration/test_spatial_relu_pool_order.py), so its ReLUs touch 4× fewer values;
    PyTorch's does not reorder. ``run_as_written`` runs the layers one by one in the written
    order instead — the benchmark times that too, so both numbers are on the table.
    """

    def __init__(self) -> None:
        super().__init__(
            Conv2d(3, 32, 3, padding=1), ReLU(), MaxPool2d(2),
            Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),
            Flatten(), Dense(64 * 8 * 8, 128), ReLU(), Dense(128, 10),
        )

    def run_as_written(self, x: Tensor) -> Tensor:
        """The forward pass without Sequential's reordering: ReLU before each pool."""
        for layer in self:
            x = layer(x)
        return x


def cross_entropy(logits: Tensor, labels: np.ndarray) -> Tensor:
    """Mean negative log-likelihood of the labels under softmax(logits)."""
    return -logits.log_softmax(axis=-1).gather_rows(labels).mean()


class PlainSGD:
    """p ← p - lr·grad, in place (used when tinytorch-optimizers is not installed)."""

    def __init__(self, params: list, lr: float) -> None:
        self.params = params
        self.lr = lr

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.data -= np.asarray(self.lr, dtype=p.data.dtype) * p.grad.data

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def make_optimizer(params: list, lr: float):
    if SGD is not None:
        return SGD(params, lr=lr), "tinytorch.core.optimizers.SGD"
    return PlainSGD(params, lr), "plain in-place SGD loop (tinytorch-optimizers not installed)"


def torch_model(torch, ours: SmallCNN):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10),
    )
    state = ours.state_dict()  # the same keys: both are Sequentials of the same layers
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.from_numpy(state[name]))
    return model


def _gradients(torch, model: SmallCNN, tmodel, x: np.ndarray, y: np.ndarray) -> dict:
    """Loss and parameter gradients of one batch: TinyTorch fused (as Sequential runs it, and
    layer by layer in the written order), TinyTorch composite, torch."""
    results = {}
    for name, fused, forward in (("fused", True, model), ("written", True, model.run_as_written),
                                 ("composite", False, model)):
        model.zero_grad()
        with fused_kernels(fused):
            loss = cross_entropy(forward(from_numpy(x)), y)
            loss.backward()
        results[name] = (loss.item(), {n: p.grad.data.copy() for n, p in model.named_parameters()})
    tmodel.zero_grad()
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    tgrads = {name: p.grad.numpy().copy() for name, p in tmodel.named_parameters()}
    results["torch"] = (tloss.item(), tgrads)
    model.zero_grad()
    tmodel.zero_grad()
    return results


def check_correctness(torch, model: SmallCNN, tmodel, x: np.ndarray, y: np.ndarray) -> None:
    """Loss and gradients: fused vs composite vs PyTorch, for the same weights and batch.

    First in float64, where the three must agree to ~1e-12: this is the real test. Then in
    float32, where they agree to ~1e-6 except for two rare events among the 4 million values
    of a batch: a rounding difference of ~1e-7 flips a ReLU or max-pool decision for a value
    within rounding of 0 or of its neighbour, or two float32 values in one pooling window are
    exactly equal (the composite max-pool then shares the gradient, fused and PyTorch give it
    to the first). Either moves one element's gradient, so the float32 tolerance is looser.
    And in both, the fused model as Sequential runs it (ReLU after each pool) must give the
    same bits as its layers run in the written order.
    """

    def rel(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.abs(a - b).max() / (np.abs(b).max() + 1e-30))

    params = list(model.parameters())
    for dtype, tol in ((np.float64, 1e-8), (np.float32, 2e-2)):
        for p in params:
            p.data = p.data.astype(dtype)
        tmodel.to(torch.float64 if dtype == np.float64 else torch.float32)
        r = _gradients(torch, model, tmodel, x.astype(dtype), y)
        worst = 0.0
        lines = []
        same_bits = r["fused"][0] == r["written"][0]
        for name in r["fused"][1]:
            f, c, t = r["fused"][1][name], r["composite"][1][name], r["torch"][1][name]
            a, b = rel(f, c), rel(f, t)
            worst = max(worst, a, b)
            same_bits &= f.tobytes() == r["written"][1][name].tobytes()
            lines.append(f"    {name:9s} fused vs composite {a:.1e}   fused vs torch {b:.1e}")
        print(f"correctness in {np.dtype(dtype).name} (max |difference| / max |reference|):")
        print(f"    loss: fused {r['fused'][0]:.9f}  composite {r['composite'][0]:.9f}  "
              f"torch {r['torch'][0]:.9f}")
        print("\n".join(lines))
        print("    fused, ReLU after each pool vs in the written order: "
              + ("the same bits" if same_bits else "DIFFERENT"))
        if worst > tol or abs(r["fused"][0] - r["torch"][0]) > tol or not same_bits:
            raise SystemExit(f"the fused path disagrees in {np.dtype(dtype).name} (worst relative "
                             f"error {worst:.1e} > {tol:.0e}, or the reordering changed a bit): "
                             "not timing it")
    for p in params:
        p.data = p.data.astype(np.float32)
    tmodel.to(torch.float32)
    print("    all agree")


def gemm_gflops(repeats: int = 7, workers: int = 1) -> float:
    """numpy float32 GEMM throughput, 1024³, median of ``repeats``.

    With ``workers`` > 1, that many Python threads multiply their own matrices at once (numpy
    releases the GIL) and the rate is their total: the machine's GEMM ceiling when BLAS runs
    single-threaded inside each — the way the data-parallel kernels use it.
    """
    rng = np.random.default_rng(0)
    mats = [(rng.standard_normal((1024, 1024)).astype(np.float32),
             rng.standard_normal((1024, 1024)).astype(np.float32)) for _ in range(workers)]
    outs = [np.empty((1024, 1024), np.float32) for _ in range(workers)]

    def one(i: int) -> None:
        np.matmul(mats[i][0], mats[i][1], out=outs[i])

    pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def run() -> None:
        if pool is None:
            one(0)
        else:
            list(pool.map(one, range(workers)))

    run()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    if pool is not None:
        pool.shutdown()
    return workers * 2 * 1024 ** 3 / statistics.median(times) / 1e9


def conv_kernel_seconds(model: SmallCNN, batch: int) -> float:
    """Seconds for the two conv layers' fused forward + backward on the CNN's real shapes."""
    rng = np.random.default_rng(1)
    x1 = Tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32))
    x2 = Tensor(rng.standard_normal((batch, 32, 16, 16)).astype(np.float32), requires_grad=True)
    g1 = rng.standard_normal((batch, 32, 32, 32)).astype(np.float32)
    g2 = rng.standard_normal((batch, 64, 16, 16)).astype(np.float32)
    t0 = time.perf_counter()
    for layer, x, g in ((model[0], x1, g1), (model[3], x2, g2)):
        out = layer(x)
        conv2d_fused_backward(g, out._node)
        del out
    return time.perf_counter() - t0


def conv_flops(batch: int) -> float:
    """GEMM flops of the two conv layers, forward + backward: 2·M·K·C_out for the forward,
    the same again for dweight and for dx (conv1's input needs no gradient)."""
    return (2 * batch * 32 * 32 * 27 * 32) * 2 + (2 * batch * 16 * 16 * 288 * 64) * 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=7, help="alternations of the contenders")
    parser.add_argument("--steps", type=int, default=5, help="steps timed per round")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads, and TinyTorch's data-parallel threads")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    rng = np.random.default_rng(0)
    n = args.batch
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int64)

    model = SmallCNN()
    tmodel = torch_model(torch, model)
    check_correctness(torch, model, tmodel, x, y)

    opt, opt_name = make_optimizer(list(model.parameters()), lr=0.01)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def tt_train() -> None:
        opt.zero_grad()
        loss = cross_entropy(model(from_numpy(x)), y)
        loss.backward()
        opt.step()

    def tt_infer() -> None:
        with no_grad():
            model(from_numpy(x))

    def tt_train_written() -> None:  # the same, without Sequential's ReLU-after-pool
        opt.zero_grad()
        loss = cross_entropy(model.run_as_written(from_numpy(x)), y)
        loss.backward()
        opt.step()

    def tt_infer_written() -> None:
        with no_grad():
            model.run_as_written(from_numpy(x))

    def torch_train() -> None:
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        loss.backward()
        topt.step()

    def torch_infer() -> None:
        with torch.no_grad():
            tmodel(tx)

    blas_default = get_blas_threads()
    # TinyTorch: its fused kernels on the calling thread only (numpy's BLAS with its own
    # threads), and splitting each batch across `--threads` threads (BLAS single-threaded while
    # they run; the Dense layers keep BLAS's threads either way).
    # And a third time with numpy's BLAS single-threaded everywhere (Dense layers included).
    configs = {
        "tinytorch, 1 thread": lambda: threads(1),
        f"tinytorch, {args.threads} threads": lambda: threads(args.threads),
        f"tinytorch, {args.threads} thr, BLAS 1": lambda: threads(args.threads, blas=1),
    }
    contenders = {}
    for label, config in configs.items():
        contenders[f"{label} train"] = (config, tt_train)
        contenders[f"{label} infer"] = (config, tt_infer)
    best = f"tinytorch, {args.threads} thr, BLAS 1"
    written = f"{best}, as written"  # ReLU before each pool, like PyTorch runs it
    contenders[f"{written} train"] = (configs[best], tt_train_written)
    contenders[f"{written} infer"] = (configs[best], tt_infer_written)
    contenders["torch train"] = (nullcontext, torch_train)
    contenders["torch infer"] = (nullcontext, torch_infer)
    for config, fn in contenders.values():  # warm up (buffers, caches, thread pools)
        with config():
            for _ in range(2):
                fn()
    per_step: dict = {k: [] for k in contenders}
    conv_times: dict = {k: [] for k in configs}
    # GEMM: one BLAS thread; numpy's default BLAS threads; and `--threads` Python threads
    # each on one BLAS thread (when numpy's OpenBLAS lets us switch its thread count).
    gemm_setups = {"1 thread": (1, 1)}
    if blas_default and blas_default > 1:
        gemm_setups[f"{blas_default} BLAS threads"] = (blas_default, 1)
    if blas_default is not None and args.threads > 1:
        gemm_setups[f"{args.threads} Python threads × 1 BLAS thread"] = (1, args.threads)
    gemm: dict = {k: [] for k in gemm_setups}
    for _ in range(args.rounds):
        for k, (blas, workers) in gemm_setups.items():
            if blas_default is not None:
                set_blas_threads(blas)
            gemm[k].append(gemm_gflops(3, workers))
        if blas_default is not None:
            set_blas_threads(blas_default)
        for name, (config, fn) in contenders.items():
            with config():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    fn()
                per_step[name].append((time.perf_counter() - t0) / args.steps)
        for label, config in configs.items():
            with config():
                conv_times[label].append(conv_kernel_seconds(model, n))
    med = {k: statistics.median(v) for k, v in per_step.items()}
    ips = {k: n / v for k, v in med.items()}
    gemm_med = {b: statistics.median(v) for b, v in gemm.items()}
    gemm_rate = max(gemm_med.values())  # the ceiling: the best way numpy can multiply here
    conv = {}
    for label, times in conv_times.items():
        t = statistics.median(times)
        conv[label] = (conv_flops(n) / t / 1e9, t)

    print(f"\nbatch {n}, {args.rounds} rounds × {args.steps} steps, medians; torch threads "
          f"{torch.get_num_threads()}; numpy BLAS threads {blas_default}; optimizer: {opt_name}")
    # the ratio of each round (the contenders ran back to back), then the median over rounds:
    # robust to the machine drifting between rounds
    def ratio(label: str, kind: str) -> float:
        return statistics.median(t / o for t, o in zip(per_step[f"torch {kind}"],
                                                       per_step[f"{label} {kind}"]))

    print(f"{'':40s}{'train img/s':>12s}{'vs torch':>10s}{'infer img/s':>13s}{'vs torch':>10s}")
    for label in ("torch", *configs, written):
        a, b = ips[f"{label} train"], ips[f"{label} infer"]
        print(f"{label:40s}{a:12.0f}{ratio(label, 'train'):9.2f}×{b:13.0f}"
              f"{ratio(label, 'infer'):9.2f}×")
    print("(img/s: medians over rounds; ratios: medians of the per-round ratios; \"as written\":"
          "\n the layers called one by one, so each ReLU runs before its pool, as in PyTorch;"
          "\n the other TinyTorch rows run the Sequential, which applies it after the pool)")
    train_flops = 3 * 12.3e6 * n
    print("\nnumpy float32 GEMM 1024³: " + ", ".join(
        f"{r:.0f} GFLOP/s on {k}" for k, r in gemm_med.items())
        + f" (ceiling used below: {gemm_rate:.0f})")
    for label in configs:
        rate, t = conv[label]
        whole = train_flops / med[f"{label} train"] / 1e9
        print(f"{label:24s} conv layers' fused forward + backward: {t * 1e3:.1f} ms per batch, "
              f"{rate:.0f} GFLOP/s = {rate / gemm_rate:.0%} of GEMM; whole training step "
              f"~{whole:.0f} GFLOP/s = {whole / gemm_rate:.0%}")
    if hasattr(os, "getloadavg"):
        print(f"\nload average (1 min) at the start {load_start:.1f}, at the end "
              f"{os.getloadavg()[0]:.1f}, on {os.cpu_count()} CPUs: other processes "
              "competing for the cores slow every contender, multi-threaded BLAS most")


if __name__ == "__main__":
    main()
