"""``tito data fetch|verify <dataset>``: get a dataset, check every file, repair what is damaged.

    tito data fetch cifar10              # download if missing; re-extract damaged files
    tito data verify cifar10             # check every file (sizes, md5s, a complete read); no network
    python -m tinytorch.core.dataloader.cli fetch cifar10     # the same without tito

``fetch`` builds both splits with ``download=True``: a missing dataset is downloaded (md5
checked) and unpacked, a damaged file is replaced from the official archive, and every file
ends up recorded in the folder's manifest. ``verify`` does the same checks without the network
(a locally prepared copy gets its manifest written here). Exit status: 0 when every file is
good, 1 when something is missing or damaged (one line on stderr says which file and what to
do), 2 for a usage mistake. ``TINYTORCH_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Sequence

__all__ = ["DATASETS", "register", "main", "fetch", "verify", "debug_enabled"]

#: What ``tito data`` knows: command-line name -> class name in tinytorch.core.dataloader.
DATASETS = {"cifar10": "CIFAR10", "mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def debug_enabled() -> bool:
    """``TINYTORCH_DEBUG`` is set (and not 0): show tracebacks instead of one-line errors."""
    return os.environ.get("TINYTORCH_DEBUG", "").strip() not in ("", "0")


def _dataset_class(name: str) -> Any:
    from . import datasets

    return getattr(datasets, DATASETS[name])


def _summary(name: str, train: Any, test: Any) -> str:
    from .integrity import MANIFEST_NAME

    folder = getattr(train, "folder", None) or train.root / getattr(train, "folder_name", "")
    return (f"{DATASETS[name]} in {folder}: {len(train):,} training and {len(test):,} test images, "
            f"every file checked (sizes and md5s recorded in {MANIFEST_NAME})")


def _build(name: str, root: str | None, download: bool) -> str:
    cls = _dataset_class(name)
    train = cls(root, train=True, download=download)
    test = cls(root, train=False, download=download)
    return _summary(name, train, test)


def fetch(name: str, root: str | None = None) -> str:
    """Get dataset ``name`` into ``root`` (download if missing, repair damaged files); a summary."""
    return _build(name, root, download=True)


def verify(name: str, root: str | None = None) -> str:
    """Check every file of dataset ``name`` in ``root`` without the network; a summary."""
    return _build(name, root, download=False)


def _run(action: Callable[[str, str | None], str], prog: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from .datasets import DatasetNotFoundError
        from .download import DownloadError, UnsafeArchiveError
        from .safe_pickle import UnsafePickleError

        try:
            print(action(args.dataset, args.root), flush=True)
            return 0
        except (DatasetNotFoundError, DownloadError, UnsafeArchiveError, UnsafePickleError) as err:
            if debug_enabled():
                raise
            text = str(err)
            print(f"{prog}: {text}", file=sys.stderr)
            return 1
        except OSError as err:  # the data folder itself cannot be written or read
            if debug_enabled():
                raise
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            print(f"{prog}: {err.strerror or err}{where}: choose a data folder you can write to "
                  "(--root DIR or TINYTORCH_DATA)", file=sys.stderr)
            return 1
    return run


def _add_commands(parser: argparse.ArgumentParser, prog: str) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    for name, action, text in (
        ("fetch", fetch, "get a dataset: download it if missing, re-extract damaged files"),
        ("verify", verify, "check every file of a dataset (sizes, md5s, a complete read), offline"),
    ):
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        p.add_argument("dataset", choices=sorted(DATASETS), help="which dataset")
        p.add_argument("--root", default=None,
                       help="the data folder (default $TINYTORCH_DATA or ~/.cache/tinytorch)")
        p.set_defaults(func=_run(action, f"{prog} {name}"))

    def usage(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2
    parser.set_defaults(func=usage)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tito data`` (``fetch``, ``verify``) to the command line (once: an older
    tinytorch-training also adds it)."""
    if "data" in subparsers.choices:
        return
    parser = subparsers.add_parser(
        "data", help="get and check datasets (CIFAR-10, MNIST, Fashion-MNIST)",
        description="Get a dataset into the data folder and check every file of it; a damaged "
                    "file is named, and fetched again by 'fetch'.")
    _add_commands(parser, "tito data")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.core.dataloader.cli fetch|verify DATASET [--root DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.core.dataloader.cli",
                                     description="Get a dataset, check every file, repair what is damaged.")
    _add_commands(parser, "tinytorch data")
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
