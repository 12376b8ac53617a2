"""Cheap pilots of the full recipe: try a change on a narrower net for a few epochs first.

A full-recipe run costs ~77 minutes of the course machine, so a change to the recipe is first
tried at half width (32-128-128) for 4 epochs (~12 minutes with one thread; two pilots run side
by side on the two cores), and only a clear winner goes into a full run. Each pilot prints
and appends one JSON line: the settings, the training time, and the test accuracy on the
10,000 real test images at the three test-time augmentation levels.

    TINYTORCH_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python capstone/performance/pilot.py --crop-padding 4
    TINYTORCH_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python capstone/performance/pilot.py --crop-padding 2

Besides the recipe's own fields, two of airbench's tricks that the recipe does not have can be
switched on here: ``--dirac`` (3×3 convs start as identity maps on their first channels) and
``--lookahead`` (every 5 steps the weights are pulled to a running average whose weight
rises as 0.95⁵ · progress³).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace

import numpy as np

from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import manual_seed
from tinytorch.core.training import CrossEntropyLoss, Trainer
from tinytorch.core.training.callbacks import Callback
from tinytorch.core.training.cifar10 import RECIPES, evaluate_tta, prepare_run


def dirac_init(model) -> None:
    """Make each 3×3 conv with out ≥ in channels pass its first ``in`` channels straight through."""
    for layer in model.modules():
        if isinstance(layer, Conv2d) and layer.weight.shape[-1] == 3:
            w = layer.weight.data
            c_in = w.shape[1]
            if w.shape[0] >= c_in:
                w[:c_in] = 0.0
                w[np.arange(c_in), np.arange(c_in), 1, 1] = 1.0


class Lookahead(Callback):
    """slow ← d·slow + (1 − d)·fast, then fast ← slow, every ``every`` steps (airbench's schedule)."""

    def __init__(self, total_steps: int, every: int = 5) -> None:
        self.total_steps, self.every, self.slow = total_steps, every, None

    def on_batch_end(self, trainer, step, logs) -> None:
        if step % self.every:
            return
        fast = [p.data for p in trainer.model.parameters()]
        fast += [b.data for _, b in trainer.model.named_buffers() if b.data.dtype.kind == "f"]
        if self.slow is None:
            self.slow = [f.copy() for f in fast]
        d = 0.95 ** 5 * (step / self.total_steps) ** 3
        for s, f in zip(self.slow, fast):
            s *= d
            s += (1 - d) * f
            f[...] = s


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="32,128,128")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--crop-padding", type=int, default=RECIPES["full"].crop_padding)
    ap.add_argument("--lr", type=float, default=RECIPES["full"].lr)
    ap.add_argument("--label-smoothing", type=float, default=RECIPES["full"].label_smoothing)
    ap.add_argument("--dirac", action="store_true")
    ap.add_argument("--lookahead", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit-train", type=int, default=None, help="first N training images only")
    ap.add_argument("--limit-test", type=int, default=None, help="first N test images only")
    ap.add_argument("--out", default="pilots.jsonl", help="JSON lines file to append to")
    args = ap.parse_args(argv)

    recipe = replace(RECIPES["full"], widths=tuple(int(w) for w in args.widths.split(",")),
                     epochs=args.epochs, crop_padding=args.crop_padding, lr=args.lr,
                     label_smoothing=args.label_smoothing)
    manual_seed(args.seed)
    parts = prepare_run(recipe, args.data, args.seed, args.limit_train, args.limit_test)
    if args.dirac:
        dirac_init(parts.model)
    callbacks = [Lookahead(recipe.epochs * len(parts.train))] if args.lookahead else []
    trainer = Trainer(parts.model, parts.optimizer,
                      CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
                      scheduler=parts.scheduler, scheduler_interval="step",
                      callbacks=callbacks, progress=False)
    start = time.perf_counter()
    trainer.fit(parts.train, None, epochs=recipe.epochs)
    train_seconds = time.perf_counter() - start

    accuracy = [evaluate_tta(parts.model, parts.test, level) * 100 for level in range(3)]
    result = {"recipe": asdict(recipe), "dirac": args.dirac, "lookahead": args.lookahead,
              "seed": args.seed, "train_seconds": round(train_seconds),
              "last_epoch_train_acc": trainer.history[-1]["train_acc"],
              "test_acc": {"plain": accuracy[0], "flip": accuracy[1], "flip+shift": accuracy[2]}}
    print(json.dumps(result), flush=True)
    with open(args.out, "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


if __name__ == "__main__":
    main()
