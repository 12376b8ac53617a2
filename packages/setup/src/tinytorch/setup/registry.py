"""The course's module registry: one place for numbers, folders, distributions and imports.

Every other part of ``tito`` (``tito module list``, ``tito test``, ``tito module start``…)
resolves what a user typed through :func:`resolve_module`, so the course order and names are
defined here and nowhere else.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = [
    "META_DISTRIBUTION",
    "MODULES",
    "NAMESPACE",
    "PLUGIN_COMMANDS",
    "Module",
    "UnknownModuleError",
    "canonical_name",
    "command_provider",
    "module_for_distribution",
    "resolve_module",
    "suggest",
]

#: The meta-package that depends on all seventeen modules and ships no code. It is not called
#: ``tinytorch``: that name on PyPI belongs to an unrelated project.
META_DISTRIBUTION = "tinytorch-framework"

#: Every TinyTorch distribution is called ``tinytorch-<something>``.
NAMESPACE = "tinytorch"


@dataclass(frozen=True)
class Module:
    """One course module: a distribution in ``packages/<folder>``.

    Attributes:
        number: Position in the course, 0 to 16.
        folder: Folder name under ``packages/`` (also the short name users type).
        distribution: The pip distribution name, e.g. ``tinytorch-tensor``.
        import_name: The dotted import path, e.g. ``tinytorch.core.tensor``.
        title: A one-line description shown by ``tito module list``.
    """

    number: int
    folder: str
    distribution: str
    import_name: str
    title: str

    @property
    def label(self) -> str:
        """The two-digit number and folder, e.g. ``02 tensor``."""
        return f"{self.number:02d} {self.folder}"

    @property
    def import_dir(self) -> str:
        """The import path as a relative directory, e.g. ``tinytorch/core/tensor``."""
        return self.import_name.replace(".", "/")

    @property
    def tests_dir(self) -> str:
        """Where the wheel ships this module's tests, relative to site-packages."""
        return f"{self.import_dir}/tests"


def _m(number: int, folder: str, import_name: str, title: str) -> Module:
    return Module(number, folder, f"tinytorch-{folder}", import_name, title)


#: The seventeen modules in course order.
MODULES: tuple[Module, ...] = (
    _m(0, "introduction", "tinytorch.introduction", "What you will build and how the course works"),
    _m(1, "setup", "tinytorch.setup", "The tito command: environment, workspaces, tests"),
    _m(2, "tensor", "tinytorch.core.tensor", "N-dimensional Tensor that records its graph"),
    _m(3, "activations", "tinytorch.core.activations", "ReLU, Sigmoid, Tanh, Softmax, GELU"),
    _m(4, "layers", "tinytorch.core.layers", "Parameters, Module and the Dense layer"),
    _m(5, "dense", "tinytorch.core.dense", "Sequential networks and MLPs"),
    _m(6, "spatial", "tinytorch.core.spatial", "Convolution and pooling"),
    _m(7, "attention", "tinytorch.core.attention", "Scaled dot-product and multi-head attention"),
    _m(8, "dataloader", "tinytorch.core.dataloader", "Datasets, batching, CIFAR-10 and MNIST"),
    _m(9, "autograd", "tinytorch.core.autograd", "Reverse-mode automatic differentiation"),
    _m(10, "optimizers", "tinytorch.core.optimizers", "SGD, momentum, Adam, schedules"),
    _m(11, "training", "tinytorch.core.training", "Losses, metrics and the training loop"),
    _m(12, "compression", "tinytorch.core.compression", "Pruning, quantisation, distillation"),
    _m(13, "kernels", "tinytorch.core.kernels", "Fast kernels: im2col, fused ops, buffers"),
    _m(14, "benchmarking", "tinytorch.core.benchmarking", "Measuring speed and accuracy fairly"),
    _m(15, "mlops", "tinytorch.core.mlops", "Checkpoints, monitoring and serving"),
    _m(16, "capstone", "tinytorch.capstone", "Put it together: a project of your choice"),
)


class UnknownModuleError(LookupError):
    """Raised when a name does not match any module of the course (one line, with a guess)."""

    def __init__(self, name: str) -> None:
        choices = ", ".join(f"{m.number:02d}/{m.folder}" for m in MODULES)
        key = re.sub(r"^(tinytorch-(core-)?)?(\d+-)?", "", canonical_name(str(name).strip()))
        guess = suggest(key, _module_names())
        mean = f" — did you mean {guess!r}?" if guess else ""
        super().__init__(
            f"unknown module {name!r}{mean} (use a number: 02 or 2, a folder name: tensor or "
            f"02_tensor, or a distribution name: tinytorch-tensor; modules: {choices})"
        )
        self.name = name
        self.suggestion = guess


def suggest(text: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest of ``choices`` to ``text`` (``difflib``), or ``None`` if none is close."""
    found = difflib.get_close_matches(str(text).strip().lower(), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _module_names() -> list[str]:
    return [m.folder for m in MODULES]


def canonical_name(name: str) -> str:
    """Normalise a distribution name the PEP 503 way (``Tinytorch_Tensor`` → ``tinytorch-tensor``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


#: ``01_setup``, ``01-setup``, ``1 setup``: the seed's numbered folder names.
_NUMBERED = re.compile(r"^(\d{1,2})[-_ ]+([a-z]\w*)$")


def resolve_module(name: str | int) -> Module:
    """Find the module a user means.

    Accepts the number (``2``, ``"02"``), the folder (``"tensor"``), the numbered folder
    (``"02_tensor"``, ``"02-tensor"``), the distribution (``"tinytorch-tensor"``, any case or
    separator) or the import path (``"tinytorch.core.tensor"``, ``"tinytorch.setup"``).

    Raises:
        UnknownModuleError: if nothing matches (its message suggests the closest name).
    """
    text = str(name).strip()
    if text.isdigit():
        number = int(text)
        for module in MODULES:
            if module.number == number:
                return module
        raise UnknownModuleError(text)
    numbered = _NUMBERED.match(text.lower())
    if numbered:
        number, folder = int(numbered.group(1)), canonical_name(numbered.group(2))
        for module in MODULES:
            if module.number == number and module.folder == folder:
                return module
        raise UnknownModuleError(text)
    canon = canonical_name(text)
    for module in MODULES:
        if canon in (module.folder, module.distribution, canonical_name(module.import_name)):
            return module
    raise UnknownModuleError(text)


def module_for_distribution(distribution: str) -> Module | None:
    """The module shipped by a distribution, or ``None`` (meta-package, unknown names)."""
    canon = canonical_name(distribution)
    for module in MODULES:
        if module.distribution == canon:
            return module
    return None


#: Commands that other distributions add to ``tito`` (their ``tinytorch.tito`` entry points),
#: so that ``tito train`` without ``tinytorch-training`` can say what to install. A test
#: checks this table against every ``packages/*/pyproject.toml`` of the checkout.
PLUGIN_COMMANDS: dict[str, str] = {
    "benchmark": "tinytorch-benchmarking",
    "capstone": "tinytorch-capstone",
    "data": "tinytorch-dataloader",
    "kernels": "tinytorch-kernels",
    "milestone": "tinytorch-capstone",
    "registry": "tinytorch-mlops",
    "serve": "tinytorch-mlops",
    "system.graph": "tinytorch-introduction",
    "train": "tinytorch-training",
}


def command_provider(command: str) -> str | None:
    """The distribution that adds ``tito <command>`` (``"system.graph"`` for a sub-command)."""
    return PLUGIN_COMMANDS.get(command)
