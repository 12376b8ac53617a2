"""``tito train cifar10``: the course's main job, as a tito plugin (entry point ``train``).

A mistake in the invocation (a bad ``--epochs``, a ``--resume`` file that is not a checkpoint,
an ``--out`` folder that cannot be written, missing or damaged data) ends in one line on stderr
naming the bad value and what to do, exit status 2; a run that fails once started (a nan loss,
a full disk) in one line and exit status 1. ``TINYTORCH_DEBUG=1`` shows the traceback instead.

The same ``register`` also adds ``tito data`` (``fetch`` / ``verify``; its code lives in
tinytorch-dataloader, :mod:`tinytorch.core.dataloader.cli`) unless another plugin already did.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

__all__ = ["register", "run", "main", "UsageError"]


class UsageError(ValueError):
    """A mistake in the command line: exit status 2, one line."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito train`` (and ``tito data``, if nobody has) to the command line."""
    parser = subparsers.add_parser(
        "train", help="train a model with TinyTorch (e.g. a CNN on CIFAR-10)",
        description="Train a CNN on the real CIFAR-10 with nothing but TinyTorch; prints a "
                    "progress bar per epoch and the measured test accuracy at the end.")
    _add_arguments(parser)
    parser.set_defaults(func=run)
    try:
        from tinytorch.core.dataloader import cli as data_cli
    except ImportError:  # an older tinytorch-dataloader: no `tito data`
        return
    if "data" not in subparsers.choices:
        data_cli.register(subparsers)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=["cifar10"], help="what to train on")
    parser.add_argument("--recipe", default="quick", choices=["quick", "full", "airbench"],
                        help="quick: small CNN, a few minutes (default); full: airbench-style "
                             "net, measured 90.2%% test accuracy in about 80 minutes on 2 cores; "
                             "airbench: airbench94's recipe, faithfully (batch 1024, 9.9 epochs), "
                             "measured 90.61%% test accuracy with its TTA after 74 min of "
                             "training on 2 cores (seed 0)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--data", default=None,
                        help="folder holding cifar-10-batches-py/ (default $TINYTORCH_DATA or "
                             "~/.cache/tinytorch)")
    parser.add_argument("--download", action="store_true",
                        help="download the official archive if the data is missing, and any "
                             "damaged file of it again")
    parser.add_argument("--out", default=os.path.join("runs", "cifar10"),
                        help="where the checkpoint, history and plot go (default runs/cifar10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--resume", nargs="?", const="", default=None, metavar="CHECKPOINT",
                        help="continue from this checkpoint (a file, or a run's folder); alone: "
                             "from OUT/last.npz")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--kernels", choices=["fused", "composite"], default=None,
                        help="spatial's fused kernels or its composite Tensor-op path (default: "
                             "composite when your own tinytorch-spatial is installed, else fused)")
    # for quick checks and tests: train / evaluate on the first N images only
    parser.add_argument("--limit-train", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--limit-test", type=int, default=None, help=argparse.SUPPRESS)


def _debug() -> bool:
    return os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0")


def _check_numbers(args: argparse.Namespace, batch_size: int) -> None:
    if args.epochs is not None and args.epochs < 1:
        raise UsageError(f"--epochs {args.epochs}: the number of epochs must be at least 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: a seed must be 0 or more")
    if args.limit_train is not None and args.limit_train < batch_size:
        raise UsageError(f"--limit-train {args.limit_train}: the recipe '{args.recipe}' trains on "
                         f"batches of {batch_size} images; keep at least {batch_size}")
    if args.limit_test is not None and args.limit_test < 1:
        raise UsageError(f"--limit-test {args.limit_test}: keep at least 1 test image")


def _check_out(out: str) -> None:
    """``out`` is (or can become) a folder this process can write to; leaves no trace."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} is a file, not a folder: give a folder for the run's files")
    created = []
    folder = os.path.abspath(out)
    while not os.path.exists(folder):
        created.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UsageError(f"--out {out}: {folder} is a file, so no folder can be made under it")
    probe = os.path.join(out, f".tito-write-test-{os.getpid()}")
    try:
        os.makedirs(out, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"ok")
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f"--out {out}: cannot write there ({err.strerror or err}); choose a "
                         "folder you can write to") from None
    finally:
        for path in created:  # the trainer creates them again when it writes
            try:
                os.rmdir(path)
            except OSError:
                pass


def _resume_path(args: argparse.Namespace) -> str | None:
    """The checkpoint ``--resume`` names, checked (it is read again by the trainer)."""
    from .checkpoint import CheckpointError, load_checkpoint

    if args.resume is None:
        return None
    path = args.resume or os.path.join(args.out, "last.npz")
    if os.path.isdir(path):
        path = os.path.join(path, "last.npz")
    try:
        load_checkpoint(path)
    except CheckpointError as err:
        raise UsageError(f"--resume: {err}") from None
    return path


def _run(args: argparse.Namespace) -> int:
    from tinytorch.core.dataloader.datasets import DatasetNotFoundError
    from tinytorch.core.dataloader.download import UnsafeArchiveError
    from tinytorch.core.dataloader.safe_pickle import UnsafePickleError

    from .checkpoint import CheckpointError
    from .cifar10 import RECIPES, train_cifar10

    _check_numbers(args, RECIPES[args.recipe].batch_size)
    resume = _resume_path(args)
    _check_out(args.out)
    try:
        train_cifar10(args.recipe, root=args.data, out_dir=args.out, epochs=args.epochs,
                      seed=args.seed, progress=not args.no_progress, resume=resume,
                      limit_train=args.limit_train, limit_test=args.limit_test,
                      download=args.download, kernels=args.kernels)
    except (DatasetNotFoundError, UnsafeArchiveError, UnsafePickleError) as err:
        text = str(err).replace("(or download=True)", "(or tito train ... --download)")
        raise UsageError(text if args.data is None else f"--data {args.data}: {text}") from None
    except CheckpointError as err:
        raise UsageError(f"--resume: {err}") from None
    return 0


def run(args: argparse.Namespace) -> int:
    """Run ``tito train``; returns the exit code (0 done, 1 the run failed, 2 a usage mistake)."""
    try:
        return _run(args)
    except UsageError as err:
        if _debug():
            raise
        print(f"tito train: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        raise
    except Exception as err:  # noqa: BLE001 - one line, not a traceback (TINYTORCH_DEBUG=1 for it)
        if _debug():
            raise
        where = f" ({err.filename})" if isinstance(err, OSError) and err.filename else ""
        print(f"tito train: the run failed: {type(err).__name__}: {err}{where} "
              "(TINYTORCH_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.core.training.cli cifar10 ...``: ``tito train`` without tito."""
    parser = argparse.ArgumentParser(prog="tito train", description="Train a CNN on CIFAR-10.")
    _add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
