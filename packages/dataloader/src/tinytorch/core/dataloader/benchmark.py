"""How fast does the loader feed CIFAR-10? ``python -m tinytorch.core.dataloader.benchmark``

Measures images per second of iterating the CIFAR-10 training set with the standard
augmentation (random crop with 4 pixels of padding, horizontal flip, ToTensor, Normalize):

* the batch path (``get_batch``: one fancy-indexing copy + vectorised transforms per batch),
  without and with the prefetch thread, alternating runs because these machines drift;
* the per-sample path (``ds[i]`` for every image, then collate), for comparison;
* optionally (``--compute-ms``) a consumer that spends that long on every batch, as a training
  step would, which shows how much of the loading the prefetch thread hides.

A measurement, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from . import CIFAR10_MEAN, CIFAR10_STD
from .dataset import Dataset
from .datasets import CIFAR10
from .loader import DataLoader
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor


class _PerSample(Dataset):
    """The same dataset without ``get_batch``: the loader must call ``ds[i]`` for every image."""

    def __init__(self, ds: Any) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> Any:
        return self.ds[i]


def augmentation(seed: int = 0) -> Compose:
    """The usual CIFAR-10 training augmentation."""
    return Compose([RandomCrop(32, padding=4, seed=seed), RandomHorizontalFlip(seed=seed + 1),
                    ToTensor(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])


def _busy(ms: float, work: np.ndarray | None) -> None:
    """Stand in for a training step of about ``ms`` milliseconds: multiply matrices (a CPU-bound
    step, which like a real one spends its time in BLAS that releases the GIL), or, when
    ``work`` is None, sleep (a step that leaves the CPU idle, e.g. waiting for an accelerator)."""
    if work is None:
        time.sleep(ms / 1000)
        return
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        np.dot(work, work)


def run(loader: DataLoader, max_batches: int | None = None, compute_ms: float = 0.0,
        sleep: bool = False) -> float:
    """Images per second of one pass over ``loader`` (at most ``max_batches`` batches)."""
    work = None if sleep else np.ones((384, 384), np.float32)
    images = 0
    start = time.perf_counter()
    it = iter(loader)
    try:
        for i, (x, _) in enumerate(it):
            images += x.shape[0]
            if compute_ms:
                _busy(compute_ms, work)
            if max_batches is not None and i + 1 >= max_batches:
                break
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
    return images / (time.perf_counter() - start)


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=None, help="data folder (default: $TINYTORCH_DATA or ~/.cache/tinytorch)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3, help="epochs per contender (alternated)")
    ap.add_argument("--prefetch", type=int, default=2)
    ap.add_argument("--compute-ms", type=float, default=0.0,
                    help="also time a consumer that works this long per batch (e.g. 20)")
    ap.add_argument("--compute-batches", type=int, default=100)
    ap.add_argument("--consumer", choices=["matmul", "sleep"], default="matmul",
                    help="how the consumer spends --compute-ms: multiplying matrices or sleeping")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    train = CIFAR10(args.root, train=True, transform=augmentation())
    print(f"loaded {train!r} in {time.perf_counter() - t0:.1f}s")
    bs = args.batch_size
    contenders = {
        "batch path, no prefetch": DataLoader(train, bs, shuffle=True, seed=0, prefetch=0),
        f"batch path, prefetch={args.prefetch}": DataLoader(train, bs, shuffle=True, seed=0,
                                                            prefetch=args.prefetch),
    }
    results: dict = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, loader in contenders.items():
            results[name].append(run(loader))
    per_sample = DataLoader(_PerSample(train), bs, shuffle=True, seed=0)
    results["per-sample path (ds[i] + collate)"] = [run(per_sample, max_batches=60)]

    print(f"CIFAR-10 train, batch {bs}, crop+flip+ToTensor+Normalize: images/s (median of runs)")
    for name, values in results.items():
        runs = ", ".join(f"{v:,.0f}" for v in values)
        print(f"  {name:<36} {statistics.median(values):>10,.0f}   [{runs}]")

    if args.compute_ms:
        print(f"with a consumer that {'sleeps' if args.consumer == 'sleep' else 'multiplies matrices'} "
              f"{args.compute_ms:g} ms per batch ({args.compute_batches} batches): images/s")
        sleep = args.consumer == "sleep"
        work = None if sleep else np.ones((384, 384), np.float32)
        start = time.perf_counter()
        for _ in range(args.compute_batches):
            _busy(args.compute_ms, work)
        ideal = bs * args.compute_batches / (time.perf_counter() - start)
        contenders["per-sample path, no prefetch"] = per_sample
        contenders[f"per-sample path, prefetch={args.prefetch}"] = DataLoader(
            _PerSample(train), bs, shuffle=True, seed=0, prefetch=args.prefetch)
        timed: dict = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, loader in contenders.items():
                timed[name].append(run(loader, args.compute_batches, args.compute_ms, sleep))
        for name, values in timed.items():
            print(f"  {name:<36} {statistics.median(values):>10,.0f}")
        print(f"  {'the consumer alone (no loading)':<36} {ideal:>10,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
