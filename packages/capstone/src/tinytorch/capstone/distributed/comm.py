"""Communicators: the few collective operations data-parallel training needs.

* :class:`MPICommunicator` — the real thing: MPI through mpi4py, one process per rank, started
  by ``mpiexec`` on one machine or many. Nothing in the training code knows how many machines
  there are; MPI does.
* :class:`SingleProcess` — size 1: every collective is a no-op (the single-process reference).
* :class:`ThreadGroup` — N ranks as N threads of one process, summing in rank order: the
  same semantics as MPI, for fast tests without an MPI installation.

Each offers ``rank``, ``size``, ``allreduce_sum(buf)`` (in place), ``broadcast(buf, root)`` (in
place), ``allreduce_max(value)`` and ``barrier()``. Buffers are contiguous numpy arrays.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import numpy as np

__all__ = ["Communicator", "SingleProcess", "MPICommunicator", "ThreadGroup", "launched_by_mpi",
           "get_communicator"]

# Variables the common MPI launchers set in every process they start.
_MPI_ENV = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS", "SLURM_NTASKS")


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher (mpiexec/mpirun/srun)."""
    return any(v in os.environ for v in _MPI_ENV)


class Communicator:
    """The interface: rank, size and the collectives (all ranks must call each one)."""

    rank: int = 0
    size: int = 1
    name: str = "communicator"

    def allreduce_sum(self, buf: np.ndarray) -> None:
        """Replace ``buf`` on every rank by the elementwise sum of every rank's ``buf``."""
        raise NotImplementedError

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        """Copy rank ``root``'s ``buf`` into every rank's ``buf``."""
        raise NotImplementedError

    def allreduce_max(self, value: float) -> float:
        """The largest of every rank's ``value``."""
        raise NotImplementedError

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        raise NotImplementedError


class SingleProcess(Communicator):
    """One rank: the collectives leave everything as it is."""

    name = "single process"

    def allreduce_sum(self, buf: np.ndarray) -> None:
        pass

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        pass

    def allreduce_max(self, value: float) -> float:
        return float(value)

    def barrier(self) -> None:
        pass


class MPICommunicator(Communicator):
    """MPI's ``COMM_WORLD`` (mpi4py): ``Allreduce`` in place, ``Bcast``, ``Barrier``.

    Raises:
        ImportError: mpi4py is not installed (``pip install 'tinytorch-capstone[mpi]'``; it
            needs an MPI library such as Debian's ``openmpi-bin libopenmpi-dev``).
    """

    def __init__(self, comm: Any = None) -> None:
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise ImportError("MPI needs mpi4py: pip install 'tinytorch-capstone[mpi]' (and an MPI "
                              "library, e.g. apt-get install openmpi-bin libopenmpi-dev)") from exc
        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self.name = f"MPI ({MPI.Get_library_version().splitlines()[0].strip()})"

    def allreduce_sum(self, buf: np.ndarray) -> None:
        if not buf.flags.c_contiguous:
            raise ValueError("allreduce_sum: the buffer must be C-contiguous")
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        if not buf.flags.c_contiguous:
            raise ValueError("broadcast: the buffer must be C-contiguous")
        self.comm.Bcast(buf, root=root)

    def allreduce_max(self, value: float) -> float:
        return float(self.comm.allreduce(float(value), op=self._MPI.MAX))

    def barrier(self) -> None:
        self.comm.Barrier()


class _Shared:
    def __init__(self, size: int) -> None:
        self.size = size
        self.slots: list = [None] * size
        self.barrier = threading.Barrier(size)


class ThreadCommunicator(Communicator):
    """One rank of a :class:`ThreadGroup` (sums in rank order, like a deterministic MPI)."""

    def __init__(self, shared: _Shared, rank: int) -> None:
        self._s = shared
        self.rank = rank
        self.size = shared.size
        self.name = f"{shared.size} threads"

    def allreduce_sum(self, buf: np.ndarray) -> None:
        s = self._s
        s.slots[self.rank] = buf.copy()
        s.barrier.wait()
        total = s.slots[0].copy()
        for other in s.slots[1:]:
            total += other
        s.barrier.wait()  # everyone has read the slots before any rank reuses them
        buf[...] = total

    def broadcast(self, buf: np.ndarray, root: int = 0) -> None:
        s = self._s
        if self.rank == root:
            s.slots[root] = buf.copy()
        s.barrier.wait()
        value = s.slots[root]
        s.barrier.wait()
        if self.rank != root:
            buf[...] = value

    def allreduce_max(self, value: float) -> float:
        s = self._s
        s.slots[self.rank] = float(value)
        s.barrier.wait()
        top = max(s.slots)
        s.barrier.wait()
        return top

    def barrier(self) -> None:
        self._s.barrier.wait()


class ThreadGroup:
    """N ranks as N threads: ``ThreadGroup(2).run(fn)`` calls ``fn(comm)`` on each rank and
    returns the results in rank order (an exception in any rank is re-raised)."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"ThreadGroup: size must be >= 1, got {size}")
        self.size = size

    def run(self, fn: Callable[[Communicator], Any]) -> list:
        shared = _Shared(self.size)
        results: list = [None] * self.size
        errors: list = []

        def target(rank: int) -> None:
            try:
                results[rank] = fn(ThreadCommunicator(shared, rank))
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                errors.append(exc)
                shared.barrier.abort()  # release the others instead of deadlocking

        threads = [threading.Thread(target=target, args=(r,)) for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
            raise (real or errors)[0]
        return results


def get_communicator(kind: str = "auto") -> Communicator:
    """``"mpi"``, ``"single"``, or ``"auto"``: MPI when started by an MPI launcher, else single."""
    if kind == "single" or (kind == "auto" and not launched_by_mpi()):
        return SingleProcess()
    if kind in ("mpi", "auto"):
        return MPICommunicator()
    raise ValueError(f"get_communicator: unknown kind {kind!r} (auto, mpi, single)")
