"""``Profiler``: where does the time go, layer by layer — forward *and* backward.

    with Profiler(model) as prof:
        loss = loss_fn(model(x), y)
        loss.backward()
    print(prof.summary())

For every module of the model (activations included) the profiler reports the forward time,
the backward time, the FLOPs (counted analytically, :mod:`.flops`), the parameters and the
bytes of the layer's output (the activation memory a training step keeps for backward).

How it measures, without patching anything:

* **Forward** — a forward *pre-hook* reads the clock just before a module's ``forward`` and a
  forward hook reads it just after (``Module.register_forward_pre_hook`` /
  ``register_forward_hook``, the layers module). The forward hook also counts the FLOPs from the
  input and output shapes and the output's bytes.
* **Backward** — the hooks put an *identity op* on each side of the layer in the graph: the
  pre-hook passes the layer's inputs through ``benchmarking.layer_input`` and the forward hook
  passes its output through ``benchmarking.layer_output``. Neither changes a value. Their
  derivatives are registered with ``register_derivative`` (the tensor module's explicit registry),
  and they read the clock: the engine calls ``layer_output``'s derivative when the gradient
  of the layer's output is complete — the layer's backward is about to start — and
  ``layer_input``'s when the gradient has gone through every op of the layer to its input —
  the layer's backward is done. The difference is the layer's backward time.

  The engine visits tensors in topological order, so for a chain of layers (a ``Sequential``,
  a residual block's branch) these two events bracket exactly the layer's derivative calls.
  When two independent branches run in parallel, the engine may interleave their ops; a
  layer's backward time then includes the other branch's ops that ran in between.

  The input of the first layer (the data) does not require grad, so an op on it records no
  node; each input marker therefore also takes a one-element *anchor* tensor that requires
  grad (its derivative gives the anchor no gradient). This is also why, while profiling with
  grad mode on, every layer's output requires grad.

* **Activations** (tinytorch-activations) are layers like any other here: ``Activation`` and
  ``Module`` share the base ``ModuleBase`` (tinytorch-activations), which runs the forward hooks,
  so the profiler hooks a ``ReLU()`` exactly as it hooks a ``Dense``. Activations called as functions
  inside a ``forward`` (``x.relu()``) are not layers: their time is part of the calling module's.

Times are inclusive: a container's row covers its children. They are reported per *step*:
forward time divided by the number of calls of the model itself, backward time divided by
the number of backward passes through it. The clock is an argument (``clock=``), so the
arithmetic can be tested on a fake clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor, make_result, register_derivative

from .flops import count_parameters, module_flops
from .format import format_bytes, format_count, format_flops, markdown_table, text_table

__all__ = ["Profiler", "LayerProfile", "LAYER_INPUT_OP", "LAYER_OUTPUT_OP", "profile"]

LAYER_INPUT_OP = "benchmarking.layer_input"
LAYER_OUTPUT_OP = "benchmarking.layer_output"

Clock = Callable[[], float]


# --------------------------------------------------------------------------- bookkeeping
class _Call:
    """One call of one module: where its backward passes began and ended.

    A graph can be traversed more than once (``retain_graph=True``); each traversal is a
    *pass* ``[start, end]``. A layer with several outputs starts when the first output's
    gradient is complete; one with several inputs ends when the last input's is.
    """

    __slots__ = ("record", "generation", "passes")

    def __init__(self, record: "_Record", generation: int) -> None:
        self.record = record
        self.generation = generation
        self.passes: list = []

    def backward_started(self, t: float) -> None:
        if not self.passes or self.passes[-1][1] is not None:
            self.passes.append([t, None])  # a new pass
        else:
            self.passes[-1][0] = min(self.passes[-1][0], t)

    def backward_finished(self, t: float) -> None:
        if not self.passes:
            return  # the gradient reached the input without going through the output
        current = self.passes[-1]
        if current[1] is None:
            self.record.backward_passes += 1
            current[1] = t
            self.record.backward_total += t - current[0]
        elif t > current[1]:  # a later input of the same pass: extend it
            self.record.backward_total += t - current[1]
            current[1] = t


class _Record:
    """Everything measured about one module so far."""

    def __init__(self, name: str, module: Any, depth: int, generation: int) -> None:
        self.name = name
        self.module = module  # where the hooks go, and what the FLOP rules see
        self.depth = depth
        self.type_name = type(module).__name__
        self.generation = generation  # measurements of older generations are ignored
        self.params = count_parameters(module)
        self.stack: list = []  # (call, start time) of calls in progress (recursion-safe)
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.forward_total = 0.0
        self.backward_total = 0.0
        self.backward_passes = 0
        self.flops_total = 0
        self.flops_known = True
        self.output_shape: tuple | None = None
        self.output_bytes = 0


# --------------------------------------------------------------------------- the marker ops
@register_derivative(LAYER_OUTPUT_OP)
def _layer_output_derivative(grad: np.ndarray, node: Any) -> tuple:
    """The gradient of a layer's output is complete: its backward starts now."""
    call, clock = node.saved
    if call.generation == call.record.generation:
        call.backward_started(clock())
    return (grad,)


@register_derivative(LAYER_INPUT_OP)
def _layer_input_derivative(grad: np.ndarray, node: Any) -> tuple:
    """The gradient has reached a layer's input: its backward is done."""
    call, clock = node.saved
    if call.generation == call.record.generation:
        call.backward_finished(clock())
    return (grad, None)  # the anchor gets no gradient


def _is_float_tensor(value: Any) -> bool:
    return isinstance(value, Tensor) and value.data.dtype.kind == "f"


def _tensors(value: Any) -> Iterator[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, Tensor):
                yield v


def _shape_of(value: Any) -> tuple | None:
    for t in _tensors(value):
        return tuple(t.shape)
    return None


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class LayerProfile:
    """One row of the profile: a module and what it cost per step.

    Attributes:
        name: dotted name in the model ("" for the model itself, shown as its type).
        type: the class name.
        depth: nesting level (0 for the model).
        output_shape: shape of the (first tensor of the) output, at the last call.
        params: trainable parameters, this module's and its descendants'.
        flops: forward FLOPs per step, this module's and its descendants'.
        flops_complete: False when some module inside has no FLOP rule (its own work is
            missing from ``flops``).
        forward: forward seconds per step (inclusive of children).
        backward: backward seconds per backward pass, or None if no backward went through it.
        output_bytes: bytes of the module's output at the last call.
        calls: forward calls per step.
    """

    name: str
    type: str
    depth: int
    output_shape: tuple | None
    params: int
    flops: int
    flops_complete: bool
    forward: float
    backward: float | None
    output_bytes: int
    calls: float

    @property
    def label(self) -> str:
        """``'0: Conv2d'`` (or just the type for the model itself)."""
        return f"{self.name}: {self.type}" if self.name else self.type

    def to_dict(self) -> dict:
        """Plain values, for JSON (seconds as given; shape as a list)."""
        return {"name": self.name, "type": self.type, "depth": self.depth,
                "output_shape": None if self.output_shape is None else list(self.output_shape),
                "params": self.params, "flops": self.flops,
                "flops_complete": self.flops_complete, "forward_s": self.forward,
                "backward_s": self.backward, "output_bytes": self.output_bytes,
                "calls_per_step": self.calls}


class Profiler:
    """Per-layer forward/backward time, FLOPs, parameters and output memory of a model.

    Args:
        model: the Module to profile (every descendant module and activation is profiled).
        backward: also time the backward pass (puts the marker ops into the graph).
        clock: seconds as a float (default ``time.perf_counter``); tests pass a fake one.

    Example:
        >>> with Profiler(model) as prof:                                # doctest: +SKIP
        ...     loss = loss_fn(model(x), y)
        ...     loss.backward()
        >>> print(prof.summary())                                        # doctest: +SKIP
    """

    def __init__(self, model: Module, backward: bool = True, clock: Clock | None = None) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"Profiler needs a Module, got {type(model).__name__}")
        self.model = model
        self.backward = bool(backward)
        self.clock: Clock = time.perf_counter if clock is None else clock
        self._records: list = []
        self._removers: list = []
        self._children: dict = {}  # id(record) -> the records of its direct children
        self._anchor: Tensor | None = None
        self._generation = 0
        self.attached = False

    # ------------------------------------------------------------------ attach / detach
    def __enter__(self) -> "Profiler":
        self.attach()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.detach()

    def attach(self) -> "Profiler":
        """Install the hooks on every layer; ``with Profiler(...)`` calls this."""
        if self.attached:
            raise RuntimeError("Profiler.attach(): already attached")
        if not self._records:
            self._build_records()
        self._anchor = Tensor(np.zeros((), dtype=np.float32), requires_grad=True)
        for record in self._records:
            layer = record.module  # a Module or an activation: both take hooks (ModuleBase)
            self._removers.append(layer.register_forward_pre_hook(self._pre_hook(record)))
            self._removers.append(layer.register_forward_hook(self._post_hook(record)))
        self.attached = True
        return self

    def detach(self) -> None:
        """Remove the hooks (measurements are kept)."""
        for remove in self._removers:
            remove()
        self._removers.clear()
        for record in self._records:
            record.stack.clear()
        self.attached = False

    def reset(self) -> None:
        """Forget every measurement (e.g. after warm-up steps); hooks stay in place.

        Graphs built before the reset no longer report their backward passes.
        """
        self._generation += 1
        for record in self._records:
            record.reset()
            record.generation = self._generation

    def _build_records(self) -> None:
        """One record per module (parents first; a layer reachable twice is one record)."""
        for name, m in self.model.named_modules():
            depth = 0 if name == "" else name.count(".") + 1
            self._records.append(_Record(name, m, depth, self._generation))
        self._children = {id(r): [] for r in self._records}
        prefix_index = {r.name: r for r in self._records}
        for r in self._records:
            if r.name:
                parent = r.name.rsplit(".", 1)[0] if "." in r.name else ""
                self._children[id(prefix_index[parent])].append(r)

    # ------------------------------------------------------------------ the hooks
    def _pre_hook(self, record: _Record) -> Callable:
        def hook(module: Any, args: tuple) -> Any:
            call = _Call(record, self._generation)
            replaced = None
            if self.backward:
                replaced = tuple(self._mark_input(a, call) for a in args)
            record.stack.append((call, self.clock()))
            return replaced
        return hook

    def _post_hook(self, record: _Record) -> Callable:
        def hook(module: Any, args: tuple, output: Any) -> Any:
            end = self.clock()
            if not record.stack:
                return None
            call, start = record.stack.pop()
            if call.generation != self._generation:
                return None
            record.calls += 1
            record.forward_total += end - start
            target = record.module
            flops = module_flops(target, args, output)
            if flops is None:
                record.flops_known = False
            else:
                record.flops_total += flops
            record.output_shape = _shape_of(output)
            record.output_bytes = sum(int(t.data.nbytes) for t in _tensors(output))
            if not self.backward:
                return None
            return self._mark_output(output, call)
        return hook

    def _mark_input(self, value: Any, call: _Call) -> Any:
        if not _is_float_tensor(value):
            return value
        return make_result(value.data, LAYER_INPUT_OP, (value, self._anchor), (call, self.clock))

    def _mark_output(self, value: Any, call: _Call) -> Any:
        if _is_float_tensor(value):
            return make_result(value.data, LAYER_OUTPUT_OP, (value,), (call, self.clock))
        if isinstance(value, tuple):
            return tuple(self._mark_output(v, call) if _is_float_tensor(v) else v for v in value)
        return value

    # ------------------------------------------------------------------ results
    @property
    def steps(self) -> int:
        """Forward calls of the model itself (the denominator of every forward figure)."""
        return self._records[0].calls if self._records else 0

    @property
    def backward_steps(self) -> int:
        """Backward passes through the model itself (the denominator of backward figures)."""
        return self._records[0].backward_passes if self._records else 0

    def _inclusive(self, record: _Record) -> tuple:
        """(FLOPs, complete?) of a record and its descendants, summed over calls."""
        flops, complete = record.flops_total, record.flops_known
        for child in self._children[id(record)]:
            f, c = self._inclusive(child)
            flops += f
            complete = complete and c
        return flops, complete

    @property
    def layers(self) -> list:
        """One :class:`LayerProfile` per module, parents first (the model is the first)."""
        if not self._records:
            self._build_records()
        steps = max(self.steps, 1)
        back_steps = self.backward_steps
        rows = []
        for r in self._records:
            flops, complete = self._inclusive(r)
            backward = None
            if r.backward_passes and back_steps:
                backward = r.backward_total / back_steps
            rows.append(LayerProfile(
                name=r.name, type=r.type_name, depth=r.depth, output_shape=r.output_shape,
                params=r.params, flops=int(round(flops / steps)), flops_complete=complete,
                forward=r.forward_total / steps, backward=backward,
                output_bytes=r.output_bytes, calls=r.calls / steps,
            ))
        return rows

    def _uncounted_types(self) -> list:
        return sorted({r.type_name for r in self._records if not r.flops_known and r.calls})

    @property
    def totals(self) -> dict:
        """The model's figures: params, FLOPs, forward/backward seconds per step, FLOP/s,
        activation memory (bytes of every leaf module's output), steps."""
        rows = self.layers
        root = rows[0]
        leaves = [row for row, rec in zip(rows, self._records)
                  if not self._children[id(rec)]]
        activation_bytes = sum(row.output_bytes for row in leaves)
        batch = root.output_shape[0] if root.output_shape else None
        return {
            "params": root.params,
            "flops": root.flops,
            "flops_complete": root.flops_complete,
            "flops_per_sample": root.flops / batch if batch else None,
            "forward_s": root.forward,
            "backward_s": root.backward,
            "forward_flops_per_s": root.flops / root.forward if root.forward > 0 else None,
            "activation_bytes": activation_bytes,
            "steps": self.steps,
            "backward_steps": self.backward_steps,
            "batch": batch,
            "uncounted_types": self._uncounted_types(),
        }

    def _table(self) -> tuple:
        head = ["Layer (type)", "Output shape", "Params", "FLOPs", "Fwd ms", "Bwd ms", "Memory"]
        body = []
        for row in self.layers:
            indent = "  " * max(row.depth - 1, 0) + ("└ " if row.depth else "")
            shape = "--" if row.output_shape is None else str(list(row.output_shape))
            flops = format_flops(row.flops) + ("" if row.flops_complete else "+?")
            bwd = "--" if row.backward is None else f"{row.backward * 1e3:.3f}"
            body.append([indent + row.label, shape, format_count(row.params), flops,
                         f"{row.forward * 1e3:.3f}", bwd, format_bytes(row.output_bytes)])
        return head, body

    def _footer(self) -> list:
        t = self.totals
        lines = [f"Total params: {format_count(t['params'])}"]
        flops = format_flops(t["flops"]) + ("" if t["flops_complete"] else " (+ uncounted)")
        per_sample = ""
        if t["flops_per_sample"] is not None:
            per_sample = f", {format_flops(t['flops_per_sample'])} per sample (batch {t['batch']})"
        lines.append(f"Forward FLOPs per step: {flops}{per_sample}")
        fwd = f"Forward: {t['forward_s'] * 1e3:.3f} ms per step"
        if t["forward_flops_per_s"]:
            fwd += f" ({t['forward_flops_per_s'] / 1e9:.2f} GFLOP/s achieved)"
        lines.append(fwd + f", {t['steps']} step(s) measured")
        if t["backward_s"] is not None:
            ratio = f" ({t['backward_s'] / t['forward_s']:.2f}x the forward)" if t["forward_s"] > 0 else ""
            lines.append(f"Backward: {t['backward_s'] * 1e3:.3f} ms per pass{ratio}, "
                         f"{t['backward_steps']} pass(es) measured")
        lines.append(f"Activation memory (outputs of leaf layers): {format_bytes(t['activation_bytes'])}")
        if t["uncounted_types"]:
            lines.append("FLOPs not counted for: " + ", ".join(t["uncounted_types"])
                         + " (no rule; see register_flop_rule)")
        return lines

    def summary(self) -> str:
        """A torchinfo-like table: one row per module, then the totals."""
        head, body = self._table()
        return text_table(head, body, align="lllrrrrr") + "\n" + "\n".join(self._footer())

    def to_markdown(self) -> str:
        """The summary as a Markdown table plus the totals as a list."""
        head, body = self._table()
        table = markdown_table(head, [[c.replace("└ ", "└&nbsp;") if i == 0 else c
                                       for i, c in enumerate(row)] for row in body],
                               align="lllrrrrr")
        return table + "\n\n" + "\n".join(f"- {line}" for line in self._footer()) + "\n"

    def to_dict(self) -> dict:
        """Every row and the totals, as plain values (for JSON)."""
        return {"kind": "profile", "model": type(self.model).__name__,
                "layers": [row.to_dict() for row in self.layers], "totals": self.totals}

    def __repr__(self) -> str:
        return (f"Profiler({type(self.model).__name__}, {len(self._records)} modules, "
                f"{self.steps} steps, attached={self.attached})")


def profile(model: Module, inputs: Any, loss_fn: Callable | None = None, target: Any = None,
            steps: int = 1, warmup: int = 1, backward: bool = True,
            clock: Clock | None = None) -> Profiler:
    """Profile ``steps`` training (or inference) steps of ``model`` after ``warmup`` steps.

    A step is ``model(inputs)``; with ``backward``, then ``loss_fn(output, target)`` (or
    ``output.sum()`` without a loss) and ``.backward()``. Warm-up steps run under the profiler
    too (the first call of a layer pays for allocating buffers) and are then forgotten.

    Returns:
        The detached :class:`Profiler`, ready for ``summary()``.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"profile: steps must be >= 1 and warmup >= 0, got {steps}, {warmup}")
    x = inputs if isinstance(inputs, Tensor) else Tensor(inputs)
    prof = Profiler(model, backward=backward, clock=clock)
    with prof:
        for i in range(warmup + steps):
            if i == warmup:
                prof.reset()
            if backward:
                for p in model.parameters():
                    p.grad = None
                out = model(x)
                loss = loss_fn(out, target) if loss_fn is not None else out.sum()
                loss.backward()
            else:
                with no_grad():
                    model(x)
    return prof
