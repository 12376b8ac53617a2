"""Models described once, as a list of layer specs, and built in TinyTorch (or PyTorch).

TinyTorch's layers take PyTorch's arguments and name their parameters like PyTorch's, so one
description serves both frameworks:

    CNN = ModelSpec("cnn", input_shape=(3, 32, 32), layers=[
        layer("Conv2d", 3, 32, 3, padding=1), layer("ReLU"), layer("MaxPool2d", 2),
        ...
        layer("Flatten"), layer("Dense", 4096, 128), layer("ReLU"), layer("Dense", 128, 10),
    ])
    model = build_tinytorch(CNN)             # a Sequential with children "0", "1", ...
    twin = build_torch(CNN)                  # torch.nn.Sequential, same names (see .torch_twin)

The built-in models (:data:`MODELS`) are the course's benchmarks: the MNIST-sized MLP, the
reference small CNN (conv32-pool-conv64-pool-fc128-fc10 on 32×32 RGB, 12.3 MFLOP per image
forward) and the CIFAR-10 recipe's
conv-BN-ReLU-pool CNN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Tanh
from tinytorch.core.attention import LayerNorm
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Dropout, Flatten
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import (AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d,
                                    Conv2d, MaxPool2d)
from tinytorch.core.tensor import Tensor, from_numpy, manual_seed
from tinytorch.core.training import CrossEntropyLoss

__all__ = ["LayerSpec", "ModelSpec", "layer", "build_tinytorch", "MODELS", "get_model_spec",
           "TINYTORCH_LAYERS", "TORCH_LAYER_NAMES", "sample_batch", "tinytorch_train_step"]


@dataclass(frozen=True)
class LayerSpec:
    """One layer: its kind (a key of :data:`TINYTORCH_LAYERS`) and constructor arguments."""

    kind: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.kind}({', '.join(parts)})"


def layer(kind: str, *args: Any, **kwargs: Any) -> LayerSpec:
    """``layer("Conv2d", 3, 32, 3, padding=1)``: a :class:`LayerSpec`."""
    if kind not in TINYTORCH_LAYERS:
        raise ValueError(f"layer: unknown kind {kind!r} (known: {', '.join(TINYTORCH_LAYERS)})")
    return LayerSpec(kind, tuple(args), dict(kwargs))


@dataclass(frozen=True)
class ModelSpec:
    """A sequential model: a name, the shape of one input sample, the layers, the classes.

    Attributes:
        name: label, e.g. "cnn".
        input_shape: one sample's shape, e.g. (3, 32, 32).
        layers: the layer specs, in order.
        num_classes: outputs of the last layer (for random labels in a training step).
        description: one line for reports.
    """

    name: str
    input_shape: tuple
    layers: tuple
    num_classes: int = 10
    description: str = ""

    def __str__(self) -> str:
        return " → ".join(str(s) for s in self.layers)


TINYTORCH_LAYERS: dict = {
    "Dense": Dense, "Linear": Dense, "Conv2d": Conv2d, "MaxPool2d": MaxPool2d,
    "AvgPool2d": AvgPool2d, "AdaptiveAvgPool2d": AdaptiveAvgPool2d,
    "BatchNorm1d": BatchNorm1d, "BatchNorm2d": BatchNorm2d, "LayerNorm": LayerNorm,
    "Flatten": Flatten, "Dropout": Dropout, "ReLU": ReLU, "Sigmoid": Sigmoid, "Tanh": Tanh,
    "GELU": GELU,
}
"""Spec kind -> TinyTorch layer class."""

TORCH_LAYER_NAMES: dict = {"Dense": "Linear"}
"""Spec kinds whose ``torch.nn`` class has another name (every other kind is the same)."""


def build_tinytorch(spec: ModelSpec, seed: int | None = 0) -> Sequential:
    """The TinyTorch ``Sequential`` of ``spec`` (weights drawn from a generator seeded ``seed``)."""
    if seed is not None:
        manual_seed(seed)
    layers = []
    for i, s in enumerate(spec.layers):
        cls = TINYTORCH_LAYERS.get(s.kind)
        if cls is None:
            raise ValueError(f"build_tinytorch: layer {i} has unknown kind {s.kind!r}")
        layers.append(cls(*s.args, **s.kwargs))
    return Sequential(layers)


def _mlp() -> ModelSpec:
    return ModelSpec("mlp", (784,), (
        layer("Dense", 784, 128), layer("ReLU"), layer("Dense", 128, 10),
    ), 10, "MLP 784-128-10 (MNIST-sized)")


def _cnn() -> ModelSpec:
    return ModelSpec("cnn", (3, 32, 32), (
        layer("Conv2d", 3, 32, 3, padding=1), layer("ReLU"), layer("MaxPool2d", 2),
        layer("Conv2d", 32, 64, 3, padding=1), layer("ReLU"), layer("MaxPool2d", 2),
        layer("Flatten"), layer("Dense", 64 * 8 * 8, 128), layer("ReLU"), layer("Dense", 128, 10),
    ), 10, "the reference small CNN (CIFAR-10 sized, 12.3 MFLOP/image)")


def _cnn_bn() -> ModelSpec:
    layers: list = []
    c_in = 3
    for c_out in (32, 64, 128):
        layers += [layer("Conv2d", c_in, c_out, 3, padding=1, bias=False),
                   layer("BatchNorm2d", c_out), layer("ReLU"), layer("MaxPool2d", 2)]
        c_in = c_out
    layers += [layer("Flatten"), layer("Dense", 128 * 4 * 4, 10)]
    return ModelSpec("cnn-bn", (3, 32, 32), tuple(layers), 10,
                     "the CIFAR-10 recipe's conv-BN-ReLU-pool x3 CNN (tito train cifar10 --recipe quick)")


MODELS: dict = {"mlp": _mlp(), "cnn": _cnn(), "cnn-bn": _cnn_bn()}
"""The built-in benchmark models by name."""


def get_model_spec(name: str) -> ModelSpec:
    """A built-in :class:`ModelSpec` by name (``"mlp"``, ``"cnn"``, ``"cnn-bn"``)."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; built-in models: {', '.join(MODELS)}") from None


def sample_batch(spec: ModelSpec, batch: int, seed: int = 0) -> tuple:
    """Random float32 inputs ``(batch, *input_shape)`` and int64 labels ``(batch,)``, seeded."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, *spec.input_shape), dtype=np.float32)
    y = rng.integers(0, spec.num_classes, size=batch).astype(np.int64)
    return x, y


def tinytorch_train_step(model: Sequential, x: np.ndarray, y: np.ndarray,
                         lr: float = 0.01) -> Callable[[], float]:
    """A zero-argument function doing one SGD training step on (x, y); returns the loss."""
    model.train()
    optimizer = SGD(model.parameters(), lr=lr)
    loss_fn = CrossEntropyLoss()
    inputs = from_numpy(np.ascontiguousarray(x))
    labels = Tensor(y)

    def step() -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        return float(loss.data)
    return step
