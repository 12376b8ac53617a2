"""Data-parallel training, one process per rank: run it under ``mpiexec``.

    mpiexec -n 2 python -m tinytorch.capstone.distributed.train --steps 20 --data cifar10
    python -m tinytorch.capstone.distributed.train --steps 20 --data cifar10     # 1 process

(as root, Open MPI also wants ``--allow-run-as-root``). Every rank builds the model — rank r
from seed ``seed + r`` on purpose, so the broadcast of rank 0's weights is what makes them
equal — walks the *same* sequence of global batches (the same seeded permutation on every
rank) and loads only its own slice of each. Rank 0 writes the result (losses, time, images/s)
as JSON; ``--save-weights P`` makes every rank write its final weights to ``P.rank<r>.npz``.

The same command runs across machines unchanged: MPI decides where the ranks live (see
``capstone/systems/README.md`` for hostfiles and network settings).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import time
from typing import Any, Sequence

import numpy as np

from tinytorch.core.benchmarking import build_tinytorch, get_model_spec
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor, from_numpy
from tinytorch.core.training import cross_entropy

from .comm import Communicator, get_communicator
from .data_parallel import DataParallel, shard_slice

__all__ = ["global_batches", "train", "build_parser", "main"]


class _Synthetic:
    """Random images and labels, the same on every rank for a given (seed, step)."""

    def __init__(self, shape: tuple, classes: int, seed: int) -> None:
        self.shape, self.classes, self.seed = shape, classes, seed

    def batch(self, step: int, batch: int) -> tuple:
        rng = np.random.default_rng((self.seed, step))
        x = rng.standard_normal((batch, *self.shape), dtype=np.float32)
        return x, rng.integers(0, self.classes, size=batch).astype(np.int64)


def global_batches(data: str, steps: int, global_batch: int, seed: int, shape: tuple,
                   rank: int, size: int, root: str | None = None,
                   limit_train: int | None = None) -> Any:
    """Yield this rank's ``(x, y)`` slice of each of ``steps`` global batches.

    ``synthetic``: seeded random tensors. ``cifar10``: the real training images, normalised,
    in a seeded random order (a new permutation each epoch); each rank reads only its slice.
    """
    part = shard_slice(global_batch, rank, size)
    if data == "synthetic":
        source = _Synthetic(shape, 10, seed)
        for step in range(steps):
            x, y = source.batch(step, global_batch)
            yield from_numpy(np.ascontiguousarray(x[part])), Tensor(y[part])
        return
    if data != "cifar10":
        raise ValueError(f"unknown data {data!r} (synthetic, cifar10)")
    from tinytorch.core.dataloader import CIFAR10, Compose, Normalize, ToTensor
    from tinytorch.core.training.cifar10 import CIFAR10_MEAN, CIFAR10_STD

    train = CIFAR10(root, train=True)
    images, labels = train.data, train.targets
    if limit_train:
        images, labels = images[:limit_train], labels[:limit_train]
    normalize = Compose([ToTensor(), Normalize(CIFAR10_MEAN, CIFAR10_STD)])
    per_epoch = len(images) // global_batch
    if per_epoch < 1:
        raise ValueError(f"{len(images)} images make no global batch of {global_batch}")
    for step in range(steps):
        epoch, i = divmod(step, per_epoch)
        order = np.random.default_rng((seed, epoch)).permutation(len(images))
        idx = np.sort(order[i * global_batch:(i + 1) * global_batch][part])
        yield normalize.apply_batch(images[idx]), Tensor(labels[idx])


def train(comm: Communicator, model_name: str = "cnn", data: str = "synthetic", steps: int = 10,
          warmup: int = 2, global_batch: int = 64, lr: float = 0.05, momentum: float = 0.9,
          seed: int = 0, root: str | None = None, limit_train: int | None = None) -> dict:
    """Train ``model_name`` (a module-14 benchmark model) for ``warmup + steps`` steps on
    ``comm.size`` ranks; the last ``steps`` are timed. Returns the result (every rank) and
    the model under ``"model_obj"``.

    Besides wall time (images/s) it records the CPU seconds of all ranks together (images
    per CPU-second: steadier than wall time on a shared machine, and it charges the
    parallel version for every cycle it spends, waiting in MPI included) and the wall time
    spent inside the collectives (the slowest rank's).
    """
    spec = get_model_spec(model_name)
    model = build_tinytorch(spec, seed=seed + comm.rank)  # differs per rank until the broadcast
    optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)
    dp = DataParallel(model, optimizer, cross_entropy, comm)
    losses, t0 = [], None
    batches = global_batches(data, warmup + steps, global_batch, seed, spec.input_shape,
                             comm.rank, comm.size, root, limit_train)
    cpu0 = 0.0
    for step, (x, y) in enumerate(batches):
        if step == warmup:
            comm.barrier()
            t0, cpu0 = time.perf_counter(), time.process_time()
            dp.comm_seconds = 0.0
        losses.append(dp.step(x, y, local=True))
    comm.barrier()
    elapsed = time.perf_counter() - (t0 if t0 is not None else time.perf_counter())
    cpu = np.array([time.process_time() - cpu0 if t0 is not None else 0.0])
    comm_seconds = comm.allreduce_max(dp.comm_seconds)
    comm.allreduce_sum(cpu)  # CPU seconds of every rank together
    elapsed = comm.allreduce_max(elapsed)
    return {"ranks": comm.size, "communicator": comm.name, "model": model_name, "data": data,
            "global_batch": global_batch, "steps": steps, "warmup": warmup, "seconds": elapsed,
            "images_per_s": steps * global_batch / elapsed if elapsed > 0 else None,
            "cpu_seconds": float(cpu[0]),
            "images_per_cpu_s": steps * global_batch / float(cpu[0]) if cpu[0] > 0 else None,
            "comm_seconds": comm_seconds,
            "losses": losses, "lr": lr, "momentum": momentum, "seed": seed,
            "host": socket.gethostname(), "model_obj": model}


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m tinytorch.capstone.distributed.train``."""
    p = argparse.ArgumentParser(prog="python -m tinytorch.capstone.distributed.train",
                                description="Data-parallel training over MPI (run under mpiexec).")
    p.add_argument("--model", default="cnn", help="benchmarking's model: mlp, cnn, cnn-bn")
    p.add_argument("--data", default="synthetic", choices=("synthetic", "cifar10"))
    p.add_argument("--steps", type=int, default=10, help="timed steps")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--global-batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="threads per process for TinyTorch's kernels and numpy's BLAS (default 1)")
    p.add_argument("--comm", default="auto", choices=("auto", "mpi", "single"),
                   help="auto: MPI when started by mpiexec, else one process")
    p.add_argument("--data-root", default=None, help="CIFAR-10 root (default $TINYTORCH_DATA)")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--out", default=None, help="rank 0 writes the result here (JSON)")
    p.add_argument("--save-weights", default=None, help="every rank writes PREFIX.rank<r>.npz")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one rank."""
    args = build_parser().parse_args(argv)
    from tinytorch.core.tensor.runtime import set_blas_threads, set_num_threads
    set_num_threads(args.threads)
    set_blas_threads(args.threads)
    comm = get_communicator(args.comm)
    result = train(comm, args.model, args.data, args.steps, args.warmup, args.global_batch,
                   args.lr, args.momentum, args.seed, args.data_root, args.limit_train)
    model = result.pop("model_obj")
    result["threads_per_rank"] = args.threads
    if args.save_weights:
        np.savez(f"{args.save_weights}.rank{comm.rank}.npz", **model.state_dict())
    if comm.rank == 0:
        result["load"] = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
        text = json.dumps(result, indent=1)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        print(f"{comm.size} rank(s) [{comm.name}]: {args.steps} steps of {args.global_batch} "
              f"images in {result['seconds']:.2f}s = {result['images_per_s']:.1f} images/s; "
              f"last loss {result['losses'][-1]:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
