"""Benchmark: TinyTorch's small CNN against PyTorch CPU, side by side, by the rules of vs_torch.py.

    python capstone/benchmarks/cnn_vs_torch.py [--rounds 7] [--steps 4] [--batch 128]
    python capstone/benchmarks/cnn_vs_torch.py --readme     # only re-render the docs' figures

The network (the reference small CNN, 12.3 MFLOP per 32×32×3 image forward):

    conv(3→32, 3×3, pad 1)-ReLU-maxpool2 → conv(32→64, 3×3, pad 1)-ReLU-maxpool2
    → linear(4096→128)-ReLU → linear(128→10), cross-entropy, SGD(lr=0.01)

What it does, in order:
1. builds the model in TinyTorch (a ``Sequential`` of tinytorch.core.spatial layers and
   Dense) and copies its weights into the same ``nn.Sequential`` in PyTorch;
2. checks the first step before timing anything: loss and every gradient of one batch,
   TinyTorch fused vs composite vs PyTorch, in float64 (must agree to 1e-8 relative) and in
   float32 (the figure the results file keeps; tolerance 2e-2 because one rounding-level
   difference can flip a ReLU or max-pool decision for one value — measured differences are
   printed); and the Sequential (which applies each ReLU after the max-pool that follows it:
   the same values, 4× fewer of them) against its layers called in the written order: the
   same bits;
3. times training steps (forward + backward + SGD update) and inference (forward, no graph)
   of both, interleaved with a 0.3 s pause before each run, under each thread setting: one
   thread each; two each with TinyTorch's default configuration (its kernels on two threads,
   numpy's BLAS on one inside them); ``--settings 2b`` adds TinyTorch's old default,
   ``threads(2, blas=2)``;
4. measures the peak memory of one training step on each side: a fresh process per side
   builds the model and the batch, then runs one step; the rise of its peak RSS (VmHWM) over
   its RSS just before, at each side's default threads.

Writes capstone/benchmarks/results/cnn_vs_torch.json and renders the docs' figures from it.
This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_torch as h  # noqa: E402

WORKLOADS = {"cnn_train": "small CNN train, batch {n}", "cnn_infer": "small CNN inference, batch {n}"}
LR = 0.01


def tinytorch_parts():
    """TinyTorch's model class and helpers (imported here: ``--readme`` needs none of it)."""
    import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)
    from tinytorch.core.activations import ReLU
    from tinytorch.core.dense import Sequential
    from tinytorch.core.layers import Dense
    from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d

    class SmallCNN(Sequential):
        """conv-ReLU-pool ×2 → dense-ReLU → dense, in the order of its PyTorch twin (the same
        state_dict keys). TinyTorch's ``Sequential`` runs each ``[ReLU(), MaxPool2d(2)]`` pair
        as pool-then-ReLU (identical outputs and gradients); ``run_as_written`` does not."""

        def __init__(self) -> None:
            super().__init__(
                Conv2d(3, 32, 3, padding=1), ReLU(), MaxPool2d(2),
                Conv2d(32, 64, 3, padding=1), ReLU(), MaxPool2d(2),
                Flatten(), Dense(64 * 8 * 8, 128), ReLU(), Dense(128, 10),
            )

        def run_as_written(self, x):
            for layer in self:
                x = layer(x)
            return x

    return SmallCNN


def cross_entropy(logits, labels: np.ndarray):
    """Mean negative log-likelihood of the labels under softmax(logits)."""
    return -logits.log_softmax(axis=-1).gather_rows(labels).mean()


def torch_model(torch, ours):
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


def _one_batch(torch, model, tmodel, x: np.ndarray, y: np.ndarray) -> dict:
    """Loss and gradients of one batch: fused (as Sequential runs it, and in the written
    order), composite, torch."""
    from tinytorch.core.spatial import fused_kernels
    from tinytorch.core.tensor import from_numpy

    out = {}
    for name, fused, forward in (("fused", True, model), ("written", True, model.run_as_written),
                                 ("composite", False, model)):
        model.zero_grad()
        with fused_kernels(fused):
            loss = cross_entropy(forward(from_numpy(x)), y)
            loss.backward()
        out[name] = (loss.item(), {n: p.grad.data.copy() for n, p in model.named_parameters()})
    tmodel.zero_grad()
    tloss = torch.nn.functional.cross_entropy(tmodel(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    out["torch"] = (tloss.item(), {n: p.grad.numpy().copy() for n, p in tmodel.named_parameters()})
    model.zero_grad()
    tmodel.zero_grad()
    return out


def check(torch, model, tmodel, x: np.ndarray, y: np.ndarray) -> list:
    """The first step in float64 (the real test: 1e-8) and float32 (kept in the results)."""
    params = list(model.parameters())
    checks = []
    for dtype, tol in ((np.float64, 1e-8), (np.float32, 2e-2)):
        for p in params:
            p.data = p.data.astype(dtype)
        tmodel.to(torch.float64 if dtype == np.float64 else torch.float32)
        r = _one_batch(torch, model, tmodel, x.astype(dtype), y)
        name = np.dtype(dtype).name
        composite = max(h.max_rel(r["fused"][1][k], r["composite"][1][k]) for k in r["fused"][1])
        same_bits = r["fused"][0] == r["written"][0] and all(
            r["fused"][1][k].tobytes() == r["written"][1][k].tobytes() for k in r["fused"][1])
        print(f"  {name}: fused vs composite gradients {composite:.1e}; Sequential's ReLU after "
              "each pool vs the written order: " + ("the same bits" if same_bits else "DIFFERENT"))
        if composite > tol or not same_bits:
            raise SystemExit(f"the fused path disagrees with the composite one in {name}: not timing")
        checks.append(h.check_first_step(r["fused"][0], r["torch"][0], r["fused"][1],
                                         r["torch"][1], loss_tol=tol, grad_tol=tol,
                                         what=f"train step, {name}"))
    for p in params:
        p.data = p.data.astype(np.float32)
    tmodel.to(torch.float32)
    return checks


def memory_child(side: str, batch: int) -> None:
    """Run in a fresh process: print the peak RSS rise of one training step on ``side``."""
    from tinytorch.core.tensor import from_numpy

    SmallCNN = tinytorch_parts()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int64)
    model = SmallCNN()
    if side == "torch":
        import torch

        tmodel = torch_model(torch, model)
        opt = torch.optim.SGD(tmodel.parameters(), lr=LR)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
            opt.step()
    else:
        from tinytorch.core.optimizers import SGD

        opt = SGD(list(model.parameters()), lr=LR)

        def step() -> None:
            opt.zero_grad()
            cross_entropy(model(from_numpy(x)), y).backward()
            opt.step()
    gc.collect()
    before = h.rss_mib("VmRSS")
    step()
    peak = h.rss_mib("VmHWM")
    after = h.rss_mib("VmRSS")
    print(json.dumps({"before_mib": before, "peak_mib": peak, "after_mib": after,
                      "rise_mib": peak - before, "kept_mib": after - before}))


def memory(batch: int) -> dict:
    out = {}
    for side in ("tinytorch", "torch"):
        proc = subprocess.run([sys.executable, __file__, "--memory-child", side, "--batch",
                               str(batch)], capture_output=True, text=True, check=True)
        out[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours, theirs = out["tinytorch"]["rise_mib"], out["torch"]["rise_mib"]
    print(f"\npeak memory of one training step (RSS rise, fresh process, default threads): "
          f"TinyTorch {ours:.0f} MiB, PyTorch {theirs:.0f} MiB "
          f"(kept afterwards: {out['tinytorch']['kept_mib']:.0f} vs {out['torch']['kept_mib']:.0f} MiB)")
    return {"title": f"peak memory of one CNN train step (RSS rise), batch {batch}",
            "tinytorch_mib": round(ours, 1), "torch_mib": round(theirs, 1),
            "memory_ratio": round(ours / theirs, 4), "detail": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--memory-child", choices=["tinytorch", "torch"], help=argparse.SUPPRESS)
    h.common_arguments(parser, rounds=7, steps=4)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.memory_child, args.batch)
    if args.readme:
        h.render_all()
        return None

    torch = h.import_torch()
    pin, results = h.start(torch, "TinyTorch vs PyTorch: the small CNN (train and inference)")
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import from_numpy, manual_seed

    manual_seed(0)
    rng = np.random.default_rng(0)
    n = args.batch
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    model = tinytorch_parts()()
    tmodel = torch_model(torch, model)
    checks = check(torch, model, tmodel, x, y)

    opt = SGD(list(model.parameters()), lr=LR)
    topt = torch.optim.SGD(tmodel.parameters(), lr=LR)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def tt_train() -> None:
        opt.zero_grad()
        cross_entropy(model(from_numpy(x)), y).backward()
        opt.step()

    def tt_infer() -> None:
        with no_grad():
            model(from_numpy(x))

    def torch_train() -> None:
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(tx), ty).backward()
        topt.step()

    def torch_infer() -> None:
        with torch.no_grad():
            tmodel(tx)

    contenders = []
    for key in args.settings:
        s = h.SETTINGS[key]
        for workload, ours, theirs in (("cnn_train", tt_train, torch_train),
                                       ("cnn_infer", tt_infer, torch_infer)):
            contenders.append(h.Contender(workload, "tinytorch", s, ours))
            if s.tinytorch_blas is None:  # PyTorch has one configuration per thread count
                contenders.append(h.Contender(workload, "torch", s, theirs))
    if "2b" in args.settings and "2" not in args.settings:
        for workload, theirs in (("cnn_train", torch_train), ("cnn_infer", torch_infer)):
            contenders.append(h.Contender(workload, "torch", h.SETTINGS["2"], theirs))
    print(f"\ntiming {len(contenders)} contenders: {args.rounds} rounds × {args.steps} steps, "
          f"batch {n}")
    timing = h.interleave(contenders, pin, args.rounds, args.steps)
    titles = {k: v.format(n=n) for k, v in WORKLOADS.items()}
    rows = h.pair_rows(contenders, timing, titles)
    h.print_rows(rows)
    results.update({
        "batch": n, "rounds": args.rounds, "steps": args.steps, "checks": checks,
        "note": "TinyTorch's Sequential applies each ReLU after the max-pool that follows it "
                "(the same values and gradients, checked bit for bit); PyTorch's runs them in "
                "the written order",
        "rows": rows, "samples": timing["samples"], "load_per_round": timing["load_per_round"],
        "threads_seen": timing["threads_seen"],
    })
    results["memory"] = memory(n)
    h.finish("cnn_vs_torch", results, args.out)
    if not args.no_readme and args.out is None:
        h.render_all()
    return None


if __name__ == "__main__":
    main()
