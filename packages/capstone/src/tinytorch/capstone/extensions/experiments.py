"""Before/after measurements of each extension on real CIFAR-10.

Each *pair* trains the same small network twice — once without the extension, once with it —
with the same seed (same initial weights, same batches, same augmentation), the same number of
images and epochs, and measures both on the real test images. Runs are short (a subset, a few
epochs), so they show the direction of an effect, not the accuracy a full run reaches.

    python -m tinytorch.capstone.extensions.experiments --pairs residual,mixup --epochs 3
    tito capstone run extensions --epochs 3 --train-images 10000

The network: a stem conv, one block per width (halving the resolution when the width grows),
global average pooling and a linear classifier. A run that two pairs share (the common
baseline) is trained once and reused.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import AdaptiveAvgPool2d, Conv2d
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import accuracy, cross_entropy
from tinytorch.core.training.cifar10 import cifar10_loaders

from ..files import write_text_atomic
from .mixing import mixup
from .residual import make_blocks, norm_layer
from .schedules import WarmupCosine

__all__ = ["RunConfig", "PAIRS", "build_net", "train_run", "run_pairs", "pairs_markdown", "main"]


@dataclass(frozen=True)
class RunConfig:
    """Everything one training run depends on (two runs with equal configs are the same run).

    Attributes:
        residual: add the shortcut in every block.
        norm: ``"batch"``, ``"group"`` or ``"none"``.
        mixup: mixup's α (0: off).
        label_smoothing: ε (0: off).
        schedule: ``"constant"`` or ``"cosine"`` (linear warm-up over the first epoch's
            first 10 % of steps, then a half cosine to 0).
        widths: channels of the blocks.
        epochs: passes over the training subset.
        train_images: the first N training images of CIFAR-10.
        test_images: the first N test images (10,000: the whole test set).
        batch_size: images per step.
        lr: base learning rate (SGD, momentum 0.9, nesterov, weight decay on weights only).
        weight_decay: L2 penalty on conv and dense weights.
        seed: weights, shuffling, augmentation and mixup draws.
    """

    residual: bool = False
    norm: str = "batch"
    mixup: float = 0.0
    label_smoothing: float = 0.0
    schedule: str = "constant"
    widths: tuple = (16, 32, 64)
    epochs: int = 3
    train_images: int = 10_000
    test_images: int = 10_000
    batch_size: int = 128
    lr: float = 0.05
    weight_decay: float = 5e-4
    seed: int = 0

    def key(self) -> str:
        """A stable name for this run (the cache key)."""
        return json.dumps(asdict(self), sort_keys=True)


#: name -> (what it tests, the "before" changes, the "after" changes), from RunConfig().
PAIRS: dict = {
    "residual": ("shortcut connections in every block (BatchNorm, constant lr)",
                 {}, {"residual": True}),
    "groupnorm": ("GroupNorm (8 groups) against no normalisation, plain blocks",
                  {"norm": "none"}, {"norm": "group"}),
    "mixup": ("mixup with α = 0.2 (soft targets), plain blocks with BatchNorm",
              {}, {"mixup": 0.2}),
    "label_smoothing": ("label smoothing ε = 0.1, plain blocks with BatchNorm",
                        {}, {"label_smoothing": 0.1}),
    "cosine": ("warm-up + cosine decay against a constant learning rate",
               {}, {"schedule": "cosine"}),
}


def build_net(config: RunConfig, num_classes: int = 10) -> Sequential:
    """stem conv-norm-ReLU → one block per width → global average pool → linear."""
    w0 = config.widths[0]
    layers: list = [Conv2d(3, w0, 3, padding=1, bias=False), norm_layer(config.norm, w0), ReLU()]
    layers += make_blocks(tuple(config.widths), config.norm, config.residual)
    layers += [AdaptiveAvgPool2d(1), Flatten(), Dense(config.widths[-1], num_classes)]
    return Sequential(layers)


def _evaluate(model: Sequential, loader: Any) -> tuple:
    model.eval()
    total, loss_sum, correct = 0, 0.0, 0.0
    with no_grad():
        for x, y in loader:
            out = model(x)
            n = out.shape[0]
            loss_sum += float(cross_entropy(out, y).item()) * n
            correct += accuracy(out, y) * n
            total += n
    return correct / total, loss_sum / total


def train_run(config: RunConfig, root: str | None = None, progress: bool = True,
              eval_each_epoch: bool = False) -> dict:
    """Train one configuration and measure it on the test images; returns a result dict.

    The test images are evaluated after the last epoch (after every epoch with
    ``eval_each_epoch``; evaluation does not change training, only the time it takes).
    """
    manual_seed(config.seed)
    train, test, _ = cifar10_loaders(root, config.batch_size, augment=True, seed=config.seed,
                                     limit_train=config.train_images, limit_test=config.test_images,
                                     prefetch=0)
    model = build_net(config)
    decay = [p for _, p in model.named_parameters() if p.ndim > 1]
    rest = [p for _, p in model.named_parameters() if p.ndim <= 1]
    optimizer = SGD([{"params": decay, "weight_decay": config.weight_decay},
                     {"params": rest, "weight_decay": 0.0}], lr=config.lr, momentum=0.9,
                    nesterov=True)
    steps = config.epochs * len(train)
    scheduler = (WarmupCosine(optimizer, steps, warmup_steps=max(1, steps // 10))
                 if config.schedule == "cosine" else None)
    rng = np.random.default_rng(config.seed + 1000)
    history = []
    start = time.perf_counter()
    train_seconds = 0.0
    for epoch in range(config.epochs):
        model.train()
        t0 = time.perf_counter()
        loss_sum, seen = 0.0, 0
        for x, y in train:
            if config.mixup > 0:
                x, target, _ = mixup(x, y, 10, config.mixup, rng)
            else:
                target = y
            loss = cross_entropy(model(x), target, label_smoothing=config.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            value = float(loss.item())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} in epoch {epoch + 1}")
            loss_sum += value * x.shape[0]
            seen += x.shape[0]
        epoch_seconds = time.perf_counter() - t0
        train_seconds += epoch_seconds
        last = epoch == config.epochs - 1
        acc, test_loss = _evaluate(model, test) if (last or eval_each_epoch) else (None, None)
        row = {"epoch": epoch + 1, "train_loss": loss_sum / seen, "test_acc": acc,
               "test_loss": test_loss, "train_seconds": train_seconds,
               "img_per_s": seen / max(epoch_seconds, 1e-9)}
        history.append(row)
        if progress:
            measured = (f", test acc {acc * 100:.2f}% (loss {test_loss:.4f})"
                        if acc is not None else "")
            print(f"    epoch {epoch + 1}/{config.epochs}: train loss {row['train_loss']:.4f}"
                  f"{measured}, {train_seconds:.0f}s training, {row['img_per_s']:.0f} img/s",
                  flush=True)
    return {"config": asdict(config), "test_acc": history[-1]["test_acc"],
            "test_loss": history[-1]["test_loss"], "train_seconds": train_seconds,
            "total_seconds": time.perf_counter() - start, "history": history,
            "parameters": int(sum(p.data.size for p in model.parameters())),
            "train_images": len(train.dataset), "test_images": len(test.dataset)}


def run_pairs(names: Sequence[str] | None = None, base: RunConfig | None = None,
              root: str | None = None, out_dir: str | None = None, progress: bool = True) -> dict:
    """Train each pair's two runs (each distinct configuration once); returns the results.

    Writes ``out_dir/result.json`` after every run (so a killed session keeps what it
    measured) and ``out_dir/report.md`` at the end.
    """
    names = list(names or PAIRS)
    unknown = [n for n in names if n not in PAIRS]
    if unknown:
        raise ValueError(f"unknown pair(s) {unknown}; choose from {', '.join(PAIRS)}")
    base = base or RunConfig()
    runs: dict = {}
    result: dict[str, Any] = {"track": "extensions", "base": asdict(base), "pairs": {}, "runs": runs,
              "load_before": _load()}
    for name in names:
        what, before, after = PAIRS[name]
        configs = (replace(base, **before), replace(base, **after))
        keys = []
        for label, config in zip(("before", "after"), configs):
            key = config.key()
            keys.append(key)
            if key not in runs:
                if progress:
                    print(f"{name} ({label}): {_describe(config)}", flush=True)
                runs[key] = train_run(config, root, progress)
            elif progress:
                print(f"{name} ({label}): same run as before, reused", flush=True)
        result["pairs"][name] = {"what": what, "before": keys[0], "after": keys[1]}
        result["load_after"] = _load()
        _save(result, out_dir)
    if out_dir:
        with open(os.path.join(out_dir, "report.md"), "w") as f:
            f.write(pairs_markdown(result))
    return result


def _describe(config: RunConfig) -> str:
    parts = ["residual" if config.residual else "plain", f"norm={config.norm}"]
    if config.mixup:
        parts.append(f"mixup α={config.mixup}")
    if config.label_smoothing:
        parts.append(f"label smoothing ε={config.label_smoothing}")
    parts.append(f"{config.schedule} lr {config.lr}")
    return ", ".join(parts)


def _load() -> list | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _save(result: dict, out_dir: str | None) -> None:
    if not out_dir:
        return
    write_text_atomic(os.path.join(out_dir, "result.json"), json.dumps(result, indent=1))


def pairs_markdown(result: dict) -> str:
    """The pairs as a Markdown table: test accuracy and loss before and after, and the time."""
    base = result["base"]
    lines = [f"Each pair: same seed ({base['seed']}), {base['epochs']} epochs on the first "
             f"{base['train_images']:,} CIFAR-10 training images (flip + crop), batch "
             f"{base['batch_size']}, SGD lr {base['lr']}; measured on the first "
             f"{base['test_images']:,} test images. Machine load (1/5/15 min) before: "
             f"{result.get('load_before')}, after: {result.get('load_after')}.", "",
             "| pair | what changes | test acc before | after | Δ acc | test loss before | after | "
             "training time before / after |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, pair in result["pairs"].items():
        b, a = result["runs"][pair["before"]], result["runs"][pair["after"]]
        lines.append(f"| {name} | {pair['what']} | {b['test_acc'] * 100:.2f}% | "
                     f"{a['test_acc'] * 100:.2f}% | {(a['test_acc'] - b['test_acc']) * 100:+.2f} | "
                     f"{b['test_loss']:.3f} | {a['test_loss']:.3f} | "
                     f"{b['train_seconds']:.0f}s / {a['train_seconds']:.0f}s |")
    return "\n".join(lines) + "\n"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the extensions track (shared by ``tito capstone run extensions``)."""
    d = RunConfig()
    parser.add_argument("--pairs", default=",".join(PAIRS),
                        help=f"comma-separated pairs to run (default all: {', '.join(PAIRS)})")
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--train-images", type=int, default=d.train_images)
    parser.add_argument("--test-images", type=int, default=d.test_images)
    parser.add_argument("--batch-size", type=int, default=d.batch_size)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--widths", default=",".join(map(str, d.widths)),
                        help="channels of the blocks, comma-separated (default 16,32,64)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--data", default=None, help="CIFAR-10 root (default $TINYTORCH_DATA)")
    parser.add_argument("--out", default="runs/capstone/extensions", help="results folder")


def run_from_args(args: argparse.Namespace) -> dict:
    """Run the pairs the parsed options ask for."""
    base = RunConfig(epochs=args.epochs, train_images=args.train_images,
                     test_images=args.test_images, batch_size=args.batch_size, lr=args.lr,
                     widths=tuple(int(w) for w in args.widths.split(",")), seed=args.seed)
    result = run_pairs([p.strip() for p in args.pairs.split(",") if p.strip()], base, args.data,
                       args.out)
    print(pairs_markdown(result))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.capstone.extensions.experiments``."""
    parser = argparse.ArgumentParser(description="Before/after pairs of the algorithm extensions "
                                                 "on CIFAR-10.")
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

