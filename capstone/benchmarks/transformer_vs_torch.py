"""Benchmark: training a small GPT (2 layers, 4 heads, 128 wide, context 64), TinyTorch vs PyTorch CPU.

    python capstone/benchmarks/transformer_vs_torch.py [--batch 32] [--rounds 7] [--steps 5]

What it does, in order:
1. builds ``tinytorch.core.attention.TinyGPT`` (vocabulary 65, block size 64, embed 128, 4 heads,
   2 layers, MLP 4×, tanh-GELU, no dropout) and the same network in PyTorch — written here with
   the same parameter names and ``F.scaled_dot_product_attention(is_causal=True)`` — and copies
   TinyTorch's weights into it;
2. checks correctness before timing anything: the loss and every gradient of one batch agree
   with PyTorch's, and so do the weights after a few Adam steps;
3. times whole training steps (forward, cross-entropy, backward, ``Adam.step``) for TinyTorch
   with numpy's BLAS on its default threads, TinyTorch with BLAS on one thread (when
   tinytorch-spatial can set it), PyTorch with ``torch.set_num_threads(2)`` and PyTorch on one
   thread — rotating who goes first every round, since the machine drifts — and prints the
   median time per step, training tokens per second (batch × 64 tokens per step) and the ratio
   to PyTorch on 2 threads. (On a busy machine, multi-threaded BLAS/OpenMP threads that wait for
   each other can be several times slower than one thread: hence both settings.)

This is a benchmark, not a test. The load average is printed because other processes on a
2-core machine change the numbers a lot; compare ratios within one run, not times across runs.
The CPU time per step is printed too: for the one-thread contenders it excludes the time spent
waiting for a core, so it is the steadier figure on a busy machine.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np

import torch
import torch.nn.functional as F

import tinytorch.core.autograd  # noqa: F401  (the engine behind backward())
from tinytorch.core.attention import TinyGPT
from tinytorch.core.optimizers import Adam

VOCAB, BLOCK, EMBED, HEADS, LAYERS = 65, 64, 128, 4, 2
LR = 1e-3

try:  # best effort: numpy's bundled OpenBLAS thread count, at run time
    from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads
except ImportError:  # pragma: no cover
    get_blas_threads = set_blas_threads = None


# ---------------------------------------------------------------- PyTorch's twin of TinyGPT
class TorchAttention(torch.nn.Module):
    def __init__(self, e: int, h: int) -> None:
        super().__init__()
        self.h = h
        self.in_proj_weight = torch.nn.Parameter(torch.empty(3 * e, e))
        self.in_proj_bias = torch.nn.Parameter(torch.empty(3 * e))
        self.out_proj = torch.nn.Linear(e, e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, e = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = (z.view(b, t, self.h, e // self.h).transpose(1, 2) for z in qkv.split(e, dim=-1))
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, e))


class TorchMLP(torch.nn.Module):
    def __init__(self, e: int) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(e, 4 * e)
        self.fc2 = torch.nn.Linear(4 * e, e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class TorchBlock(torch.nn.Module):
    def __init__(self, e: int, h: int) -> None:
        super().__init__()
        self.ln1, self.attn = torch.nn.LayerNorm(e), TorchAttention(e, h)
        self.ln2, self.mlp = torch.nn.LayerNorm(e), TorchMLP(e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PositionEmbedding(torch.nn.Module):
    def __init__(self, t: int, e: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(t, e))


class TorchGPT(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token_embedding = torch.nn.Embedding(VOCAB, EMBED)
        self.position_embedding = PositionEmbedding(BLOCK, EMBED)
        self.blocks = torch.nn.ModuleList([TorchBlock(EMBED, HEADS) for _ in range(LAYERS)])
        self.ln_f = torch.nn.LayerNorm(EMBED)
        self.head = torch.nn.Linear(EMBED, VOCAB, bias=False)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(idx) + self.position_embedding.weight[: idx.shape[1]]
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


# ---------------------------------------------------------------- the training steps
def tinytorch_step(model: TinyGPT, opt: Adam, x: np.ndarray, y: np.ndarray) -> float:
    opt.zero_grad()
    _, loss = model(x, y)
    loss.backward()
    opt.step()
    return loss.item()


def torch_step(model: TorchGPT, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    opt.zero_grad()
    loss = model(x, y)
    loss.backward()
    opt.step()
    return loss.item()


def build(batch: int, n_batches: int = 6) -> dict:
    ours = TinyGPT(VOCAB, BLOCK, EMBED, HEADS, LAYERS, generator=np.random.default_rng(0))
    theirs = TorchGPT()
    state = ours.state_dict()
    missing = set(dict(theirs.named_parameters())) ^ set(state)
    assert not missing, f"parameter names differ: {sorted(missing)}"
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    rng = np.random.default_rng(1)
    data = [rng.integers(0, VOCAB, (batch, BLOCK + 1)) for _ in range(n_batches)]
    return {
        "ours": ours, "theirs": theirs,
        "opt": Adam(list(ours.parameters()), lr=LR),
        "torch_opt": torch.optim.Adam(theirs.parameters(), lr=LR),
        "xs": [d[:, :-1] for d in data], "ys": [d[:, 1:] for d in data],
        "txs": [torch.from_numpy(d[:, :-1].copy()) for d in data],
        "tys": [torch.from_numpy(d[:, 1:].copy()) for d in data],
    }


# ---------------------------------------------------------------- correctness first
def check(b: dict) -> None:
    ours, theirs = b["ours"], b["theirs"]
    _, loss = ours(b["xs"][0], b["ys"][0])
    loss.backward()
    ref = theirs(b["txs"][0], b["tys"][0])
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    grads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name], rtol=1e-3, atol=1e-6, err_msg=name)
    b["opt"].zero_grad()
    b["torch_opt"].zero_grad()
    for k in range(3):
        tinytorch_step(ours, b["opt"], b["xs"][k], b["ys"][k])
        torch_step(theirs, b["torch_opt"], b["txs"][k], b["tys"][k])
    weights = {n: p.detach().numpy() for n, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        assert p.dtype == np.float32, name
        # Adam moves each weight by ~lr per step whatever the gradient size, so float32 rounding in
        # tiny gradients shows up at ~1e-5; 1e-4 is a tenth of one step
        np.testing.assert_allclose(p.numpy(), weights[name], rtol=1e-3, atol=1e-4, err_msg=name)
    print(f"correctness: loss {loss.item():.4f}, every gradient and 3 Adam steps agree with PyTorch")


# ---------------------------------------------------------------- timing
def time_training(b: dict, rounds: int, steps: int) -> dict:
    n = len(b["xs"])
    default_blas = get_blas_threads() if get_blas_threads else None

    def ours(k: int) -> None:
        tinytorch_step(b["ours"], b["opt"], b["xs"][k % n], b["ys"][k % n])

    runs = {f"TinyTorch (BLAS {default_blas or 'default'} threads)": (ours, default_blas)}
    if set_blas_threads is not None and default_blas not in (None, 1):
        runs["TinyTorch (BLAS 1 thread)"] = (ours, 1)
    torch_threads = torch.get_num_threads()

    def theirs(threads: int):
        def run(k: int) -> None:
            torch.set_num_threads(threads)
            torch_step(b["theirs"], b["torch_opt"], b["txs"][k % n], b["tys"][k % n])
        return run

    runs[f"PyTorch CPU ({torch_threads} threads)"] = (theirs(torch_threads), None)
    if torch_threads != 1:
        runs["PyTorch CPU (1 thread)"] = (theirs(1), None)
    names = list(runs)
    per_step: dict = {name: [] for name in names}
    cpu_per_step: dict = {name: [] for name in names}
    try:
        for name in names:  # warm up
            fn, blas = runs[name]
            if blas is not None:
                set_blas_threads(blas)
            for k in range(2):
                fn(k)
        for r in range(rounds):
            order = names[r % len(names):] + names[: r % len(names)]  # rotate who goes first
            for name in order:
                fn, blas = runs[name]
                if blas is not None:
                    set_blas_threads(blas)
                start, cpu_start = time.perf_counter(), time.process_time()
                for k in range(steps):
                    fn(k)
                per_step[name].append((time.perf_counter() - start) / steps)
                cpu_per_step[name].append((time.process_time() - cpu_start) / steps)
    finally:
        if default_blas is not None:
            set_blas_threads(default_blas)
        torch.set_num_threads(torch_threads)
    return {name: (statistics.median(per_step[name]), statistics.median(cpu_per_step[name]))
            for name in names}


def main(argv: list | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds (median taken)")
    parser.add_argument("--steps", type=int, default=5, help="training steps per round")
    args = parser.parse_args(argv)

    torch.set_num_threads(2)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    bench = build(args.batch)
    check(bench)

    medians = time_training(bench, args.rounds, args.steps)
    tokens = args.batch * BLOCK
    torch_s = [s for name, (s, _) in medians.items() if name.startswith("PyTorch")][0]  # default threads
    params = bench["ours"].num_parameters()
    flops = 6 * params * tokens + 12 * LAYERS * BLOCK * EMBED * tokens  # ≈ training FLOPs per step
    print(f"\nTinyGPT {LAYERS} layers × {HEADS} heads × {EMBED} wide, context {BLOCK}, vocab {VOCAB} "
          f"({params:,} parameters), batch {args.batch} = {tokens} tokens/step, Adam(lr={LR}); "
          f"median of {args.rounds} rounds × {args.steps} steps (≈{flops / 1e9:.1f} GFLOP/step)")
    print(f"{'contender':30s} {'ms/step':>9s} {'tokens/s':>10s} {'GFLOP/s':>8s} {'vs PyTorch':>11s} "
          f"{'CPU ms/step':>12s}")
    for name, (s, cpu) in medians.items():
        print(f"{name:30s} {s * 1e3:9.1f} {tokens / s:10,.0f} {flops / s / 1e9:8.1f} "
              f"{torch_s / s:10.2f}× {cpu * 1e3:12.1f}")
    print("(CPU ms/step is the process's CPU time: for the one-thread contenders it is what a step\n"
          " costs without waiting for a core, a fairer figure on a busy machine)")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
