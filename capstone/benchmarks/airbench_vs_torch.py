"""TinyTorch vs PyTorch on airbench94's network: training-step throughput, side by side.

    python capstone/benchmarks/airbench_vs_torch.py [--batch 512] [--rounds 3] [--steps 1]
                                                    [--settings 2] [--out FILE]

The network of the training module's ``airbench`` recipe (a 2×2 whitening stem, three
conv-pool-BN-GELU blocks of widths 64/256/256, batch norm without a learnable scale), built by
``airbench94_net`` and copied into ``torch.nn`` by the speed-run's ``torch_twin`` — the same
weights. One step is airbench's: forward, the summed label-smoothed (0.2) cross-entropy,
backward, Nesterov SGD with its two parameter groups. It is what ``--recipe airbench`` spends
its time on, without the data loader (both frameworks' speed-runs read the same TinyTorch loader).

PyTorch is timed twice: at its defaults (contiguous NCHW memory) and with channels-last memory
(``torch.channels_last``), which airbench94's own code uses and which is faster on CPU; the
TinyTorch side has one configuration (its convolutions are channels-last inside). The first
step is checked before anything is timed: same loss and gradients, on a small batch.
Everything else is the harness of ``vs_torch.py``: no thread or wait policy set on either side,
contenders interleaved with a pause before each run, wall and CPU time, the load average.
Results: ``capstone/benchmarks/results/airbench_vs_torch.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_torch as h  # noqa: E402

WORKLOADS = {"airbench_train": "airbench94 net train, batch {n}, PyTorch at its defaults",
             "airbench_train_cl": "airbench94 net train, batch {n}, PyTorch channels-last"}
SMOOTHING = 0.2


def build(torch, seed: int = 0):
    """(TinyTorch net, its optimizer, the twin, the twin's optimizer) with the same weights."""
    import tinytorch.core.autograd  # noqa: F401  (the engine: Tensor.backward)
    from tinytorch.capstone.speedrun import torch_twin
    from tinytorch.core.tensor import manual_seed
    from tinytorch.core.training.airbench import airbench94_net, airbench_optimizer

    manual_seed(seed)
    net = airbench94_net()
    twin = torch_twin(net, torch)
    opt = airbench_optimizer(net)
    # the twin's groups by the same rule as airbench_optimizer: batch-norm biases, the rest
    bn_bias = {id(m.bias) for m in twin if isinstance(m, torch.nn.BatchNorm2d)}
    groups = [[p for p in twin.parameters() if id(p) in bn_bias and p.requires_grad],
              [p for p in twin.parameters() if id(p) not in bn_bias and p.requires_grad]]
    tg = opt.param_groups
    topt = torch.optim.SGD([dict(params=groups[0], lr=tg[0]["lr"], weight_decay=tg[0]["weight_decay"]),
                            dict(params=groups[1], lr=tg[1]["lr"], weight_decay=tg[1]["weight_decay"])],
                           momentum=tg[0]["momentum"], nesterov=True)
    return net, opt, twin, topt


def check(torch, net, twin) -> dict:
    """Loss and gradients of one small batch (float32), before any step."""
    from tinytorch.core.tensor import from_numpy
    from tinytorch.core.training.losses import CrossEntropyLoss

    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 32).astype(np.int64)
    net.zero_grad()
    loss = CrossEntropyLoss(label_smoothing=SMOOTHING, reduction="sum")(net(from_numpy(x)), y)
    loss.backward()
    ours = {n: p.grad.data.copy() for n, p in net.named_parameters() if p.grad is not None}
    twin.zero_grad()
    tloss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y),
                                              label_smoothing=SMOOTHING, reduction="sum")
    tloss.backward()
    theirs = {n: p.grad.numpy().copy() for n, p in twin.named_parameters() if p.grad is not None}
    net.zero_grad()
    twin.zero_grad()
    # float32 through 8 layers and batch norm: rounding differs by ~1e-5 relative, not more
    return h.check_first_step(loss.item(), tloss.item(), ours, theirs, loss_tol=1e-4,
                              grad_tol=1e-3, what="airbench94 net, float32, batch 32")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--keep-freed-memory", action="store_true",
                        help="runtime.keep_freed_memory() first: glibc's malloc reuses freed big "
                             "blocks — process-wide, so for both sides alike (the speed-run does it)")
    h.common_arguments(parser, rounds=3, steps=1)
    parser.set_defaults(settings=["2"])
    args = parser.parse_args()
    if args.readme:
        return None

    memory = "the C allocator at its defaults"
    if args.keep_freed_memory:
        from tinytorch.core.tensor.runtime import keep_freed_memory
        applied = keep_freed_memory(True)
        memory = ("keep_freed_memory(): freed big blocks reused, process-wide (both sides)"
                  if applied else "keep_freed_memory() asked for, not available here")
    torch = h.import_torch()
    pin, results = h.start(torch, "TinyTorch vs PyTorch: airbench94's network, training steps")
    results["memory"] = memory
    print(f"memory: {memory}")
    from tinytorch.core.tensor import from_numpy
    from tinytorch.core.training.losses import CrossEntropyLoss

    net, opt, twin, topt = build(torch)
    checks = [check(torch, net, twin)]
    twin_cl, topt_cl = build(torch)[2:]
    twin_cl = twin_cl.to(memory_format=torch.channels_last)

    n = args.batch
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, size=n).astype(np.int64)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    tx_cl = tx.contiguous(memory_format=torch.channels_last)
    loss_fn = CrossEntropyLoss(label_smoothing=SMOOTHING, reduction="sum")

    def tt_train() -> None:
        opt.zero_grad()
        loss_fn(net(from_numpy(x)), y).backward()
        opt.step()

    def torch_step(model, optimizer, inputs):
        def step() -> None:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(inputs), ty, label_smoothing=SMOOTHING,
                                              reduction="sum").backward()
            optimizer.step()
        return step

    contenders = []
    for key in args.settings:
        s = h.SETTINGS[key]
        contenders += [h.Contender("airbench_train", "tinytorch", s, tt_train),
                       h.Contender("airbench_train", "torch", s, torch_step(twin, topt, tx)),
                       h.Contender("airbench_train_cl", "tinytorch", s, tt_train),
                       h.Contender("airbench_train_cl", "torch", s,
                                   torch_step(twin_cl, topt_cl, tx_cl))]
    print(f"\ntiming {len(contenders)} contenders: {args.rounds} rounds × {args.steps} steps, "
          f"batch {n} (the TinyTorch step is timed once per PyTorch variant)")
    timing = h.interleave(contenders, pin, args.rounds, args.steps, warmup=1)
    titles = {k: v.format(n=n) for k, v in WORKLOADS.items()}
    rows = h.pair_rows(contenders, timing, titles)
    for r in rows:
        r["tinytorch_img_s"] = round(n / r["tinytorch_ms"] * 1e3, 1)
        r["torch_img_s"] = round(n / r["torch_ms"] * 1e3, 1)
    h.print_rows(rows)
    for r in rows:
        print(f"  {r['title']}: TinyTorch {r['tinytorch_img_s']} img/s, PyTorch "
              f"{r['torch_img_s']} img/s ({h.SETTINGS[r['setting']].title})")
    results.update({"batch": n, "rounds": args.rounds, "steps": args.steps, "checks": checks,
                    "rows": rows, "samples": timing["samples"],
                    "load_per_round": timing["load_per_round"],
                    "threads_seen": timing["threads_seen"]})
    h.finish("airbench_vs_torch", results, args.out)
    return None


if __name__ == "__main__":
    main()
