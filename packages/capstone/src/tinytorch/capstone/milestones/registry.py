"""The six milestones: what each retraces, which modules it runs, and the bar it must clear."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

__all__ = ["Milestone", "MILESTONES", "get_milestone", "MilestoneError"]


class MilestoneError(ValueError):
    """A mistake in what was asked, or data that is missing: one line, exit status 2."""


@dataclass(frozen=True)
class Milestone:
    """One milestone.

    Attributes:
        year: the year it retraces (also what you type: ``tito milestone run 1957``).
        name: its short name (``perceptron``; also accepted by ``run``).
        title: one line.
        story: what happened then, and what the run shows.
        modules: the course modules (folders) whose code it runs.
        measures: what the result is, e.g. ``test accuracy``.
        goal: the full run's bar, in words.
        quick_goal: the ``--quick`` run's bar, in words.
        runner: the module holding ``run(ctx) -> Outcome``.
        convolution: True when it runs tinytorch-spatial's layers (so the fused/composite choice
        matters).
    """

    year: int
    name: str
    title: str
    story: str
    modules: tuple
    measures: str
    goal: str
    quick_goal: str
    runner: str
    convolution: bool = False

    @property
    def key(self) -> str:
        """``1957-perceptron``: how records and files name it."""
        return f"{self.year}-{self.name}"

    def load(self):
        """The module that runs it."""
        return importlib.import_module(self.runner)


_BASE = ("tensor", "activations", "layers")
_TRAIN = ("autograd", "optimizers")

MILESTONES: dict = {m.key: m for m in (
    Milestone(1957, "perceptron", "Rosenblatt's perceptron",
              "One neuron, w·x + b, and a rule that nudges w towards every point it gets wrong: "
              "on points a straight line can separate, it finds such a line.",
              _BASE + _TRAIN, "accuracy on the points it learned from",
              "100% of linearly separable 2-D points", "the same (it takes a second)",
              "tinytorch.capstone.milestones.perceptron"),
    Milestone(1969, "xor", "XOR: the limit of one layer, and the hidden layer that lifts it",
              "Minsky and Papert showed a single layer cannot compute XOR; a hidden layer can. "
              "Both are trained here on the four points.",
              _BASE + ("dense",) + _TRAIN + ("training",), "accuracy on XOR's four points",
              "one layer <= 75% and one hidden layer 100%", "the same (it takes a second)",
              "tinytorch.capstone.milestones.xor"),
    Milestone(1986, "backprop", "Backpropagation learns handwritten digits",
              "Rumelhart, Hinton and Williams trained hidden layers with backpropagation; an "
              "MLP learns the 8×8 handwritten digits (UCI, 1,797 images, shipped in this package).",
              _BASE + ("dense", "dataloader") + _TRAIN + ("training",),
              "test accuracy on 360 held-out digits", ">= 95%", ">= 90% after 4 epochs",
              "tinytorch.capstone.milestones.backprop"),
    Milestone(1998, "convolution", "LeCun's convolutional network, on CIFAR-10",
              "Convolutions share weights across the image, pooling shrinks it, batch norm "
              "(2015) keeps the training stable: a LeNet-style CNN on your convolution, pooling "
              "and batch norm learns real photos.",
              _BASE + ("dense", "spatial", "dataloader") + _TRAIN + ("training",),
              "test accuracy on CIFAR-10", ">= 65% on the 10,000 test images",
              ">= 25% on 500 test images after 1,024 training images",
              "tinytorch.capstone.milestones.convolution", convolution=True),
    Milestone(2017, "attention", "Attention is all you need: a GPT writes Shakespeare",
              "A transformer attends to every earlier token. The quick form learns to sort "
              "digit sequences; the full form is a character-level GPT on Shakespeare's plays "
              "(shipped in this package), sampled with a KV cache.",
              _BASE + ("attention",) + _TRAIN,
              "held-out exact sorts (quick) / validation loss (full)",
              "validation loss <= 2.0 on Shakespeare", ">= 90% of held-out sequences sorted exactly",
              "tinytorch.capstone.milestones.attention"),
    Milestone(2018, "benchmarking", "MLPerf: how fast does your CNN answer?",
              "MLPerf (2018) asks a model three questions: the latency of one query at a time, "
              "the throughput of a batch job, and whether a server fed at random keeps its "
              "tail latency under a bound. Asked of your 1998 network.",
              _BASE + ("spatial", "autograd", "kernels", "benchmarking"),
              "p99 latency of the server scenario", "p99 <= 100 ms at 20 queries/s",
              "p99 <= 100 ms at 20 queries/s (fewer queries)",
              "tinytorch.capstone.milestones.benchmarking", convolution=True),
)}


def get_milestone(name: str) -> Milestone:
    """The milestone a user means: ``1957``, ``perceptron`` or ``1957-perceptron``."""
    text = str(name).strip().lower()
    for m in MILESTONES.values():
        if text in (str(m.year), m.name, m.key):
            return m
    choices = ", ".join(f"{m.year} ({m.name})" for m in MILESTONES.values())
    raise MilestoneError(f"no milestone {name!r}; choose one of: {choices}, or all")
