"""The developer-tools track, demonstrated on small networks (seconds, no data needed).

    python -m tinytorch.capstone.devtools.demo --out runs/capstone/devtools
    tito capstone run devtools

1. the autograd graph of a small CNN's loss, as DOT text (and SVG when Graphviz is installed);
2. the training monitor on a healthy network, on a deep sigmoid network (vanishing
   gradients) and on a network with weights 30× too large (exploding gradients);
3. a wrong-shape call made by a user's script (``my_script.py``), first as the framework
   reports it, then under :func:`pinpoint`, which names the script's line that made the call.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Sequence

import numpy as np

from tinytorch.core.activations import ReLU, Sigmoid
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Dense, Flatten
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor, manual_seed
from tinytorch.core.training import cross_entropy

from .errors import pinpoint
from .graphviz import GraphvizUnavailable, op_counts, render, to_dot
from .monitor import TrainingMonitor

__all__ = ["small_cnn", "deep_sigmoid_mlp", "scaled_mlp", "run_demo", "main"]


def small_cnn() -> Sequential:
    """conv(3→8)-ReLU-pool → flatten → dense(8·8·8 → 10), for 16×16 images."""
    return Sequential([Conv2d(3, 8, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                       Dense(8 * 8 * 8, 10)])


def deep_sigmoid_mlp(depth: int = 12, width: int = 32) -> Sequential:
    """``depth`` Dense+Sigmoid layers: the textbook case of vanishing gradients."""
    layers: list = [Dense(16, width), Sigmoid()]
    for _ in range(depth - 1):
        layers += [Dense(width, width), Sigmoid()]
    return Sequential(layers + [Dense(width, 10)])


def scaled_mlp(scale: float = 30.0, depth: int = 6, width: int = 64) -> Sequential:
    """A ReLU MLP whose initial weights are multiplied by ``scale``: exploding gradients."""
    layers: list = [Dense(16, width), ReLU()]
    for _ in range(depth - 1):
        layers += [Dense(width, width), ReLU()]
    model = Sequential(layers + [Dense(width, 10)])
    for p in model.parameters():
        if p.ndim > 1:
            p.data *= np.float32(scale)
    return model


def _monitor(model: Sequential, x: np.ndarray, y: np.ndarray) -> TrainingMonitor:
    monitor = TrainingMonitor(model)
    with monitor:
        loss = cross_entropy(model(Tensor(x)), y)
        loss.backward()
    return monitor


#: A user's script: its call of the model is the line a shape error should point at.
USER_SCRIPT = """\
def train_step(model, batch):
    images = batch
    logits = model(images)          # the line to fix: the images are 12x12, not 16x16
    return logits
"""


def _user_function(folder: str):
    """``train_step`` compiled from :data:`USER_SCRIPT` as the file ``folder/my_script.py``
    (outside the framework, as a user's code is)."""
    path = os.path.join(folder, "my_script.py")
    with open(path, "w") as f:
        f.write(USER_SCRIPT)
    namespace: dict = {}
    exec(compile(USER_SCRIPT, path, "exec"), namespace)  # noqa: S102 - our own text
    return namespace["train_step"]


def run_demo(out_dir: str | None = "runs/capstone/devtools", seed: int = 0) -> dict:
    """Run the three demonstrations; write ``report.md``, ``graph.dot`` (and ``graph.svg``)."""
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    result: dict = {"track": "devtools"}
    lines = ["## Autograd graph", ""]

    cnn = small_cnn()
    x = rng.standard_normal((4, 3, 16, 16), dtype=np.float32)
    y = rng.integers(0, 10, size=4)
    loss = cross_entropy(cnn(Tensor(x)), y)
    dot = to_dot(loss, names=dict(cnn.named_parameters()), title="small CNN: cross-entropy loss")
    counts = op_counts(loss)
    result["ops"] = dict(counts)
    lines.append(f"The loss of a small CNN on a batch of 4: {sum(counts.values())} recorded ops "
                 f"({', '.join(f'{k} ×{v}' for k, v in counts.most_common())}).")
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "graph.dot"), "w") as f:
            f.write(dot)
        try:
            result["svg"] = render(dot, os.path.join(out_dir, "graph.svg"))
            lines.append("Rendered with Graphviz: `graph.svg` (DOT text: `graph.dot`).")
        except GraphvizUnavailable as exc:
            lines.append(f"DOT text in `graph.dot` ({exc}).")

    lines += ["", "## Training monitor", ""]
    xs = rng.standard_normal((32, 16), dtype=np.float32)
    ys = rng.integers(0, 10, size=32)
    cases = {"healthy ReLU MLP": Sequential([Dense(16, 64), ReLU(), Dense(64, 10)]),
             "12 sigmoid layers": deep_sigmoid_mlp(),
             "weights ×30": scaled_mlp()}
    result["monitor"] = {}
    for name, model in cases.items():
        monitor = _monitor(model, xs, ys)
        problems = monitor.problems()
        result["monitor"][name] = [p.to_dict() for p in problems]
        lines += [f"**{name}** — {len(problems)} layer(s) flagged", "", "```", monitor.report(), "```", ""]

    lines += ["## Errors that point at your line", ""]
    bad = Tensor(rng.standard_normal((4, 3, 12, 12), dtype=np.float32))  # 12×12, not 16×16
    with tempfile.TemporaryDirectory() as tmp:
        train_step = _user_function(out_dir or tmp)
        try:
            train_step(cnn, bad)
        except ValueError as exc:
            plain = str(exc)
        try:
            with pinpoint():
                train_step(cnn, bad)
        except ValueError as exc:
            pinned = str(exc)
    result["error_plain"], result["error_pinpointed"] = plain, pinned
    lines += ["A user's script (`my_script.py`):", "", "```python", USER_SCRIPT.rstrip(), "```", "",
              "Without `pinpoint`:", "", "```", plain, "```", "", "With `pinpoint()`:", "", "```",
              pinned, "```", ""]
    markdown = "\n".join(lines)
    result["markdown"] = markdown
    if out_dir:
        with open(os.path.join(out_dir, "report.md"), "w") as f:
            f.write(markdown)
        with open(os.path.join(out_dir, "result.json"), "w") as f:
            json.dump({k: v for k, v in result.items() if k != "markdown"}, f, indent=1)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the devtools track."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/capstone/devtools", help="results folder")


def run_from_args(args: argparse.Namespace) -> dict:
    """Run the demonstrations and print the report."""
    result = run_demo(args.out, args.seed)
    print(result["markdown"])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.capstone.devtools.demo``."""
    parser = argparse.ArgumentParser(description="Developer tools: autograd graph, training "
                                                 "monitor, errors at your line.")
    add_arguments(parser)
    run_from_args(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
