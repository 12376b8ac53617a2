"""A tiny transformer, trained only with TinyTorch, learns to sort digit sequences.

The task is generated here: a sequence of 6 random digits, a separator, then the same digits in
sorted order — ``3 1 4 1 5 9 | 1 1 3 4 5 9``. A 2-layer TinyGPT is trained on the sorted halves
(the loss skips the unsorted prompt), with autograd and tinytorch.core.optimizers.Adam, on fresh
random sequences; 1,000 held-out sequences are set aside first and never trained on. It must
then sort ≥ 95% of the held-out sequences exactly, decoding greedily with ``generate``.

Sorting needs attention to do real work: each output position must find the smallest digit not
yet emitted, by comparing against the whole prompt and against its own earlier outputs.

Budget: about 500 steps of batch 64 (≈ 15–40 s on 2 cores, depending on load); the time is
printed (run with -s to see it), never asserted.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (the engine behind loss.backward())
from tinytorch.core.attention import TinyGPT
from tinytorch.core.kernels.threads import blas_threads
from tinytorch.core.optimizers import Adam

pytestmark = pytest.mark.slow

DIGITS, SEP = 10, 10  # tokens 0..9 are digits, 10 separates prompt and answer
LENGTH = 6


def _sequences(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.integers(0, DIGITS, (n, LENGTH))
    return np.concatenate([x, np.full((n, 1), SEP), np.sort(x, axis=1)], axis=1)


def test_tiny_transformer_learns_to_sort_digits():
    rng = np.random.default_rng(0)
    held_out = _sequences(rng, 1000)
    unseen = {row.tobytes() for row in held_out[:, :LENGTH]}

    def train_batch(n):
        while True:  # draw fresh sequences, dropping any that is held out
            b = _sequences(rng, 2 * n)
            b = b[[row.tobytes() not in unseen for row in b[:, :LENGTH]]][:n]
            if len(b) == n:
                return b

    model = TinyGPT(vocab_size=11, block_size=2 * LENGTH, embed_dim=48, num_heads=4, num_layers=2,
                    generator=np.random.default_rng(1))
    steps, warmup, peak_lr = 500, 50, 3e-3
    opt = Adam(model.parameters(), lr=peak_lr, betas=(0.9, 0.98))
    first_loss = last_loss = None
    start = time.perf_counter()
    # The GEMMs here are narrow (48 wide): a second BLAS thread gains little, and on a loaded
    # 2-core machine OpenBLAS threads spinning against each other made this test ~8x slower.
    with blas_threads(1):
        for step in range(1, steps + 1):
            seq = train_batch(64)
            inputs, targets = seq[:, :-1], seq[:, 1:].copy()
            targets[:, :LENGTH] = -100  # score only the sorted answer (and not the prompt)
            _, loss = model(inputs, targets)
            opt.zero_grad()
            loss.backward()
            # linear warm-up, then cosine decay to zero
            lr = peak_lr * min(1.0, step / warmup) * 0.5 * (1 + np.cos(np.pi * step / steps))
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
            first_loss = loss.item() if first_loss is None else first_loss
            last_loss = loss.item()
        train_time = time.perf_counter() - start
        answer = model.generate(held_out[:, :LENGTH + 1], LENGTH, greedy=True).numpy()[:, LENGTH + 1:]
    exact = (answer == held_out[:, LENGTH + 1:]).all(axis=1).mean()
    print(f"\nsorting {LENGTH} digits: loss {first_loss:.3f} -> {last_loss:.4f}, held-out exact match "
          f"{exact:.1%} after {steps} steps in {train_time:.1f} s "
          f"({model.num_parameters():,} parameters)")
    assert last_loss < 0.1 * first_loss
    assert exact >= 0.95, f"only {exact:.1%} of the held-out sequences were sorted exactly"


def test_char_gpt_example_trains_saves_and_loads(tmp_path):
    """The example script end to end: a few steps, .npz weights (no pickle), reload, generate."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "packages" / "attention" / "examples" / "train_char_gpt.py"
    text = tmp_path / "text.txt"
    text.write_text("hello world, hello attention.\n" * 40, encoding="utf-8")
    weights = tmp_path / "model.npz"
    common = ["--block-size", "16", "--embed-dim", "16", "--heads", "2", "--layers", "1",
              "--batch", "8", "--sample-len", "20", "--blas-threads", "1"]
    run = subprocess.run([sys.executable, str(script), str(text), "--steps", "6", "--sample-every", "3",
                          "--save", str(weights), *common], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "step 6/6" in run.stdout and "held-out loss" in run.stdout

    with np.load(weights, allow_pickle=False) as f:  # loads without pickle: arrays only
        assert "param/head.weight" in f.files and f["param/head.weight"].dtype == np.float32
        vocab = str(f["vocab"])
    assert set(vocab) == set("hello world, attention.\n")

    again = subprocess.run([sys.executable, str(script), "--load", str(weights), "--steps", "0",
                            "--generate", "30", "--prompt", "hello", "--seed", "3"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.split("\n", 2)  # "loaded ...", "vocabulary: ...", then the text
    assert lines[0].startswith("loaded") and "context 16" in lines[1]
    assert lines[2].endswith("\n")
    generated = lines[2][:-1]  # print() added one newline
    assert generated.startswith("hello") and len(generated) == len("hello") + 30
    assert set(generated) <= set(vocab)
