"""The learning roadmap: the modules in an order you can learn them, and what each unlocks.

The order and the prerequisites are computed from the graph (a topological order of the
declared dependencies). What a step *unlocks* is computed too: the modules whose last missing
prerequisite it was, which you can start right after it. The only hand-written part is one
sentence per module saying what you can do once it is done (:data:`ABILITIES`); a module that
has none (a new one) shows its package summary instead.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .graph import ModuleGraph

__all__ = ["ABILITIES", "RoadmapStep", "roadmap", "unlocked_by"]

#: One curated sentence per module: what you can do once it is done.
ABILITIES: dict = {
    "introduction": "you can read the course's map: this graph, the roadmap, and your progress",
    "setup": "tito checks your machine, hands you a module with the solutions cut out, and tests it",
    "tensor": "arrays that remember how they were computed: every op records its inputs",
    "activations": "ReLU, GELU, Softmax — the non-linearities, as Tensor ops",
    "layers": "Module, Parameter and Dense: y = xW + b with weights you can name and save",
    "dense": "Sequential and MLP: stack layers into a network and run it forward",
    "spatial": "Conv2d, pooling and batch norm: networks that see images",
    "attention": "attention, LayerNorm and a transformer block: networks that read sequences",
    "dataloader": "CIFAR-10 and MNIST from their official files, shuffled into batches",
    "autograd": "loss.backward() fills every .grad: your Sequential, Conv2d and attention train",
    "optimizers": "SGD, Adam and learning-rate schedules move the weights downhill",
    "training": "the Trainer: fit, validate, checkpoint — tito train cifar10 trains a real CNN",
    "compression": "pruned and int8-quantised models, measured smaller and compared for accuracy",
    "kernels": "fast kernels: im2col + GEMM, fused ops, threads — and how to time them honestly",
    "benchmarking": "a profiler and fair measurements: where the time goes, TinyTorch vs PyTorch",
    "mlops": "a model registry, an HTTP model server with metrics, and drift monitoring",
    "capstone": "five projects: speed-run CIFAR-10, new algorithms, MPI data parallel, analysis, tools",
}


@dataclass
class RoadmapStep:
    """One module's place on the roadmap.

    Attributes:
        position: 1-based step number.
        name: the distribution.
        label: ``09 autograd``.
        level: depth in the graph (0: builds on nothing).
        requires: labels of the modules it declares (direct).
        prerequisites: labels of everything it builds on, directly or not, in order.
        unlocks: labels of the modules whose last prerequisite this step completes.
        ability: what you can do once this step is done.
    """

    position: int
    name: str
    label: str
    level: int
    requires: list = field(default_factory=list)
    prerequisites: list = field(default_factory=list)
    unlocks: list = field(default_factory=list)
    ability: str = ""

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)

    def sentence(self) -> str:
        """``after 09 autograd: loss.backward() ...; next you can start 10 optimizers``."""
        text = f"after {self.label}: {self.ability}"
        if self.unlocks:
            text += f" — unlocks {', '.join(self.unlocks)}"
        return text


def unlocked_by(graph: ModuleGraph, order: list) -> dict:
    """``name -> [modules it unlocks]``: a module is unlocked by the prerequisite of it that
    comes last in ``order`` (modules that declare nothing are open from the start)."""
    position = {name: i for i, name in enumerate(order)}
    out: dict = {name: [] for name in order}
    for name in order:
        deps = graph.dependencies(name)
        if deps:
            out[max(deps, key=position.__getitem__)].append(name)
    return out


def _ability(graph: ModuleGraph, name: str) -> str:
    node = graph.nodes[name]
    if node.folder in ABILITIES:
        return ABILITIES[node.folder]
    summary = node.summary.split(":", 1)[-1].strip() if node.summary else ""
    return summary or "(no description)"


def roadmap(graph: ModuleGraph) -> list:
    """The modules as :class:`RoadmapStep` s, in a learning order (see
    :meth:`~tinytorch.introduction.graph.ModuleGraph.topological_order`)."""
    order = graph.topological_order()
    level = graph.levels()
    unlocks = unlocked_by(graph, order)
    label = {n: graph.nodes[n].label for n in order}
    return [RoadmapStep(i + 1, name, label[name], level[name],
                        [label[d] for d in graph.dependencies(name)],
                        [label[d] for d in graph.prerequisites(name)],
                        [label[u] for u in unlocks[name]], _ability(graph, name))
            for i, name in enumerate(order)]
