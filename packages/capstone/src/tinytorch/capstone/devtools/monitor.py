"""Per-layer activation and gradient statistics that flag vanishing or exploding gradients.

    monitor = TrainingMonitor(model)           # forward hooks on every layer
    with monitor:
        loss = loss_fn(model(x), y)
        loss.backward()
    print(monitor.report())                    # one row per layer, problems flagged
    monitor.problems()                         # just the flagged ones

During the forward pass a hook on each leaf layer records its output's statistics (mean,
standard deviation, largest magnitude, fraction of exact zeros) and of its input (activations
such as ReLU take no hooks: a dead ReLU shows as the next layer's input, almost all zeros). After ``backward()`` the monitor reads every parameter's
gradient and flags a layer whose gradient norm is below ``vanishing``, above ``exploding``
or not finite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor

__all__ = ["activation_stats", "classify_gradient", "LayerReport", "TrainingMonitor"]


def activation_stats(values: Any) -> dict:
    """``{"mean", "std", "max_abs", "zero_fraction"}`` of an array (or Tensor), as floats.

    Over every element: the mean, the (population) standard deviation, the largest absolute
    value and the fraction of elements exactly 0. An empty array gives 0.0 for all four.
    """
    a = np.asarray(values.data if isinstance(values, Tensor) else values, dtype=np.float64)
    ### BEGIN SOLUTION
    ### HINT: handle the empty array first (a.max() of nothing raises); np.mean(a == 0) is a fraction
    if a.size == 0:
        return {"mean": 0.0, "std": 0.0, "max_abs": 0.0, "zero_fraction": 0.0}
    return {"mean": float(a.mean()), "std": float(a.std()), "max_abs": float(np.abs(a).max()),
            "zero_fraction": float(np.mean(a == 0))}
    ### END SOLUTION


def classify_gradient(norm: float, vanishing: float = 1e-6, exploding: float = 1e3) -> str:
    """``"ok"``, ``"vanishing"`` (norm < ``vanishing``), ``"exploding"`` (norm > ``exploding``)
    or ``"non-finite"`` (nan or inf) for one gradient norm.

    The bounds are strict: a norm equal to ``vanishing`` or ``exploding`` is ``"ok"``.
    """
    ### BEGIN SOLUTION
    ### HINT: test for nan/inf first: every comparison with nan is False
    if not math.isfinite(norm):
        return "non-finite"
    if norm > exploding:
        return "exploding"
    if norm < vanishing:
        return "vanishing"
    return "ok"
    ### END SOLUTION


@dataclass
class LayerReport:
    """What the monitor saw of one layer in the last forward and backward pass.

    Attributes:
        name: the layer's dotted name in the model (``"3"``, ``"block.conv1"``).
        kind: its class name.
        output: statistics of its output (see :func:`activation_stats`); None if not run.
        input: statistics of its first input.
        grad_norms: parameter name -> L2 norm of its gradient (None: no gradient).
        weight_norms: parameter name -> L2 norm of its value.
        flags: what looks wrong (empty when nothing does).
    """

    name: str
    kind: str
    output: dict | None = None
    input: dict | None = None
    grad_norms: dict = field(default_factory=dict)
    weight_norms: dict = field(default_factory=dict)
    flags: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain values."""
        return asdict(self)


class TrainingMonitor:
    """Forward hooks on every leaf layer; gradient checks after backward.

    Args:
        model: the model to watch.
        vanishing: a parameter gradient norm below this is flagged "vanishing".
        exploding: a parameter gradient norm above this is flagged "exploding".
        dead_fraction: an output with at least this fraction of exact zeros is flagged
            "dead" (e.g. a ReLU that never fires).
    """

    def __init__(self, model: Module, vanishing: float = 1e-6, exploding: float = 1e3,
                 dead_fraction: float = 0.99) -> None:
        self.model = model
        self.vanishing = float(vanishing)
        self.exploding = float(exploding)
        self.dead_fraction = float(dead_fraction)
        self._removers: list = []
        self._outputs: dict = {}
        # leaf Modules; activations (a ModuleBase, not a Module) are left out of the table — a
        # dead ReLU shows up as the next layer's input, almost all zeros
        self.layers = [(name, m) for name, m in model.named_modules()
                       if isinstance(m, Module) and not any(True for _ in m.named_children())]
        self._inputs: dict = {}

    # ------------------------------------------------------------------ hooks
    def attach(self) -> "TrainingMonitor":
        """Register a forward hook on every leaf layer (idempotent)."""
        if self._removers:
            return self
        for name, layer in self.layers:
            if hasattr(layer, "register_forward_hook"):
                self._removers.append(layer.register_forward_hook(self._hook(name)))
        return self

    def detach(self) -> None:
        """Remove the hooks."""
        for remove in self._removers:
            remove()
        self._removers = []

    def __enter__(self) -> "TrainingMonitor":
        return self.attach()

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def _hook(self, name: str) -> Any:
        def hook(module: Any, inputs: tuple, output: Any) -> None:
            if isinstance(output, Tensor):
                self._outputs[name] = activation_stats(output)
            if inputs and isinstance(inputs[0], Tensor):
                self._inputs[name] = activation_stats(inputs[0])
        return hook

    # ------------------------------------------------------------------ the check
    def check(self) -> list:
        """A :class:`LayerReport` per leaf layer, from the last forward pass and the gradients
        now in the parameters (call it after ``backward()``)."""
        reports = []
        for name, layer in self.layers:
            rep = LayerReport(name, type(layer).__name__, self._outputs.get(name),
                              self._inputs.get(name))
            params = list(layer.named_parameters()) if hasattr(layer, "named_parameters") else []
            for pname, p in params:
                rep.weight_norms[pname] = float(np.linalg.norm(p.data))
                if p.grad is None:
                    rep.grad_norms[pname] = None
                    continue
                norm = float(np.linalg.norm(np.asarray(p.grad.data, dtype=np.float64)))
                rep.grad_norms[pname] = norm
                verdict = classify_gradient(norm, self.vanishing, self.exploding)
                if verdict != "ok":
                    rep.flags.append(f"{verdict} gradient: ‖∇{pname}‖ = {norm:.3g}")
            out = rep.output
            if out is not None:
                if not (math.isfinite(out["mean"]) and math.isfinite(out["std"])):
                    rep.flags.append("non-finite activations")
                elif out["zero_fraction"] >= self.dead_fraction:
                    rep.flags.append(f"dead: {out['zero_fraction']:.0%} of its outputs are 0")
            inp = rep.input
            if inp is not None and inp["zero_fraction"] >= self.dead_fraction:
                rep.flags.append(f"{inp['zero_fraction']:.0%} of its input is 0 (a dead ReLU before it?)")
            reports.append(rep)
        return reports

    def problems(self) -> list:
        """The layers with at least one flag."""
        return [r for r in self.check() if r.flags]

    def report(self) -> str:
        """A text table: layer, output mean/std/zeros, gradient norms, flags."""
        rows = [("layer", "kind", "out mean", "out std", "zeros", "grad norm", "flags")]
        for r in self.check():
            o = r.output
            grads = [v for v in r.grad_norms.values() if v is not None]
            rows.append((r.name, r.kind,
                         f"{o['mean']:.3g}" if o else "-", f"{o['std']:.3g}" if o else "-",
                         f"{o['zero_fraction']:.0%}" if o else "-",
                         f"{max(grads):.3g}" if grads else "-", "; ".join(r.flags) or "ok"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows)
