"""Benchmark: training a small GPT, TinyTorch against PyTorch CPU, by the rules of vs_torch.py.

    python capstone/benchmarks/transformer_vs_torch.py [--rounds 7] [--steps 3] [--batch 32]
    python capstone/benchmarks/transformer_vs_torch.py --readme   # only re-render the figures

What it does, in order:
1. builds ``tinytorch.core.attention.TinyGPT`` (vocabulary 65, context 64, 128 wide, 4 heads,
   2 layers, MLP 4×, tanh-GELU, no dropout) and the same network in PyTorch — written here
   with the same parameter names and ``F.scaled_dot_product_attention(is_causal=True)`` —
   and copies TinyTorch's weights into it;
2. checks the first step before timing anything: the loss and every gradient of one batch
   agree with PyTorch's (tolerances printed), and so do the weights after three Adam steps;
3. times whole training steps (forward, cross-entropy, backward, ``Adam.step``; batch 32 =
   2,048 tokens), interleaved with a 0.3 s pause before each run: one thread each, two each
   (TinyTorch's default configuration; ``--settings 2b`` adds ``threads(2, blas=2)``); wall and
   CPU time per step.

Writes capstone/benchmarks/results/transformer_vs_torch.json and renders the docs' figures
from it. This is a benchmark, not a test: it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_torch as h  # noqa: E402

VOCAB, BLOCK, EMBED, HEADS, LAYERS = 65, 64, 128, 4, 2
LR = 1e-3
TITLE = f"GPT {LAYERS} layers / {HEADS} heads / {EMBED} dim / seq {BLOCK}, batch {{n}}, train"


def torch_gpt(torch):
    """PyTorch's twin of TinyGPT, with TinyGPT's parameter names (defined once torch is
    imported: ``--readme`` needs no torch)."""
    F = torch.nn.functional

    class Attention(torch.nn.Module):
        def __init__(self, e: int, nh: int) -> None:
            super().__init__()
            self.h = nh
            self.in_proj_weight = torch.nn.Parameter(torch.empty(3 * e, e))
            self.in_proj_bias = torch.nn.Parameter(torch.empty(3 * e))
            self.out_proj = torch.nn.Linear(e, e)

        def forward(self, x):
            b, t, e = x.shape
            qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
            q, k, v = (z.view(b, t, self.h, e // self.h).transpose(1, 2)
                       for z in qkv.split(e, dim=-1))
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out_proj(out.transpose(1, 2).reshape(b, t, e))

    class MLP(torch.nn.Module):
        def __init__(self, e: int) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(e, 4 * e)
            self.fc2 = torch.nn.Linear(4 * e, e)

        def forward(self, x):
            return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))

    class Block(torch.nn.Module):
        def __init__(self, e: int, nh: int) -> None:
            super().__init__()
            self.ln1, self.attn = torch.nn.LayerNorm(e), Attention(e, nh)
            self.ln2, self.mlp = torch.nn.LayerNorm(e), MLP(e)

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class PositionEmbedding(torch.nn.Module):
        def __init__(self, t: int, e: int) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.empty(t, e))

    class GPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.token_embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.position_embedding = PositionEmbedding(BLOCK, EMBED)
            self.blocks = torch.nn.ModuleList([Block(EMBED, HEADS) for _ in range(LAYERS)])
            self.ln_f = torch.nn.LayerNorm(EMBED)
            self.head = torch.nn.Linear(EMBED, VOCAB, bias=False)

        def forward(self, idx, targets):
            x = self.token_embedding(idx) + self.position_embedding.weight[: idx.shape[1]]
            for block in self.blocks:
                x = block(x)
            logits = self.head(self.ln_f(x))
            return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))

    return GPT()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    h.common_arguments(parser, rounds=7, steps=3)
    args = parser.parse_args()
    if args.readme:
        h.render_all()
        return

    torch = h.import_torch()
    pin, results = h.start(torch, "TinyTorch vs PyTorch: training a small GPT")
    import tinytorch.core.autograd  # noqa: F401
    from tinytorch.core.attention import TinyGPT
    from tinytorch.core.optimizers import Adam

    ours = TinyGPT(VOCAB, BLOCK, EMBED, HEADS, LAYERS, generator=np.random.default_rng(0))
    theirs = torch_gpt(torch)
    state = ours.state_dict()
    missing = set(dict(theirs.named_parameters())) ^ set(state)
    if missing:
        raise SystemExit(f"parameter names differ: {sorted(missing)}")
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    rng = np.random.default_rng(1)
    data = [rng.integers(0, VOCAB, (args.batch, BLOCK + 1)) for _ in range(6)]
    xs, ys = [d[:, :-1] for d in data], [d[:, 1:] for d in data]
    txs = [torch.from_numpy(d[:, :-1].copy()) for d in data]
    tys = [torch.from_numpy(d[:, 1:].copy()) for d in data]

    _, loss = ours(xs[0], ys[0])
    loss.backward()
    tloss = theirs(txs[0], tys[0])
    tloss.backward()
    checks = [h.check_first_step(
        loss.item(), tloss.item(), {n: p.grad.numpy() for n, p in ours.named_parameters()},
        {n: p.grad.numpy() for n, p in theirs.named_parameters()}, loss_tol=1e-5, grad_tol=1e-4,
        what="GPT train step, float32")]

    opt = Adam(list(ours.parameters()), lr=LR)
    topt = torch.optim.Adam(theirs.parameters(), lr=LR)
    k_ours, k_theirs = {"k": 0}, {"k": 0}

    def ours_step() -> None:
        k = k_ours["k"] = (k_ours["k"] + 1) % len(xs)
        opt.zero_grad()
        _, loss = ours(xs[k], ys[k])
        loss.backward()
        opt.step()

    def theirs_step() -> None:
        k = k_theirs["k"] = (k_theirs["k"] + 1) % len(txs)
        topt.zero_grad()
        theirs(txs[k], tys[k]).backward()
        topt.step()

    opt.zero_grad()
    topt.zero_grad()
    for _ in range(3):
        ours_step()
        theirs_step()
    weights = {n: p.detach().numpy() for n, p in theirs.named_parameters()}
    # Adam moves each weight by ~lr per step whatever the gradient's size, so float32 rounding
    # in tiny gradients shows at ~1e-5 of a weight: compare with atol 1e-4 (a tenth of a step)
    worst = max(float(np.abs(p.numpy() - weights[n]).max()) for n, p in ours.named_parameters())
    print(f"  and the weights after 3 Adam steps agree to {worst:.1e} absolute (tolerance 1e-4)")
    if worst > 1e-4:
        raise SystemExit("the Adam steps disagree: not timing")
    checks[0]["weights_after_3_adam_steps_max_abs_diff"] = worst

    contenders = []
    for key in args.settings:
        s = h.SETTINGS[key]
        contenders.append(h.Contender("gpt_train", "tinytorch", s, ours_step))
        if s.tinytorch_blas is None:
            contenders.append(h.Contender("gpt_train", "torch", s, theirs_step))
    if "2b" in args.settings and "2" not in args.settings:
        contenders.append(h.Contender("gpt_train", "torch", h.SETTINGS["2"], theirs_step))
    tokens = args.batch * BLOCK
    print(f"\ntiming {len(contenders)} contenders: {args.rounds} rounds × {args.steps} steps, "
          f"batch {args.batch} = {tokens} tokens per step")
    timing = h.interleave(contenders, pin, args.rounds, args.steps)
    rows = h.pair_rows(contenders, timing, {"gpt_train": TITLE.format(n=args.batch)})
    h.print_rows(rows)
    for r in rows:
        r["tinytorch_tokens_per_s"] = round(tokens / r["tinytorch_ms"] * 1e3)
        r["torch_tokens_per_s"] = round(tokens / r["torch_ms"] * 1e3)
    results.update({"batch": args.batch, "tokens_per_step": tokens, "rounds": args.rounds,
                    "steps": args.steps, "parameters": ours.num_parameters(), "checks": checks,
                    "rows": rows, "samples": timing["samples"],
                    "load_per_round": timing["load_per_round"],
                    "threads_seen": timing["threads_seen"]})
    h.finish("transformer_vs_torch", results, args.out)
    if not args.no_readme and args.out is None:
        h.render_all()


if __name__ == "__main__":
    main()
