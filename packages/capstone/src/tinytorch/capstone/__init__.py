"""tinytorch.capstone — five tracks, each a project with a harness that measures it.

    $ tito capstone list
    $ tito capstone run performance --recipe full     # time to 90% / 94% on CIFAR-10
    $ tito capstone report

* :mod:`.speedrun` — performance engineering: the CIFAR-10 speed-run, TinyTorch and PyTorch;
* :mod:`.extensions` — residual blocks, GroupNorm, mixup, label smoothing, warm-up + cosine,
  each measured before/after (:mod:`.extensions.experiments`);
* :mod:`.distributed` — data-parallel training over MPI, and its scaling;
* :mod:`.analysis` — TinyTorch vs PyTorch, op by op and model by model, with plots;
* :mod:`.devtools` — autograd-graph visualiser, activation/gradient monitor, errors at your line;
* :mod:`.milestones` — ``tito milestone``: your framework retraces 1957 → 2018 (perceptron, XOR,
  backpropagation, LeNet on CIFAR-10, a GPT, MLPerf-style benchmarking).

Heavy parts (PyTorch, mpi4py, matplotlib) are imported only when a track needs them.
"""

from .tracks import TRACKS, Track, get_track

__all__ = ["TRACKS", "Track", "get_track"]
