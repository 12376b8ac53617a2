"""Benchmark: MLPs, TinyTorch against PyTorch CPU, side by side, by the rules of vs_torch.py.

    python capstone/benchmarks/mlp_vs_torch.py [--rounds 9] [--steps 20] [--batch 128]
    python capstone/benchmarks/mlp_vs_torch.py --readme     # only re-render the docs' figures

Two workloads:

* **MLP 784-128-10 train, batch 128**: forward, cross-entropy, backward, SGD with momentum
  (tinytorch.core.dense.MLP and tinytorch.core.optimizers.SGD against nn.Sequential and
  torch.optim.SGD);
* **20-layer 16-wide MLP, batch 1, forward + backward** (``MLP(16, [16] * 19, 16)``, loss =
  the sum of the outputs, no optimizer): almost no arithmetic, so what it times is the fixed
  cost every op pays — recording the graph, the buffer pool, Python — per-op overhead.

What it does, in order:
1. builds each network in TinyTorch and copies the weights into its PyTorch twin;
2. checks the first step before timing anything: the loss and every gradient of one batch
   agree with PyTorch's (tolerances printed), and for the 784-128-10 MLP so do the weights
   after five steps of SGD with momentum;
3. times both workloads, interleaved with a 0.3 s pause before each run: one thread each, two
   each (TinyTorch's default configuration; ``--settings 2b`` adds ``threads(2, blas=2)``);
   wall and CPU time per step;
4. times one ``a + b`` on (16,) tensors — numpy, TinyTorch and PyTorch, with and without
   ``requires_grad`` — the smallest unit of that overhead (best of 7 × 20,000, one thread).

Writes capstone/benchmarks/results/mlp_vs_torch.json and renders the docs' figures from it.
This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_torch as h  # noqa: E402

LR, MOMENTUM = 0.01, 0.9
WORKLOADS = {"mlp_train": "MLP 784-128-10 train, batch {n}",
             "deep_mlp": "20-layer 16-wide MLP, batch 1, fwd+bwd (per-op overhead)"}


def cross_entropy(logits, labels: np.ndarray):
    """Mean negative log-likelihood of the labels under softmax(logits)."""
    return -logits.log_softmax(axis=-1).gather_rows(labels).mean()


def twin(torch, ours, sizes: list):
    """nn.Sequential(Linear, ReLU, ..., Linear) with ``ours``'s weights (same layout)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    with torch.no_grad():
        for dst, src in zip(model.parameters(), ours.parameters()):
            dst.copy_(torch.from_numpy(src.data.copy()))
    return model


def grads(model, torch_side: bool) -> dict:
    """Gradients by position ("0.weight", ...): the two Sequentials name layers alike."""
    if torch_side:
        return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    return {n: p.grad.data.copy() for n, p in model.named_parameters()}


def time_small_add(torch, number: int = 20000, repeat: int = 7) -> dict:
    from tinytorch.core.tensor import Tensor

    a_np, b_np = np.ones(16, np.float32), np.ones(16, np.float32)
    a, b = Tensor(a_np), Tensor(b_np)
    ag, bg = Tensor(a_np, requires_grad=True), Tensor(b_np, requires_grad=True)
    ta, tb = torch.ones(16), torch.ones(16)
    tag, tbg = torch.ones(16, requires_grad=True), torch.ones(16, requires_grad=True)
    cases = {"numpy": lambda: a_np + b_np, "TinyTorch": lambda: a + b,
             "TinyTorch, requires_grad": lambda: ag + bg, "PyTorch": lambda: ta + tb,
             "PyTorch, requires_grad": lambda: tag + tbg}
    return {k: round(min(timeit.repeat(f, number=number, repeat=repeat)) / number * 1e6, 3)
            for k, f in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    h.common_arguments(parser, rounds=9, steps=20)
    args = parser.parse_args()
    if args.readme:
        h.render_all()
        return

    torch = h.import_torch()
    pin, results = h.start(torch, "TinyTorch vs PyTorch: MLPs (784-128-10 training; "
                                  "20 layers × 16 at batch 1)")
    import tinytorch.core.autograd  # noqa: F401
    from tinytorch.core.dense import MLP
    from tinytorch.core.optimizers import SGD
    from tinytorch.core.tensor import Tensor, manual_seed

    # ------------------------------------------------ the 784-128-10 MLP, batch 128
    manual_seed(0)
    mlp = MLP(784, [128], 10)
    tmlp = twin(torch, mlp, [784, 128, 10])
    rng = np.random.default_rng(1)
    xs = [rng.random((args.batch, 784), dtype=np.float32) for _ in range(8)]
    ys = [rng.integers(0, 10, args.batch) for _ in range(8)]
    txs, tys = [torch.from_numpy(x) for x in xs], [torch.from_numpy(y) for y in ys]
    xs = [Tensor(x) for x in xs]

    loss = cross_entropy(mlp(xs[0]), ys[0])
    loss.backward()
    tloss = torch.nn.functional.cross_entropy(tmlp(txs[0]), tys[0])
    tloss.backward()
    checks = [h.check_first_step(loss.item(), tloss.item(), grads(mlp, False), grads(tmlp, True),
                                 loss_tol=1e-5, grad_tol=1e-4, what="MLP 784-128-10, float32")]
    opt = SGD(list(mlp.parameters()), lr=LR, momentum=MOMENTUM)
    topt = torch.optim.SGD(tmlp.parameters(), lr=LR, momentum=MOMENTUM)
    state = {"k": 0}

    def mlp_step() -> None:
        k = state["k"] = (state["k"] + 1) % len(xs)
        opt.zero_grad()
        cross_entropy(mlp(xs[k]), ys[k]).backward()
        opt.step()

    tstate = {"k": 0}

    def torch_mlp_step() -> None:
        k = tstate["k"] = (tstate["k"] + 1) % len(txs)
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmlp(txs[k]), tys[k]).backward()
        topt.step()

    opt.zero_grad()
    topt.zero_grad()
    for _ in range(5):
        mlp_step()
        torch_mlp_step()
    worst = max(h.max_rel(p.data, q.detach().numpy())
                for p, q in zip(mlp.parameters(), tmlp.parameters()))
    print(f"  and the weights after 5 SGD-momentum steps agree to {worst:.1e} (tolerance 1e-4)")
    if worst > 1e-4:
        raise SystemExit("the SGD steps disagree: not timing")
    checks[0]["weights_after_5_steps_max_rel_diff"] = worst

    # ------------------------------------------------ 20 layers × 16 wide, batch 1
    manual_seed(0)
    deep = MLP(16, [16] * 19, 16)
    tdeep = twin(torch, deep, [16] * 21)
    x1 = rng.standard_normal((1, 16)).astype(np.float32)
    dx, tdx = Tensor(x1), torch.from_numpy(x1)
    dl = deep(dx).sum()
    dl.backward()
    tdl = tdeep(tdx).sum()
    tdl.backward()
    checks.append(h.check_first_step(dl.item(), tdl.item(), grads(deep, False), grads(tdeep, True),
                                     loss_tol=1e-5, grad_tol=1e-4,
                                     what="20-layer 16-wide MLP, float32"))

    def deep_step() -> None:
        deep.zero_grad()
        deep(dx).sum().backward()

    def torch_deep_step() -> None:
        tdeep.zero_grad()
        tdeep(tdx).sum().backward()

    contenders = []
    for key in args.settings:
        s = h.SETTINGS[key]
        for workload, ours, theirs in (("mlp_train", mlp_step, torch_mlp_step),
                                       ("deep_mlp", deep_step, torch_deep_step)):
            contenders.append(h.Contender(workload, "tinytorch", s, ours))
            if s.tinytorch_blas is None:
                contenders.append(h.Contender(workload, "torch", s, theirs))
    print(f"\ntiming {len(contenders)} contenders: {args.rounds} rounds × {args.steps} steps")
    timing = h.interleave(contenders, pin, args.rounds, args.steps)
    titles = {k: v.format(n=args.batch) for k, v in WORKLOADS.items()}
    rows = h.pair_rows(contenders, timing, titles)
    h.print_rows(rows)

    with pin(h.SETTINGS["1"]):
        adds = time_small_add(torch)
    print("\none `a + b` on float32 tensors of shape (16,), best of 7 × 20,000, one thread:")
    for k, us in adds.items():
        print(f"  {k:28s} {us:8.2f} µs")
    results.update({"batch": args.batch, "rounds": args.rounds, "steps": args.steps,
                    "checks": checks, "rows": rows, "add_16_us": adds,
                    "samples": timing["samples"], "load_per_round": timing["load_per_round"],
                    "threads_seen": timing["threads_seen"]})
    h.finish("mlp_vs_torch", results, args.out)
    if not args.no_readme and args.out is None:
        h.render_all()


if __name__ == "__main__":
    main()
