"""The backward pass: walk the recorded graph from the output back to the leaves.

1. Order the graph topologically (every tensor before the inputs it was made from) with an
   explicit stack — no recursion, so a chain of 10,000 ops is no problem.
2. Seed the output's gradient (1 for a scalar) and visit tensors in that order
   (:func:`backpropagate`). Each one's gradient is complete when it is visited, because
   everything that used it came earlier. Its op's derivative turns it into one gradient per
   input; those are summed per input.
3. Leaves (tensors the user made with ``requires_grad=True``) *accumulate* into ``.grad``,
   so gradients of several backward passes add up until ``zero_grad`` (``_Destination``,
   which also serves ``retain_grad`` and :func:`grad`).
4. Unless ``retain_graph``, drop what the nodes saved: the graph's memory is freed.

``create_graph=True`` (gradients that are Tensors in a graph, to differentiate again) and
tensor hooks (``Tensor.register_hook``) take another walk, in ``higher_order.py``; ``_run``
sends a pass there only when one of them is in use, so this one stays as it is.

``topological_order`` and ``backpropagate`` are the two exercises; the seed, the checks,
where the gradients go and the freeing are given around them (``_run``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tinytorch.core.tensor import Tensor, from_numpy, get_derivative, register_engine
from tinytorch.core.tensor.graph import _HOOKS, Node, check_versions

__all__ = ["backward", "grad", "topological_order"]


def topological_order(root: Tensor) -> list:
    """Non-leaf tensors reachable from ``root`` that need grad, each before its inputs.

    Args:
        root: a tensor with a node (``root._node`` is not None), usually the loss.

    Returns:
        A list of tensors, ``root`` first, each exactly once (identity, not equality), every
        tensor before all the tensors it was computed from. Leaves (``_node`` None) and
        tensors that do not require grad are left out. A tensor's inputs are
        ``t._node.inputs``. No recursion: a chain of 10,000 ops must work.
    """
    order: list = []
    visited: set = set()
    stack: list = [(root, False)]
    ### BEGIN SOLUTION
    ### HINT: a depth-first post-order with an explicit stack: push (t, True) "come back to t" before pushing t's unvisited inputs as (inp, False).
    ### HINT: a tensor is appended only when popped with True, i.e. after all its inputs; reverse the list at the end so root comes first.
    ### HINT: track visited tensors by id(t) (Tensor's == is elementwise, not identity).
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)  # post-order: after everything it depends on
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        for inp in t._node.inputs:
            if inp._node is not None and inp.requires_grad and id(inp) not in visited:
                stack.append((inp, False))
    order.reverse()
    ### END SOLUTION
    return order


def _seed(tensor: Tensor, grad: Any) -> np.ndarray:
    """The starting gradient: 1 for a single-element output, else the one the caller gave."""
    if grad is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {tensor.shape} needs a gradient of that shape "
                "(grad=...); for a loss, reduce it to one number first, e.g. loss.mean().backward()"
            )
        return np.ones_like(tensor.data)
    g = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=tensor.data.dtype)
    if g.shape != tensor.shape:
        raise ValueError(f"backward(): grad has shape {g.shape} but the tensor has shape {tensor.shape}")
    return g


def _accumulate_leaf(leaf: Tensor, g: np.ndarray) -> None:
    # The first gradient is always a fresh array of the leaf's dtype: a derivative may hand
    # the same array to two inputs, or a read-only broadcast view, and optimizers update
    # .grad in place. It is laid out in memory like the leaf itself, so an
    # optimizer's update never mixes a row-major weight with a column-major gradient (several
    # times slower). Later gradients are added into that array.
    current = leaf.grad
    if current is None:
        d = leaf.data
        if d.flags.c_contiguous or d.flags.f_contiguous:  # one call: np.array in that order
            fresh = np.array(g, dtype=d.dtype, order="C" if d.flags.c_contiguous else "F")
        else:
            fresh = np.empty_like(d)
            np.copyto(fresh, g, casting="unsafe")
        leaf.grad = from_numpy(fresh)
    elif current.data.flags.writeable and current.data.shape == g.shape:
        np.add(current.data, g, out=current.data, casting="unsafe")
    else:
        current.data = current.data + g


def _bad_gradient(node: Node, i: int, inp: Tensor, ig: Any) -> RuntimeError:
    shape = getattr(ig, "shape", None)
    return RuntimeError(
        f"the derivative of op '{node.op}' returned a gradient of shape {shape} for its input "
        f"{i}, which has shape {inp.shape}; a derivative must return one array per input, "
        "already summed to that input's shape"
    )


def _paired(node: Node, input_grads: Sequence) -> list:
    """``(input, gradient)`` for each input of ``node`` that needs a gradient and got one.

    Inputs that do not require grad (constants) and ``None`` gradients are skipped; a gradient
    whose shape is not its input's is refused with an error naming the op.
    """
    pairs = []
    for i, (inp, ig) in enumerate(zip(node.inputs, input_grads)):
        if ig is None or not inp.requires_grad:
            continue
        if getattr(ig, "shape", None) != inp.data.shape:
            raise _bad_gradient(node, i, inp, ig)
        pairs.append((inp, ig))
    return pairs


class _Destination:
    """Where finished gradients go: into ``.grad`` (``backward``) or a dict (``grad()``).

    ``wanted`` None means ``backward()``: leaves accumulate into ``.grad``, and so do
    intermediate tensors that called ``retain_grad()``. Otherwise ``wanted`` maps ``id(t)``
    to None for the tensors whose gradient :func:`grad` returns; their gradients are stored
    there and no ``.grad`` is touched.
    """

    def __init__(self, wanted: dict | None) -> None:
        self.wanted = wanted

    def reached(self, t: Tensor, g: np.ndarray) -> None:
        """The walk reached the non-leaf ``t``: ``g`` is its complete gradient."""
        if self.wanted is None:
            if t._retains_grad:
                _accumulate_leaf(t, g)
        elif id(t) in self.wanted:
            self.wanted[id(t)] = g  # complete: everything that used t came earlier in the order

    def leaf(self, t: Tensor, g: np.ndarray) -> None:
        """One path's share ``g`` of the leaf ``t``'s gradient arrived: add it."""
        if self.wanted is None:
            _accumulate_leaf(t, g)
        elif id(t) in self.wanted:
            prev = self.wanted[id(t)]
            self.wanted[id(t)] = g if prev is None else prev + g


def backpropagate(order: list, grads: dict, dest: _Destination) -> None:
    """The reverse walk: the chain rule applied once per tensor, in topological order.

    Args:
        order: the non-leaf tensors of the graph, each before the inputs it was made from
            (:func:`topological_order`); its first element is the output.
        grads: ``id(tensor) -> np.ndarray``, the gradients that have arrived so far at
            non-leaf tensors. On entry it holds the output's seed only. When a tensor is
            visited its entry is complete (every tensor that used it came earlier).
        dest: receives finished gradients: ``dest.reached(t, g)`` for each visited tensor,
            ``dest.leaf(inp, ig)`` for each share that reaches a leaf.

    For each tensor ``t`` (made by ``t._node.op`` from ``t._node.inputs``) with gradient
    ``g = d out / d t``, the op's derivative gives ``d out / d input`` for every input; an
    input reached along several paths receives the sum of their shares.
    """
    ### BEGIN SOLUTION
    ### HINT: take (pop) each tensor's gradient out of grads by id(t); a tensor with no entry never reached the output: skip it.
    ### HINT: get_derivative(node.op)(g, node) returns one array (or None) per input; _paired(node, ...) keeps those that matter.
    ### HINT: a leaf (inp._node is None) goes to dest.leaf; any other input adds its share into grads[id(inp)].
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue  # nothing downstream of this tensor reached the output
        dest.reached(t, g)
        node: Node = t._node
        input_grads = get_derivative(node.op)(g, node)
        for inp, ig in _paired(node, input_grads):
            if inp._node is None:
                dest.leaf(inp, ig)
            else:
                key = id(inp)
                grads[key] = ig if key not in grads else grads[key] + ig
    ### END SOLUTION


def _check_not_freed(order: list) -> None:
    for t in order:
        if t._node.freed:
            raise RuntimeError(
                f"backward() through a graph that was already freed (op '{t._node.op}'); pass "
                "retain_graph=True to the first backward() to go through it twice"
            )
        check_versions(t)  # a value saved for this op was changed in place since? (one compare)


def _run(tensor: Tensor, seed: np.ndarray, retain_graph: bool, wanted: dict | None,
         create_graph: bool = False) -> None:
    """The backward pass: order the graph, walk it (:func:`backpropagate`), free it.

    ``wanted`` is None for ``backward()``; for :func:`grad` it maps ``id(t)`` to None for the
    tensors whose gradients are wanted (see :class:`_Destination`).
    """
    if create_graph or _HOOKS:
        # imported here: higher_order builds on this module (its walk reuses the pieces above)
        from .higher_order import run

        run(tensor, seed, retain_graph, wanted, create_graph)
        return
    dest = _Destination(wanted)
    if tensor._node is None:  # backward on a leaf: its gradient is the seed itself
        dest.leaf(tensor, seed)
        return
    order = topological_order(tensor)
    _check_not_freed(order)
    backpropagate(order, {id(tensor): seed}, dest)
    if not retain_graph:
        for t in order:
            t._node.saved = None
            t._node.freed = True


def _check_start(tensor: Tensor) -> None:
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad — no input it was computed from "
            "has requires_grad=True (or it was computed under no_grad())"
        )


def _graph_seed(tensor: Tensor, grad: Any) -> Any:
    """The seed for create_graph: a gradient Tensor is kept as it is (it may be in a graph)."""
    if isinstance(grad, Tensor) and grad.shape == tensor.shape:
        return grad
    return _seed(tensor, grad)


def backward(tensor: Tensor, grad: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """Run the backward pass from ``tensor`` (what ``Tensor.backward`` calls).

    Args:
        tensor: the output to differentiate (usually a scalar loss).
        grad: d(final)/d(tensor); defaults to 1 for single-element tensors.
        retain_graph: keep saved values so another backward through this graph works;
            defaults to ``create_graph``.
        create_graph: record the backward pass, so the gradients (Tensors in ``.grad``) can
            be differentiated again.
    """
    _check_start(tensor)
    retain = create_graph if retain_graph is None else retain_graph
    seed = _graph_seed(tensor, grad) if create_graph else _seed(tensor, grad)
    _run(tensor, seed, retain, None, create_graph)


def grad(output: Tensor, inputs: Sequence[Tensor], grad_output: Any = None,
         retain_graph: bool | None = None, create_graph: bool = False) -> list:
    """Gradients of ``output`` with respect to each of ``inputs``, leaving every ``.grad`` alone.

    Unlike ``output.backward()``, nothing accumulates anywhere: the gradients are returned
    (as new tensors, in the order of ``inputs``). An input may be a leaf or an intermediate
    tensor; one that ``output`` does not depend on gets ``None``.

    Args:
        output: the tensor to differentiate.
        inputs: the tensors to differentiate with respect to.
        grad_output: d(final)/d(output); defaults to 1 for single-element outputs.
        retain_graph: keep the graph for another backward pass; defaults to ``create_graph``.
        create_graph: return gradients that are part of a graph, so they can be
            differentiated again (a Hessian-vector product, a gradient penalty).

    Example:
        >>> x = Tensor([3.0], requires_grad=True)
        >>> grad((x * x).sum(), [x])[0]
        Tensor([6.])
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad, so it has no gradient")
    _check_start(output)
    wanted: dict = {id(t): None for t in inputs}
    retain = create_graph if retain_graph is None else retain_graph
    seed = _graph_seed(output, grad_output) if create_graph else _seed(output, grad_output)
    _run(output, seed, retain, wanted, create_graph)
    out = []
    for t in inputs:
        g = wanted[id(t)]
        if g is None or create_graph:
            out.append(g if g is None or g.dtype == t.dtype else g.astype(t.dtype))
        else:
            out.append(from_numpy(np.array(g, dtype=t.data.dtype, copy=True)))
    return out


register_engine(backward)
