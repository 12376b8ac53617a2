"""Track 3 — systems: data-parallel training over MPI (mpi4py).

:mod:`.comm` (MPI, one process, or threads for tests), :mod:`.data_parallel` (broadcast, the
gradient all-reduce, sharding), :mod:`.train` (one rank; run it under ``mpiexec``) and
:mod:`.scaling` (images/s with 1, 2, … processes).
"""

from .comm import (Communicator, MPICommunicator, SingleProcess, ThreadGroup, get_communicator,
                   launched_by_mpi)
from .data_parallel import (DataParallel, allreduce_gradients, average_buffers, broadcast_state,
                            shard_slice)

__all__ = ["Communicator", "SingleProcess", "MPICommunicator", "ThreadGroup", "get_communicator",
           "launched_by_mpi", "DataParallel", "shard_slice", "broadcast_state",
           "allreduce_gradients", "average_buffers"]
