"""``tito train cifar10``: the course's main job, as a tito plugin (entry point ``train``)."""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito train`` to the command line."""
    parser = subparsers.add_parser(
        "train", help="train a model with TinyTorch (e.g. a CNN on CIFAR-10)",
        description="Train a CNN on the real CIFAR-10 with nothing but TinyTorch; prints a "
                    "progress bar per epoch and the measured test accuracy at the end.")
    parser.add_argument("dataset", choices=["cifar10"], help="what to train on")
    parser.add_argument("--recipe", default="quick", choices=["quick", "full"],
                        help="quick: small CNN, a few minutes (default); full: airbench-style "
                             "net, measured 90.2%% test accuracy in about 80 minutes on 2 cores")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--data", default=None,
                        help="folder holding cifar-10-batches-py/ (default $TINYTORCH_DATA or "
                             "~/.cache/tinytorch)")
    parser.add_argument("--download", action="store_true",
                        help="download the official archive if the data is missing")
    parser.add_argument("--out", default=os.path.join("runs", "cifar10"),
                        help="where the checkpoint, history and plot go (default runs/cifar10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--resume", default=None, help="continue from this checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    # for quick checks and tests: train / evaluate on the first N images only
    parser.add_argument("--limit-train", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``tito train``; returns the exit code."""
    from tinytorch.core.dataloader import CIFAR10
    from tinytorch.core.dataloader.datasets import DatasetNotFoundError

    from .cifar10 import train_cifar10

    try:
        CIFAR10(args.data, train=False, download=args.download)
    except DatasetNotFoundError as err:
        print(f"tito train: {err}", file=sys.stderr)
        return 2
    train_cifar10(args.recipe, root=args.data, out_dir=args.out, epochs=args.epochs,
                  seed=args.seed, progress=not args.no_progress, resume=args.resume,
                  limit_train=args.limit_train, limit_test=args.limit_test)
    return 0
