"""Train a character-level TinyGPT on any text file, printing samples as it learns.

    python packages/attention/examples/train_char_gpt.py input.txt
    python packages/attention/examples/train_char_gpt.py input.txt --steps 3000 --save shakespeare.npz
    python packages/attention/examples/train_char_gpt.py --load shakespeare.npz --steps 0 --generate 500 --prompt "ROMEO:"

Every distinct character of the file is a token. The model reads ``--block-size`` characters
and learns to predict the next one at every position; every ``--sample-every`` steps it prints
the loss on held-out text (the last 10% of the file) and a sample of what it writes.

Weights are saved as a plain ``.npz`` (numpy arrays only, no pickle): every parameter under its
``state_dict`` name, plus the model's configuration (as JSON) and the characters of its
vocabulary, so ``--load`` needs nothing but the file.

Needs tinytorch-attention, tinytorch-autograd (for ``backward``) and tinytorch-optimizers
(Adam) — ``pip install tinytorch-framework`` brings everything.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("text", nargs="?", help="a UTF-8 text file to learn from")
    p.add_argument("--steps", type=int, default=2000, help="training steps (0: only generate)")
    p.add_argument("--batch", type=int, default=32, help="sequences per step")
    p.add_argument("--block-size", type=int, default=64, help="context length in characters")
    p.add_argument("--embed-dim", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (warm-up, then cosine)")
    p.add_argument("--sample-every", type=int, default=250, help="steps between samples")
    p.add_argument("--sample-len", type=int, default=200, help="characters per sample")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--prompt", default=None, help="text to start samples with (default: a newline "
                   "if the vocabulary has one)")
    p.add_argument("--generate", type=int, default=0, help="after training, print this many characters")
    p.add_argument("--save", default=None, help="write the trained weights to this .npz")
    p.add_argument("--load", default=None, help="start from the weights in this .npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--blas-threads", type=int, default=None,
                   help="numpy BLAS threads (1 is faster on a busy machine; default: numpy's choice)")
    args = p.parse_args(argv)
    if args.text is None and args.load is None:
        p.error("give a text file to train on, or --load a saved model")
    if args.steps > 0 and args.text is None:
        p.error("training (--steps > 0) needs a text file")
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.blas_threads:
    # must happen before numpy loads its BLAS
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.blas_threads)

import numpy as np  # noqa: E402

from tinytorch.core.attention import TinyGPT  # noqa: E402
from tinytorch.core.tensor import set_grad_enabled  # noqa: E402

try:
    from tinytorch.core.optimizers import Adam
except ImportError:  # pragma: no cover - a message, not a feature
    sys.exit("train_char_gpt.py needs tinytorch-optimizers (Adam) and tinytorch-autograd: "
             "pip install tinytorch-optimizers tinytorch-autograd")


# --------------------------------------------------------------------------- saving
def save_npz(path: str, model: TinyGPT, config: dict, chars: str) -> None:
    """Every parameter by its state_dict name, the config as JSON and the vocabulary: no pickle."""
    arrays = {f"param/{k}": v for k, v in model.state_dict().items()}
    arrays["config"] = np.array(json.dumps(config))
    arrays["vocab"] = np.array(chars)
    np.savez(path, **arrays)


def load_npz(path: str) -> tuple:
    """(model, config, chars) from a file written by :func:`save_npz`."""
    with np.load(path, allow_pickle=False) as f:
        config = json.loads(str(f["config"]))
        chars = str(f["vocab"])
        state = {k[len("param/"):]: f[k] for k in f.files if k.startswith("param/")}
    model = TinyGPT(**config)
    model.load_state_dict(state)
    return model, config, chars


# --------------------------------------------------------------------------- data
class CharData:
    """The text as token ids, split 90/10 into training and held-out text."""

    def __init__(self, text: str, chars: str) -> None:
        self.stoi = {c: i for i, c in enumerate(chars)}
        unknown = sorted(set(text) - set(self.stoi))
        if unknown:
            raise SystemExit(f"the text has characters the loaded model does not know: {unknown[:10]}")
        ids = np.array([self.stoi[c] for c in text], dtype=np.int64)
        cut = int(len(ids) * 0.9)
        self.train, self.val = ids[:cut], ids[cut:]

    def batch(self, split: str, batch: int, block: int, rng: np.random.Generator) -> tuple:
        data = self.train if split == "train" else self.val
        if len(data) <= block + 1:
            data = np.concatenate([self.train, self.val])  # a tiny file: use all of it
        if len(data) <= block + 1:
            raise SystemExit(f"the text is too short for --block-size {block}: "
                             f"{len(data)} characters")
        starts = rng.integers(0, len(data) - block - 1, batch)
        rows = starts[:, None] + np.arange(block + 1)[None, :]
        seq = data[rows]
        return seq[:, :-1], seq[:, 1:]


def sample(model: TinyGPT, chars: str, prompt: str | None, length: int, temperature: float,
           top_k: int | None, rng: np.random.Generator) -> str:
    stoi = {c: i for i, c in enumerate(chars)}
    if prompt is None:
        prompt = "\n" if "\n" in stoi else chars[0]
    missing = [c for c in prompt if c not in stoi]
    if missing:
        raise SystemExit(f"the prompt has characters the model does not know: {missing[:10]}")
    ids = np.array([[stoi[c] for c in prompt]], dtype=np.int64)
    out = model.generate(ids, length, temperature=temperature, top_k=top_k, generator=rng)
    return "".join(chars[i] for i in out.numpy()[0])


def evaluate(model: TinyGPT, data: CharData, args: argparse.Namespace,
             rng: np.random.Generator, batches: int = 4) -> float:
    was_training = model.training
    model.eval()
    previous = set_grad_enabled(False)
    try:
        losses = [model(*data.batch("val", args.batch, args.block_size, rng))[1].item()
                  for _ in range(batches)]
    finally:
        set_grad_enabled(previous)
        model.train(was_training)
    return float(np.mean(losses))


# --------------------------------------------------------------------------- main
def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    text = None
    if args.text is not None:
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
    if args.load:
        model, config, chars = load_npz(args.load)
        print(f"loaded {args.load}: {config}")
    else:
        chars = "".join(sorted(set(text)))
        config = dict(vocab_size=len(chars), block_size=args.block_size, embed_dim=args.embed_dim,
                      num_heads=args.heads, num_layers=args.layers, dropout=args.dropout)
        model = TinyGPT(**config, generator=np.random.default_rng(args.seed))
    block = config["block_size"]
    print(f"vocabulary: {len(chars)} characters; model: {model.num_parameters():,} parameters, "
          f"context {block}")
    cores = os.cpu_count() or 1
    if args.steps > 0 and not args.blas_threads and hasattr(os, "getloadavg") and os.getloadavg()[0] > cores:
        print(f"note: the machine is busy (load {os.getloadavg()[0]:.1f} on {cores} cores); "
              "--blas-threads 1 is often several times faster then")

    if args.steps > 0:
        args.block_size = block
        data = CharData(text, chars)
        opt = Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
        warmup = max(1, min(100, args.steps // 10))
        model.train()
        start, tokens = time.perf_counter(), 0
        for step in range(1, args.steps + 1):
            x, y = data.batch("train", args.batch, block, rng)
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            lr = args.lr * min(1.0, step / warmup) * 0.5 * (1 + np.cos(np.pi * step / args.steps))
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            tokens += x.size
            if step % args.sample_every == 0 or step == args.steps:
                elapsed = time.perf_counter() - start
                val = evaluate(model, data, args, rng)
                print(f"\nstep {step}/{args.steps}  train loss {loss.item():.3f}  held-out loss "
                      f"{val:.3f}  ({tokens / elapsed:,.0f} tokens/s)")
                print("-" * 60)
                print(sample(model, chars, args.prompt, args.sample_len, args.temperature,
                             args.top_k, rng))
                print("-" * 60, flush=True)
                model.train()
        if args.save:
            save_npz(args.save, model, config, chars)
            print(f"saved {args.save}")
    elif args.save and args.load != args.save:
        save_npz(args.save, model, config, chars)
        print(f"saved {args.save}")

    if args.generate > 0:
        print(sample(model, chars, args.prompt, args.generate, args.temperature, args.top_k, rng))


if __name__ == "__main__":
    main(ARGS)
