"""2017 — "Attention is all you need": a transformer, trained on your framework.

Quick form: a 2-layer TinyGPT learns to *sort* digit sequences — ``3 1 4 1 | 1 1 3 4`` — on
fresh random sequences, and must sort held-out ones exactly. Each output position has to find
the smallest digit not yet written, so attention does real work.

Full form: a character-level GPT on Shakespeare's plays (shipped in this package, checked
against its SHA-256), trained until its loss on held-out text (the last 10%) is at most 2.0,
then sampled. Both forms generate with the KV cache of the attention module and again without it,
check that the tokens are identical, and print the measured speed-up.
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import numpy as np

from tinytorch.core.attention import TinyGPT
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import set_grad_enabled
from tinytorch.core.tensor.runtime import get_blas_threads, set_blas_threads

from .base import Check, Context, Outcome
from .data import load_shakespeare

__all__ = ["sort_sequences", "train_gpt", "compare_cache", "run", "run_sort", "run_shakespeare"]

DIGITS, LENGTH = 10, 5            # sort 5 digits; token 10 separates prompt and answer
SORT_STEPS, SORT_BATCH = 300, 64
SHAKESPEARE = dict(block_size=64, embed_dim=128, num_heads=4, num_layers=2)
SHAKESPEARE_STEPS, SHAKESPEARE_BATCH, SHAKESPEARE_MINUTES = 3000, 32, 15.0


@contextmanager
def single_threaded_blas():
    """numpy's BLAS on one thread inside the block: the sort model's matrices are narrow (48
    wide), a second thread gains little, and on a busy machine BLAS threads spinning against
    each other slow it several times over."""
    previous = get_blas_threads()
    set_blas_threads(1)
    try:
        yield
    finally:
        if previous is not None:
            set_blas_threads(previous)


def sort_sequences(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` rows: LENGTH random digits, the separator, the same digits sorted."""
    x = rng.integers(0, DIGITS, (n, LENGTH))
    return np.concatenate([x, np.full((n, 1), DIGITS), np.sort(x, axis=1)], axis=1)


def train_gpt(model: TinyGPT, batches, steps: int, lr: float, deadline: float | None = None,
              every: int = 0, on_eval=None) -> int:
    """Adam with a linear warm-up and a cosine decay; returns the steps taken.

    ``batches(step)`` gives ``(inputs, targets)``; ``on_eval(step)`` runs every ``every`` steps
    and may return True to stop; ``deadline`` (a ``time.perf_counter()`` value) stops early.
    """
    opt = Adam(model.parameters(), lr=lr, betas=(0.9, 0.98))
    warmup = max(1, min(100, steps // 10))
    model.train()
    step = 0
    for step in range(1, steps + 1):
        inputs, targets = batches(step)
        _, loss = model(inputs, targets)
        opt.zero_grad()
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, step / warmup) * 0.5 * (1 + np.cos(np.pi * step / steps))
        opt.step()
        if every and step % every == 0 and on_eval is not None and on_eval(step):
            break
        if deadline is not None and time.perf_counter() > deadline:
            break
    model.eval()
    return step


def compare_cache(model: TinyGPT, prompt: np.ndarray, new_tokens: int, ctx: Context, **kw) -> dict:
    """Generate with and without the KV cache (same seed): identical? how much faster?"""
    times: dict[bool, float] = {}
    outs: dict[bool, np.ndarray] = {}
    for use_cache in (False, True, False, True):  # alternate, keep each one's best time
        start = time.perf_counter()
        out = model.generate(prompt, new_tokens, generator=np.random.default_rng(ctx.seed),
                             use_cache=use_cache, **kw).numpy()
        elapsed = time.perf_counter() - start
        times[use_cache] = min(times.get(use_cache, np.inf), elapsed)
        outs[use_cache] = out
    identical = bool(np.array_equal(outs[True], outs[False]))
    speedup = times[False] / times[True]
    ctx.log(f"KV cache: {new_tokens} new tokens for {len(prompt)} prompt(s) in "
            f"{times[True] * 1e3:.0f} ms, against {times[False] * 1e3:.0f} ms recomputing the "
            f"prefix: {speedup:.1f}x faster; tokens identical: {'yes' if identical else 'NO'}")
    return {"identical": identical, "speedup": speedup, "cached_seconds": times[True],
            "uncached_seconds": times[False], "tokens": new_tokens, "output": outs[True]}


def run_sort(ctx: Context) -> Outcome:
    """The quick form: sort digit sequences."""
    rng = np.random.default_rng(ctx.seed)
    held_out = sort_sequences(rng, 500)
    unseen = {row.tobytes() for row in held_out[:, :LENGTH]}

    def batches(step):
        while True:  # fresh sequences, none of them held out
            seq = sort_sequences(rng, 2 * SORT_BATCH)
            seq = seq[[row.tobytes() not in unseen for row in seq[:, :LENGTH]]][:SORT_BATCH]
            if len(seq) == SORT_BATCH:
                break
        targets = seq[:, 1:].copy()
        targets[:, :LENGTH] = -100  # score only the sorted answer
        return seq[:, :-1], targets

    model = TinyGPT(vocab_size=DIGITS + 1, block_size=2 * LENGTH, embed_dim=48, num_heads=4,
                    num_layers=2, generator=np.random.default_rng(ctx.seed + 1))
    start = time.perf_counter()
    with single_threaded_blas():
        train_gpt(model, batches, SORT_STEPS, 3e-3)
        ctx.log(f"{SORT_STEPS} steps of {SORT_BATCH} sequences in {time.perf_counter() - start:.1f} "
                f"s ({model.num_parameters():,} parameters)")
        cache = compare_cache(model, held_out[:, :LENGTH + 1], LENGTH, ctx, greedy=True)
    answer = cache.pop("output")[:, LENGTH + 1:]
    exact = float((answer == held_out[:, LENGTH + 1:]).all(axis=1).mean())
    ctx.log(f"e.g. {' '.join(map(str, held_out[0, :LENGTH]))} -> {' '.join(map(str, answer[0]))}")
    return Outcome([Check(f"held-out sequences of {LENGTH} digits sorted exactly", exact, ">=",
                          0.90, percent=True),
                    Check("KV cache: identical tokens", float(cache["identical"]), ">=", 1.0)],
                   {"task": "sort", "steps": SORT_STEPS, "kv_cache": cache})


def run_shakespeare(ctx: Context) -> Outcome:
    """The full form: a character-level GPT on Shakespeare."""
    text = load_shakespeare()
    chars = "".join(sorted(set(text)))
    lookup = np.zeros(max(map(ord, chars)) + 1, dtype=np.int64)
    lookup[[ord(c) for c in chars]] = np.arange(len(chars))
    ids = lookup[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
    cut = int(len(ids) * 0.9)
    train_ids, val_ids = ids[:cut], ids[cut:]
    block = SHAKESPEARE["block_size"]
    rng = np.random.default_rng(ctx.seed)

    def batch(data, generator, size=SHAKESPEARE_BATCH):
        rows = generator.integers(0, len(data) - block - 1, size)[:, None] + np.arange(block + 1)
        seq = data[rows]
        return seq[:, :-1], seq[:, 1:]

    model = TinyGPT(vocab_size=len(chars), **SHAKESPEARE, generator=np.random.default_rng(ctx.seed))

    def val_loss(batches=20):
        previous = set_grad_enabled(False)
        model.eval()
        try:
            fixed = np.random.default_rng(12345)  # the same held-out batches every time
            return float(np.mean([model(*batch(val_ids, fixed))[1].item() for _ in range(batches)]))
        finally:
            set_grad_enabled(previous)
            model.train()

    history = []
    start = time.perf_counter()

    def on_eval(step):
        loss = val_loss()
        history.append((step, loss, time.perf_counter() - start))
        ctx.log(f"step {step}: held-out loss {loss:.3f} ({(time.perf_counter() - start) / 60:.1f} min)")
        return False

    ctx.log(f"{len(chars)} characters, {len(train_ids):,} to learn from, {len(val_ids):,} held out; "
            f"{model.num_parameters():,} parameters, context {block}")
    steps = train_gpt(model, lambda step: batch(train_ids, rng), SHAKESPEARE_STEPS, 3e-3,
                      deadline=start + SHAKESPEARE_MINUTES * 60 - 30, every=250, on_eval=on_eval)
    minutes = (time.perf_counter() - start) / 60
    final = val_loss(50)
    prompt = np.array([[lookup[ord("\n")]]])
    cache = compare_cache(model, prompt, block - 1, ctx, temperature=0.8)
    sample = model.generate(prompt, 400, temperature=0.8, generator=np.random.default_rng(ctx.seed))
    ctx.log("-" * 60 + "\n" + "".join(chars[i] for i in sample.numpy()[0]) + "\n" + "-" * 60)
    cache.pop("output")
    return Outcome([Check("held-out loss (nats per character)", final, "<=", 2.0),
                    Check("minutes of training", minutes, "<=", SHAKESPEARE_MINUTES),
                    Check("KV cache: identical tokens", float(cache["identical"]), ">=", 1.0)],
                   {"task": "shakespeare", "steps": steps, "minutes": minutes,
                    "history": history, "kv_cache": cache, "config": SHAKESPEARE})


def run(ctx: Context) -> Outcome:
    """Sort (quick) or Shakespeare (full)."""
    return run_sort(ctx) if ctx.quick else run_shakespeare(ctx)
