"""The backward pass for ``create_graph=True`` and for tensors with hooks.

``engine.py`` is the lesson's backward pass: arrays in, arrays out, nothing recorded. Two
features need more, and both live here so that pass stays as it is (and as fast):

* ``create_graph=True``: every gradient is a Tensor computed by Tensor ops — each op's second
  rule, ``derivatives/graph_rules.py`` — with grad mode on, so the backward pass is itself a
  graph and ``grad_x.backward()`` or ``grad(grad_x.sum(), [w])`` differentiates it again
  (Hessian-vector products, gradient penalties). An op without such a rule is refused with
  one line naming it and listing the ops that have one.
* ``Tensor.register_hook(fn)``: ``fn`` sees each hooked tensor's gradient once it is complete
  — for a leaf, the sum of all its paths, before it reaches ``.grad`` — and may replace it.

The engine sends a backward pass here only when ``create_graph`` is set or some tensor has a
hook; the walk is the lesson's (same order, same rules, same freeing), with leaves' shares
summed before they are delivered so a leaf's hook sees its whole gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor, from_numpy, get_derivative
from tinytorch.core.tensor.graph import (
    _set_mode,
    get_graph_derivative,
    get_hooks,
    graph_derivative_ops,
)

from .engine import _check_not_freed, _Destination, _paired, topological_order

__all__ = ["run"]


def _graph_rule(op: str) -> Any:
    fn = get_graph_derivative(op)
    if fn is None:
        raise RuntimeError(
            f"backward(create_graph=True) reached op '{op}', which has no derivative written "
            f"with Tensor ops, so its gradient cannot be differentiated again; ops that "
            f"support create_graph: {', '.join(graph_derivative_ops())}"
        )
    return fn


def _hooked(t: Tensor, g: Any, create_graph: bool) -> Any:
    """``g`` after ``t``'s hooks: each gets the gradient as a Tensor and may replace it."""
    hooks = get_hooks(t)
    if not hooks:
        return g
    gt = g if create_graph else from_numpy(g)
    for fn in hooks:
        new = fn(gt)
        if new is None:
            continue
        new = new if isinstance(new, Tensor) else Tensor(new, dtype=t.dtype)
        if new.shape != t.shape:
            raise RuntimeError(
                f"a hook on a tensor of shape {t.shape} returned a gradient of shape "
                f"{new.shape}; a hook must return None or a gradient of the tensor's shape"
            )
        gt = new
    return gt if create_graph else gt.data


def _accumulate_tensor(t: Tensor, g: Tensor) -> None:
    """``.grad`` as a Tensor in the graph; a later gradient is added out of place (PyTorch)."""
    if g.dtype != t.dtype:
        g = g.astype(t.dtype)
    if t.grad is None:
        # a gradient outside any graph may share memory with an array of the forward pass
        t.grad = g if g._node is not None else from_numpy(np.array(g.data, copy=True))
    else:
        t.grad = t.grad + g


class _GraphDestination(_Destination):
    """``_Destination`` for Tensor gradients: ``.grad`` holds Tensors that keep their graph."""

    def reached(self, t: Tensor, g: Any) -> None:  # g: a Tensor here
        if self.wanted is None:
            if t._retains_grad:
                _accumulate_tensor(t, g)
        elif id(t) in self.wanted:
            self.wanted[id(t)] = g

    def leaf(self, t: Tensor, g: Any) -> None:  # g: a Tensor here
        if self.wanted is None:
            _accumulate_tensor(t, g)
        elif id(t) in self.wanted:
            prev = self.wanted[id(t)]
            self.wanted[id(t)] = g if prev is None else prev + g


def _walk(order: list, grads: dict, dest: _Destination, create_graph: bool) -> None:
    """The lesson's ``backpropagate``, with hooks, and Tensor rules when ``create_graph``."""
    leaves: dict = {}  # id(leaf) -> [leaf, its gradient so far]
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        g = _hooked(t, g, create_graph)
        dest.reached(t, g)
        node = t._node
        rule = _graph_rule(node.op) if create_graph else get_derivative(node.op)
        for inp, ig in _paired(node, rule(g, node)):
            key = id(inp)
            if inp._node is None:
                if key in leaves:
                    leaves[key][1] = leaves[key][1] + ig
                else:
                    leaves[key] = [inp, ig]
            else:
                grads[key] = ig if key not in grads else grads[key] + ig
    for leaf, g in leaves.values():
        dest.leaf(leaf, _hooked(leaf, g, create_graph))


def run(tensor: Tensor, seed: Any, retain_graph: bool, wanted: dict | None,
        create_graph: bool) -> None:
    """A backward pass from ``tensor`` with hooks, recorded as a graph when ``create_graph``.

    Args:
        tensor: the output; ``seed`` its gradient (an array, or a Tensor with create_graph).
        retain_graph: keep what the nodes saved (always, in effect, with create_graph: the
            recorded gradients refer to the forward graph).
        wanted: None for ``backward()``, else ``id(t) -> None`` for the tensors whose gradients
            :func:`~tinytorch.core.autograd.engine.grad` returns (filled in here).
        create_graph: compute the gradients with Tensor ops, in grad mode.
    """
    if create_graph:
        dest: _Destination = _GraphDestination(wanted)
        if not isinstance(seed, Tensor):
            seed = from_numpy(seed)
    else:
        dest = _Destination(wanted)
    previous = _set_mode(True) if create_graph else None  # record the backward pass itself
    try:
        if tensor._node is None:  # backward on a leaf: its gradient is the seed itself
            dest.leaf(tensor, _hooked(tensor, seed, create_graph))
            return
        order = topological_order(tensor)
        _check_not_freed(order)
        _walk(order, {id(tensor): seed}, dest, create_graph)
    finally:
        if previous is not None:
            _set_mode(previous)
    if not retain_graph:
        for t in order:
            t._node.saved = None
            t._node.freed = True
