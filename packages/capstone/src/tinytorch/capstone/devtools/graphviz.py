"""See what autograd sees: a Tensor's recorded graph as Graphviz DOT text.

Every op on a tensor that requires grad leaves a ``Node(op, inputs, saved)`` on its result
(the tensor module). Walking from the loss through ``tensor._node.inputs`` reaches every tensor the
loss was computed from; drawing them shows the network as the engine will differentiate it:

    loss = cross_entropy(model(x), y)
    dot = to_dot(loss, names=dict(model.named_parameters()))
    render(dot, "graph.svg")              # needs Graphviz's `dot` program

Boxes are op results (the op's name, the shape and dtype), blue ellipses are the leaves that
receive gradients (parameters, named when you pass ``names``), grey ones are constants (the
input batch, labels). The loss has a double border.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Mapping

from tinytorch.core.tensor import Tensor

__all__ = ["GraphvizUnavailable", "walk_graph", "to_dot", "op_counts", "render"]


class GraphvizUnavailable(RuntimeError):
    """Graphviz's ``dot`` program is not installed (the DOT text works without it)."""


def walk_graph(root: Tensor) -> tuple:
    """Every tensor ``root`` was computed from, and the arrows between them.

    Returns ``(tensors, edges)``: ``tensors`` in the order first reached from ``root``
    (``root`` first), each once even when it is used several times; ``edges`` as
    ``(id(input), id(output))`` pairs, one per input of each recorded node (repeated when an
    op uses the same input twice, as ``x * x`` does).
    """
    tensors: list = []
    edges: list = []
    ### BEGIN SOLUTION
    ### HINT: a stack starting at root and a set of ids already seen; a tensor made by an op
    ### HINT: has t._node (else None), whose .inputs are the tensors it was made from
    seen = {id(root)}
    stack = [root]
    while stack:
        t = stack.pop()
        tensors.append(t)
        node = t._node
        if node is None:
            continue
        for inp in node.inputs:
            edges.append((id(inp), id(t)))
            if id(inp) not in seen:
                seen.add(id(inp))
                stack.append(inp)
    ### END SOLUTION
    return tensors, edges


def _shape(t: Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + (",)" if len(t.shape) == 1 else ")")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(root: Tensor, names: Mapping[str, Any] | None = None, title: str | None = None,
           show_dtype: bool = True) -> str:
    """``root``'s recorded graph as DOT text (``digraph``), inputs above, ``root`` at the bottom.

    Args:
        root: the tensor to explain, usually the loss.
        names: ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) to label leaves.
        title: a graph label (default: the number of ops and tensors).
        show_dtype: add each tensor's dtype under its shape.
    """
    label_of = {id(t): n for n, t in (names or {}).items()}
    tensors, edges = walk_graph(root)
    ops = sum(1 for t in tensors if t._node is not None)
    title = title if title is not None else f"{ops} recorded ops, {len(tensors)} tensors"
    lines = ["digraph autograd {", f"    label={_quote(title)};", "    labelloc=t;",
             "    rankdir=TB;", '    node [fontname="Helvetica", fontsize=10];',
             '    edge [color="#555555", arrowsize=0.6];']
    for t in tensors:
        shape = _shape(t) + (f" {t.dtype}" if show_dtype else "")
        attrs: dict = {}
        if t._node is not None:
            attrs.update(shape="box", style="rounded,filled", fillcolor="#fff3e0",
                         label=f"{t._node.op}\n{shape}")
        elif t.requires_grad:
            name = label_of.get(id(t), "leaf")
            attrs.update(shape="ellipse", style="filled", fillcolor="#bbdefb", label=f"{name}\n{shape}")
        else:
            name = label_of.get(id(t), "constant")
            attrs.update(shape="ellipse", style="filled", fillcolor="#eeeeee", label=f"{name}\n{shape}")
        if t is root:
            attrs["peripheries"] = 2
        body = ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items())
        lines.append(f"    t{id(t)} [{body}];")
    for src, dst in edges:
        lines.append(f"    t{src} -> t{dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def op_counts(root: Tensor) -> Counter:
    """How many times each op appears in ``root``'s graph (``Counter({"matmul": 3, ...})``)."""
    tensors, _ = walk_graph(root)
    return Counter(t._node.op for t in tensors if t._node is not None)


def render(dot: str, path: str, fmt: str | None = None, timeout: float = 120.0) -> str:
    """Render DOT text to ``path`` with Graphviz (format from the extension: svg, png, pdf).

    Raises:
        GraphvizUnavailable: no ``dot`` program on PATH (apt-get install graphviz).
        RuntimeError: ``dot`` failed (its message included).
    """
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizUnavailable("rendering needs Graphviz's `dot` program (e.g. apt-get "
                                  "install graphviz); the DOT text itself needs nothing")
    target = Path(path)
    fmt = fmt or target.suffix.lstrip(".") or "svg"
    res = subprocess.run([exe, f"-T{fmt}", "-o", str(target)], input=dot, text=True,
                         capture_output=True, timeout=timeout)
    if res.returncode:
        raise RuntimeError(f"dot -T{fmt} failed: {res.stderr.strip()}")
    return str(target)
