"""The five capstone tracks: what each builds, what its harness measures, how to run it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Track", "TRACKS", "get_track"]


@dataclass(frozen=True)
class Track:
    """One capstone track.

    Attributes:
        name: what you type: ``tito capstone run <name>``.
        title: the track's title.
        folder: its project folder in the repository, ``capstone/<folder>``.
        summary: what you build.
        measures: what its harness measures.
        module: the module holding ``add_arguments(parser)`` and ``run_from_args(args)``.
        check: options for a quick check of the harness (seconds to minutes).
    """

    name: str
    title: str
    folder: str
    summary: str
    measures: str
    module: str
    check: tuple = ()

    def load(self):
        """The track's runner module."""
        return importlib.import_module(self.module)


TRACKS: dict = {t.name: t for t in (
    Track("performance", "Performance engineering: the CIFAR-10 speed-run", "performance",
          "a harness that trains the training module's recipe and evaluates the test set after "
          "every epoch, with the same recipe in PyTorch side by side",
          "wall and training time to 90% and 94% test accuracy, per framework",
          "tinytorch.capstone.speedrun",
          ("--recipe", "quick", "--epochs", "1", "--limit-train", "512", "--limit-test", "500",
           "--thresholds", "0.1,0.2")),
    Track("extensions", "Algorithm extensions", "extensions",
          "residual blocks, GroupNorm (in Tensor ops), mixup, label smoothing and a warm-up + "
          "cosine schedule",
          "test accuracy and loss before/after each extension, same seed and budget",
          "tinytorch.capstone.extensions.experiments",
          ("--pairs", "label_smoothing", "--epochs", "1", "--train-images", "512",
           "--test-images", "500")),
    Track("systems", "Systems: data-parallel training over MPI", "systems",
          "broadcast of the initial weights, one all-reduce of the averaged gradients per step, "
          "sharded batches; one process per rank under mpiexec",
          "images/s with 1, 2, ... processes: speed-up and scaling efficiency",
          "tinytorch.capstone.distributed.scaling",
          ("--steps", "3", "--warmup", "1", "--global-batch", "32", "--data", "synthetic",
           "--repeats", "1")),
    Track("analysis", "Benchmarking analysis: TinyTorch vs PyTorch", "analysis",
          "a report op by op and model by model with benchmarking's A/B method, and plots",
          "time ratio TinyTorch/PyTorch with confidence intervals and verdicts",
          "tinytorch.capstone.analysis.report",
          ("--rounds", "3", "--min-time", "0.01", "--scale", "0.25", "--models", "mlp")),
    Track("devtools", "Developer tools", "devtools",
          "an autograd-graph visualiser (Graphviz DOT), per-layer activation/gradient statistics "
          "that flag vanishing and exploding gradients, errors that point at the user's line",
          "which layers are flagged on healthy, vanishing and exploding networks",
          "tinytorch.capstone.devtools.demo"),
)}


def get_track(name: str) -> Track:
    """The track called ``name``; ValueError naming the tracks otherwise."""
    try:
        return TRACKS[name]
    except KeyError:
        raise ValueError(f"no capstone track {name!r}; tracks: {', '.join(TRACKS)}") from None
